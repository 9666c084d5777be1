/// Keras `BatchNormalization` at inference over the last axis: `(x - moving_mean) / sqrt(moving_variance +
/// epsilon) * gamma + beta`; weights in Keras's order gamma (when `scale`), beta (when `center`),
/// moving_mean, moving_variance, each `(channels)`.
///
/// Keras's `axis` 1 on images or sequences (channels first) is `dataFormat` channels first here (its JSON key
/// is `data_format`, written only then); a positive `axis` of 2 or more is kept as `axis` (the last axis
/// for inputs of rank axis + 1, as Keras 2 files often write it for sequences; any other is inspected and
/// converted, not run).
public struct BatchNormalization: ChannelOrdered {
    public static let className = "BatchNormalization"
    /// Added to the variance before the square root (Keras's default 1e-3).
    public var epsilon: Double
    /// Whether the layer has (and adds) `beta`.
    public var center: Bool
    /// Whether the layer has (and multiplies by) `gamma`.
    public var scale: Bool
    /// Channels last (`axis` -1) or first (`axis` 1).
    @ChannelsLastByDefault public var dataFormat: ChannelOrder
    /// Keras's `axis` when it is 2 or more (counted with the batch as 0); nil when `dataFormat` says (-1 or 1).
    public var axis: Int?

    /// A batch normalization with Keras's defaults unless given.
    public init(epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true, dataFormat: ChannelOrder = .channelsLast, axis: Int? = nil) {
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.dataFormat = dataFormat
        self.axis = axis
    }

    /// Whether the layer normalizes the last axis of inputs of `rank` (with the batch) after the channels
    /// first transposition, as the runtime's kernel does.
    public func normalizesLastAxis(rank: Int) -> Bool { axis == nil || axis == rank - 1 }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let s = inputs[0]
        if let axis, axis != s.count - 1 {
            guard axis >= 1, axis < s.count else { throw LayerShapeError("axis \(axis) is not an axis of \(ShapeFormat.tuple(s))") }
            guard let c = s[axis] else { throw LayerShapeError("axis \(axis) has an unknown size") }
            return Inference(output: s, weights: weights(channels: c))
        }
        return try dataFormat.inferring(inputs, inferChannelsLast)
    }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        guard let c = inputs[0].last ?? nil else { throw LayerShapeError("expects a known channel dimension") }
        return Inference(output: inputs[0], weights: weights(channels: c))
    }

    func weights(channels c: Int) -> [WeightSpec] {
        var weights: [WeightSpec] = []
        if scale { weights.append(WeightSpec(name: "gamma", shape: [c])) }
        if center { weights.append(WeightSpec(name: "beta", shape: [c])) }
        weights.append(WeightSpec(name: "moving_mean", shape: [c], trainable: false))
        weights.append(WeightSpec(name: "moving_variance", shape: [c], trainable: false))
        return weights
    }

    public var op: LayerOp { .batchNormalization(self) }

    enum CodingKeys: String, CodingKey { case epsilon, center, scale, dataFormat = "data_format", axis }
}
