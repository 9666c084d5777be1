import Foundation
import ModelFile
import ModelGraph
import Runtime

/// What `vggtool bench` measured.
public struct BenchReport: Sendable {
    /// The model's path.
    public var model: String
    /// The products' arithmetic.
    public var precision: Precision
    /// Images (or samples, for a model that does not take images) per batch.
    public var batch: Int
    /// Input height, width and channels of each image (the first input's shape without the batch, for a model
    /// that does not take images).
    public var inputShape: [Int]
    /// Every model input's shape without the batch (one, `inputShape`, for an image model).
    public var inputShapes: [[Int]] = []
    /// What a batch holds: "images", or "samples" for a model that does not take images.
    public var unit = "images"
    /// Timed runs (after the warm-up).
    public var runs: Int
    /// Median wall-clock seconds per batch.
    public var secondsPerBatch: Double
    /// `batch / secondsPerBatch`.
    public var imagesPerSecond: Double
    /// 2 x multiply-adds per image x images per second.
    public var gflopsPerSecond: Double
    /// The process's peak resident memory, in bytes.
    public var peakRSSBytes: Int
    /// Bytes of activation buffers and scratch the engine planned for this geometry.
    public var plannedBytes: Int
    /// Median per-layer seconds per batch (with `layers`).
    public var layerSeconds: [(String, Double)]
    /// Each convolution's algorithm (Conv2D layers; with `layers`).
    public var layerAlgorithms: [String: ConvolutionAlgorithm] = [:]
    /// Multiply-adds per batch of each layer (with `layers`).
    public var layerMACs: [String: Int] = [:]
    /// Layers run inside another layer's step (with `layers`): a MaxPooling2D fused into the int8 Winograd
    /// convolution before it, with that convolution's name. Their time is in its row.
    public var fusedInto: [String: String] = [:]

    /// The report as pretty-printed JSON with sorted keys (`vggtool bench --json`).
    public func json() throws -> String {
        let obj: [String: Any] = [
            "model": model, "precision": precision.rawValue, "batch": batch, "input_shape": inputShape, "input_shapes": inputShapes,
            "unit": unit, "runs": runs,
            "seconds_per_batch": secondsPerBatch, "images_per_second": imagesPerSecond,
            "gflops_per_second": gflopsPerSecond, "peak_rss_bytes": peakRSSBytes, "planned_activation_bytes": plannedBytes,
            "layers": layerSeconds.flatMap { name, seconds -> [[String: Any]] in
                var o: [String: Any] = ["layer": name, "seconds": seconds]
                if let a = layerAlgorithms[name] { o["algorithm"] = a.rawValue }
                if let m = layerMACs[name], m > 0 { o["gflops_per_second"] = 2 * Double(m) / seconds / 1e9 }
                return [o] + fused(into: name).map { ["layer": $0, "seconds": 0.0, "fused_into": name] }
            },
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
    }

    /// The layers fused into `layer`, by name.
    private func fused(into layer: String) -> [String] { fusedInto.filter { $0.value == layer }.map(\.key).sorted() }

    /// The report as `vggtool bench` prints it.
    public func text() -> String {
        var lines = [
            "model:        \(model)",
            "input:        batch \(batch) x \(inputShapes.map { $0.map(String.init).joined(separator: "x") }.joined(separator: " + ")), precision \(precision.rawValue)",
            secondsPerBatch >= 0.1 ? String(format: "throughput:   %.2f \(unit)/s (%.3f s per batch, median of %d)", imagesPerSecond, secondsPerBatch, runs)
                : String(format: "throughput:   %.2f \(unit)/s (%.3f ms per batch, median of %d)", imagesPerSecond, secondsPerBatch * 1000, runs),
            String(format: "compute:      %.1f GFLOP/s effective (2 x multiply-adds of the direct convolution)", gflopsPerSecond),
            String(format: "peak memory:  %.1f MB resident (activations and scratch planned: %.1f MB)", Double(peakRSSBytes) / 1e6, Double(plannedBytes) / 1e6),
        ]
        if !layerSeconds.isEmpty {
            let total = layerSeconds.reduce(0) { $0 + $1.1 }
            lines.append("")
            lines.append("layer".padding(toLength: 28, withPad: " ", startingAt: 0) + "      ms      %  GFLOP/s  algorithm")
            for (name, s) in layerSeconds {
                let macs = layerMACs[name] ?? 0
                let rate = macs > 0 && s > 0 ? String(format: "%9.1f", 2 * Double(macs) / s / 1e9) : String(repeating: " ", count: 9)
                let line = name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%8.2f %6.1f", s * 1000, total > 0 ? s / total * 100 : 0)
                    + rate + (layerAlgorithms[name].map { "  " + $0.rawValue } ?? "")
                lines.append(line.trimmingCharacters(in: .whitespaces))
                for f in fused(into: name) {
                    lines.append(f.padding(toLength: 28, withPad: " ", startingAt: 0) + String(repeating: " ", count: 24) + "  (in \(name))")
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Peak resident memory of this process so far (VmHWM), in bytes.
public func peakRSSBytes() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

/// Times the model on seeded random input of the given geometry: one warm-up batch (which builds the plan,
/// measuring each convolution's algorithm unless `convolution` fixes it or the cache knows it), then batches
/// until `minRuns` have run and `minSeconds` have passed. A model that does not take images gets a seeded
/// batch per input of its declared shape (`inputSize` for each dimension of any size): indices below the
/// vocabulary for an input read by an Embedding layer, values in [-1, 1) otherwise.
public func bench(modelPath: String, inputSize: Int?, batch: Int, threads: Int? = nil, layers: Bool = false,
                  minRuns: Int = 3, minSeconds: Double = 3, convolution: ConvolutionChoice = .measured, precision: Precision? = nil) throws -> BenchReport {
    let file = try VGGMFile(path: modelPath)
    let prec = precision ?? defaultPrecision(file)
    let engine = try Engine(model: file, options: .init(threads: threads, timeLayers: layers, convolution: convolution, precision: prec))
    guard batch >= 1, batch <= 4096 else { throw ToolError(modelPath, .invalidSetting, "batch must be between 1 and 4096") }
    let declared = file.manifest.inputShape
    guard file.graph.inputs.count == 1, declared.count == 3 else {
        return try benchSamples(file: file, engine: engine, precision: prec, modelPath: modelPath, inputSize: inputSize, batch: batch, layers: layers,
                                minRuns: minRuns, minSeconds: minSeconds)
    }
    let h = inputSize ?? declared[0] ?? 224, w = inputSize ?? declared[1] ?? 224
    guard let c = declared[2] else { throw ToolError(modelPath, .notAnImageModel, "the model's input has no fixed channel count") }
    let shape = [batch, h, w, c]
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var values = [Float](repeating: 0, count: shape.reduce(1, *))
    for i in values.indices {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        values[i] = Float(state >> 40) / Float(1 << 24) * 255 - 128
    }
    let input = Tensor(shape: shape, values: values)
    let analysis: GraphAnalysis
    do { analysis = try file.graph.withInputShape([h, w, c]).analyze() } catch let e as GraphError {
        throw ToolError(modelPath, .invalidGraph(e), "input of \(h)x\(w)x\(c): \(e.description)")
    }
    var report = try timeRuns(engine: engine, inputs: [input], modelPath: modelPath, precision: prec, batch: batch, layers: layers,
                              minRuns: minRuns, minSeconds: minSeconds, analysis: analysis, layerAnalysis: { try? engine.graph.withInputShape([h, w, c]).analyze() })
    report.inputShape = [h, w, c]
    report.inputShapes = [[h, w, c]]
    return report
}

/// `bench` of a model that does not take images (or takes several inputs): seeded batches of the declared shapes.
func benchSamples(file: VGGMFile, engine: Engine, precision: Precision, modelPath: String, inputSize: Int?, batch: Int, layers: Bool,
                  minRuns: Int, minSeconds: Double) throws -> BenchReport {
    let graph = file.graph.flattened()
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var inputs: [Tensor] = []
    for name in file.graph.inputs {
        let declared = file.graph.layer(named: name)?.op.inputShape ?? []
        let dims = try declared.map { d -> Int in
            guard let d = d ?? inputSize else {
                throw ToolError(modelPath, .invalidSetting, "input '\(name)' has a dimension of any size (\(ShapeFormat.tuple([nil] + declared))): give --input-size N for it")
            }
            return d
        }
        // An input read by an Embedding layer holds indices: below the smallest vocabulary of those layers.
        let vocabulary = graph.layers.filter { $0.inbound.contains(name) }.compactMap { l -> Int? in
            if case .embedding(let e) = l.op { return e.inputDim }
            return nil
        }.min()
        var values = [Float](repeating: 0, count: batch * dims.reduce(1, *))
        for i in values.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Float(state >> 40) / Float(1 << 24)
            // Other inputs: the centres of 2^24 equal steps of (-1, 1), never -1 itself (an Embedding found
            // behind another layer reads them as id 0).
            values[i] = vocabulary.map { Float(min($0 - 1, Int(u * Float($0)))) } ?? (u + 0.5 / Float(1 << 24)) * 2 - 1
        }
        inputs.append(Tensor(shape: [batch] + dims, values: values))
    }
    let shapes = inputs.map { Array($0.shape.dropFirst()) }
    let analysis: GraphAnalysis
    do {
        analysis = try (file.graph.inputs.count == 1 ? file.graph.withInputShape(shapes[0]) : file.graph).analyze()
    } catch let e as GraphError {
        throw ToolError(modelPath, .invalidGraph(e), "input of \(ShapeFormat.tuple(shapes[0])): \(e.description)")
    }
    var report = try timeRuns(engine: engine, inputs: inputs, modelPath: modelPath, precision: precision, batch: batch, layers: layers,
                              minRuns: minRuns, minSeconds: minSeconds, analysis: analysis, layerAnalysis: {
        try? (file.graph.inputs.count == 1 ? engine.graph.withInputShape(shapes[0]) : engine.graph).analyze()
    })
    report.inputShape = shapes[0]
    report.inputShapes = shapes
    report.unit = "samples"
    return report
}

/// Runs `inputs` once to warm up, then times batches as `bench` says; `analysis` gives the model's
/// multiply-adds, `layerAnalysis` the layers as they run (nested models opened).
func timeRuns(engine: Engine, inputs: [Tensor], modelPath: String, precision prec: Precision, batch: Int, layers: Bool, minRuns: Int, minSeconds: Double,
              analysis: GraphAnalysis, layerAnalysis: () -> GraphAnalysis?) throws -> BenchReport {
    _ = try engine.run(inputs)  // warm-up (builds the plan, touches the weights)
    var times: [Double] = []
    var perLayer: [String: [Double]] = [:]
    var order: [String] = []
    let start = Date()
    while times.count < minRuns || Date().timeIntervalSince(start) < minSeconds {
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try engine.run(inputs)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        if layers {
            if order.isEmpty { order = engine.layerTimes.map(\.layer) }
            for (l, s) in engine.layerTimes { perLayer[l, default: []].append(s) }
        }
        if times.count >= 1000 { break }
    }
    func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
    let perBatch = median(times)
    let ips = Double(batch) / perBatch
    var report = BenchReport(model: modelPath, precision: prec, batch: batch, inputShape: [], runs: times.count, secondsPerBatch: perBatch,
                             imagesPerSecond: ips, gflopsPerSecond: 2 * Double(analysis.totalMACs) * ips / 1e9,
                             peakRSSBytes: peakRSSBytes(), plannedBytes: try engine.plannedMemory(inputShapes: inputs.map(\.shape)).total,
                             layerSeconds: order.map { ($0, median(perLayer[$0]!)) })
    if layers {
        report.layerAlgorithms = engine.convolutionAlgorithms
        report.fusedInto = engine.fusedLayers
        for info in layerAnalysis()?.layers ?? [] where info.costsKnown { report.layerMACs[info.layer.name] = info.macs * batch }
    }
    return report
}

/// How the engine chooses each convolution's algorithm (Runtime's type, named here for the commands).
public typealias ConvolutionChoice = Runtime.ConvolutionChoice
