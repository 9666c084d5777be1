import CKernels
import Foundation
import ModelFile
import ModelGraph

/// How a layer's input range is chosen from its calibration histogram (docs/precision.md).
public enum CalibrationMethod: String, Sendable, CaseIterable {
    /// The largest |x| seen: nothing clipped, the coarsest steps.
    case minmax
    /// The 99.99th percentile of |x|: the rare largest values clipped.
    case percentile
    /// The clipping value that minimizes the expected squared error (clipping plus rounding) over the histogram.
    case mse
}

/// What `Calibrator` does: the method, its percentile, which layers may stay float32.
public struct QuantizationOptions: Sendable {
    /// How input ranges are chosen.
    public var method: CalibrationMethod
    /// The percentile of |x| kept by `.percentile` (0...100).
    public var percentile: Double
    /// A layer whose int8 output differs from float32 by more than this relative RMS error (||y8 - y|| / ||y||,
    /// measured on calibration images with the layer's float32 input) stays float32.
    public var maxLayerError: Double

    /// The defaults: min/max (measured best on a well-trained VGG16 classifier's top-1 agreement with float32
    /// and on VGG16's features, docs/precision.md), layers over 5% error kept float32.
    public init(method: CalibrationMethod = .minmax, percentile: Double = 99.99, maxLayerError: Double = 0.05) {
        self.method = method
        self.percentile = percentile
        self.maxLayerError = maxLayerError
    }
}

/// One quantizable layer (Conv2D, Conv1D or Dense) after calibration.
public struct LayerQuantizationReport: Sendable, Equatable {
    /// The layer's name (a path inside nested models).
    public var layer: String
    /// Its Keras class (`Conv2D`, `Conv1D`, `Dense`).
    public var className: String
    /// Whether it is stored as int8 (false: kept float32, its error being over the limit).
    public var quantized: Bool
    /// The input scale and zero point chosen (u8 = round(x / scale) + zeroPoint).
    public var inputScale: Float, zeroPoint: Int
    /// The smallest input value and the largest |x| seen on the calibration images.
    public var inputMin: Float, inputMaxAbs: Float
    /// The relative RMS error of the layer's int8 output against float32 (same float32 input), on the images
    /// measured (for a 3x3 stride-1 convolution, the largest of its direct and int8 Winograd forms'); nil when
    /// none were.
    public var relativeError: Double?
}

/// A layer's int8 weights and scales, ready to be written (format 1.3).
public struct QuantizedLayer: Sendable {
    /// The layer's name.
    public var layer: String
    /// The kernel rounded to int8, in the kernel's layout (HWIO, (width, in, filters) or (in, units)), row-major.
    public var kernel: [Int8]
    /// Per output channel: real weight = int8 x scale.
    public var weightScales: [Float]
    /// The input's scale and zero point (0 or 128).
    public var inputScale: Float, zeroPoint: Int
}

/// Post-training static quantization of a model's Conv2D, Conv1D and Dense layers from calibration batches, in bounded
/// memory: `collect` folds each batch's layer inputs into fixed-size histograms (nothing per image is kept),
/// `measure` runs each layer in int8 beside float32 to find the ones that must stay float32, `result` gives the
/// int8 weights and the per-layer report. Deterministic: the same batches in the same order give the same bytes.
public final class Calibrator {
    /// Histogram bins per layer input.
    public static let bins = 2048
    struct Stats {
        var hist = [UInt64](repeating: 0, count: Calibrator.bins)
        var range: Float = 0, minv: Float = .infinity, maxabs: Float = 0
        var errSum = 0.0, refSum = 0.0
        /// The int8 Winograd forms' errors (F(2x2), F(4x4)), for the 3x3 convolutions that can run in them.
        var winogradErrSums: [Double] = []
    }

    /// The float32 engine the calibration runs.
    public let engine: Engine
    /// The options.
    public let options: QuantizationOptions
    /// A quantizable layer: its kernel shape as a 2-D convolution's (HWIO; a Conv1D's is 1 x width x in x filters)
    /// or (in, units), and for a convolution its geometry at given input and output shapes (batch first).
    struct Layer {
        var name: String, className: String, kernelShape: [Int], useBias: Bool, activation: Activation
        var geometry: ((_ input: [Int], _ output: [Int]) throws -> vgg_conv_shape)?
    }
    /// The quantizable layers, in execution order.
    let layers: [Layer]
    var stats: [String: Stats] = [:]
    var weights: [String: QuantizedLayer] = [:]
    var products: [String: LowpProduct] = [:]
    /// The int8 Winograd products of the 3x3 stride-1 convolutions: F(2x2), and F(4x4) where it may run
    /// (runtimes measure them against the direct one and may run any); made when a layer is first measured.
    var winogradProducts: [String: [LowpProduct]] = [:]

    /// A calibrator of `engine`'s model (its channels-last Conv2D and Conv1D layers and its Dense layers), which
    /// must run in float32.
    public init(engine: Engine, options: QuantizationOptions = QuantizationOptions()) throws {
        precondition(engine.options.precision == .fp32, "calibration runs in float32")
        self.engine = engine
        self.options = options
        let analysis = try engine.graph.analyze()
        var list: [Layer] = []
        for info in analysis.layers {
            let l = info.layer
            guard let k = info.weights.first(where: { $0.name == "kernel" }) else { continue }
            switch l.op {
            case .conv2D(let c) where c.dataFormat == .channelsLast:
                list.append(Layer(name: l.name, className: "Conv2D", kernelShape: k.shape, useBias: c.useBias, activation: c.activation,
                                  geometry: { c.window.kernelShape(input: $0, output: $1) }))
            case .conv1D(let c) where c.dataFormat == .channelsLast:
                list.append(Layer(name: l.name, className: "Conv1D", kernelShape: [1] + k.shape, useBias: c.useBias, activation: c.activation,
                                  geometry: { try c.convolutionShape(input: $0, output: $1) }))
            case .dense(let d):
                list.append(Layer(name: l.name, className: "Dense", kernelShape: k.shape, useBias: d.useBias, activation: d.activation, geometry: nil))
            default: continue
            }
        }
        layers = list
        for l in list { stats[l.name] = Stats() }
    }

    /// Folds one preprocessed batch (NHWC) into every quantizable layer's input statistics.
    public func collect(_ batch: Tensor) throws { try collect([batch]) }

    /// Folds one preprocessed batch per model input (in the model's input order) into every quantizable layer's
    /// input statistics.
    public func collect(_ batch: [Tensor]) throws {
        _ = try engine.run(batch, observe: { [self] layer, before, input, _ in
            guard before, let input, stats[layer] != nil else { return }
            let count = input.shape.reduce(1, *)
            var s = stats.removeValue(forKey: layer)!
            s.hist.withUnsafeMutableBufferPointer { h in
                vgg_lowp_histogram(input.ptr, count, h.baseAddress, Calibrator.bins, &s.range, &s.minv, &s.maxabs)
            }
            stats[layer] = s
        })
    }

    /// Chooses every layer's input scale from its statistics and rounds its kernel to int8 (per output channel:
    /// scale = max |w| / 127). Call after the last `collect`.
    public func finishStatistics() throws {
        for l in layers {
            let s = stats[l.name]!
            let signed = s.minv < 0
            let levels: Float = signed ? 127 : 255
            var clip = chooseClip(s, levels: levels)
            if !(clip.isFinite && clip > 0) { clip = 1 }
            let inputScale = clip / levels
            let kernel = try engine.weight(l.name, "kernel")
            let n = l.kernelShape.last!, k = l.kernelShape.dropLast().reduce(1, *)
            var scales = [Float](repeating: 1, count: n)
            for j in 0..<n {
                var m: Float = 0
                for i in 0..<k { m = max(m, abs(kernel[i * n + j])) }
                scales[j] = m > 0 && m.isFinite ? m / 127 : 1
            }
            var q = [Int8](repeating: 0, count: k * n)
            for i in 0..<k {
                for j in 0..<n {
                    let v = (kernel[i * n + j] / scales[j]).rounded(.toNearestOrEven)
                    q[i * n + j] = Int8(max(-127, min(127, v.isNaN ? 0 : v)))
                }
            }
            let ql = QuantizedLayer(layer: l.name, kernel: q, weightScales: scales, inputScale: inputScale, zeroPoint: signed ? 128 : 0)
            weights[l.name] = ql
            let bias = l.useBias ? try engine.weight(l.name, "bias") : nil
            products[l.name] = q.withUnsafeBufferPointer {
                LowpProduct(int8: $0.baseAddress!, k: k, n: n, weightScales: scales, inputScale: inputScale, zeroPoint: ql.zeroPoint, bias: bias)
            }
        }
    }

    /// The clipping value of |x| the method picks from the histogram.
    func chooseClip(_ s: Stats, levels: Float) -> Float {
        let total = s.hist.reduce(0, +)
        guard total > 0, s.range > 0 else { return s.maxabs }
        let width = Double(s.range) / Double(Self.bins)
        switch options.method {
        case .minmax:
            return s.maxabs
        case .percentile:
            let want = Double(total) * options.percentile / 100
            var acc = 0.0
            for (i, c) in s.hist.enumerated() {
                acc += Double(c)
                if acc >= want { return Float(min(Double(i + 1) * width, Double(s.maxabs))) }
            }
            return s.maxabs
        case .mse:
            // Expected squared error of clipping at each bin edge: values past it lose (x - c)^2, values inside
            // get rounding noise step^2 / 12 with step = c / levels.
            var best = Double(s.maxabs), bestErr = Double.infinity
            let lastBin = min(Self.bins, Int((Double(s.maxabs) / width).rounded(.up)))
            var candidate = max(1, lastBin / 128)
            while candidate <= lastBin {
                let c = Double(candidate) * width
                let step = c / Double(levels)
                var err = 0.0
                for (i, n) in s.hist.enumerated() where n > 0 {
                    let x = (Double(i) + 0.5) * width
                    err += Double(n) * (x > c ? (x - c) * (x - c) : step * step / 12)
                }
                if err < bestErr { bestErr = err; best = c }
                candidate += max(1, lastBin / 128)
            }
            return Float(min(best, Double(s.maxabs)))
        }
    }

    /// Runs one batch in float32 and, beside it, each quantizable layer in int8 on the same float32 input,
    /// accumulating the layers' output errors. Call after `finishStatistics`.
    public func measure(_ batch: Tensor) throws { try measure([batch]) }

    /// As `measure(_:)` with one batch per model input (in the model's input order).
    public func measure(_ batch: [Tensor]) throws {
        var saved: [String: [Float]] = [:]
        var out: [Float] = []
        _ = try engine.run(batch, observe: { [self] layer, before, input, output in
            guard let product = products[layer], let input else { return }
            if before {
                saved[layer] = Array(UnsafeBufferPointer(start: input.ptr, count: input.shape.reduce(1, *)))
                return
            }
            guard let x = saved.removeValue(forKey: layer), let l = layers.first(where: { $0.name == layer }) else { return }
            let count = output.shape.reduce(1, *)
            if out.count < count { out = [Float](repeating: 0, count: count) }
            let n = l.kernelShape.last!
            let shape = try l.geometry.map { try $0(input.shape, output.shape) }
            let forms = try shape.map { LowpProduct.winogradApplies($0) ? try winogradForms(l) : [] } ?? []
            let scratch = LowpMemory()
            let bytes = scratch.bytes(product.scratchBytes(inputCount: shape == nil ? count / n * product.kp : x.count,
                                                           direct: shape.map(LowpProduct.isDirect) ?? true, threads: engine.threads))
            func squaredError(_ o: UnsafeMutablePointer<Float>) -> (error: Double, reference: Double) {
                if l.activation != .relu { engine.activate(l.activation, o, rows: count / n, width: n) }
                var e = 0.0, r = 0.0
                for i in 0..<count {
                    let y = Double(output.ptr[i]), d = Double(o[i]) - y
                    e += d * d
                    r += y * y
                }
                return (e, r)
            }
            out.withUnsafeMutableBufferPointer { o in
                x.withUnsafeBufferPointer { xp in
                    product.run(engine: engine, shape: shape, x: xp.baseAddress!, rows: count / n, out: o.baseAddress!, relu: l.activation == .relu, scratch: bytes)
                    let (e, r) = squaredError(o.baseAddress!)
                    stats[layer]!.errSum += e
                    stats[layer]!.refSum += r
                    if let s = shape, LowpProduct.winogradApplies(s) {
                        for (f, w) in forms.enumerated() {
                            let wb = scratch.bytes(w.int8WinogradScratchBytes(s, threads: engine.threads))
                            w.runWinogradInt8(engine: engine, shape: s, x: xp.baseAddress!, out: o.baseAddress!, relu: l.activation == .relu, scratch: wb)
                            if stats[layer]!.winogradErrSums.count <= f { stats[layer]!.winogradErrSums.append(0) }
                            stats[layer]!.winogradErrSums[f] += squaredError(o.baseAddress!).error
                        }
                    }
                }
            }
        })
    }

    /// The int8 Winograd forms of a 3x3 stride-1 convolution, from the weights as the runtime dequantizes the
    /// stored int8 kernel, in each tile `Engine.int8WinogradTiles` allows.
    func winogradForms(_ l: Layer) throws -> [LowpProduct] {
        if let forms = winogradProducts[l.name] { return forms }
        let q = weights[l.name]!, c = l.kernelShape[2], n = l.kernelShape.last!
        let dequantized = q.kernel.indices.map { Float(q.kernel[$0]) * q.weightScales[$0 % n] }
        let bias = l.useBias ? try engine.weight(l.name, "bias") : nil
        let forms = Engine.int8WinogradTiles(channels: c).map { tile in
            dequantized.withUnsafeBufferPointer {
                LowpProduct(int8Winograd: $0.baseAddress!, c: c, n: n, bias: bias, tile: tile, threads: engine.threads)
            }
        }
        winogradProducts[l.name] = forms
        return forms
    }

    /// The per-layer report and the int8 weights of the layers kept int8 (error within the limit, or not
    /// measured), in execution order.
    public func result() -> (report: [LayerQuantizationReport], layers: [QuantizedLayer]) {
        var report: [LayerQuantizationReport] = []
        var kept: [QuantizedLayer] = []
        for l in layers {
            guard let w = weights[l.name], let s = stats[l.name] else { continue }
            // The largest of the direct and Winograd forms' errors: a runtime may run any.
            let errSum = max(s.errSum, s.winogradErrSums.max() ?? 0)
            let err: Double? = s.refSum > 0 ? (errSum / s.refSum).squareRoot() : (errSum > 0 ? .infinity : nil)
            let ok = err.map { $0 <= options.maxLayerError } ?? true
            report.append(LayerQuantizationReport(layer: l.name, className: l.className, quantized: ok, inputScale: w.inputScale, zeroPoint: w.zeroPoint,
                                                  inputMin: s.minv, inputMaxAbs: s.maxabs, relativeError: err))
            if ok { kept.append(w) }
        }
        return (report, kept)
    }
}
