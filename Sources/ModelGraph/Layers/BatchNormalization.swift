/// Keras `BatchNormalization` at inference over the last axis: `(x - moving_mean) / sqrt(moving_variance +
/// epsilon) * gamma + beta`; weights in Keras's order gamma (when `scale`), beta (when `center`),
/// moving_mean, moving_variance, each `(channels)`.
///
/// Keras's `axis` 1 on images or sequences (channels first) is `dataFormat` channels first here (its JSON key
/// is `data_format`, written only then); other axes are not represented.
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

    /// A batch normalization with Keras's defaults unless given.
    public init(epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        guard let c = inputs[0].last ?? nil else { throw LayerShapeError("expects a known channel dimension") }
        var weights: [WeightSpec] = []
        if scale { weights.append(WeightSpec(name: "gamma", shape: [c])) }
        if center { weights.append(WeightSpec(name: "beta", shape: [c])) }
        weights.append(WeightSpec(name: "moving_mean", shape: [c], trainable: false))
        weights.append(WeightSpec(name: "moving_variance", shape: [c], trainable: false))
        return Inference(output: inputs[0], weights: weights)
    }

    public var op: LayerOp { .batchNormalization(self) }

    enum CodingKeys: String, CodingKey { case epsilon, center, scale, dataFormat = "data_format" }
}
