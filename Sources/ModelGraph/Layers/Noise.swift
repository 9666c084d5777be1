/// Layers that regularize training and are the identity at inference: vggtool runs them as the identity
/// and keeps their settings for summaries and export.
public protocol IdentityAtInference: LayerKind {}

extension IdentityAtInference {
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
}

/// Keras `GaussianNoise`: adds N(0, stddev²) noise in training.
public struct GaussianNoise: IdentityAtInference {
    public static let className = "GaussianNoise"
    /// Standard deviation of the added noise.
    public var stddev: Double
    /// A Gaussian noise layer with the given standard deviation.
    public init(stddev: Double) { self.stddev = stddev }
    public var op: LayerOp { .gaussianNoise(self) }
}

/// Keras `GaussianDropout`: multiplies by N(1, rate / (1 - rate)) noise in training.
public struct GaussianDropout: IdentityAtInference {
    public static let className = "GaussianDropout"
    /// The drop probability the noise's variance is derived from, in [0, 1).
    public var rate: Double
    /// A Gaussian dropout layer of `rate`.
    public init(rate: Double) { self.rate = rate }
    public var op: LayerOp { .gaussianDropout(self) }
}

/// Keras `SpatialDropout2D`: drops whole feature maps (channels) in training.
public struct SpatialDropout2D: IdentityAtInference {
    public static let className = "SpatialDropout2D"
    /// Fraction of feature maps dropped in training, in [0, 1).
    public var rate: Double
    /// Which axis holds the feature maps (no effect at inference).
    @ChannelsLastByDefault public var dataFormat: ChannelOrder
    /// A spatial dropout layer of `rate`.
    public init(rate: Double, dataFormat: ChannelOrder = .channelsLast) { self.rate = rate; self.dataFormat = dataFormat }
    public var op: LayerOp { .spatialDropout2D(self) }
    enum CodingKeys: String, CodingKey { case rate, dataFormat = "data_format" }
}

/// Keras `ActivityRegularization`: adds l1 |x| + l2 x² of its input to the training loss.
public struct ActivityRegularization: IdentityAtInference {
    public static let className = "ActivityRegularization"
    /// Weight of the L1 term.
    public var l1: Double
    /// Weight of the L2 term.
    public var l2: Double
    /// An activity regularization; both weights 0 unless given.
    public init(l1: Double = 0, l2: Double = 0) { self.l1 = l1; self.l2 = l2 }
    public var op: LayerOp { .activityRegularization(self) }
}
