/// A Keras model used as one layer of another (`Sequential([VGG16(include_top=False), Flatten(), ...])`,
/// or `base(inputs, training=False)` in a functional model), to any depth.
///
/// Its output shape comes from analysing its own graph at the shapes it is called on; its weights are its
/// layers' weights in their order, named by path (`block1_conv1/kernel`, `block/inner_conv/kernel` one
/// level further down), so the `.vggm` tensors are `vgg16/block1_conv1/kernel`; its MACs are its layers'.
/// A nested model that is not trainable freezes all its layers. Summaries show it as one row
/// (`vgg16 (Functional)`), or its layers under it when expanded; the runtime and training run
/// `ModelGraph.flattened()`.
public struct NestedModel: LayerKind {
    public static let className = "Functional"
    /// tf-keras 2 and Keras 3 write `Functional` or `Sequential`; Keras 2.0-2.3 wrote `Model`.
    public static let aliases = ["Sequential", "Model"]
    /// The nested model's own graph (its name is the layer's name in Keras).
    public var graph: ModelGraph
    /// The Keras class the file names: `Functional`, `Sequential` or `Model`.
    public var modelClass: String

    /// A nested model of `graph`; the class defaults to `Sequential` for a sequential graph, else `Functional`.
    public init(graph: ModelGraph, modelClass: String? = nil) {
        self.graph = graph
        self.modelClass = modelClass ?? (graph.isSequential ? "Sequential" : "Functional")
    }

    /// Deepest nesting accepted in a file (a guard against hostile configs).
    public static let maxDepth = 32

    public var className: String { modelClass }
    public var arity: Arity { graph.inputs.count > 1 ? .many : .one }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard inputs.count == graph.inputs.count else {
            throw LayerShapeError("the nested model takes \(graph.inputs.count) input(s), it is given \(inputs.count)")
        }
        guard graph.outputs.count == 1 else {
            throw LayerShapeError("nested models with \(graph.outputs.count) outputs are not supported (one output)")
        }
        let analysis: GraphAnalysis
        do {
            analysis = try graph.withInputShapes(inputs.map { Array($0.dropFirst()) }).analyze()
        } catch let e as GraphError {
            throw LayerShapeError("inside the nested model: \(e.description)")
        }
        var weights: [WeightSpec] = []
        for info in analysis.layers {
            for w in info.weights {
                weights.append(WeightSpec(name: "\(info.layer.name)/\(w.name)", shape: w.shape, trainable: w.trainable && info.layer.trainable,
                                          bytesPerElement: w.bytesPerElement))
            }
        }
        return Inference(output: analysis.info(graph.outputs[0])!.outputShape, weights: weights, macs: analysis.totalMACs, nested: analysis)
    }

    public var op: LayerOp { .nested(self) }

    enum CodingKeys: String, CodingKey { case modelClass = "model_class", graph = "model" }
}

extension ModelGraph {
    /// Replaces the shapes (without the batch) of the input layers, in `inputs` order, where they differ.
    public func withInputShapes(_ shapes: [[Int?]]) throws -> ModelGraph {
        precondition(shapes.count == inputs.count, "one shape per input")
        var copy = self
        for (name, shape) in zip(inputs, shapes) {
            guard let i = copy.layers.firstIndex(where: { $0.name == name }), let old = copy.layers[i].op.inputShape else { continue }
            if old == shape { continue }
            guard old.count == shape.count else {
                throw GraphError.invalid(layer: name, "input shape has rank \(old.count), it is given \(ShapeFormat.tuple([nil] + shape))")
            }
            copy.layers[i].op = .input(InputLayer(shape: shape))
        }
        return copy
    }

    /// True when some layer is a nested model.
    public var hasNestedModels: Bool { layers.contains { $0.op.nestedModel != nil } }

    /// True when some layer, nested ones included, works on channels-first data.
    public var hasChannelsFirstLayers: Bool { flattened().layers.contains { $0.op.isChannelsFirst } }

    /// True when some BatchNormalization, LayerNormalization or Normalization, nested ones included, keeps an
    /// explicit `axis` (older readers would normalize the last axis).
    public var hasExplicitNormalizationAxes: Bool {
        flattened().layers.contains { l in
            switch l.op {
            case .batchNormalization(let b): b.axis != nil
            case .layerNormalization(let n): n.axis != nil
            case .normalization(let n): n.axis != nil
            default: false
            }
        }
    }

    /// True when some layer, nested ones included, is given a mask (`Layer.maskInbound`).
    public var hasMaskInputs: Bool { flattened().layers.contains { !$0.maskInbound.isEmpty } }

    /// The graph with every nested model replaced by its layers, to any depth: an inner layer is named by
    /// its path (`vgg16/block1_conv1`), reads what the nested model was given where it read the nested
    /// model's inputs, and is trainable only when the nested model is; readers of the nested model read
    /// its output layer. Names match the tensors' (`vgg16/block1_conv1/kernel`). A graph without nested
    /// models is returned as it is.
    public func flattened() -> ModelGraph {
        guard hasNestedModels else { return self }
        var result: [Layer] = []
        var alias: [String: String] = [:]  // a name readers used -> the flattened layer that now produces it
        func resolve(_ n: String) -> String { alias[n] ?? n }
        for layer in layers {
            let inbound = layer.inbound.map(resolve)
            guard let nested = layer.op.nestedModel else {
                result.append(Layer(name: layer.name, op: layer.op, inbound: inbound, trainable: layer.trainable, maskInbound: layer.maskInbound.map(resolve)))
                continue
            }
            let inner = nested.graph.flattened()
            let prefix = layer.name + "/"
            var innerAlias: [String: String] = [:]
            for (k, input) in inner.inputs.enumerated() where k < inbound.count { innerAlias[input] = inbound[k] }
            for l in inner.layers where innerAlias[l.name] == nil {
                innerAlias[l.name] = prefix + l.name
                result.append(Layer(name: prefix + l.name, op: l.op, inbound: l.inbound.map { innerAlias[$0] ?? prefix + $0 },
                                    trainable: l.trainable && layer.trainable, maskInbound: l.maskInbound.map { innerAlias[$0] ?? prefix + $0 }))
            }
            alias[layer.name] = innerAlias[inner.outputs[0]] ?? prefix + inner.outputs[0]
        }
        return ModelGraph(name: name, layers: result, inputs: inputs, outputs: outputs.map(resolve), isSequential: false)
    }
}
