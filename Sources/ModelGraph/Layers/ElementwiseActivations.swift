/// Keras's advanced activation layers with a parameter, elementwise, shape-preserving.

/// Keras `ELU` layer: x > 0: x; x <= 0: alpha (e^x - 1).
public struct ELU: LayerKind {
    public static let className = "ELU"
    /// Scale of the negative part.
    public var alpha: Double
    /// An ELU layer, alpha 1 unless given (Keras's default).
    public init(alpha: Double = 1) { self.alpha = alpha }
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
    public var op: LayerOp { .elu(self) }
}

/// Keras `ThresholdedReLU` (tf-keras 2; removed in Keras 3): x > theta: x; otherwise 0.
public struct ThresholdedReLU: LayerKind {
    public static let className = "ThresholdedReLU"
    /// The threshold: values at or below it become 0.
    public var theta: Double
    /// A thresholded ReLU, theta 1 unless given (Keras's default).
    public init(theta: Double = 1) { self.theta = theta }
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
    public var op: LayerOp { .thresholdedReLU(self) }
}

/// Keras `Rescaling`: x * scale + offset (one scale and offset for all values).
public struct Rescaling: LayerKind {
    public static let className = "Rescaling"
    /// Factor every value is multiplied by (e.g. 1/255).
    public var scale: Double
    /// Added after the scaling.
    public var offset: Double
    /// A rescaling by `scale`, then `offset` (0 unless given).
    public init(scale: Double, offset: Double = 0) { self.scale = scale; self.offset = offset }
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
    public var op: LayerOp { .rescaling(self) }
}
