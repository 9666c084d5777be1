/// A Keras model as a directed acyclic graph of layers, in Keras's layer order.
public struct ModelGraph: Sendable, Hashable {
    /// The model's name (Keras's `model.name`, e.g. `vgg16`).
    public var name: String
    /// Layers in the order Keras lists them (`model.layers`); every layer's inbound layers come earlier.
    public var layers: [Layer]
    /// Names of the model's input layers (InputLayers), in Keras's order.
    public var inputs: [String]
    /// Names of the layers whose outputs are the model's outputs, in order.
    public var outputs: [String]
    /// Built as a Keras `Sequential` (its summary omits the InputLayer).
    public var isSequential: Bool

    /// A graph from its parts; nothing is checked until `validate()` or `analyze()`.
    public init(name: String, layers: [Layer], inputs: [String], outputs: [String], isSequential: Bool) {
        self.name = name
        self.layers = layers
        self.inputs = inputs
        self.outputs = outputs
        self.isSequential = isSequential
    }

    /// The layer called `name` (top level only), if any.
    public func layer(named name: String) -> Layer? { layers.first { $0.name == name } }

    /// Checks names are unique and non-empty, every inbound layer exists and comes earlier (which also
    /// rules out cycles), inputs are InputLayers, outputs exist, and arities fit the layer classes.
    public func validate() throws {
        var seen = Set<String>()
        for layer in layers {
            guard !layer.name.isEmpty else { throw GraphError.invalid(layer: "(unnamed)", "empty layer name") }
            guard seen.insert(layer.name).inserted else { throw GraphError.invalid(layer: layer.name, "duplicate layer name") }
        }
        var index: [String: Int] = [:]
        for (i, l) in layers.enumerated() { index[l.name] = i }
        for (i, layer) in layers.enumerated() {
            for src in layer.connections {
                guard let j = index[src] else { throw GraphError.invalid(layer: layer.name, "inbound layer '\(src)' does not exist") }
                guard j < i else { throw GraphError.invalid(layer: layer.name, "inbound layer '\(src)' comes later: the graph has a cycle or a forward reference") }
            }
            switch layer.op.kind.arity {
            case .none:
                guard layer.inbound.isEmpty else { throw GraphError.invalid(layer: layer.name, "an InputLayer has no inbound layers") }
            case .many:
                guard layer.inbound.count >= 2 else { throw GraphError.invalid(layer: layer.name, "\(layer.op.className) needs at least 2 inputs, has \(layer.inbound.count)") }
            case .one:
                guard layer.inbound.count == 1 else { throw GraphError.invalid(layer: layer.name, "\(layer.op.className) needs exactly 1 input, has \(layer.inbound.count)") }
            }
        }
        guard !inputs.isEmpty else { throw GraphError.invalid(layer: name, "model has no input") }
        for i in inputs {
            guard let l = layer(named: i), l.op.inputShape != nil else { throw GraphError.invalid(layer: i, "model input is not an InputLayer") }
        }
        guard !outputs.isEmpty else { throw GraphError.invalid(layer: name, "model has no output") }
        for o in outputs where index[o] == nil { throw GraphError.invalid(layer: o, "model output does not exist") }
    }

    /// Replaces the input layers' shapes (H, W, C without the batch): `vggtool summary --input-shape`.
    public func withInputShape(_ shape: [Int?]) throws -> ModelGraph {
        var copy = self
        for i in copy.layers.indices {
            if let old = copy.layers[i].op.inputShape {
                guard old.count == shape.count else {
                    throw GraphError.invalid(layer: copy.layers[i].name, "input shape has rank \(old.count), the new shape \(ShapeFormat.tuple(shape)) has rank \(shape.count)")
                }
                copy.layers[i].op = .input(InputLayer(shape: shape))
            }
        }
        return copy
    }
}

/// A graph vggtool cannot use: the layer at fault and why. Callers switch on the case; `description` is one
/// line, `layer 'name': why`.
public enum GraphError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The graph's structure is invalid at `layer` (a duplicate or empty name, a missing or later inbound
    /// layer, a wrong input count, no input or output, a new input shape of another rank).
    case invalid(layer: String, String)
    /// `layer`'s inputs do not fit it (its `LayerShapeError`'s message), or its output is too large.
    case shape(layer: String, String)

    /// The layer at fault.
    public var layer: String {
        switch self {
        case .invalid(let layer, _), .shape(let layer, _): return layer
        }
    }

    /// Why, in words.
    public var message: String {
        switch self {
        case .invalid(_, let why), .shape(_, let why): return why
        }
    }

    /// `layer 'name': why`.
    public var description: String {
        switch self {
        case .invalid(let layer, let why): return "layer '\(layer)': \(why)"
        case .shape(let layer, let why): return "layer '\(layer)': \(why)"
        }
    }
}

/// Per-layer facts from shape inference.
public struct LayerInfo: Sendable, Hashable {
    /// The layer.
    public var layer: Layer
    /// Shapes of its inputs, batch first (`nil` = unknown), in inbound order.
    public var inputShapes: [Shape]
    /// Shape of its output, batch first.
    public var outputShape: Shape
    /// The weights it owns, in Keras's order, with their shapes.
    public var weights: [WeightSpec]
    /// Multiply-accumulate operations per image (1 MAC = 2 FLOPs).
    public var macs: Int
    /// Bytes of this layer's output per image (float32).
    public var activationBytes: Int
    /// For a nested model: the analysis of its own layers.
    public var nested: GraphAnalysis?

    /// Whether `macs` and `activationBytes` are known: false for an opaque layer (vggtool does not know its
    /// computation) and for layers whose output shape is unknown.
    public var costsKnown: Bool { outputShape.isKnownShape && !(layer.op.kind is OpaqueLayer) }

    /// Infers `layer`'s facts from its input shapes; throws `GraphError.shape` naming the layer.
    init(_ layer: Layer, inputs: [Shape]) throws {
        let inference: Inference
        do { inference = try layer.op.kind.infer(inputs) } catch let e as LayerShapeError { throw GraphError.shape(layer: layer.name, e.message) }
        for d in inference.output.dropFirst() {
            if let d, d > maxDimension { throw GraphError.shape(layer: layer.name, "dimension \(d) is too large") }
        }
        let elements = inference.output.isKnownShape ? inference.output.dropFirst().reduce(1) { $0 * ($1 ?? 1) } : 0
        self.init(layer: layer, inputShapes: inputs, outputShape: inference.output, weights: inference.weights, macs: inference.macs,
                  activationBytes: elements * 4, nested: inference.nested)
    }

    /// Facts from their parts (shape inference builds them with `ModelGraph.analyze()`).
    public init(layer: Layer, inputShapes: [Shape], outputShape: Shape, weights: [WeightSpec], macs: Int, activationBytes: Int,
                nested: GraphAnalysis? = nil) {
        self.layer = layer
        self.inputShapes = inputShapes
        self.outputShape = outputShape
        self.weights = weights
        self.macs = macs
        self.activationBytes = activationBytes
        self.nested = nested
    }

    /// Parameters (weight elements, not bytes) the layer owns.
    public var params: Int { weights.reduce(0) { $0 + $1.elementCount } }
    /// Parameters that are trained: the trainable weights' elements, 0 when the layer is frozen.
    public var trainableParams: Int { layer.trainable ? weights.filter(\.trainable).reduce(0) { $0 + $1.elementCount } : 0 }
    /// Bytes of all the layer's weights as Keras holds them.
    public var weightBytes: Int { weights.reduce(0) { $0 + $1.byteCount } }
    /// Bytes of the weights that train.
    public var trainableBytes: Int { layer.trainable ? weights.filter(\.trainable).reduce(0) { $0 + $1.byteCount } : 0 }
}

/// The analysed graph: shapes, weights and costs of every layer.
public struct GraphAnalysis: Sendable, Hashable {
    /// The graph analysed.
    public var graph: ModelGraph
    /// Facts of every top-level layer, in the graph's order.
    public var layers: [LayerInfo]

    /// Parameters (weight elements) of all layers, as Keras's summary counts them.
    public var totalParams: Int { layers.reduce(0) { $0 + $1.params } }
    /// Parameters that are trained (Keras's "Trainable params").
    public var trainableParams: Int { layers.reduce(0) { $0 + $1.trainableParams } }
    /// Parameters that are not trained: frozen layers' and BatchNormalization's moving statistics.
    public var nonTrainableParams: Int { totalParams - trainableParams }
    /// Bytes of all weights as Keras holds them (4 per float32 parameter).
    public var totalBytes: Int { layers.reduce(0) { $0 + $1.weightBytes } }
    /// Bytes of the trainable weights.
    public var trainableBytes: Int { layers.reduce(0) { $0 + $1.trainableBytes } }
    /// Bytes of the weights that do not train.
    public var nonTrainableBytes: Int { totalBytes - trainableBytes }
    /// Multiply-accumulates per image over all layers (1 MAC = 2 FLOPs).
    public var totalMACs: Int { layers.reduce(0) { $0 + $1.macs } }

    /// The facts of the top-level layer called `name`, if any.
    public func info(_ name: String) -> LayerInfo? { layers.first { $0.layer.name == name } }

    /// Keras's test for printing a "Connected to" column: false when some depth of the graph holds more
    /// than one layer or some layer has several inputs (Sequential models are always sequential-like).
    public var isSequentialLike: Bool {
        if graph.isSequential { return true }
        if graph.layers.contains(where: { $0.connections.count > 1 }) { return false }
        // Depth = longest distance to an output, as Keras's _nodes_by_depth.
        var depth: [String: Int] = [:]
        for o in graph.outputs { depth[o] = 0 }
        for layer in graph.layers.reversed() {
            guard let d = depth[layer.name] else { continue }
            for src in layer.connections { depth[src] = max(depth[src] ?? 0, d + 1) }
        }
        var byDepth: [Int: Int] = [:]
        for (_, d) in depth { byDepth[d, default: 0] += 1 }
        return byDepth.values.allSatisfy { $0 <= 1 }
    }
}

extension ModelGraph {
    /// Infers every layer's output shape, weights and costs. Throws `GraphError` naming the layer when a
    /// shape does not work (e.g. an input too small for a valid convolution).
    ///
    /// After an opaque layer whose output shape the file does not record (`OpaqueLayer`), shapes are unknown
    /// (`Shape.unknown`): such layers get the weights `storedWeights` lists for them (what the file stores),
    /// no MACs.
    public func analyze(storedWeights: [String: [WeightSpec]] = [:]) throws -> GraphAnalysis {
        try validate()
        var shapes: [String: Shape] = [:]
        var infos: [LayerInfo] = []
        infos.reserveCapacity(layers.count)
        for layer in layers {
            let ins = layer.inbound.map { shapes[$0]! }
            let info: LayerInfo
            if !(layer.op.kind is OpaqueLayer), ins.contains(where: { !$0.isKnownShape }) {
                info = LayerInfo(layer: layer, inputShapes: ins, outputShape: .unknown, weights: storedWeights[layer.name] ?? [], macs: 0, activationBytes: 0)
            } else {
                info = try LayerInfo(layer, inputs: ins)
            }
            shapes[layer.name] = info.outputShape
            infos.append(info)
        }
        return GraphAnalysis(graph: self, layers: infos)
    }
}
