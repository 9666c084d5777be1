/// Keras `ReLU`: `x >= maxValue: maxValue; threshold <= x < maxValue: x; x < threshold: negativeSlope *
/// (x - threshold)`.
public struct ReLU: LayerKind {
    public static let className = "ReLU"
    /// Upper bound; nil = none.
    public var maxValue: Double?
    /// Slope below `threshold` (0: values below it become 0).
    public var negativeSlope: Double
    /// Inputs below it take the negative slope.
    public var threshold: Double

    /// A ReLU; the defaults give the plain `max(x, 0)`.
    public init(maxValue: Double? = nil, negativeSlope: Double = 0, threshold: Double = 0) {
        self.maxValue = maxValue
        self.negativeSlope = negativeSlope
        self.threshold = threshold
    }

    /// True for the plain `max(x, 0)`.
    public var isPlain: Bool { maxValue == nil && negativeSlope == 0 && threshold == 0 }

    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }

    public var op: LayerOp { .relu(self) }

    enum CodingKeys: String, CodingKey { case maxValue = "max_value", negativeSlope = "negative_slope", threshold }
}
