/// Keras's layer wrappers: a layer applied in another way. Their JSON form holds the wrapped layer as
/// `"layer": {"class": ..., "config": ...}`, as a graph's layers are written.

/// How `Bidirectional` combines its forward and backward outputs.
public enum BidirectionalMerge: String, Sendable, Hashable, Codable {
    /// The two outputs side by side on the last axis (twice the units).
    case concat
    /// Their sum.
    case sum
    /// Their product.
    case mul
    /// Their mean.
    case ave
}

/// Keras `Bidirectional`: a recurrent layer run forwards and (a copy) backwards over the sequence, the two
/// outputs merged by `mergeMode`. Weights: the forward layer's, then the backward layer's, named
/// `forward/kernel`, ..., `backward/kernel`, ...
public struct Bidirectional: LayerKind {
    public static let className = "Bidirectional"
    /// The forward layer (a recurrent layer).
    public var layer: LayerOp
    /// How the forward and backward outputs are combined (Keras's `merge_mode`).
    public var mergeMode: BidirectionalMerge

    /// `layer` must be a recurrent layer (`SimpleRNN`, `LSTM`, `GRU`); the backward layer is its copy
    /// reading the sequence from the end.
    public init(layer: LayerOp, mergeMode: BidirectionalMerge = .concat) {
        self.layer = layer
        self.mergeMode = mergeMode
    }

    /// The forward layer as a recurrent layer; nil when it is not one.
    public var forward: (any Recurrent)? { layer.kind as? any Recurrent }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard let forward else { throw LayerShapeError("Bidirectional wraps a recurrent layer, not \(layer.className)") }
        let f = try forward.infer(inputs)
        var out = f.output
        if mergeMode == .concat, let last = out.last ?? nil { out[out.count - 1] = 2 * last }
        let weights = f.weights.map { WeightSpec(name: "forward/\($0.name)", shape: $0.shape, trainable: $0.trainable) }
            + f.weights.map { WeightSpec(name: "backward/\($0.name)", shape: $0.shape, trainable: $0.trainable) }
        return Inference(output: out, weights: weights, macs: 2 * f.macs)
    }

    public var op: LayerOp { .bidirectional(self) }

    enum CodingKeys: String, CodingKey { case layer, mergeMode = "merge_mode" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(layer: try WrappedLayer(from: c.superDecoder(forKey: .layer)).op,
                  mergeMode: try c.decode(BidirectionalMerge.self, forKey: .mergeMode))
        guard forward != nil else {
            throw DecodingError.dataCorruptedError(forKey: .layer, in: c, debugDescription: "Bidirectional wraps a recurrent layer, not \(layer.className)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try WrappedLayer(op: layer).encode(to: c.superEncoder(forKey: .layer))
        try c.encode(mergeMode, forKey: .mergeMode)
    }
}

/// Keras `TimeDistributed`: the wrapped layer applied to every step of axis 1 alone. Its weights are the
/// wrapped layer's; MACs are the wrapped layer's times the steps.
public struct TimeDistributed: LayerKind {
    public static let className = "TimeDistributed"
    /// The layer applied at each step.
    public var layer: LayerOp

    /// Wraps a layer that takes one input.
    public init(layer: LayerOp) { self.layer = layer }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let s = inputs[0]
        guard s.count >= 3 else { throw LayerShapeError("expects an input of at least 3 dimensions (batch, steps, ...), got \(ShapeFormat.tuple(s))") }
        guard layer.kind.arity == .one else { throw LayerShapeError("TimeDistributed wraps a layer of one input, not \(layer.className)") }
        let inner: Inference
        do { inner = try layer.kind.infer([[nil] + s.dropFirst(2)]) } catch let e as LayerShapeError {
            throw LayerShapeError("inside TimeDistributed (\(layer.className)): \(e.message)")
        }
        return Inference(output: [nil, s[1]] + inner.output.dropFirst(), weights: inner.weights, macs: (s[1] ?? 0) * inner.macs)
    }

    public var op: LayerOp { .timeDistributed(self) }

    enum CodingKeys: String, CodingKey { case layer }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(layer: try WrappedLayer(from: c.superDecoder(forKey: .layer)).op)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try WrappedLayer(op: layer).encode(to: c.superEncoder(forKey: .layer))
    }
}

/// A wrapped layer's JSON form: `{"class": ..., "config": ...}`.
struct WrappedLayer: Codable {
    let op: LayerOp
    init(op: LayerOp) { self.op = op }

    enum CodingKeys: String, CodingKey { case className = "class", config }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        op = try LayerOp.decode(className: try c.decode(String.self, forKey: .className), config: try c.superDecoder(forKey: .config))
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(op.className, forKey: .className)
        try op.kind.encode(to: c.superEncoder(forKey: .config))
    }
}
