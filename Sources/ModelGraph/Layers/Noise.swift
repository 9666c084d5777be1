/// Layers that regularize training and are the identity at inference: vggtool runs them as the identity
/// and keeps their settings for summaries and export.
public protocol IdentityAtInference: LayerKind {}

extension IdentityAtInference {
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
}

/// Keras `GaussianNoise`: adds N(0, stddev²) noise in training.
public struct GaussianNoise: IdentityAtInference {
    public static let className = "GaussianNoise"
    public var stddev: Double
    public init(stddev: Double) { self.stddev = stddev }
    public var op: LayerOp { .gaussianNoise(self) }
}

/// Keras `GaussianDropout`: multiplies by N(1, rate / (1 - rate)) noise in training.
public struct GaussianDropout: IdentityAtInference {
    public static let className = "GaussianDropout"
    public var rate: Double
    public init(rate: Double) { self.rate = rate }
    public var op: LayerOp { .gaussianDropout(self) }
}

/// Keras `SpatialDropout2D`: drops whole feature maps (channels) in training.
public struct SpatialDropout2D: IdentityAtInference {
    public static let className = "SpatialDropout2D"
    public var rate: Double
    public init(rate: Double) { self.rate = rate }
    public var op: LayerOp { .spatialDropout2D(self) }
}

/// Keras `ActivityRegularization`: adds l1 |x| + l2 x² of its input to the training loss.
public struct ActivityRegularization: IdentityAtInference {
    public static let className = "ActivityRegularization"
    public var l1: Double
    public var l2: Double
    public init(l1: Double = 0, l2: Double = 0) { self.l1 = l1; self.l2 = l2 }
    public var op: LayerOp { .activityRegularization(self) }
}
