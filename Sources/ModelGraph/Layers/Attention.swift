/// Keras's attention layers and `Dot`: layers of two or three inputs (query, value and optionally key).

/// Keras `MultiHeadAttention`, called on (query, value) or (query, value, key) of shapes
/// `(batch, ..., dq)`, `(batch, ..., dv)`, `(batch, ..., dk)`; output `(batch, ..., outputShape)` (the
/// query's last size unless given). Weights in Keras's order: query kernel `(dq, heads, keyDim)` and bias
/// `(heads, keyDim)`, key `(dk, heads, keyDim)` and `(heads, keyDim)`, value `(dv, heads, valueDim)` and
/// `(heads, valueDim)`, output kernel `(heads, valueDim, out...)` and bias `(out...)`.
public struct MultiHeadAttention: LayerKind {
    public static let className = "MultiHeadAttention"
    public static let arity = Arity.many
    /// Number of attention heads.
    public var numHeads: Int
    /// Size of each head's query and key projections.
    public var keyDim: Int
    /// Size of each head's value projection (defaults to `keyDim`).
    public var valueDim: Int
    /// Whether the query, key, value and output projections have biases.
    public var useBias: Bool
    /// The output's last axes; nil: the query's last size.
    public var outputShape: [Int]?
    /// The axes attention runs over (counted with the batch); nil: all but the batch, heads and features.
    public var attentionAxes: [Int]?

    /// `valueDim` defaults to `keyDim`, as in Keras.
    public init(numHeads: Int, keyDim: Int, valueDim: Int? = nil, useBias: Bool = true, outputShape: [Int]? = nil, attentionAxes: [Int]? = nil) {
        self.numHeads = numHeads
        self.keyDim = keyDim
        self.valueDim = valueDim ?? keyDim
        self.useBias = useBias
        self.outputShape = outputShape
        self.attentionAxes = attentionAxes
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard inputs.count == 2 || inputs.count == 3 else { throw LayerShapeError("takes a query, a value and optionally a key, is given \(inputs.count) inputs") }
        let (q, v) = (inputs[0], inputs[1])
        let k = inputs.count == 3 ? inputs[2] : v
        guard q.count >= 3, v.count >= 3, k.count == v.count, let dq = q.last ?? nil, let dv = v.last ?? nil, let dk = k.last ?? nil else {
            throw LayerShapeError("expects inputs of at least 3 dimensions with known features, got \(inputs.map(ShapeFormat.tuple).joined(separator: ", "))")
        }
        try ShapeCheck.positive(numHeads, "num_heads")
        try ShapeCheck.positive(keyDim, "key_dim")
        try ShapeCheck.positive(valueDim, "value_dim")
        let out = outputShape ?? [dq]
        try WindowND.check(out, rank: out.count, "output_shape")
        let h = numHeads
        var weights: [WeightSpec] = []
        func dense(_ name: String, _ kernel: [Int], _ bias: [Int]) {
            weights.append(WeightSpec(name: "\(name)/kernel", shape: kernel))
            if useBias { weights.append(WeightSpec(name: "\(name)/bias", shape: bias)) }
        }
        dense("query", [dq, h, keyDim], [h, keyDim])
        dense("key", [dk, h, keyDim], [h, keyDim])
        dense("value", [dv, h, valueDim], [h, valueDim])
        dense("attention_output", [h, valueDim] + out, out)
        let tq = WindowND.volume(Array(q.dropFirst().dropLast())), tv = WindowND.volume(Array(v.dropFirst().dropLast()))
        let macs = tq * dq * h * keyDim + tv * (dk * h * keyDim + dv * h * valueDim) + tq * tv * h * (keyDim + valueDim)
            + tq * h * valueDim * out.reduce(1, *)
        return Inference(output: Array(q.dropLast()) + out.map { Optional($0) }, weights: weights, macs: macs)
    }

    public var op: LayerOp { .multiHeadAttention(self) }

    enum CodingKeys: String, CodingKey {
        case numHeads = "num_heads", keyDim = "key_dim", valueDim = "value_dim", useBias = "use_bias", outputShape = "output_shape",
             attentionAxes = "attention_axes"
    }
}

/// What `Attention` and `AdditiveAttention` share: inputs [query, value] or [query, value, key], output
/// the query's shape with the value's last size.
public protocol DotProductFamily: LayerKind {
    /// Whether the scores are scaled by a learnt weight.
    var useScale: Bool { get }
    /// The weights for a query of last size `dim`.
    func weights(dim: Int) -> [WeightSpec]
}

extension DotProductFamily {
    public static var arity: Arity { .many }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard inputs.count == 2 || inputs.count == 3 else { throw LayerShapeError("takes [query, value] or [query, value, key], is given \(inputs.count) inputs") }
        let (q, v) = (inputs[0], inputs[1])
        guard q.count >= 2, v.count == q.count, let dim = q.last ?? nil else {
            throw LayerShapeError("expects a query and a value of equal ranks, got \(inputs.map(ShapeFormat.tuple).joined(separator: ", "))")
        }
        return Inference(output: Array(q.dropLast()) + [v.last!], weights: weights(dim: dim))
    }
}

/// Keras `Attention` (Luong): `softmax(scale * q · kᵀ) · v`; with `useScale` a scalar weight `scale`, with
/// `scoreMode` concat a scalar `concat_score_weight`.
public struct Attention: DotProductFamily {
    public static let className = "Attention"
    public var useScale: Bool
    /// `dot` or `concat`.
    public var scoreMode: String

    /// Defaults as Keras's.
    public init(useScale: Bool = false, scoreMode: String = "dot") {
        self.useScale = useScale
        self.scoreMode = scoreMode
    }

    public func weights(dim: Int) -> [WeightSpec] {
        (useScale ? [WeightSpec(name: "scale", shape: [])] : []) + (scoreMode == "concat" ? [WeightSpec(name: "concat_score_weight", shape: [])] : [])
    }

    public var op: LayerOp { .attention(self) }
    enum CodingKeys: String, CodingKey { case useScale = "use_scale", scoreMode = "score_mode" }
}

/// Keras `AdditiveAttention` (Bahdanau): `softmax(Σ scale * tanh(q + k)) · v`; with `useScale` a weight
/// `scale` `(dim)`.
public struct AdditiveAttention: DotProductFamily {
    public static let className = "AdditiveAttention"
    public var useScale: Bool

    /// Defaults as Keras's: scaled.
    public init(useScale: Bool = true) { self.useScale = useScale }

    public func weights(dim: Int) -> [WeightSpec] { useScale ? [WeightSpec(name: "scale", shape: [dim])] : [] }

    public var op: LayerOp { .additiveAttention(self) }
    enum CodingKeys: String, CodingKey { case useScale = "use_scale" }
}

/// Keras `Dot`: the dot product of two inputs along `axes` (one per input, counted with the batch as axis
/// 0; negative from the end), optionally of L2-normalized inputs (cosine similarity).
public struct Dot: LayerKind {
    public static let className = "Dot"
    public static let arity = Arity.many
    /// The axis of each of the two inputs, batch counted as 0; negative counts from the end.
    public var axes: [Int]
    /// L2-normalize both inputs along `axes` first (cosine similarity).
    public var normalize: Bool

    /// `axes`: the axis of each input.
    public init(axes: [Int], normalize: Bool = false) {
        self.axes = axes
        self.normalize = normalize
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard inputs.count == 2 else { throw LayerShapeError("Dot takes exactly 2 inputs, it is given \(inputs.count)") }
        guard axes.count == 2 else { throw LayerShapeError("axes must name one axis per input, got \(axes)") }
        let (x, y) = (inputs[0], inputs[1])
        let a = axes[0] < 0 ? x.count + axes[0] : axes[0], b = axes[1] < 0 ? y.count + axes[1] : axes[1]
        guard x.count >= 2, y.count >= 2, (1..<x.count).contains(a), (1..<y.count).contains(b) else {
            throw LayerShapeError("axes \(axes) are out of range for \(ShapeFormat.tuple(x)) and \(ShapeFormat.tuple(y))")
        }
        guard x[a] == y[b] else { throw LayerShapeError("dimension mismatch: \(ShapeFormat.tuple(x)) axis \(a) against \(ShapeFormat.tuple(y)) axis \(b)") }
        var out: Shape = [nil]
        out += x.enumerated().filter { $0.offset != 0 && $0.offset != a }.map(\.element)
        out += y.enumerated().filter { $0.offset != 0 && $0.offset != b }.map(\.element)
        if out.count == 1 { out.append(1) }
        return Inference(output: out)
    }

    public var op: LayerOp { .dot(self) }
}

/// Keras `GroupNormalization`: normalizes `groups` groups of the channels (axis `axis`); weights gamma (with
/// `scale`) and beta (with `center`), each `(channels)`.
public struct GroupNormalization: LayerKind {
    public static let className = "GroupNormalization"
    /// Number of groups the channels are split into; divides the channels (default 32).
    public var groups: Int
    /// The channels axis, batch counted as 0; negative counts from the end.
    public var axis: Int
    /// Added to the variance before its square root.
    public var epsilon: Double
    /// Add the learned offset `beta`.
    public var center: Bool
    /// Multiply by the learned scale `gamma`.
    public var scale: Bool

    /// Defaults as Keras's.
    public init(groups: Int = 32, axis: Int = -1, epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true) {
        self.groups = groups
        self.axis = axis
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let s = inputs[0]
        let ax = axis < 0 ? s.count + axis : axis
        guard (1..<s.count).contains(ax), let c = s[ax] else { throw LayerShapeError("axis \(axis) of \(ShapeFormat.tuple(s)) has no known size") }
        try ShapeCheck.positive(groups, "groups")
        guard c % groups == 0, groups <= c else { throw LayerShapeError("\(c) channels cannot be split into \(groups) groups") }
        var weights: [WeightSpec] = []
        if scale { weights.append(WeightSpec(name: "gamma", shape: [c])) }
        if center { weights.append(WeightSpec(name: "beta", shape: [c])) }
        return Inference(output: s, weights: weights)
    }

    public var op: LayerOp { .groupNormalization(self) }
}

/// Keras `UnitNormalization`: each vector along `axes` scaled to unit L2 norm.
public struct UnitNormalization: LayerKind {
    public static let className = "UnitNormalization"
    /// The axes normalized over, batch counted as 0; negative counts from the end.
    public var axis: [Int]

    /// Defaults as Keras's: the last axis.
    public init(axis: [Int] = [-1]) { self.axis = axis }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let r = inputs[0].count
        guard !axis.isEmpty, axis.allSatisfy({ (1..<r).contains($0 < 0 ? r + $0 : $0) }) else {
            throw LayerShapeError("axis \(axis) is out of range for \(ShapeFormat.tuple(inputs[0]))")
        }
        return Inference(output: inputs[0])
    }

    public var op: LayerOp { .unitNormalization(self) }
}
