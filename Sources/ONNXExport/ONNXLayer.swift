import ModelGraph

/// A value of the ONNX graph standing for a Keras tensor: its name and the axis order it holds, `perm`
/// (ONNX axis `i` is the Keras tensor's axis `perm[i]`, batch counted as 0). Channels-last Keras tensors of
/// rank 3 or more are usually held channels first (`[0, r-1, 1, ..., r-2]`), as ONNX's Conv and pooling
/// want; Dense, Flatten and Reshape ask for Keras's own order (the identity), so Keras's (H, W, C) flatten
/// order holds in both layouts.
struct ONNXValue {
    var name: String
    var perm: [Int]
}

enum Perm {
    static func identity(_ rank: Int) -> [Int] { Array(0..<rank) }
    /// Channels (the last Keras axis) moved to axis 1: NHWC -> NCHW. Rank 2 or less: the identity.
    static func channelsFirst(_ rank: Int) -> [Int] { rank < 3 ? identity(rank) : [0, rank - 1] + Array(1..<(rank - 1)) }
    /// Axis 1 moved last: NCHW -> NHWC. Rank 2 or less: the identity.
    static func channelsLast(_ rank: Int) -> [Int] { rank < 3 ? identity(rank) : [0] + Array(2..<rank) + [1] }
    static func inverse(_ p: [Int]) -> [Int] {
        var inv = p
        for (i, a) in p.enumerated() { inv[a] = i }
        return inv
    }
}

/// Where a layer's weights come from: `count` elements of `layer/weight`, read as float32 (`with` hands
/// the values to `body`, from the file's mapping or converted from float16/bfloat16).
struct ONNXWeightSource {
    let count: (String) -> Int?
    let with: (String, (UnsafeBufferPointer<Float>) throws -> Void) throws -> Void
}

/// What a layer's export works with: its inputs as graph values, its shapes, its weights, and the graph to
/// add nodes to. A channels-first layer (`LayerOp.isChannelsFirst`) is exported as its channels-last variant
/// on a channels-last view of its tensors, as the runtime runs it: asking for a view's axis order is
/// translated to the real tensor's here, so each layer's export is written once, for channels last.
struct ONNXLayerContext {
    let graph: ONNXGraphBuilder
    let file: String
    let layer: Layer
    let inputs: [ONNXValue]
    /// The inputs' shapes (batch first, the channels-last view for a channels-first layer).
    let inputShapes: [Shape]
    /// The output's shape (batch first, channels-last view).
    let outputShape: Shape
    let channelsFirst: Bool
    let weights: ONNXWeightSource
    /// Set by the layer's export: the value holding the layer's output.
    var output: ONNXValue?

    var name: String { layer.name }
    var opset: Int { graph.opset }
    func rank(_ i: Int = 0) -> Int { inputShapes[i].count }
    /// The input's known dimension `axis` of the (view) shape; throws when unknown.
    func dim(_ i: Int, _ axis: Int) throws -> Int {
        let r = inputShapes[i].count
        guard let d = inputShapes[i][axis < 0 ? r + axis : axis] else {
            throw error(.unknownInputSize, "input dimension \(axis) is unknown: ONNX export needs a fixed input size")
        }
        return d
    }

    func error(_ kind: ONNXExportError.Kind, _ message: String) -> ONNXExportError {
        ONNXExportError(file: file, layer: name, kind, message)
    }

    /// The real tensor's perm for a perm of the view.
    private func real(_ q: [Int]) -> [Int] {
        guard channelsFirst, q.count >= 3 else { return q }
        let toLast = Perm.channelsLast(q.count)
        return q.map { toLast[$0] }
    }

    /// Input `i` in the axis order `perm` (of the view), transposing it when it is held otherwise.
    func input(_ i: Int, _ perm: [Int]) -> String { convert(inputs[i], to: real(perm)) }
    /// Input `i` channels first (NCHW for a 4-D channels-last tensor): what Conv and pooling want.
    func inputNCHW(_ i: Int = 0) -> String { input(i, Perm.channelsFirst(rank(i))) }
    /// Input `i` in Keras's axis order.
    func inputKeras(_ i: Int = 0) -> String { input(i, Perm.identity(rank(i))) }

    /// `v` in the axis order `q`, through a Transpose (made once per value and order).
    func convert(_ v: ONNXValue, to q: [Int]) -> String {
        guard v.perm != q else { return v.name }
        let key = "\(v.name)|\(q)"
        if let t = graph.transposes[key] { return t }
        let inv = Perm.inverse(v.perm)
        let t = graph.unique("\(v.name)/transpose")
        graph.add("Transpose", name: t, inputs: [v.name], outputs: [t], [.ints("perm", q.map { inv[$0] })])
        graph.transposes[key] = t
        return t
    }

    /// The layer's output is `value`, held in the view's axis order `perm`.
    mutating func setOutput(_ value: String, perm: [Int]) { output = ONNXValue(name: value, perm: real(perm)) }
    /// The layer's output is its input `i`, as held (layers that are the identity at inference).
    mutating func passThrough(_ i: Int = 0) { output = inputs[i] }

    /// The name of the layer's final value: the layer's name (made unique only if taken).
    func outputName() -> String { graph.isTaken(name) ? graph.unique(name) : { graph.reserve(name); return name }() }
    /// A fresh name for an intermediate value of this layer.
    func temp(_ suffix: String) -> String { graph.unique("\(name)/\(suffix)") }
    /// The ONNX axis of the view's axis `kerasAxis` when the value is held in `perm`.
    func onnxAxis(_ kerasAxis: Int, perm: [Int]) -> Int { perm.firstIndex(of: kerasAxis)! }

    /// Adds a node named after the layer.
    func node(_ op: String, _ inputs: [String], _ output: String, _ attributes: [ONNXAttribute] = []) {
        graph.add(op, name: "\(name)/\(op)", inputs: inputs, outputs: [output], attributes)
    }

    /// The weight `weight` of this layer as an initializer `layer/weight` of `dims` (float32); `remap`
    /// writes the ONNX layout from Keras's values (default: as stored). Throws when the weight is missing or
    /// its size does not match.
    func weight(_ weight: String, dims: [Int], remap: ((UnsafeBufferPointer<Float>, UnsafeMutablePointer<Float>) -> Void)? = nil) throws -> String {
        let key = "\(name)/\(weight)"
        guard let count = weights.count(key) else { throw error(.missingWeight(weight), "weight '\(weight)' is missing from the file") }
        guard count == dims.reduce(1, *) else {
            throw error(.missingWeight(weight), "weight '\(weight)' has \(count) values, the layer needs \(dims.reduce(1, *))")
        }
        let source = weights
        return graph.floats(key, dims: dims) { out in
            try source.with(key) { values in
                if let remap { remap(values, out) } else { out.update(from: values.baseAddress!, count: values.count) }
            }
        }
    }

    /// A float scalar constant.
    func scalar(_ suffix: String, _ v: Float) -> String { graph.constant("\(name)/\(suffix)", [v], dims: []) }

    /// Where the layer's main operator writes: its output name when no activation follows, else a temporary.
    func preActivation(_ a: Activation) -> String { a == .linear ? outputName() : temp("preact") }

    /// Applies `a` to `x` (held in the view's order `perm`) and sets the layer's output.
    mutating func finish(_ x: String, activation a: Activation, perm: [Int]) {
        guard a != .linear else { setOutput(x, perm: perm); return }
        let out = outputName()
        let r = perm.count
        emit(a, x, out, axis: r > 0 ? onnxAxis(r - 1, perm: perm) : -1)
        setOutput(out, perm: perm)
    }

    /// Emits `out = a(x)` with Keras's definition of `a`; softmax and log-softmax run over ONNX axis `axis`.
    func emit(_ a: Activation, _ x: String, _ out: String, axis: Int) {
        switch a {
        case .linear: node("Identity", [x], out)
        case .relu: node("Relu", [x], out)
        case .sigmoid: node("Sigmoid", [x], out)
        case .tanh: node("Tanh", [x], out)
        case .softplus: node("Softplus", [x], out)
        case .softsign: node("Softsign", [x], out)
        case .exponential: node("Exp", [x], out)
        case .elu: node("Elu", [x], out, [.float("alpha", 1)])
        case .selu: node("Selu", [x], out, [.float("alpha", 1.67326324), .float("gamma", 1.05070098)])
        case .leakyRelu: node("LeakyRelu", [x], out, [.float("alpha", 0.2)])
        case .relu6: node("Clip", [x, scalar("min", 0), scalar("max", 6)], out)
        case .hardSigmoid: node("HardSigmoid", [x], out, [.float("alpha", 0.2), .float("beta", 0.5)])
        case .hardSigmoidKeras3: node("HardSigmoid", [x], out, [.float("alpha", 1.0 / 6.0), .float("beta", 0.5)])
        case .swish, .silu:
            let s = temp("sigmoid")
            node("Sigmoid", [x], s)
            node("Mul", [x, s], out)
        case .hardSilu, .hardSwish:
            if opset >= 14 {
                node("HardSwish", [x], out)
            } else {
                let s = temp("hard_sigmoid")
                node("HardSigmoid", [x], s, [.float("alpha", 1.0 / 6.0), .float("beta", 0.5)])
                node("Mul", [x, s], out)
            }
        case .gelu:
            if opset >= 20 {
                node("Gelu", [x], out)
            } else {  // 0.5 x (1 + erf(x / sqrt 2))
                let d = temp("div"), e = temp("erf"), p = temp("add"), m = temp("mul")
                node("Div", [x, scalar("sqrt2", Float(2.0.squareRoot()))], d)
                node("Erf", [d], e)
                node("Add", [e, scalar("one", 1)], p)
                node("Mul", [x, p], m)
                node("Mul", [m, scalar("half", 0.5)], out)
            }
        case .mish:
            if opset >= 18 {
                node("Mish", [x], out)
            } else {
                let sp = temp("softplus"), t = temp("tanh")
                node("Softplus", [x], sp)
                node("Tanh", [sp], t)
                node("Mul", [x, t], out)
            }
        case .softmax: node("Softmax", [x], out, [.int("axis", axis)])
        case .logSoftmax: node("LogSoftmax", [x], out, [.int("axis", axis)])
        }
    }
}

/// A layer type's ONNX form: the nodes and initializers that compute what the runtime computes. One
/// extension per layer type (or family) beside this file; `LayerOp.onnx` is the export's dispatch point.
protocol ONNXLayer: LayerKind {
    /// Adds the layer's nodes to `c.graph` and sets `c.output`. Throws `ONNXExportError` when a setting has
    /// no ONNX form.
    func exportONNX(_ c: inout ONNXLayerContext) throws
}

/// Layers that are the identity at inference (dropout, noise, regularization): no node, the input passes.
protocol ONNXIdentityLayer: ONNXLayer {}

extension ONNXIdentityLayer {
    func exportONNX(_ c: inout ONNXLayerContext) throws { c.passThrough() }
}

extension LayerOp {
    /// The layer's ONNX form (the export's dispatch point); nil for layers vggtool cannot express in ONNX
    /// (those its runtime does not run; a nested model is exported as its layers: `ModelGraph.flattened()`).
    var onnx: (any ONNXLayer)? {
        switch self {
        case .input: nil
        case .conv2D(let l): l
        case .depthwiseConv2D(let l): l
        case .separableConv2D(let l): l
        case .dense(let l): l
        case .batchNormalization(let l): l
        case .activation(let l): l
        case .relu(let l): l
        case .leakyReLU(let l): l
        case .softmax(let l): l
        case .dropout(let l): l
        case .flatten(let l): l
        case .reshape(let l): l
        case .maxPooling2D(let l): l
        case .averagePooling2D(let l): l
        case .globalAveragePooling2D(let l): l
        case .globalMaxPooling2D(let l): l
        case .zeroPadding2D(let l): l
        case .add(let l): l
        case .multiply(let l): l
        case .concatenate(let l): l
        case .nested: nil
        case .gaussianNoise(let l): l
        case .gaussianDropout(let l): l
        case .spatialDropout2D(let l): l
        case .activityRegularization(let l): l
        case .elu(let l): l
        case .thresholdedReLU(let l): l
        case .rescaling(let l): l
        case .subtract(let l): l
        case .average(let l): l
        case .maximum(let l): l
        case .minimum(let l): l
        case .upSampling2D(let l): l
        case .cropping2D(let l): l
        case .permute(let l): l
        case .conv2DTranspose(let l): l
        case .layerNormalization(let l): l
        case .normalization(let l): l
        case .pReLU(let l): l
        case .conv1D(let l): l
        case .maxPooling1D(let l): l
        case .averagePooling1D(let l): l
        case .globalAveragePooling1D(let l): l
        case .globalMaxPooling1D(let l): l
        case .spatialDropout1D(let l): l
        case .spatialDropout3D(let l): l
        case .alphaDropout(let l): l
        case .identity(let l): l
        case .randomAugmentation(let l): l.isIdentityAtInference ? l : nil
        case .resizing(let l): l
        case .centerCrop(let l): l
        case .simpleRNN(let l): l
        case .lstm(let l): l
        case .gru(let l): l
        case .bidirectional(let l): l
        case .timeDistributed(let l): l
        case .embedding(let l): l
        case .repeatVector(let l): l
        case .zeroPadding1D(let l): l
        case .cropping1D(let l): l
        case .upSampling1D(let l): l
        case .masking, .maxPooling3D, .averagePooling3D, .globalMaxPooling3D, .globalAveragePooling3D, .zeroPadding3D, .cropping3D, .upSampling3D, .conv3D, .conv1DTranspose, .conv3DTranspose, .separableConv1D, .depthwiseConv1D, .multiHeadAttention, .attention, .additiveAttention, .dot, .groupNormalization, .unitNormalization, .categoryEncoding, .opaque:
            nil
        }
    }
}
