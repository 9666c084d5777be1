/// Keras `LeakyReLU`: `x >= 0: x; x < 0: negativeSlope * x` (tf-keras 2 calls the slope `alpha`, Keras 3
/// `negative_slope`; both default to 0.3).
public struct LeakyReLU: LayerKind {
    public static let className = "LeakyReLU"
    /// Slope for negative inputs.
    public var negativeSlope: Double

    /// A leaky ReLU with Keras's default slope 0.3 unless given.
    public init(negativeSlope: Double = 0.3) { self.negativeSlope = negativeSlope }

    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }

    public var op: LayerOp { .leakyReLU(self) }

    enum CodingKeys: String, CodingKey { case negativeSlope = "negative_slope" }
}
