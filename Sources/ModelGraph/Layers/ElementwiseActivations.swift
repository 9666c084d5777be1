/// Keras's advanced activation layers with a parameter, elementwise, shape-preserving.

/// Keras `ELU` layer: x > 0: x; x <= 0: alpha (e^x - 1).
public struct ELU: LayerKind {
    public static let className = "ELU"
    public var alpha: Double
    public init(alpha: Double = 1) { self.alpha = alpha }
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
    public var op: LayerOp { .elu(self) }
}

/// Keras `ThresholdedReLU` (tf-keras 2; removed in Keras 3): x > theta: x; otherwise 0.
public struct ThresholdedReLU: LayerKind {
    public static let className = "ThresholdedReLU"
    public var theta: Double
    public init(theta: Double = 1) { self.theta = theta }
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
    public var op: LayerOp { .thresholdedReLU(self) }
}

/// Keras `Rescaling`: x * scale + offset (one scale and offset for all values).
public struct Rescaling: LayerKind {
    public static let className = "Rescaling"
    public var scale: Double
    public var offset: Double
    public init(scale: Double, offset: Double = 0) { self.scale = scale; self.offset = offset }
    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }
    public var op: LayerOp { .rescaling(self) }
}
