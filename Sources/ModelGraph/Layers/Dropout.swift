/// Keras `Dropout`: the identity at inference; in training, zeroes each value with probability `rate` and
/// scales the rest by 1 / (1 - rate).
public struct Dropout: LayerKind {
    public static let className = "Dropout"
    /// Fraction of values dropped in training, in [0, 1).
    public var rate: Double

    /// A dropout layer dropping `rate` of the values in training.
    public init(rate: Double) { self.rate = rate }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard rate >= 0, rate < 1 else { throw LayerShapeError("dropout rate must be in [0, 1), got \(rate)") }
        return Inference(output: inputs[0])
    }

    public var op: LayerOp { .dropout(self) }
}
