import Foundation
import ModelGraph
import ModelFile
import Runtime
import Testing
import Training
import VGGTool

/// Training against tf-keras (Fixtures/training, from scripts/fixtures/gen_train_goldens.py) and against
/// finite differences.
@Suite struct TrainingTests {
    static func golden(_ name: String) throws -> [Float] { try NumPy.read(path: TestSupport.fixture("training/\(name)")).values }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = max(b.map { abs($0) }.max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    /// From the same initial weights and batches, the trainable weights after 1 and after 10 optimizer steps
    /// equal tf-keras's within 1e-5 (relative to each variable's largest value): a frozen base with a new
    /// head (Adam, SGD with momentum) and training from a convolution (--trainable-from block3_conv2).
    @Test(arguments: [("head_adam", nil, OptimizerKind.adam, Float(1e-3), Float(0)), ("head_sgd", nil, .sgd, 0.01, 0.9),
                      ("conv_adam", "block3_conv2", .adam, 1e-3, 0)])
    func stepsMatchKeras(name: String, from: String?, kind: OptimizerKind, lr: Float, momentum: Float) throws {
        let base = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"))
        let comp = try Composition(base: base.graph, size: 32, pooling: .flatten, units: [16, 12], dropout: 0, classes: 3, trainableFrom: from)
        let initial = try Self.golden("\(name).init.npy")
        var at = 0
        let net = try Network(layers: comp.trainable, weights: { layer, weight in
            let n = comp.analysis.info(layer)!.weights.first { $0.name == weight }!.elementCount
            defer { at += n }
            return Array(initial[at..<(at + n)])
        }, threads: 2)
        #expect(at == initial.count)
        let names = try String(contentsOfFile: TestSupport.fixture("training/\(name).vars.txt"), encoding: .utf8)
            .split(separator: "\n").map { String($0.split(separator: " ")[0].dropLast(2)) }
        let ours = net.parameters.map(\.name).map { $0.replacingOccurrences(of: "flatten", with: "flatten_head") }
        #expect(ours == names)
        let x = try NumPy.read(path: TestSupport.fixture("training/x.npy"))
        let y = try Self.golden("y.npy").map { Int($0) }
        let features = try Engine(model: base).run(x, outputs: [comp.cut])[0]
        let per = features.count / 12
        let opt = Optimizer(kind: kind, learningRate: lr, momentum: momentum)
        for step in 1...10 {
            let b = (step - 1) % 3
            let batch = Array(features.values[(b * 4 * per)..<((b + 1) * 4 * per)])
            let p = net.forward(batch, n: 4, training: true)
            let (_, d) = Network.crossEntropy(p, labels: Array(y[(b * 4)..<((b + 1) * 4)]), classes: 3)
            net.backward(d)
            opt.step(net.parameters)
            if step == 1 || step == 10 {
                let expected = try Self.golden("\(name).step\(step).npy")
                var o = 0
                for prm in net.parameters {
                    let e = Array(expected[o..<(o + prm.value.count)])
                    let err = Self.relativeError(prm.value, e)
                    #expect(err < 1e-5, "\(name) step \(step) \(prm.name): relative error \(err)")
                    o += prm.value.count
                }
            }
        }
    }

    /// The fine-tuning run's update (Dense kernels' gradients applied block by block during the backward pass,
    /// never held whole: `Optimizer.backwardAndStep`) gives exactly the weights of a backward pass then a step,
    /// with blocks of one row, a few rows and the whole kernel, for Adam and SGD with momentum.
    @Test(arguments: [(OptimizerKind.adam, 4), (.adam, 200), (.adam, 8 << 20), (.sgd, 136)])
    func streamedKernelGradientsUpdateAsAWholeStep(kind: OptimizerKind, blockBytes: Int) throws {
        let input = Layer(name: "in", InputLayer(shape: [34]), inbound: [])
        let d1 = Layer(name: "d1", Dense(units: 17, activation: .relu), inbound: ["in"])
        let d2 = Layer(name: "d2", Dense(units: 9, activation: .tanh), inbound: ["d1"])
        let out = Layer(name: "out", Dense(units: 4, activation: .softmax), inbound: ["d2"])
        let analysis = try ModelGraph(name: "streamed", layers: [input, d1, d2, out], inputs: ["in"], outputs: ["out"], isSequential: true).analyze()
        var rng = SplitMix64(seed: 7)
        var initial: [String: [Float]] = [:]
        for info in analysis.layers.dropFirst() {
            for w in info.weights { initial["\(info.layer.name)/\(w.name)"] = (0..<w.elementCount).map { _ in rng.nextFloat() - 0.5 } }
        }
        func network(streaming: Bool) throws -> Network {
            let net = try Network(layers: Array(analysis.layers.dropFirst()), weights: nil, threads: 2)
            try net.load(weights: { initial["\($0)/\($1)"]! }, streamingKernelGradients: streaming)
            net.gradientBlockBytes = blockBytes
            net.concurrentBlockBytes = blockBytes
            return net
        }
        let whole = try network(streaming: false), streamed = try network(streaming: true)
        let streaming = streamed.parameters.filter(\.streamsGradient)
        #expect(streaming.map(\.name) == ["d1/kernel", "d2/kernel", "out/kernel"])
        #expect(streaming.allSatisfy { $0.grad.isEmpty })
        let a = Optimizer(kind: kind, momentum: 0.9), b = Optimizer(kind: kind, momentum: 0.9)
        for step in 0..<5 {
            let x = (0..<(6 * 34)).map { _ in rng.nextFloat() * 2 - 1 }
            let labels = (0..<6).map { (step + $0) % 4 }
            let (_, d) = Network.crossEntropy(whole.forward(x, n: 6, training: true), labels: labels, classes: 4)
            whole.backward(d, inputGradient: false)
            a.step(whole.parameters)
            let (_, d2) = Network.crossEntropy(streamed.forward(x, n: 6, training: true), labels: labels, classes: 4)
            #expect(d == d2)
            b.backwardAndStep(streamed, d2)
        }
        for (p, q) in zip(whole.parameters, streamed.parameters) {
            #expect(p.value == q.value, "\(p.name) differs")
        }
    }

    /// A Dense kernel's gradient is the same to the bit whether held whole, streamed in ordered blocks (a
    /// data-parallel run's path, here with a reduction that changes nothing) or applied by the threads block by
    /// block as computed (one process's path), on layers whose widths are not multiples of the vector
    /// kernel's 64 columns and 4 rows; and the whole one equals xᵀg computed in double precision.
    @Test func kernelGradientPathsAgree() throws {
        let input = Layer(name: "in", InputLayer(shape: [203]), inbound: [])
        let d1 = Layer(name: "d1", Dense(units: 150, activation: .relu), inbound: ["in"])
        let d2 = Layer(name: "d2", Dense(units: 70, activation: .tanh), inbound: ["d1"])
        let out = Layer(name: "out", Dense(units: 4, activation: .softmax), inbound: ["d2"])
        let analysis = try ModelGraph(name: "paths", layers: [input, d1, d2, out], inputs: ["in"], outputs: ["out"], isSequential: true).analyze()
        var rng = SplitMix64(seed: 11)
        var initial: [String: [Float]] = [:]
        for info in analysis.layers.dropFirst() {
            for w in info.weights { initial["\(info.layer.name)/\(w.name)"] = (0..<w.elementCount).map { _ in (rng.nextFloat() - 0.5) * 0.2 } }
        }
        func network(streaming: Bool) throws -> Network {
            let net = try Network(layers: Array(analysis.layers.dropFirst()), weights: nil, threads: 2)
            try net.load(weights: { initial["\($0)/\($1)"]! }, streamingKernelGradients: streaming)
            net.gradientBlockBytes = 4 * 150 * 7   // 7 rows of d1 per ordered block
            net.concurrentBlockBytes = 4 * 150 * 5  // 5 rows per thread's block
            return net
        }
        let whole = try network(streaming: false), ordered = try network(streaming: true), concurrent = try network(streaming: true)
        let a = Optimizer(kind: .adam), b = Optimizer(kind: .adam), c = Optimizer(kind: .adam)
        let n = 9
        for step in 0..<3 {
            let x = (0..<(n * 203)).map { _ in rng.nextFloat() * 2 - 1 }
            let labels = (0..<n).map { (step + $0) % 4 }
            let (_, d) = Network.crossEntropy(whole.forward(x, n: n, training: true), labels: labels, classes: 4)
            whole.backward(d, inputGradient: false)
            a.step(whole.parameters)
            let (_, d2) = Network.crossEntropy(ordered.forward(x, n: n, training: true), labels: labels, classes: 4)
            try b.backwardAndStep(ordered, d2, reduce: { _ in })
            let (_, d3) = Network.crossEntropy(concurrent.forward(x, n: n, training: true), labels: labels, classes: 4)
            c.backwardAndStep(concurrent, d3)
            #expect(d == d2 && d == d3)
        }
        for ((p, q), r) in zip(zip(whole.parameters, ordered.parameters), concurrent.parameters) {
            #expect(p.value == q.value, "\(p.name): ordered blocks differ")
            #expect(p.value == r.value, "\(p.name): concurrent blocks differ")
        }
    }

    /// A Dense layer's small-batch kernels equal double precision: the product x w + b (before the softmax)
    /// and the kernel gradient xᵀ g, with widths that are not multiples of the vector kernels' 64 columns and 4
    /// rows, and a batch that is not a multiple of 4. (The input gradient is checked against finite
    /// differences in `gradientsMatchFiniteDifferences`.)
    @Test func denseKernelsEqualDoublePrecision() throws {
        let input = Layer(name: "in", InputLayer(shape: [131]), inbound: [])
        let d1 = Layer(name: "d1", Dense(units: 197, activation: .softmax), inbound: ["in"])
        let analysis = try ModelGraph(name: "grad", layers: [input, d1], inputs: ["in"], outputs: ["d1"], isSequential: true).analyze()
        var rng = SplitMix64(seed: 5)
        let net = try Network(layers: Array(analysis.layers.dropFirst()), weights: nil, threads: 2)
        try net.load(weights: { _, w in (0..<(w == "kernel" ? 131 * 197 : 197)).map { _ in rng.nextFloat() - 0.5 } })
        let n = 13
        let x = (0..<(n * 131)).map { _ in rng.nextFloat() * 2 - 1 }
        let g = (0..<(n * 197)).map { _ in rng.nextFloat() * 2 - 1 }
        let p = net.forward(x, n: n, training: true)
        let kernel = net.parameters.first { $0.name == "d1/kernel" }!.value, bias = net.parameters.first { $0.name == "d1/bias" }!.value
        for b in 0..<n {
            // Softmax of the double-precision logits, against the network's probabilities.
            let logits = (0..<197).map { j in (0..<131).reduce(Double(bias[j])) { $0 + Double(x[b * 131 + $1]) * Double(kernel[$1 * 197 + j]) } }
            let top = logits.max()!, e = logits.map { exp($0 - top) }, sum = e.reduce(0, +)
            let worst = (0..<197).map { abs(e[$0] / sum - Double(p[b * 197 + $0])) }.max()!
            #expect(worst < 1e-6, "row \(b): largest difference \(worst)")
        }
        net.backward(g, inputGradient: false)
        let grad = net.parameters.first { $0.name == "d1/kernel" }!.grad
        var worst = 0.0
        for r in 0..<131 {
            for j in 0..<197 {
                var s = 0.0
                for b in 0..<n { s += Double(x[b * 131 + r]) * Double(g[b * 197 + j]) }
                worst = max(worst, abs(Double(grad[r * 197 + j]) - s))
            }
        }
        #expect(worst < 1e-5, "largest difference \(worst)")
    }

    /// Every layer's backward pass against central finite differences of the loss (in float32, hence the
    /// loose tolerance): parameters of every layer and the input.
    @Test(arguments: ["conv_same_s2", "conv_valid_dilated", "pools", "global_max", "dense_dropout", "leaky_relu"])
    func gradientsMatchFiniteDifferences(arch: String) throws {
        var layers: [Layer] = [Layer(name: "in", InputLayer(shape: [7, 6, 3]), inbound: [])]
        func add(_ name: String, _ kind: some LayerKind) { layers.append(Layer(name: name, kind, inbound: [layers.last!.name])) }
        switch arch {
        case "conv_same_s2":
            add("c1", Conv2D(filters: 4, kernel: 3, strides: 2, padding: .same, activation: .tanh))
            add("c2", Conv2D(filters: 3, kernel: Size2D(2, 3), padding: .same, activation: .relu))
            add("f", Flatten())
        case "conv_valid_dilated":
            add("c1", Conv2D(filters: 4, kernel: 3, dilation: Size2D(2, 1), activation: .sigmoid, useBias: false))
            add("a", ActivationLayer(.tanh))
            add("f", Flatten())
        case "pools":
            add("c1", Conv2D(filters: 4, kernel: 3, padding: .same))
            add("mp", MaxPooling2D(pool: 2, strides: 2, padding: .same))
            add("ap", AveragePooling2D(pool: 2, strides: 1, padding: .same))
            add("g", GlobalAveragePooling2D())
        case "global_max":
            add("c1", Conv2D(filters: 5, kernel: 1, activation: .tanh))
            add("mp", MaxPooling2D(pool: 3, strides: 2))
            add("g", GlobalMaxPooling2D())
        case "leaky_relu":
            // After a Dense layer of few values, so that no finite difference step crosses the kink at 0.
            add("c1", Conv2D(filters: 4, kernel: 3, padding: .same, activation: .tanh))
            add("f", Flatten())
            add("d1", Dense(units: 6))
            add("lr", LeakyReLU(negativeSlope: 0.2))
        default:
            add("f", Flatten())
            add("d1", Dense(units: 6, activation: .sigmoid))
            add("drop", Dropout(rate: 0.3))
            add("d2", Dense(units: 5, activation: .relu))
        }
        add("out", Dense(units: 3, activation: .softmax))
        let analysis = try ModelGraph(name: "fd", layers: layers, inputs: ["in"], outputs: ["out"], isSequential: true).analyze()
        var rng = SplitMix64(seed: 3)
        let net = try Network(layers: Array(analysis.layers.dropFirst()), weights: { layer, weight in
            let n = analysis.info(layer)!.weights.first { $0.name == weight }!.elementCount
            return (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * 0.8 }
        }, threads: 2)
        let n = 2
        var x = (0..<(n * 7 * 6 * 3)).map { _ in rng.nextFloat() * 2 - 1 }
        let labels = [0, 2]
        func loss() -> Double {
            net.rng = SplitMix64(seed: 99)  // the same dropout mask every time
            let p = net.forward(x, n: n, training: true)
            return Network.crossEntropy(p, labels: labels, classes: 3).loss
        }
        _ = loss()
        net.rng = SplitMix64(seed: 99)
        let p = net.forward(x, n: n, training: true)
        let dx = net.backward(Network.crossEntropy(p, labels: labels, classes: 3).dlogits)
        let grads = net.parameters.map(\.grad)
        let eps: Float = 1e-2
        func check(_ analytic: Float, _ get: () -> Float, _ set: (Float) -> Void, _ what: String) {
            let v = get()
            set(v + eps); let lp = loss()
            set(v - eps); let lm = loss()
            set(v)
            let fd = Float((lp - lm) / Double(2 * eps))
            #expect(abs(analytic - fd) <= 3e-2 * max(abs(analytic), abs(fd)) + 2e-3, "\(arch) \(what): analytic \(analytic), finite difference \(fd)")
        }
        for (pi, prm) in net.parameters.enumerated() {
            for i in stride(from: 0, to: prm.value.count, by: max(1, prm.value.count / 17)) {
                check(grads[pi][i], { prm.value[i] }, { prm.value[i] = $0 }, "\(prm.name)[\(i)]")
            }
        }
        for i in stride(from: 0, to: x.count, by: 11) { check(dx[i], { x[i] }, { x[i] = $0 }, "input[\(i)]") }
    }

    /// Augmentations are seeded, stay within the input's value range (bilinear resampling) and a flip is an
    /// exact mirror.
    @Test func augmentationsAreSeededAndBounded() {
        let h = 9, w = 7
        let x = (0..<(h * w * 3)).map { Float(($0 * 37) % 256) }
        var r1 = SplitMix64(seed: 4), r2 = SplitMix64(seed: 4), r3 = SplitMix64(seed: 5)
        var a = x, b = x, c = x
        let all = Augmenter(Set(Augmentation.allCases))
        all.apply(&a, height: h, width: w, rng: &r1)
        all.apply(&b, height: h, width: w, rng: &r2)
        all.apply(&c, height: h, width: w, rng: &r3)
        #expect(a == b && a != c)
        #expect(a.allSatisfy { $0 >= 0 && $0 <= 255 })
        var flips = 0
        for seed in 0..<8 as Range<UInt64> {
            var r = SplitMix64(seed: seed)
            var f = x
            Augmenter([.flip]).apply(&f, height: h, width: w, rng: &r)
            if f != x {
                flips += 1
                for yy in 0..<h { for xx in 0..<w { for ch in 0..<3 { #expect(f[(yy * w + xx) * 3 + ch] == x[(yy * w + (w - 1 - xx)) * 3 + ch]) } } }
            }
        }
        #expect(flips > 0 && flips < 8)
    }
}
