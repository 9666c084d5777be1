import Foundation
import ModelFile
import ModelGraph
import Runtime
import Testing
import Training
import VGGTool

/// Each convolution algorithm (im2col, Winograd F(2x2,3x3), F(4x4,3x3)) forced on its own: against the direct
/// convolution on odd geometries, against the Keras goldens, on every instruction set the transforms are
/// compiled for; and the measured choice with its disk cache.
@Suite(.serialized) struct ConvolutionAlgorithmTests {
    static let algorithms: [ConvolutionAlgorithm] = [.im2col, .winograd2x2, .winograd4x4, .winograd6x6]
    static let winogradAlgorithms: [ConvolutionAlgorithm] = [.winograd2x2, .winograd4x4, .winograd6x6]

    /// A one-convolution model, `size` x `width` x `c` in, 3x3 stride 1, written by vggtool's Keras writer.
    static func convModel(_ dir: String, height: Int, width: Int, c: Int, filters: Int, padding: Padding, relu: Bool) throws -> VGGMFile {
        let graph = ModelGraph(name: "conv", layers: [
            Layer(name: "x", InputLayer(shape: [height, width, c]), inbound: []),
            Layer(name: "conv", Conv2D(filters: filters, kernel: Size2D(3, 3), padding: padding, activation: relu ? .relu : .linear), inbound: ["x"]),
        ], inputs: ["x"], outputs: ["conv"], isSequential: false)
        try TestSupport.writeKeras(dir + "/conv.h5", graph: graph, seed: 5)
        return try TestSupport.convertAndOpen(dir + "/conv.h5")
    }

    /// The direct convolution ('valid' or TensorFlow's 'same'), in double, then ReLU when asked.
    static func direct(_ x: [Float], n: Int, h: Int, w: Int, c: Int, kernel: [Float], bias: [Float], filters: Int, same: Bool, relu: Bool) -> [Float] {
        let oh = same ? h : h - 2, ow = same ? w : w - 2, pad = same ? 1 : 0
        var out = [Float](repeating: 0, count: n * oh * ow * filters)
        for b in 0..<n { for y in 0..<oh { for xo in 0..<ow { for f in 0..<filters {
            var s = Double(bias[f])
            for i in 0..<3 { for j in 0..<3 {
                let yy = y + i - pad, xx = xo + j - pad
                guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                for ch in 0..<c { s += Double(x[((b * h + yy) * w + xx) * c + ch]) * Double(kernel[((i * 3 + j) * c + ch) * filters + f]) }
            } }
            out[((b * oh + y) * ow + xo) * filters + f] = relu ? Float(max(s, 0)) : Float(s)
        } } } }
        return out
    }

    /// Geometries where tiles do not divide the image (2x2 and 4x4 alike), 1-pixel images and rows, channels
    /// that are not a multiple of 16 (and more than one AVX-512 vector), 'same' and 'valid'.
    static let geometries: [(h: Int, w: Int, c: Int, k: Int, same: Bool)] = [
        (1, 1, 3, 5, true), (1, 7, 17, 9, true), (3, 3, 5, 4, false), (5, 9, 19, 33, true), (6, 6, 16, 16, false),
        (7, 11, 33, 20, true), (9, 13, 40, 17, false), (13, 5, 1, 3, true),
        (70, 66, 5, 7, true),  // more tiles than one block per thread: several blocks each, the last one partial
        // Filters in multiples of 64: kernels kept packed, own products (tile rows not a multiple of their 6).
        (5, 7, 3, 64, true), (9, 10, 21, 128, false), (34, 30, 13, 64, true),
    ]

    /// Every algorithm, on every instruction set the F(4x4) and F(6x6) transforms run on here, equals the
    /// direct convolution within 1e-5 of the largest output (4e-5 for F(6x6)), the fused ReLU included; and
    /// with one and three threads. (One model file per geometry for all algorithms: few HDF5 writes.)
    @Test func matchesDirectConvolution() throws {
        let dir = try TestSupport.tempDir()
        defer { KernelISA.force(nil) }
        for g in Self.geometries {
            for relu in [false, true] {
                let model = try Self.convModel(dir, height: g.h, width: g.w, c: g.c, filters: g.k, padding: g.same ? .same : .valid, relu: relu)
                let n = 2
                let x: [Float] = (0..<(n * g.h * g.w * g.c)).map { (i: Int) -> Float in Float((i * 7919) % 97) / 48 - 1 }
                let ref = Self.direct(x, n: n, h: g.h, w: g.w, c: g.c, kernel: model.floats("conv/kernel")!, bias: model.floats("conv/bias")!,
                                      filters: g.k, same: g.same, relu: relu)
                for algorithm in Self.algorithms {
                    // F(6x6)'s transforms scale values by up to 32 and 21/4 before rounding: about 1e-5 was measured here.
                    let tolerance: Float = algorithm == .winograd6x6 ? 4e-5 : 1e-5
                    for isa in KernelISA.allCases where isa.rawValue <= KernelISA.supported.rawValue {
                        KernelISA.force(isa)
                        #expect(KernelISA.current == isa)
                        let engine = try Engine(model: model, options: .init(winogradMinChannels: 1, convolution: .fixed(algorithm), algorithmCache: .disabled))
                        let y = try engine.run(Tensor(shape: [n, g.h, g.w, g.c], values: x))[0]
                        #expect(engine.convolutionAlgorithms["conv"] == algorithm)
                        try #require(y.count == ref.count, "\(g)")
                        let err = TestSupport.relativeError(y.values[...], ref[...])
                        #expect(err < tolerance, "\(algorithm) \(isa) \(g) relu \(relu): relative error \(err)")
                        // The second run uses the kernels cached by the engine (the first transformed into scratch).
                        #expect(try engine.run(Tensor(shape: [n, g.h, g.w, g.c], values: x))[0].values == y.values)
                    }
                    // One thread (each block its own) and three (small layers share one block between threads).
                    KernelISA.force(nil)
                    for threads in [1, 3] {
                        let engine = try Engine(model: model, options: .init(threads: threads, winogradMinChannels: 1, convolution: .fixed(algorithm),
                                                                             algorithmCache: .disabled))
                        let y = try engine.run(Tensor(shape: [n, g.h, g.w, g.c], values: x))[0]
                        let err = TestSupport.relativeError(y.values[...], ref[...])
                        #expect(err < tolerance, "\(algorithm) \(threads) threads \(g) relu \(relu): relative error \(err)")
                    }
                }
            }
        }
    }

    /// The transforms' AVX-512, AVX2 and baseline builds give bit-identical outputs (F(2x2), F(4x4), F(6x6)),
    /// and so do the products' from packed kernels (64 filters).
    @Test(arguments: [35, 64]) func instructionSetsAgreeBitForBit(filters: Int) throws {
        let dir = try TestSupport.tempDir()
        defer { KernelISA.force(nil) }
        let model = try Self.convModel(dir, height: 11, width: 14, c: 37, filters: filters, padding: .same, relu: true)
        let x: [Float] = (0..<11396).map { (i: Int) -> Float in Float((i * 7919) % 101) / 50 - 1 }
        for algorithm in [ConvolutionAlgorithm.winograd2x2, .winograd4x4, .winograd6x6] {
            var results: [[Float]] = []
            for isa in KernelISA.allCases where isa.rawValue <= KernelISA.supported.rawValue {
                KernelISA.force(isa)
                let engine = try Engine(model: model, options: .init(convolution: .fixed(algorithm), algorithmCache: .disabled))
                results.append(try engine.run(Tensor(shape: [2, 11, 14, 37], values: x))[0].values)
                #expect(engine.convolutionAlgorithms["conv"] == algorithm)
            }
            for r in results.dropFirst() { #expect(r == results[0], "\(algorithm)") }
        }
    }

    /// Convolutions of images with few channels (VGG16's first layer) are computed directly instead of by
    /// im2col + GEMM: against the convolution in double within 1e-6 of the largest output, 'same' and 'valid',
    /// widths that are not multiples of the vector path's four pixels, 1-pixel images; the same bits on every
    /// instruction set.
    @Test func fewChannelsDirectMatchesReference() throws {
        let dir = try TestSupport.tempDir()
        defer { KernelISA.force(nil) }
        for (h, w, c, k, same) in [(9, 11, 3, 64, true), (7, 6, 1, 128, false), (1, 1, 3, 64, true), (5, 13, 4, 64, true)] {
            let model = try Self.convModel(dir, height: h, width: w, c: c, filters: k, padding: same ? .same : .valid, relu: true)
            let n = 2
            let x: [Float] = (0..<(n * h * w * c)).map { (i: Int) -> Float in Float((i * 7919) % 97) / 48 - 1 }
            let ref = Self.direct(x, n: n, h: h, w: w, c: c, kernel: model.floats("conv/kernel")!, bias: model.floats("conv/bias")!,
                                  filters: k, same: same, relu: true)
            var results: [[Float]] = []
            for isa in KernelISA.allCases where isa.rawValue <= KernelISA.supported.rawValue {
                KernelISA.force(isa)
                let engine = try Engine(model: model, options: .init(convolution: .fixed(.im2col), algorithmCache: .disabled))
                let y = try engine.run(Tensor(shape: [n, h, w, c], values: x))[0]
                try #require(y.count == ref.count)
                let err = TestSupport.relativeError(y.values[...], ref[...])
                #expect(err < 1e-6, "\(h)x\(w)x\(c) -> \(k) same \(same) \(isa): relative error \(err)")
                results.append(y.values)
            }
            for r in results.dropFirst() { #expect(r == results[0], "\(h)x\(w)x\(c)") }
        }
    }

    /// A Dense layer's small-batch kernels (forward, input gradient, kernel gradient: the AVX-512 kernels and
    /// their baseline builds) are the same to the bit on every instruction set, with widths that are not
    /// multiples of their 64 columns and 4 rows and a batch that is not a multiple of 4.
    @Test func denseKernelsAgreeOnEveryInstructionSet() throws {
        defer { KernelISA.force(nil) }
        let input = Layer(name: "in", InputLayer(shape: [130]), inbound: [])
        let d1 = Layer(name: "d1", Dense(units: 141, activation: .relu), inbound: ["in"])
        let d2 = Layer(name: "d2", Dense(units: 80, activation: .softmax), inbound: ["d1"])
        let analysis = try ModelGraph(name: "grad", layers: [input, d1, d2], inputs: ["in"], outputs: ["d2"], isSequential: true).analyze()
        let n = 7
        let x: [Float] = (0..<(n * 130)).map { Float(($0 * 7919) % 101) / 50 - 1 }
        let g: [Float] = (0..<(n * 80)).map { Float(($0 * 104729) % 97) / 48 - 1 }
        var results: [[[Float]]] = []
        for isa in KernelISA.allCases where isa.rawValue <= KernelISA.supported.rawValue {
            KernelISA.force(isa)
            let net = try Network(layers: Array(analysis.layers.dropFirst()), weights: nil, threads: 2)
            try net.load(weights: { layer, w in
                let count = layer == "d1" ? (w == "kernel" ? 130 * 141 : 141) : (w == "kernel" ? 141 * 80 : 80)
                return (0..<count).map { Float(($0 * 31 + 7) % 53) / 100 - 0.25 }
            })
            let probabilities = net.forward(x, n: n, training: true)
            net.backward(g, inputGradient: false)
            results.append([probabilities] + net.parameters.map(\.grad))
        }
        #expect(results.count >= 1)
        for r in results.dropFirst() { #expect(r == results[0]) }
    }

    /// Every layer of each fixture model equals tf-keras's within 1e-4 with each algorithm forced wherever it
    /// applies (Winograd from 1 input channel).
    @Test(arguments: ["tiny_vgg16", "layers_zoo", "branching", "ops_zoo"], algorithms)
    func everyLayerMatchesKeras(model name: String, algorithm: ConvolutionAlgorithm) throws {
        let model = try TestSupport.convertAndOpen(TestSupport.fixture("\(name).tfkeras.full.h5"))
        let engine = try Engine(model: model, options: .init(winogradMinChannels: 1, convolution: .fixed(algorithm), algorithmCache: .disabled))
        let x = try TestSupport.tensor("\(name).input.npy")
        let listing = try String(contentsOfFile: TestSupport.fixture("goldens/\(name).layers.txt"), encoding: .utf8)
        let layers = listing.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        let outputs = try engine.run(x, outputs: layers)
        let expected = try TestSupport.tensor("\(name).tfkeras.layers.npy").values
        var at = 0
        for (layer, out) in zip(layers, outputs) {
            let err = TestSupport.relativeError(out.values[...], expected[at..<(at + out.count)])
            #expect(err < 1e-4, "\(name) layer \(layer) \(out.shape) (\(algorithm)): relative error \(err)")
            at += out.count
        }
    }

    /// Full-size VGG16 at 224x224 (seeded weights, as RuntimeTests.fullSizeVGG16MatchesKeras) with each
    /// Winograd algorithm forced on every 3x3 convolution: probabilities and block5_pool features within 1e-4
    /// of tf-keras, the top-5 classes of each image unchanged.
    @Test(arguments: winogradAlgorithms)
    func fullSizeVGG16MatchesKeras(algorithm: ConvolutionAlgorithm) throws {
        let dir = try TestSupport.tempDir()
        try writeDemoVGG16(path: dir + "/vgg16.h5", seed: 16)
        _ = try convert(input: dir + "/vgg16.h5", output: dir + "/vgg16.vggm", options: .init(), hashSource: false)
        try FileManager.default.removeItem(atPath: dir + "/vgg16.h5")
        let engine = try Engine(model: try VGGMFile(path: dir + "/vgg16.vggm"), options: .init(convolution: .fixed(algorithm), algorithmCache: .disabled))
        var x = [Float](repeating: 0, count: 2 * 224 * 224 * 3)
        var i = 0
        for n in 0..<2 { for h in 0..<224 { for w in 0..<224 { for c in 0..<3 {
            x[i] = Float((n * 7919 + h * 31 + w * 17 + c * 13) % 256) - 128
            i += 1
        } } } }
        let out = try engine.run(Tensor(shape: [2, 224, 224, 3], values: x), outputs: ["predictions", "block5_pool"])
        #expect(engine.convolutionAlgorithms["block3_conv2"] == algorithm)
        let probs = try TestSupport.tensor("vgg16_seed16.tfkeras.output.npy")
        let features = try TestSupport.tensor("vgg16_seed16.block5_pool.tfkeras.output.npy")
        let pErr = TestSupport.relativeError(out[0].values[...], probs.values[...])
        let fErr = TestSupport.relativeError(out[1].values[...], features.values[...])
        #expect(pErr < 1e-4, "\(algorithm): probabilities relative error \(pErr)")
        #expect(fErr < 1e-4, "\(algorithm): block5_pool relative error \(fErr)")
        for img in 0..<2 {
            func top5(_ v: ArraySlice<Float>) -> [Int] { Array(v.indices.sorted { v[$0] > v[$1] }.prefix(5)) }
            #expect(top5(out[0].values[(img * 1000)..<(img * 1000 + 1000)]) == top5(probs.values[(img * 1000)..<(img * 1000 + 1000)]))
        }
        print("ConvolutionAlgorithmTests: VGG16 \(algorithm): probabilities \(pErr), block5_pool \(fErr)")
    }

    /// The measured choice is written to the cache file and read back by the next engine without measuring;
    /// a choice planted in the file is used as found; a corrupt file is ignored and rewritten.
    @Test func measuredChoicesAreCachedOnDisk() throws {
        let dir = try TestSupport.tempDir()
        let model = try Self.convModel(dir, height: 20, width: 20, c: 32, filters: 32, padding: .same, relu: true)
        let cache = dir + "/cache/convolution-algorithms.json"
        let x = Tensor(shape: [1, 20, 20, 32], values: [Float](repeating: 0.25, count: 20 * 20 * 32))
        let reference = try Engine(model: model, options: .init(convolution: .fixed(.im2col), algorithmCache: .disabled)).run(x)[0]

        let first = try Engine(model: model, options: .init(algorithmCache: .file(cache)))
        let y = try first.run(x)[0]
        #expect(TestSupport.relativeError(y.values[...], reference.values[...]) < 1e-5)
        let chosen = try #require(first.convolutionAlgorithms["conv"])
        let text = try String(contentsOfFile: cache, encoding: .utf8)
        #expect(text.contains("\"\(chosen.rawValue)\""))
        #expect(text.contains("20x20x32 -> 20x20x32"))

        // Plant another algorithm under the same key: a new engine (a new process, as far as the file goes)
        // takes it without measuring.
        let planted: ConvolutionAlgorithm = chosen == .winograd2x2 ? .im2col : .winograd2x2
        try text.replacingOccurrences(of: "\"\(chosen.rawValue)\"", with: "\"\(planted.rawValue)\"").write(toFile: cache, atomically: true, encoding: .utf8)
        AlgorithmCacheFile.forget(cache)
        let second = try Engine(model: model, options: .init(algorithmCache: .file(cache)))
        _ = try second.run(x)
        #expect(second.convolutionAlgorithms["conv"] == planted)

        // Corrupt: ignored (measured again, the run succeeds), and replaced by a valid file.
        for junk in ["{\"version\": 1, \"choices\": {\"a\": \"no-such-algorithm\"}}", "not json at all", ""] {
            try junk.write(toFile: cache, atomically: true, encoding: .utf8)
            AlgorithmCacheFile.forget(cache)
            let third = try Engine(model: model, options: .init(algorithmCache: .file(cache)))
            #expect(TestSupport.relativeError(try third.run(x)[0].values[...], reference.values[...]) < 1e-5)
            let rewritten = try String(contentsOfFile: cache, encoding: .utf8)
            #expect(rewritten.contains("\"version\" : 1") && rewritten.contains("20x20x32 -> 20x20x32"), "\(rewritten)")
        }
    }

    /// The environment variables, through the built binary: VGGTOOL_CONV_ALGORITHM fixes the algorithm (nothing
    /// measured or stored), VGGTOOL_ALGORITHM_CACHE=off measures without storing, the default stores in
    /// $XDG_CACHE_HOME/vggtool, and VGGTOOL_ISA=scalar / avx2 computes the same outputs bit for bit.
    @Test func environmentOverrides() async throws {
        let dir = try TestSupport.tempDir()
        let model = try Self.convModel(dir, height: 20, width: 20, c: 32, filters: 32, padding: .same, relu: true)
        let xdg = dir + "/xdg", file = dir + "/xdg/vggtool/convolution-algorithms.json"
        for a in ["winograd-2x2", "winograd-4x4", "winograd-6x6", "im2col"] {
            let r = try await CLI.run(["bench", model.path, "--layers", "--json"], env: ["XDG_CACHE_HOME": xdg, "VGGTOOL_CONV_ALGORITHM": a])
            #expect(r.status == 0, "\(r.stderr)")
            let layers = (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["layers"] as! [[String: Any]]
            #expect(layers.first { $0["layer"] as? String == "conv" }?["algorithm"] as? String == a)
        }
        #expect(!FileManager.default.fileExists(atPath: file))
        let off = try await CLI.run(["bench", model.path], env: ["XDG_CACHE_HOME": xdg, "VGGTOOL_ALGORITHM_CACHE": "off"])
        #expect(off.status == 0 && !FileManager.default.fileExists(atPath: file), "\(off.stderr)")
        let on = try await CLI.run(["bench", model.path], env: ["XDG_CACHE_HOME": xdg])
        #expect(on.status == 0 && FileManager.default.fileExists(atPath: file), "\(on.stderr)")

        let x = Tensor(shape: [2, 20, 20, 32], values: (0..<25600).map { (i: Int) -> Float in Float((i * 7919) % 103) / 51 - 1 })
        try Data(NumPy.encode(x)).write(to: URL(fileURLWithPath: dir + "/x.npy"))
        var outputs: [[Float]] = []
        for isa in ["avx512", "avx2", "scalar"] {
            let r = try await CLI.run(["predict", model.path, "--input", dir + "/x.npy", "-o", dir + "/y_\(isa).npy"],
                                      env: ["VGGTOOL_ISA": isa, "VGGTOOL_CONV_ALGORITHM": "winograd-4x4"])
            #expect(r.status == 0, "\(r.stderr)")
            outputs.append(try NumPy.read(path: dir + "/y_\(isa).npy").values)
        }
        for o in outputs.dropFirst() { #expect(o == outputs[0]) }
    }

    /// Without Winograd (or below its channel threshold) only im2col applies: nothing is measured or stored.
    @Test func singleCandidateIsNotMeasured() throws {
        let dir = try TestSupport.tempDir()
        let model = try Self.convModel(dir, height: 8, width: 8, c: 4, filters: 8, padding: .same, relu: false)
        let cache = dir + "/c.json"
        let engine = try Engine(model: model, options: .init(algorithmCache: .file(cache)))  // 4 channels < 16
        _ = try engine.run(Tensor(shape: [1, 8, 8, 4], values: [Float](repeating: 1, count: 256)))
        #expect(engine.convolutionAlgorithms["conv"] == .im2col)
        #expect(!FileManager.default.fileExists(atPath: cache))
    }
}
