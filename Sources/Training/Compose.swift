import Foundation
import ModelFile
import ModelGraph

/// How the new head sits on the base.
public enum HeadPooling: String, Sendable, CaseIterable {
    /// `Flatten`: every feature-map value feeds the head (its input size depends on the input size).
    case flatten
    /// `GlobalAveragePooling2D`: one mean per channel.
    case avg
    /// `GlobalMaxPooling2D`: one maximum per channel.
    case max
}

/// The transfer-learning model: a base's convolutional part at a new input size, then a new head.
public struct Composition {
    /// The composed graph (frozen layers marked `trainable: false`).
    public var graph: ModelGraph
    /// The composed graph's analysis (shapes, parameters, MACs), as its summary shows it.
    public var analysis: GraphAnalysis
    /// The base's last feature layer (e.g. block5_pool): where the head starts.
    public var baseOutput: String
    /// The last frozen layer: its output is what the feature cache holds.
    public var cut: String
    /// Layers after `cut`, in order: what is trained.
    public var trainable: [LayerInfo]
    /// Names of the new layers.
    public var headLayers: [String]

    /// Composes `base` at input `size` x `size` with a head of `units` (ReLU) Dense layers, optional dropout
    /// after each, and a softmax Dense of `classes`. `trainableFrom` names the first base layer to train.
    public init(base: ModelGraph, size: Int, pooling: HeadPooling, units: [Int], dropout: Double, classes: Int,
                trainableFrom: String?) throws {
        guard base.inputs.count == 1 else { throw TrainingError(.unsuitableModel, "the base must have one input") }
        // The base's feature layer: the last layer that still has a spatial (4-D) output in a plain chain
        // from the input (for VGG16 with or without top: block5_pool).
        let baseAnalysis: GraphAnalysis
        do { baseAnalysis = try base.withInputShape([size, size, 3]).analyze() } catch {
            // A base with a top cannot be analysed at a new size past its Flatten: find the feature layer first.
            baseAnalysis = try Self.featurePart(base).withInputShape([size, size, 3]).analyze()
        }
        var feature: String?
        for info in baseAnalysis.layers {
            if info.outputShape.count == 4 { feature = info.layer.name } else if info.layer.op.inputShape == nil { break }
        }
        guard let baseOutput = feature else { throw TrainingError(.unsuitableModel, "the base has no convolutional feature layer") }
        var layers: [Layer] = []
        var needed = Set([baseOutput])
        for l in base.layers.reversed() where needed.contains(l.name) { needed.formUnion(l.inbound) }
        for l in base.layers where needed.contains(l.name) { layers.append(l) }
        // Keras's automatic names for the new layers (as in a fresh session).
        var used = Set(layers.map(\.name))
        func fresh(_ stem: String) -> String {
            var i = 0
            while true {
                let n = i == 0 ? stem : "\(stem)_\(i)"
                if !used.contains(n) { used.insert(n); return n }
                i += 1
            }
        }
        var prev = baseOutput
        var head: [String] = []
        func add(_ stem: String, _ kind: some LayerKind) {
            let name = fresh(stem)
            layers.append(Layer(name: name, kind, inbound: [prev], trainable: true))
            head.append(name)
            prev = name
        }
        switch pooling {
        case .flatten: add("flatten", Flatten())
        case .avg: add("global_average_pooling2d", GlobalAveragePooling2D())
        case .max: add("global_max_pooling2d", GlobalMaxPooling2D())
        }
        for u in units {
            guard u >= 1 else { throw TrainingError(.invalidSetting(.headUnits), "head layer sizes must be positive, got \(u)") }
            add("dense", Dense(units: u, activation: .relu))
            if dropout > 0 { add("dropout", Dropout(rate: dropout)) }
        }
        guard classes >= 2 else { throw TrainingError(.invalidSetting(.classCount), "need at least 2 classes, got \(classes)") }
        add("dense", Dense(units: classes, activation: .softmax))

        // What is frozen.
        let cut: String
        if let from = trainableFrom {
            // A layer inside a nested model may be named by its path (`vgg16/block5_conv1`) or, when no other
            // layer has that name, by its own name (`block5_conv1`).
            let bySuffix = layers.indices.filter { layers[$0].name.hasSuffix("/" + from) }
            guard let i = layers.firstIndex(where: { $0.name == from }) ?? (bySuffix.count == 1 ? bySuffix[0] : nil) else {
                throw FineTuneError(.trainableFrom, .noSuchLayer(from)) { [known = layers.filter { !head.contains($0.name) }.map(\.name).suffix(8).joined(separator: ", ")] in "\($0): the model has no layer '\(from)' (base layers: \(known), ...)" }
            }
            guard i > 0, layers[i].inbound.count == 1 else { throw FineTuneError(.trainableFrom, .cannotTrainFrom(from)) { "\($0): cannot train from '\(from)'" } }
            cut = layers[i].inbound[0]
        } else {
            cut = baseOutput
        }
        let cutIndex = layers.firstIndex { $0.name == cut }!
        for i in layers.indices { layers[i].trainable = i > cutIndex }
        var graph = base
        graph.layers = layers
        graph.outputs = [prev]
        graph.isSequential = false
        graph = try graph.withInputShape([size, size, 3])
        let analysis = try graph.analyze()
        // The trainable part must be a chain: each layer the only reader of the one before.
        let tail = Array(analysis.layers[(cutIndex + 1)...])
        for (j, info) in tail.enumerated() {
            let expected = j == 0 ? cut : tail[j - 1].layer.name
            guard info.layer.inbound == [expected] else {
                throw TrainingError(.unsuitableModel, layer: info.layer.name, "layer '\(info.layer.name)': only a chain of layers can be trained (it reads \(info.layer.inbound))")
            }
        }
        self.graph = graph
        self.analysis = analysis
        self.baseOutput = baseOutput
        self.cut = cut
        self.trainable = tail
        self.headLayers = head
    }

    /// The base up to (and excluding) its first Flatten / Dense / global pooling, for analysis at a new size.
    static func featurePart(_ g: ModelGraph) -> ModelGraph {
        var out = g
        var keep: [Layer] = []
        for l in g.layers {
            switch l.op {
            case .flatten, .dense, .globalAveragePooling2D, .globalMaxPooling2D, .reshape: break
            default:
                if l.inbound.allSatisfy({ n in keep.contains { $0.name == n } }) || l.inbound.isEmpty { keep.append(l); continue }
            }
        }
        out.layers = keep
        out.outputs = [keep.last?.name ?? g.inputs[0]]
        return out
    }
}

/// Keras's glorot_uniform: U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)); fans from the
/// kernel shape (receptive field x channels).
package func glorotUniform(shape: [Int], rng: inout SplitMix64) -> [Float] {
    let receptive = shape.count > 2 ? shape.dropLast(2).reduce(1, *) : 1
    let fanIn = shape[shape.count - 2] * receptive, fanOut = shape[shape.count - 1] * receptive
    let limit = Float((6.0 / Double(fanIn + fanOut)).squareRoot())
    return (0..<shape.reduce(1, *)).map { _ in (rng.nextFloat() * 2 - 1) * limit }
}
