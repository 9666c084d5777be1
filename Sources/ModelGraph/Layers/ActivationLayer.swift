/// Keras `Activation`: applies an activation function elementwise (softmax and log_softmax over the last
/// axis).
public struct ActivationLayer: LayerKind {
    public static let className = "Activation"
    /// The function applied to every value.
    public var activation: Activation

    /// An `Activation` layer applying `activation`.
    public init(_ activation: Activation) { self.activation = activation }

    public func infer(_ inputs: [Shape]) throws -> Inference { Inference(output: inputs[0]) }

    public var outputActivation: Activation? { activation }
    public var op: LayerOp { .activation(self) }
}
