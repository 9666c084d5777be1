import CBLAS
import CKernels
import Dispatch
import Foundation
import ModelGraph
import Runtime

/// A trainable tensor: value, gradient, and the Keras name it is saved under (`dense/kernel`).
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public var value: [Float]
    public var grad: [Float]
    init(name: String, shape: [Int], value: [Float]) {
        precondition(shape.reduce(1, *) == value.count, "\(name): shape \(shape) does not match \(value.count) values")
        self.name = name
        self.shape = shape
        self.value = value
        self.grad = [Float](repeating: 0, count: value.count)
    }
}

/// A training failure naming what is at fault.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}

/// The trainable tail of a model: a chain of layers (each feeding only the next) with forward passes that
/// keep what the backward passes need, and backward passes that accumulate parameter gradients.
/// Supported: Conv2D, MaxPooling2D, AveragePooling2D, GlobalAverage/MaxPooling2D, Flatten, Dense, Dropout,
/// Activation and ReLU (plain), with activations linear, relu, sigmoid, tanh, and softmax on the last layer
/// (where it is fused with the cross-entropy loss).
public final class Network {
    enum Kind {
        case conv(kernel: [Int], strides: [Int], dilation: [Int], padding: Padding, filters: Int)
        case maxPool(pool: [Int], strides: [Int], padding: Padding)
        case avgPool(pool: [Int], strides: [Int], padding: Padding)
        case globalAvg, globalMax, flatten
        case dense(units: Int)
        case dropout(rate: Float)
        case none  // Activation / ReLU layers: only the activation
    }

    struct Node {
        var name: String
        var kind: Kind
        var activation: String
        var inShape: [Int]   // without batch
        var outShape: [Int]
        var params: [Parameter]
    }

    private(set) var nodes: [Node] = []
    public var parameters: [Parameter] { nodes.flatMap(\.params) }
    public let inputShape: [Int]
    public var outputShape: [Int] { nodes.last?.outShape ?? inputShape }
    let threads: Int

    // Per-batch state kept between forward and backward.
    private var inputs: [[Float]] = []      // input of each node
    private var outputs: [[Float]] = []     // output of each node (after activation)
    private var masks: [[Float]] = []       // dropout masks
    private var batch = 0
    /// Dropout's random numbers (seeded).
    public var rng = SplitMix64(seed: 0)

    /// `layers` in order, with their analysed shapes (from `GraphAnalysis`) and initial weights by Keras name.
    public init(layers: [LayerInfo], weights: (String, String) throws -> [Float], threads: Int) throws {
        guard let first = layers.first else { throw TrainingError("nothing to train") }
        inputShape = first.inputShapes[0].dropFirst().map { $0 ?? 1 }
        self.threads = max(1, threads)
        for (i, info) in layers.enumerated() {
            let l = info.layer
            let inS = info.inputShapes[0].dropFirst().map { $0 ?? 1 }, outS = info.outputShape.dropFirst().map { $0 ?? 1 }
            func params() throws -> [Parameter] {
                try info.weights.map { Parameter(name: "\(l.name)/\($0.name)", shape: $0.shape, value: try weights(l.name, $0.name)) }
            }
            let node: Node
            switch l.op {
            case .conv2D(let f, let k, let s, let p, let d, let act, _):
                node = Node(name: l.name, kind: .conv(kernel: k, strides: s, dilation: d, padding: p, filters: f), activation: act, inShape: inS, outShape: outS, params: try params())
            case .maxPooling2D(let p, let s, let pad):
                node = Node(name: l.name, kind: .maxPool(pool: p, strides: s, padding: pad), activation: "linear", inShape: inS, outShape: outS, params: [])
            case .averagePooling2D(let p, let s, let pad):
                node = Node(name: l.name, kind: .avgPool(pool: p, strides: s, padding: pad), activation: "linear", inShape: inS, outShape: outS, params: [])
            case .globalAveragePooling2D:
                node = Node(name: l.name, kind: .globalAvg, activation: "linear", inShape: inS, outShape: outS, params: [])
            case .globalMaxPooling2D:
                node = Node(name: l.name, kind: .globalMax, activation: "linear", inShape: inS, outShape: outS, params: [])
            case .flatten, .reshape:
                node = Node(name: l.name, kind: .flatten, activation: "linear", inShape: inS, outShape: outS, params: [])
            case .dense(let units, let act, _):
                guard inS.count == 1 else { throw TrainingError("layer '\(l.name)': training a Dense layer on a \(inS.count + 1)-D input is not supported") }
                node = Node(name: l.name, kind: .dense(units: units), activation: act, inShape: inS, outShape: outS, params: try params())
            case .dropout(let rate):
                node = Node(name: l.name, kind: .dropout(rate: Float(rate)), activation: "linear", inShape: inS, outShape: outS, params: [])
            case .activation(let act):
                node = Node(name: l.name, kind: .none, activation: act, inShape: inS, outShape: outS, params: [])
            case .relu(nil, 0, 0):
                node = Node(name: l.name, kind: .none, activation: "relu", inShape: inS, outShape: outS, params: [])
            default:
                throw TrainingError("layer '\(l.name)' (\(l.op.className)) cannot be trained; freeze it (train from a later layer)")
            }
            let allowed = ["linear", "relu", "sigmoid", "tanh"] + (i == layers.count - 1 ? ["softmax"] : [])
            guard allowed.contains(node.activation) else {
                throw TrainingError("layer '\(l.name)': activation '\(node.activation)' cannot be trained here (supported: \(allowed.joined(separator: ", ")))")
            }
            nodes.append(node)
        }
        guard nodes.last?.activation == "softmax" else {
            throw TrainingError("the model must end in a softmax layer for categorical cross-entropy, '\(nodes.last!.name)' does not")
        }
    }

    // MARK: forward

    /// Forward pass over a batch of `n` inputs (each `inputShape`), in training mode (dropout on) or not.
    /// Returns the softmax probabilities (n x classes).
    public func forward(_ x: [Float], n: Int, training: Bool) -> [Float] {
        batch = n
        inputs = []
        outputs = []
        masks = []
        var cur = x
        for node in nodes {
            inputs.append(training ? cur : [])
            var out = forwardNode(node, cur, n: n, training: training)
            activate(node.activation, &out, rows: n * node.outShape.dropLast().reduce(1, *), width: node.outShape.last!)
            if training { outputs.append(out) }
            cur = out
        }
        return cur
    }

    func geometry(_ node: Node, n: Int) -> vgg_conv_shape {
        var k = [1, 1], s = [1, 1], d = [1, 1], pad = Padding.valid
        switch node.kind {
        case .conv(let kk, let ss, let dd, let p, _): k = kk; s = ss; d = dd; pad = p
        case .maxPool(let p, let ss, let pp), .avgPool(let p, let ss, let pp): k = p; s = ss; pad = pp
        default: break
        }
        func before(_ size: Int, _ out: Int, _ win: Int, _ st: Int) -> Int { pad == .same ? max((out - 1) * st + win - size, 0) / 2 : 0 }
        let effH = (k[0] - 1) * d[0] + 1, effW = (k[1] - 1) * d[1] + 1
        return vgg_conv_shape(n: Int32(n), h: Int32(node.inShape[0]), w: Int32(node.inShape[1]), c: Int32(node.inShape[2]),
                              oh: Int32(node.outShape[0]), ow: Int32(node.outShape[1]), k: Int32(node.outShape[2]),
                              kh: Int32(k[0]), kw: Int32(k[1]), sh: Int32(s[0]), sw: Int32(s[1]), dh: Int32(d[0]), dw: Int32(d[1]),
                              pad_top: Int32(before(node.inShape[0], node.outShape[0], effH, s[0])),
                              pad_left: Int32(before(node.inShape[1], node.outShape[1], effW, s[1])))
    }

    func forwardNode(_ node: Node, _ x: [Float], n: Int, training: Bool) -> [Float] {
        let outCount = n * node.outShape.reduce(1, *)
        var out = [Float](repeating: 0, count: outCount)
        switch node.kind {
        case .conv:
            let g = geometry(node, n: n)
            let kk = Int(g.kh * g.kw * g.c)
            let rows = outCount / Int(g.k)
            let blockRows = max(1, (2 << 20) / (kk * 4))
            let w = node.params[0].value, b = node.params.count > 1 ? node.params[1].value : nil
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: threads * blockRows * kk)
                defer { scratch.deallocate() }
                let xs = UnsafeSendable(xp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!), os = UnsafeSendable(op.baseAddress!), ss = UnsafeSendable(scratch)
                let bias = b
                parallelParts(rows, threads) { a, e, part in
                    var gg = g
                    if let bias {
                        bias.withUnsafeBufferPointer { bp in
                            vgg_conv2d_gemm_rows(&gg, xs.value, ws.value, bp.baseAddress, os.value, a, e, ss.value + part * blockRows * kk, blockRows)
                        }
                    } else {
                        vgg_conv2d_gemm_rows(&gg, xs.value, ws.value, nil, os.value, a, e, ss.value + part * blockRows * kk, blockRows)
                    }
                }
            } } }
        case .maxPool, .avgPool:
            var g = geometry(node, n: n)
            var kind: Int32 = 0
            if case .avgPool = node.kind { kind = 1 }
            vgg_pool_rows(&g, kind, x, &out, 0, n * node.outShape[0])
        case .globalAvg, .globalMax:
            var kind: Int32 = 0
            if case .globalAvg = node.kind { kind = 1 }
            vgg_global_pool(x, &out, n, node.inShape[0] * node.inShape[1], node.inShape[2], kind)
        case .flatten, .none:
            out = x
        case .dense(let units):
            let inDim = node.inShape[0]
            let w = node.params[0].value, b = node.params.count > 1 ? node.params[1].value : nil
            denseForward(x, w, b, &out, rows: n, inDim: inDim, units: units)
        case .dropout(let rate):
            if training && rate > 0 {
                // Keras: keep with probability 1 - rate, scale kept values by 1 / (1 - rate).
                var mask = [Float](repeating: 0, count: x.count)
                let scale = 1 / (1 - rate)
                for i in 0..<x.count { mask[i] = rng.nextFloat() >= rate ? scale : 0 }
                for i in 0..<x.count { out[i] = x[i] * mask[i] }
                masks.append(mask)
            } else {
                out = x
            }
        }
        return out
    }

    func denseForward(_ x: [Float], _ w: [Float], _ b: [Float]?, _ out: inout [Float], rows: Int, inDim: Int, units: Int) {
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
            let xs = UnsafeSendable(xp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!), os = UnsafeSendable(op.baseAddress!)
            let run = { (bp: UnsafePointer<Float>?) in
                let bs = UnsafeSendable(bp)
                parallelParts(units, self.threads, minChunk: 64) { a, e, _ in
                    vgg_dense(xs.value, ws.value, bs.value, os.value, rows, inDim, units, 0, rows, a, e)
                }
            }
            if let b { b.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
        } } }
    }

    func activate(_ name: String, _ x: inout [Float], rows: Int, width: Int) {
        switch name {
        case "linear": return
        case "softmax": vgg_softmax(&x, rows, width, 1, 0)
        case "relu": vgg_activation(Int32(VGG_ACT_RELU), &x, x.count)
        case "sigmoid": vgg_activation(Int32(VGG_ACT_SIGMOID), &x, x.count)
        case "tanh": vgg_activation(Int32(VGG_ACT_TANH), &x, x.count)
        default: fatalError("activation \(name) was checked at construction")
        }
    }

    // MARK: loss and backward

    /// Keras's categorical cross-entropy on softmax outputs (probabilities renormalized, clipped to
    /// [1e-7, 1 - 1e-7]), weighted per sample, averaged over the batch as Keras does (sum of weighted losses
    /// / batch size). Returns the loss and d loss / d logits.
    public static func crossEntropy(_ p: [Float], labels: [Int], classes: Int, sampleWeights: [Float]? = nil) -> (loss: Double, dlogits: [Float]) {
        let n = labels.count
        var loss = 0.0
        var d = [Float](repeating: 0, count: p.count)
        let eps: Float = 1e-7
        for i in 0..<n {
            let row = p[(i * classes)..<((i + 1) * classes)]
            let sum = row.reduce(0, +)
            let py = row[row.startIndex + labels[i]] / sum
            let clipped = min(max(py, eps), 1 - eps)
            let w = sampleWeights?[i] ?? 1
            loss += Double(-log(clipped)) * Double(w)
            // Through the clip (zero gradient outside), the renormalization and the softmax: p - onehot.
            if py > eps && py < 1 - eps {
                for j in 0..<classes { d[i * classes + j] = w * (p[i * classes + j] / sum - (j == labels[i] ? 1 : 0)) / Float(n) }
            }
        }
        return (loss / Double(n), d)
    }

    /// Backward pass from d loss / d logits of the last forward (training) pass; gradients are written to
    /// the parameters (replacing earlier ones). Returns d loss / d input.
    /// `inputGradient: false` skips d loss / d input of the first layer (not needed to train).
    @discardableResult
    public func backward(_ dlogits: [Float], inputGradient: Bool = true) -> [Float] {
        // Dense and bias gradients are assigned; convolution kernel and bias gradients accumulate.
        for node in nodes { if case .conv = node.kind { for p in node.params { p.grad.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } } } }
        var g = dlogits
        var maskIndex = masks.count
        let n = batch
        for (i, node) in nodes.enumerated().reversed() {
            // Through the activation (softmax is fused with the loss).
            let y = outputs[i]
            switch node.activation {
            case "relu": for j in g.indices where y[j] <= 0 { g[j] = 0 }
            case "sigmoid": for j in g.indices { g[j] *= y[j] * (1 - y[j]) }
            case "tanh": for j in g.indices { g[j] *= 1 - y[j] * y[j] }
            default: break
            }
            let x = inputs[i]
            if i == 0 && !inputGradient {
                if case .dense(let units) = node.kind { denseBackward(node, x, g, nil, n: n, units: units); return [] }
            }
            var dx = [Float](repeating: 0, count: n * node.inShape.reduce(1, *))
            switch node.kind {
            case .conv:
                convBackward(node, x, g, &dx, n: n)
            case .maxPool:
                var geo = geometry(node, n: n)
                vgg_maxpool_backward(&geo, x, g, &dx)
            case .avgPool:
                var geo = geometry(node, n: n)
                vgg_avgpool_backward(&geo, g, &dx)
            case .globalAvg:
                let hw = node.inShape[0] * node.inShape[1], c = node.inShape[2]
                for b in 0..<n { for p in 0..<hw { for k in 0..<c { dx[(b * hw + p) * c + k] = g[b * c + k] / Float(hw) } } }
            case .globalMax:
                let hw = node.inShape[0] * node.inShape[1], c = node.inShape[2]
                for b in 0..<n {
                    for k in 0..<c {
                        var best = -Float.infinity, at = 0
                        for p in 0..<hw where x[(b * hw + p) * c + k] > best { best = x[(b * hw + p) * c + k]; at = p }
                        dx[(b * hw + at) * c + k] = g[b * c + k]
                    }
                }
            case .flatten, .none:
                dx = g
            case .dropout(let rate):
                if rate > 0, maskIndex > 0 {
                    maskIndex -= 1
                    let m = masks[maskIndex]
                    for j in dx.indices { dx[j] = g[j] * m[j] }
                } else {
                    dx = g
                }
            case .dense(let units):
                denseBackward(node, x, g, &dx, n: n, units: units)
            }
            g = dx
        }
        return g
    }

    func denseBackward(_ node: Node, _ x: [Float], _ g: [Float], _ dx: UnsafeMutablePointer<[Float]>?, n: Int, units: Int) {
        let inDim = node.inShape[0]
        let w = node.params[0]
        // dW = x^T g (inDim x units), split by output columns; db = column sums; dx = g W^T, split by input columns.
        x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in w.grad.withUnsafeMutableBufferPointer { dwp in
            let xs = UnsafeSendable(xp.baseAddress!), gs = UnsafeSendable(gp.baseAddress!), dws = UnsafeSendable(dwp.baseAddress!)
            parallelParts(units, threads, minChunk: 64) { a, e, _ in
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(inDim), Int32(e - a), Int32(n), 1,
                            xs.value, Int32(inDim), gs.value + a, Int32(units), 0, dws.value + a, Int32(units))
            }
        } } }
        if node.params.count > 1 {
            let bgrad = node.params[1]
            for j in 0..<units { var s: Float = 0; for b in 0..<n { s += g[b * units + j] }; bgrad.grad[j] = s }
        }
        guard let dx else { return }
        g.withUnsafeBufferPointer { gp in w.value.withUnsafeBufferPointer { wp in dx.pointee.withUnsafeMutableBufferPointer { dxp in
            let gs = UnsafeSendable(gp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!), dxs = UnsafeSendable(dxp.baseAddress!)
            parallelParts(inDim, threads, minChunk: 64) { a, e, _ in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(e - a), Int32(units), 1,
                            gs.value, Int32(units), ws.value + a * units, Int32(units), 0, dxs.value + a, Int32(inDim))
            }
        } } }
    }

    func convBackward(_ node: Node, _ x: [Float], _ g: [Float], _ dx: inout [Float], n: Int) {
        let geo = geometry(node, n: n)
        let kk = Int(geo.kh * geo.kw * geo.c), k = Int(geo.k)
        let rows = n * node.outShape[0] * node.outShape[1]
        let blockRows = max(1, (2 << 20) / (kk * 4))
        let w = node.params[0]
        let parts = min(threads, max(1, rows / 64))
        // Per-part weight gradients (summed after) and input gradients (disjoint rows may overlap in dx
        // through the window, so each part accumulates into its own dx as well).
        var dwParts = [[Float]](repeating: [Float](repeating: 0, count: kk * k), count: parts)
        var dxParts = [[Float]](repeating: [], count: parts)
        let dxCount = dx.count
        x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in w.value.withUnsafeBufferPointer { wp in
            let xs = UnsafeSendable(xp.baseAddress!), gs = UnsafeSendable(gp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!)
            let results = UnsafeMutableBufferPointer<([Float], [Float])>.allocate(capacity: parts)
            results.initialize(repeating: ([], []))
            defer { results.deallocate() }
            let rs = UnsafeSendable(results)
            let geoCopy = geo
            parallelParts(parts, parts) { p0, p1, _ in
                for p in p0..<p1 {
                    var gg = geoCopy
                    let a = rows * p / parts, e = rows * (p + 1) / parts
                    var dw = [Float](repeating: 0, count: kk * k)
                    var dxl = [Float](repeating: 0, count: dxCount)
                    var col = [Float](repeating: 0, count: blockRows * kk)
                    var t = a
                    while t < e {
                        let te = min(t + blockRows, e)
                        let m = te - t
                        col.withUnsafeMutableBufferPointer { cp in
                            vgg_im2col(&gg, xs.value, t, te, cp.baseAddress)
                            dw.withUnsafeMutableBufferPointer { dwp in
                                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(kk), Int32(k), Int32(m), 1,
                                            cp.baseAddress, Int32(kk), gs.value + t * k, Int32(k), 1, dwp.baseAddress, Int32(k))
                            }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(kk), Int32(k), 1,
                                        gs.value + t * k, Int32(k), ws.value, Int32(k), 0, cp.baseAddress, Int32(kk))
                            dxl.withUnsafeMutableBufferPointer { dp in vgg_col2im_add(&gg, cp.baseAddress, t, te, dp.baseAddress) }
                        }
                        t = te
                    }
                    rs.value[p] = (dw, dxl)
                }
            }
            for p in 0..<parts { dwParts[p] = results[p].0; dxParts[p] = results[p].1 }
        } } }
        for p in 0..<parts {
            for i in 0..<(kk * k) { w.grad[i] += dwParts[p][i] }
            for i in 0..<dx.count { dx[i] += dxParts[p][i] }
        }
        if node.params.count > 1 {
            let b = node.params[1]
            for r in 0..<rows { for j in 0..<k { b.grad[j] += g[r * k + j] } }
        }
    }
}

/// SplitMix64: small, fast, seedable; the same seed gives the same sequence on every machine.
public struct SplitMix64: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
    public mutating func nextInt(below n: Int) -> Int { Int(next() % UInt64(n)) }
}
