import Foundation
import ModelFile
import ModelGraph
import Runtime
import Testing
import VGGTool

/// Reduced precision (issue 13, docs/precision.md): the int8 and bf16 kernels against float32 references on odd
/// shapes, on the CPU's instructions and on the forced fallback; `quantize` deterministic; int8 files through
/// verify, inspect, summary, predict and evaluate; old-version and hostile int8 files refused.
@Suite(.serialized) struct LowPrecisionTests {
    /// Seeded values in [-1, 1).
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(s >> 40) / Float(1 << 23) - 1
        }
    }

    static let engine: Engine = {
        try! Engine(model: try! VGGMFile(path: TestSupport.fixture("tiny_vgg16.int8.vggm")), threads: 2)
    }()

    /// Direct convolution in Double over NHWC input and an HWIO kernel, TensorFlow padding.
    static func referenceConv(_ x: [Float], _ inShape: [Int], _ w: [Double], kernel: Int, filters: Int, window: Window2D, outShape: [Int], bias: [Float]) -> [Double] {
        let (n, h, wd, c) = (inShape[0], inShape[1], inShape[2], inShape[3])
        let (oh, ow) = (outShape[1], outShape[2])
        let pad = window.padBefore(inHeight: h, inWidth: wd, outHeight: oh, outWidth: ow)
        var out = [Double](repeating: 0, count: n * oh * ow * filters)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for f in 0..<filters {
                        var acc = Double(bias[f])
                        for ky in 0..<kernel {
                            for kx in 0..<kernel {
                                let iy = oy * window.strides.height - pad.top + ky, ix = ox * window.strides.width - pad.left + kx
                                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                                for ci in 0..<c { acc += Double(x[((b * h + iy) * wd + ix) * c + ci]) * w[((ky * kernel + kx) * c + ci) * filters + f] }
                            }
                        }
                        out[((b * oh + oy) * ow + ox) * filters + f] = acc
                    }
                }
            }
        }
        return out
    }

    static func bf16(_ x: Float) -> Float {
        let u = x.bitPattern
        return Float(bitPattern: (u &+ 0x7FFF &+ ((u >> 16) & 1)) & 0xFFFF_0000)
    }

    /// Odd geometries: 3 and 5 input channels, 7 and 19 filters, stride 2, 'same' and 'valid', a 1x1 convolution
    /// read directly, batch 3.
    static let geometries: [(c: Int, k: Int, kernel: Int, stride: Int, padding: Padding, h: Int, w: Int)] = [
        (3, 7, 3, 1, .same, 9, 11), (5, 19, 3, 2, .valid, 10, 7), (8, 33, 1, 1, .valid, 5, 6), (13, 17, 5, 2, .same, 8, 9),
    ]

    /// int8: the kernels compute the integer products exactly, so they match a Double reference computed from
    /// the same quantized input and weights to float rounding, on VNNI and on the scalar fallback alike.
    @Test(arguments: [false, true]) func int8KernelsMatchReferenceOnOddShapes(fallback: Bool) throws {
        Precision.forceFallback(fallback)
        defer { Precision.forceFallback(false) }
        for (i, g) in Self.geometries.enumerated() {
            let window = Window2D(size: Size2D(g.kernel, g.kernel), strides: Size2D(g.stride, g.stride), padding: g.padding)
            let (oh, ow) = try window.output(height: g.h, width: g.w)
            let inShape = [3, g.h, g.w, g.c], outShape = [3, oh!, ow!, g.k]
            let kk = g.kernel * g.kernel * g.c
            let signed = i % 2 == 0
            let x = Self.values(inShape.reduce(1, *), seed: UInt64(i)).map { signed ? $0 * 3 : abs($0) * 3 }
            let q = Self.values(kk * g.k, seed: UInt64(100 + i)).map { Int8(($0 * 127).rounded()) }
            let scales = (0..<g.k).map { Float($0 + 1) * 0.001 }
            let bias = Self.values(g.k, seed: UInt64(200 + i))
            let inputScale: Float = signed ? 3 / 127 : 3 / 255, zp = signed ? 128 : 0
            let p = q.withUnsafeBufferPointer { LowpProduct(int8: $0.baseAddress!, k: kk, n: g.k, weightScales: scales, inputScale: inputScale, zeroPoint: zp, bias: bias) }
            let y = p.convolve(engine: Self.engine, window: window, input: x, inShape: inShape, outShape: outShape)
            // The reference sees the input as the kernel does: quantized and dequantized.
            let xq = x.map { Float(max(0, min(255, ($0 / inputScale).rounded(.toNearestOrEven) + Float(zp))) - Float(zp)) * inputScale }
            let w = (0..<(kk * g.k)).map { Double(q[$0]) * Double(scales[$0 % g.k]) }
            let ref = Self.referenceConv(xq, inShape, w, kernel: g.kernel, filters: g.k, window: window, outShape: outShape, bias: bias)
            let scale = ref.map(abs).max()!
            let err = zip(y, ref).map { abs(Double($0) - $1) }.max()!
            #expect(err <= 1e-5 * max(1, scale), "geometry \(g): max error \(err) of \(scale)")
            // Dense: the same product over rows of kk values (5 rows, k not a multiple of 4 when c is odd).
            let rows = 5
            let xd = Self.values(rows * kk, seed: UInt64(300 + i)).map { abs($0) }
            let pd = q.withUnsafeBufferPointer { LowpProduct(int8: $0.baseAddress!, k: kk, n: g.k, weightScales: scales, inputScale: 1.0 / 255, zeroPoint: 0, bias: bias) }
            let yd = pd.multiply(engine: Self.engine, input: xd, rows: rows, relu: true)
            for r in 0..<rows {
                for j in 0..<g.k {
                    var acc = Double(bias[j])
                    for t in 0..<kk { acc += Double((xd[r * kk + t] * 255).rounded(.toNearestOrEven)) / 255 * w[t * g.k + j] }
                    #expect(abs(Double(yd[r * g.k + j]) - max(0, acc)) <= 1e-5 * max(1, abs(acc)), "dense \(g) row \(r) column \(j)")
                }
            }
        }
    }

    /// bf16: products of bf16-rounded values accumulated in float32, within float32 accumulation error of a
    /// Double reference over the same rounded values; the fallback gives the same within that error.
    /// The int8 fallback gives the VNNI kernel's bits (12-, 8-, 4- and 1-row tiles, a partial column block).
    @Test func int8FallbackGivesTheSameBits() throws {
        let k = 37, n = 45, rows = 31
        let q = Self.values(k * n, seed: 7).map { Int8(($0 * 127).rounded()) }
        let scales = (0..<n).map { Float($0 + 1) * 0.003 }, bias = Self.values(n, seed: 8)
        let x = Self.values(rows * k, seed: 9).map { $0 * 5 }
        let p = q.withUnsafeBufferPointer { LowpProduct(int8: $0.baseAddress!, k: k, n: n, weightScales: scales, inputScale: 5.0 / 127, zeroPoint: 128, bias: bias) }
        let native = p.multiply(engine: Self.engine, input: x, rows: rows)
        Precision.forceFallback(true)
        defer { Precision.forceFallback(false) }
        let emulated = p.multiply(engine: Self.engine, input: x, rows: rows)
        #expect(native.map(\.bitPattern) == emulated.map(\.bitPattern))
    }

    @Test(arguments: [false, true]) func bf16KernelsMatchReferenceOnOddShapes(fallback: Bool) throws {
        Precision.forceFallback(fallback)
        defer { Precision.forceFallback(false) }
        for (i, g) in Self.geometries.enumerated() {
            let window = Window2D(size: Size2D(g.kernel, g.kernel), strides: Size2D(g.stride, g.stride), padding: g.padding)
            let (oh, ow) = try window.output(height: g.h, width: g.w)
            let inShape = [3, g.h, g.w, g.c], outShape = [3, oh!, ow!, g.k]
            let kk = g.kernel * g.kernel * g.c
            let x = Self.values(inShape.reduce(1, *), seed: UInt64(i))
            let wf = Self.values(kk * g.k, seed: UInt64(100 + i))
            let bias = Self.values(g.k, seed: UInt64(200 + i))
            let p = wf.withUnsafeBufferPointer { w in bias.withUnsafeBufferPointer { LowpProduct(bf16: w.baseAddress!, k: kk, n: g.k, bias: $0.baseAddress!) } }
            let y = p.convolve(engine: Self.engine, window: window, input: x, inShape: inShape, outShape: outShape)
            let ref = Self.referenceConv(x.map(Self.bf16), inShape, wf.map { Double(Self.bf16($0)) }, kernel: g.kernel, filters: g.k, window: window,
                                         outShape: outShape, bias: bias)
            let err = zip(y, ref).map { abs(Double($0) - $1) }.max()!
            #expect(err <= 1e-4 * Double(kk), "geometry \(g): max error \(err)")
            // Against float32 itself, bf16 keeps about 3 significant digits.
            let full = Self.referenceConv(x, inShape, wf.map(Double.init), kernel: g.kernel, filters: g.k, window: window, outShape: outShape, bias: bias)
            let rel = zip(y, full).map { abs(Double($0) - $1) }.max()! / full.map(abs).max()!
            #expect(rel < 0.02, "geometry \(g): bf16 vs fp32 \(rel)")
        }
    }

    /// bf16 3x3 convolutions run as Winograd F(2x2) with bf16 products: against the direct convolution in
    /// double, within what bf16 keeps (under 1% of the largest output, as direct bf16), on geometries where
    /// tiles do not divide the image, 'same' and 'valid', with and without ReLU, a block per thread and several;
    /// the fallback (no AVX512_BF16) agrees within the same bound.
    @Test(arguments: [false, true]) func bf16WinogradMatchesDirectConvolution(fallback: Bool) throws {
        Precision.forceFallback(fallback)
        defer { Precision.forceFallback(false) }
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // (h, w, c, filters, same, batch): 1-pixel rows, 7x9 (tiles overhang), 37 channels (odd bf16 pairs),
        // a batch with more tiles than two threads' blocks of 160.
        for (h, w, c, k, same, n) in [(1, 5, 16, 20, true, 2), (7, 9, 37, 35, true, 2), (9, 8, 16, 33, false, 1), (30, 34, 24, 40, true, 3)] {
            for relu in [false, true] {
                let model = try ConvolutionAlgorithmTests.convModel(dir, height: h, width: w, c: c, filters: k, padding: same ? .same : .valid, relu: relu)
                let x: [Float] = (0..<(n * h * w * c)).map { (i: Int) -> Float in Float((i * 7919) % 97) / 48 - 1 }
                let ref = ConvolutionAlgorithmTests.direct(x, n: n, h: h, w: w, c: c, kernel: model.floats("conv/kernel")!, bias: model.floats("conv/bias")!,
                                                           filters: k, same: same, relu: relu)
                let engine = try Engine(model: model, options: .init(threads: 2, algorithmCache: .disabled, precision: .bf16))
                let y = try engine.run(Tensor(shape: [n, h, w, c], values: x))[0]
                #expect(engine.convolutionAlgorithms["conv"] == .winograd2x2)
                try #require(y.count == ref.count)
                let err = TestSupport.relativeError(y.values[...], ref[...])
                #expect(err < 0.01, "\(h)x\(w)x\(c) -> \(k) same \(same) relu \(relu) batch \(n): relative error \(err)")
                #expect(err > 0, "bf16 rounds: an error of zero means the float32 path ran")
            }
        }
    }

    /// int8 3x3 convolutions as Winograd F(2x2) and F(4x4): each tile's transformed input rows quantized with
    /// their own scale and zero point, the transformed kernel per filter. Against the direct convolution in
    /// double on the float32 weights: within int8's error (F(2x2) about 1% of the largest output, twice the
    /// direct int8 product's; F(4x4) 3-5% RMS on these random values, 1-3% on VGG16's real activations), on
    /// tiles that overhang the image, 'same' and 'valid', channels not a multiple of 4, filters not a multiple
    /// of 64, several blocks per thread, many filters; the fallback (no VNNI, forced) gives the same bits.
    @Test(arguments: [2, 4]) func int8WinogradMatchesDirectConvolution(tile: Int) throws {
        let bound = tile == 2 ? (max: 0.03, rms: 0.02) : (max: 0.2, rms: 0.08)
        for (i, (h, w, c, k, same, n)) in [(1, 5, 16, 20, true, 2), (7, 9, 37, 35, true, 2), (9, 8, 16, 33, false, 1), (30, 34, 24, 70, true, 3),
                                           (6, 6, 16, 200, true, 1)].enumerated() {
            let window = Window2D(size: Size2D(3, 3), strides: Size2D(1, 1), padding: same ? .same : .valid)
            let (oh, ow) = try window.output(height: h, width: w)
            let inShape = [n, h, w, c], outShape = [n, oh!, ow!, k]
            // Activations after a ReLU: non-negative, a third of them zero.
            let x = Self.values(inShape.reduce(1, *), seed: UInt64(400 + i)).map { max(0, $0 + 0.3) * 2 }
            let wf = Self.values(9 * c * k, seed: UInt64(500 + i)).map { $0 * 0.2 }
            let bias = Self.values(k, seed: UInt64(600 + i)).map { $0 * 0.1 }
            let p = wf.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { LowpProduct(int8Winograd: wp.baseAddress!, c: c, n: k, bias: $0.baseAddress!, tile: tile, threads: 2) }
            }
            let ref = Self.referenceConv(x, inShape, wf.map(Double.init), kernel: 3, filters: k, window: window, outShape: outShape, bias: bias)
            for relu in [false, true] {
                let y = p.convolve(engine: Self.engine, window: window, input: x, inShape: inShape, outShape: outShape, relu: relu)
                let r = ref.map { relu ? max(0, $0) : $0 }
                let scale = r.map(abs).max()!
                let err = zip(y, r).map { abs(Double($0) - $1) }.max()! / scale
                var se = 0.0, sr = 0.0
                for (a, b) in zip(y, r) {
                    se += (Double(a) - b) * (Double(a) - b)
                    sr += b * b
                }
                let rms = (se / sr).squareRoot()
                #expect(err < bound.max && rms < bound.rms, "F(\(tile)) \(h)x\(w)x\(c) -> \(k) same \(same) batch \(n) relu \(relu): max error \(err), rms \(rms)")
                #expect(err > 0, "int8 rounds: an error of zero means the float32 path ran")
                if relu { #expect(y.allSatisfy { $0 >= 0 }) }
                Precision.forceFallback(true)
                let emulated = p.convolve(engine: Self.engine, window: window, input: x, inShape: inShape, outShape: outShape, relu: relu)
                Precision.forceFallback(false)
                #expect(y.map(\.bitPattern) == emulated.map(\.bitPattern), "\(h)x\(w)x\(c) -> \(k): the fallback's bits differ")
            }
        }
    }

    /// The int8 Winograd output transform max-pooling 2x2 on the way gives the bits of the convolution then the
    /// pooling: even and odd sizes, 'valid' pooling (the last row and column dropped) and 'same' (the last window
    /// partial), with and without ReLU.
    @Test(arguments: [2, 4]) func int8WinogradPoolsAsThePoolingLayer(tile: Int) throws {
        for (i, (h, w, c, k, validPool)) in [(8, 6, 16, 20, true), (7, 9, 17, 33, true), (7, 9, 17, 33, false), (13, 12, 24, 70, false),
                                             (10, 14, 16, 20, true), (11, 6, 16, 20, false)].enumerated() {
            let window = Window2D(size: Size2D(3, 3), strides: Size2D(1, 1), padding: .same)
            let inShape = [2, h, w, c], outShape = [2, h, w, k]
            let x = Self.values(inShape.reduce(1, *), seed: UInt64(700 + i)).map { max(0, $0 + 0.2) }
            let wf = Self.values(9 * c * k, seed: UInt64(800 + i)).map { $0 * 0.2 }
            let bias = Self.values(k, seed: UInt64(900 + i)).map { $0 * 0.1 }
            let p = wf.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { LowpProduct(int8Winograd: wp.baseAddress!, c: c, n: k, bias: $0.baseAddress!, tile: tile, threads: 2) }
            }
            let ph = validPool ? h / 2 : (h + 1) / 2, pw = validPool ? w / 2 : (w + 1) / 2
            for relu in [false, true] {
                let y = p.convolve(engine: Self.engine, window: window, input: x, inShape: inShape, outShape: outShape, relu: relu)
                let pooled = p.convolve(engine: Self.engine, window: window, input: x, inShape: inShape, outShape: outShape, relu: relu, pooled: (ph, pw))
                var expected = [Float](repeating: 0, count: 2 * ph * pw * k)
                for b in 0..<2 { for py in 0..<ph { for px in 0..<pw { for j in 0..<k {
                    var m = -Float.infinity
                    for dy in 0..<2 { for dx in 0..<2 where 2 * py + dy < h && 2 * px + dx < w {
                        m = max(m, y[((b * h + 2 * py + dy) * w + 2 * px + dx) * k + j])
                    } }
                    expected[((b * ph + py) * pw + px) * k + j] = m
                } } } }
                #expect(pooled.map(\.bitPattern) == expected.map(\.bitPattern), "F(\(tile)) \(h)x\(w)x\(c) -> \(k) valid \(validPool) relu \(relu)")
            }
        }
    }

    /// In an engine, a MaxPooling2D that alone reads an int8 Winograd convolution runs inside it (listed in
    /// `fusedLayers`), with the same outputs as the unfused plan (the convolution asked for as an output too).
    @Test func int8PlansFuseThePooling() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let graph = ModelGraph(name: "convpool", layers: [
            Layer(name: "x", InputLayer(shape: [14, 10, 3]), inbound: []),
            Layer(name: "conv1", Conv2D(filters: 16, kernel: Size2D(3, 3), padding: .same, activation: .relu), inbound: ["x"]),
            Layer(name: "conv2", Conv2D(filters: 24, kernel: Size2D(3, 3), padding: .same, activation: .relu), inbound: ["conv1"]),
            Layer(name: "pool", MaxPooling2D(pool: 2), inbound: ["conv2"]),
            Layer(name: "conv3", Conv2D(filters: 8, kernel: Size2D(3, 3), padding: .same), inbound: ["pool"]),
        ], inputs: ["x"], outputs: ["conv3"], isSequential: false)
        try TestSupport.writeKeras(dir + "/convpool.h5", graph: graph, seed: 11)
        #expect(try await CLI.run(["convert", dir + "/convpool.h5", "-o", dir + "/fp32.vggm", "-q"]).status == 0)
        let q = try await CLI.run(["quantize", dir + "/fp32.vggm", "--calibration", TestSupport.fixture("images/eval"), "-o", dir + "/int8.vggm", "-q"])
        try #require(q.status == 0, "\(q.stderr)")
        let file = try VGGMFile(path: dir + "/int8.vggm")
        let x = Tensor(shape: [2, 14, 10, 3], values: Self.values(2 * 14 * 10 * 3, seed: 12).map { $0 * 100 })
        for algorithm in [ConvolutionAlgorithm.winograd2x2, .winograd4x4] {
            let engine = try Engine(model: file, options: .init(threads: 2, convolution: .fixed(algorithm), algorithmCache: .disabled, precision: .int8))
            let fused = try engine.run(x)[0]
            #expect(engine.fusedLayers == ["pool": "conv2"] && engine.convolutionAlgorithms["conv2"] == algorithm)
            let unfused = try engine.run(x, outputs: ["conv2", "conv3"])
            #expect(engine.fusedLayers.isEmpty)
            #expect(fused.values.map(\.bitPattern) == unfused[1].values.map(\.bitPattern))
            #expect(fused.values.contains { $0 != 0 })
        }
        let bench = try await CLI.run(["bench", dir + "/int8.vggm", "--layers", "--algorithm", "winograd-2x2", "--batch", "2"])
        #expect(bench.status == 0 && bench.stdout.contains("(in conv2)"), "\(bench.stdout)")
    }

    /// quantize twice on the same inputs: the same bytes; the file verifies, inspects as 1.3 with i8 tensors,
    /// and summary lists each layer's precision.
    @Test func quantizeIsDeterministicAndRoundTrips() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/tiny.vggm"
        #expect(try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", model]).status == 0)
        var outputs: [Data] = []
        for name in ["a", "b"] {
            let r = try await CLI.run(["quantize", model, "--calibration", TestSupport.fixture("images/eval"), "-o", "\(dir)/\(name).vggm", "-q"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("block1_conv1") && r.stdout.contains("int8") && r.stdout.contains("rel. error"), "\(r.stdout)")
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).vggm")))
        }
        #expect(outputs[0] == outputs[1])
        let q = dir + "/a.vggm"
        #expect(try await CLI.run(["verify", q]).stdout.contains("OK"))
        let inspect = try await CLI.run(["inspect", q])
        #expect(inspect.stdout.contains("vggm 1.3") && inspect.stdout.contains("block1_conv1/kernel  i8") && inspect.stdout.contains("block1_conv1/kernel.scale  f32"),
                "\(inspect.stdout)")
        let summary = try await CLI.run(["summary", q])
        #expect(summary.stdout.contains("Precision of the products") && summary.stdout.contains("fc1") && summary.stdout.contains("int8"), "\(summary.stdout)")
        let f = try VGGMFile(path: q)
        #expect(f.quantizedLayers.count >= 1 && f.storedPrecision(ofLayer: "block1_conv1") != nil)
        // Predictions in int8 (the file's default) close to float32 on the same images.
        let imgs = TestSupport.files(in: TestSupport.fixture("images/eval/class_0")).map { TestSupport.fixture("images/eval/class_0/" + $0) }
        let p32 = try predict(modelPath: model, images: imgs, npyInputs: [], inputSize: nil)
        let p8 = try predict(modelPath: q, images: imgs, npyInputs: [], inputSize: nil)
        let pbf = try predict(modelPath: model, images: imgs, npyInputs: [], inputSize: nil, precision: .bf16)
        let a = p32.outputs!.values, b = p8.outputs!.values, c = pbf.outputs!.values
        #expect(zip(a, b).map { abs($0 - $1) }.max()! < 0.05)
        #expect(zip(a, c).map { abs($0 - $1) }.max()! < 0.01)
        // Forcing the fallback: a one-line note, the same int8 outputs.
        let forced = try await CLI.run(["predict", q] + imgs, env: ["VGGTOOL_FORCE_FALLBACK": "1"])
        let native = try await CLI.run(["predict", q] + imgs)
        #expect(forced.status == 0 && forced.stderr.contains("runs emulated") && forced.stdout == native.stdout, "\(forced.stderr)")
        // An fp32 file asked for int8 is refused with what to do.
        let refused = try await CLI.run(["predict", model, "--precision", "int8", imgs[0]])
        #expect(refused.status != 0 && refused.stderr.contains("vggtool quantize"), "\(refused.stderr)")
        // Evaluate in each precision.
        for prec in ["fp32", "bf16"] {
            let e = try await CLI.run(["evaluate", model, "--data", TestSupport.fixture("images/eval"), "--precision", prec, "-q"])
            #expect(e.status == 0 && e.stdout.contains("accuracy"), "\(e.stderr)")
        }
        let e8 = try await CLI.run(["evaluate", q, "--data", TestSupport.fixture("images/eval"), "-q"])
        #expect(e8.status == 0 && e8.stdout.contains("accuracy"), "\(e8.stderr)")
        // Exports: dequantized to float (ONNX, Keras .h5) or as stored (safetensors: I8 kernels beside F32 scales).
        for (format, out) in [("onnx", "x.onnx"), ("safetensors", "x.safetensors"), ("keras-h5", "x.h5")] {
            let r = try await CLI.run(["export", q, "--to", format, "-o", "\(dir)/\(out)"])
            #expect(r.status == 0, "\(format): \(r.stderr)")
        }
        let bench = try await CLI.run(["bench", q, "--json"])
        #expect(bench.status == 0 && bench.stdout.contains("\"precision\" : \"int8\""), "\(bench.stdout)")
    }

    /// A sequence model quantized from `.npy` batches (`--calibration-input`): its Conv1D layers (causal and
    /// dilated, strided 'same') and Dense layer become int8, the file verifies and summary lists them, the same
    /// inputs give the same bytes, and int8 and bf16 outputs stay close to float32's; `evaluate --input --labels`
    /// reports each precision's accuracy.
    @Test func conv1DQuantizesFromNpyBatches() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let graph = ModelGraph(name: "seq", layers: [
            Layer(name: "x", InputLayer(shape: [40, 6]), inbound: []),
            Layer(name: "c1", Conv1D(filters: 16, kernel: 5, padding: .causal, dilation: 2, activation: .relu), inbound: ["x"]),
            Layer(name: "c2", Conv1D(filters: 12, kernel: 3, strides: 2, padding: .same), inbound: ["c1"]),
            Layer(name: "flat", Flatten(), inbound: ["c2"]),
            Layer(name: "out", Dense(units: 4, activation: .softmax), inbound: ["flat"]),
        ], inputs: ["x"], outputs: ["out"], isSequential: false)
        try TestSupport.writeKeras(dir + "/seq.h5", graph: graph, seed: 21)
        let model = dir + "/seq.vggm"
        #expect(try await CLI.run(["convert", dir + "/seq.h5", "-o", model, "-q"]).status == 0)
        let calibration = Tensor(shape: [64, 40, 6], values: Self.values(64 * 240, seed: 22))
        try Data(NumPy.encode(calibration)).write(to: URL(fileURLWithPath: dir + "/cal.npy"))
        var bytes: [Data] = []
        for name in ["a", "b"] {
            let r = try await CLI.run(["quantize", model, "--calibration-input", dir + "/cal.npy", "-o", "\(dir)/\(name).vggm", "-q"])
            try #require(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("3 of 3 layers int8") && r.stdout.contains("Conv1D") && r.stdout.contains("64 rows"), "\(r.stdout)")
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name).vggm")))
        }
        #expect(bytes[0] == bytes[1])
        let q = dir + "/a.vggm"
        #expect(try await CLI.run(["verify", q]).stdout.contains("OK"))
        let f = try VGGMFile(path: q)
        #expect(f.quantizedLayers == ["c1", "c2", "out"])
        let summary = try await CLI.run(["summary", q])
        #expect(summary.stdout.contains("Precision of the products") && summary.stdout.contains(" c1") && summary.stdout.contains("int8"), "\(summary.stdout)")
        let x = Tensor(shape: [8, 40, 6], values: Self.values(8 * 240, seed: 23))
        let y32 = try Engine(model: try VGGMFile(path: model), options: .init(threads: 2)).run(x)[0].values
        let y8 = try Engine(model: f, options: .init(threads: 2, precision: .int8)).run(x)[0].values
        let ybf = try Engine(model: try VGGMFile(path: model), options: .init(threads: 2, precision: .bf16)).run(x)[0].values
        #expect(zip(y32, y8).map { abs($0 - $1) }.max()! < 0.03)
        #expect(zip(y32, ybf).map { abs($0 - $1) }.max()! < 0.01)
        #expect(y8 != y32)
        // evaluate --input/--labels in each precision: labels are fp32's top class for rows 0-4, another class after.
        try Data(NumPy.encode(x)).write(to: URL(fileURLWithPath: dir + "/x.npy"))
        let top = (0..<8).map { r in (0..<4).max { y32[r * 4 + $0] < y32[r * 4 + $1] }! }
        let labels = (0..<8).map { Float($0 < 5 ? top[$0] : (top[$0] + 1) % 4) }
        try Data(NumPy.encode(Tensor(shape: [8], values: labels))).write(to: URL(fileURLWithPath: dir + "/y.npy"))
        for (file, prec) in [(model, "fp32"), (model, "bf16"), (q, "int8")] {
            let e = try await CLI.run(["evaluate", file, "--input", dir + "/x.npy", "--labels", dir + "/y.npy", "--precision", prec, "--json", "-q", "--batch-size", "3"])
            try #require(e.status == 0, "\(prec): \(e.stderr)")
            let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
            #expect(obj["images"] as? Int == 8 && abs((obj["accuracy"] as? Double ?? 0) - 0.625) < 0.13, "\(prec): \(e.stdout)")
            if prec == "fp32" { #expect(obj["accuracy"] as? Double == 0.625) }
        }
        let noLabels = try await CLI.run(["evaluate", model, "--input", dir + "/x.npy"])
        #expect(noLabels.status != 0 && noLabels.stderr.contains("--labels"), "\(noLabels.stderr)")
        try Data(NumPy.encode(Tensor(shape: [8], values: [0, 1, 2, 3, 4, 0, 1, 2]))).write(to: URL(fileURLWithPath: dir + "/y4.npy"))
        let badLabel = try await CLI.run(["evaluate", model, "--input", dir + "/x.npy", "--labels", dir + "/y4.npy"])
        #expect(badLabel.status != 0 && badLabel.stderr.contains("y4.npy") && badLabel.stderr.contains("label 4 is 4.0"), "\(badLabel.stderr)")
        // A (batch, 1) output that is not a probability is refused; so is a batch without rows.
        let logit = ModelGraph(name: "logit", layers: [
            Layer(name: "x", InputLayer(shape: [40, 6]), inbound: []),
            Layer(name: "flat", Flatten(), inbound: ["x"]),
            Layer(name: "out", Dense(units: 1), inbound: ["flat"]),
        ], inputs: ["x"], outputs: ["out"], isSequential: false)
        try TestSupport.writeKeras(dir + "/logit.h5", graph: logit, seed: 25)
        #expect(try await CLI.run(["convert", dir + "/logit.h5", "-o", dir + "/logit.vggm", "-q"]).status == 0)
        let twoClasses = Tensor(shape: [8], values: [0, 1, 0, 1, 0, 1, 0, 1])
        try Data(NumPy.encode(twoClasses)).write(to: URL(fileURLWithPath: dir + "/y2.npy"))
        let notProbability = try await CLI.run(["evaluate", dir + "/logit.vggm", "--input", dir + "/x.npy", "--labels", dir + "/y2.npy"])
        #expect(notProbability.status != 0 && notProbability.stderr.contains("logit.vggm") && notProbability.stderr.contains("is not a probability"),
                "\(notProbability.stderr)")
        try Data(NumPy.encode(Tensor(shape: [0, 40, 6], values: []))).write(to: URL(fileURLWithPath: dir + "/none.npy"))
        let noRows = try await CLI.run(["predict", model, "--input", dir + "/none.npy", "-o", dir + "/none.out.npy"])
        #expect(noRows.status != 0 && noRows.stderr.contains("none.npy: has no rows") && !FileManager.default.fileExists(atPath: dir + "/none.out.npy"),
                "\(noRows.stderr)")
        // The calibration source is one or the other; the batch must fit the model's input.
        let both = try await CLI.run(["quantize", model, "--calibration-input", dir + "/cal.npy", "--calibration", dir, "-o", dir + "/c.vggm"])
        #expect(both.status != 0 && both.stderr.contains("not both"), "\(both.stderr)")
        try Data(NumPy.encode(Tensor(shape: [4, 40, 5], values: Self.values(800, seed: 24)))).write(to: URL(fileURLWithPath: dir + "/bad.npy"))
        let bad = try await CLI.run(["quantize", model, "--calibration-input", dir + "/bad.npy", "-o", dir + "/c.vggm"])
        #expect(bad.status != 0 && bad.stderr.contains("bad.npy") && !FileManager.default.fileExists(atPath: dir + "/c.vggm"), "\(bad.stderr)")
        var nan = calibration
        nan.values[3 * 240 + 7] = .nan
        try Data(NumPy.encode(nan)).write(to: URL(fileURLWithPath: dir + "/nan.npy"))
        let refused = try await CLI.run(["quantize", model, "--calibration-input", dir + "/nan.npy", "-o", dir + "/c.vggm"])
        #expect(refused.status != 0 && refused.stderr.contains("nan.npy: row 3 holds nan") && !FileManager.default.fileExists(atPath: dir + "/c.vggm"),
                "\(refused.stderr)")
    }

    /// A 1.3 file read as a 1.2 reader would: refused as newer, naming both versions; the committed int8 fixture
    /// opens and runs.
    @Test func olderReadersRefuseInt8Files() throws {
        let path = TestSupport.fixture("tiny_vgg16.int8.vggm")
        let f = try VGGMFile(path: path)
        #expect(!f.quantizedLayers.isEmpty)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes[10] == 3)
        // The message a 1.2 reader gives is the newer-version one: check ours gives it for 1.4.
        bytes[10] = 4
        let crc = bytes[0..<60].withUnsafeBytes { VGGMFormat.crc32c($0) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { bytes[60 + i] = $0[i] } }
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/newer.vggm"))
        #expect { _ = try VGGMFile(path: dir + "/newer.vggm") } throws: { "\($0)".contains("format version 1.4 is newer than this vggtool (1.3)") }
    }
}
