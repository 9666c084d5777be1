/// Keras `BatchNormalization` at inference over the last axis: `(x - moving_mean) / sqrt(moving_variance +
/// epsilon) * gamma + beta`; weights in Keras's order gamma (when `scale`), beta (when `center`),
/// moving_mean, moving_variance, each `(channels)`.
public struct BatchNormalization: LayerKind {
    public static let className = "BatchNormalization"
    /// Added to the variance before the square root (Keras's default 1e-3).
    public var epsilon: Double
    /// Whether the layer has (and adds) `beta`.
    public var center: Bool
    /// Whether the layer has (and multiplies by) `gamma`.
    public var scale: Bool

    /// A batch normalization with Keras's defaults unless given.
    public init(epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true) {
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard let c = inputs[0].last ?? nil else { throw LayerShapeError("expects a known channel dimension") }
        var weights: [WeightSpec] = []
        if scale { weights.append(WeightSpec(name: "gamma", shape: [c])) }
        if center { weights.append(WeightSpec(name: "beta", shape: [c])) }
        weights.append(WeightSpec(name: "moving_mean", shape: [c], trainable: false))
        weights.append(WeightSpec(name: "moving_variance", shape: [c], trainable: false))
        return Inference(output: inputs[0], weights: weights)
    }

    public var op: LayerOp { .batchNormalization(self) }
}
