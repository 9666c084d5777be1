/// Keras `Dense`: `activation(x · kernel + bias)` over the last axis; kernel `(in, units)`, bias `(units)`.
public struct Dense: LayerKind {
    public static let className = "Dense"
    /// Output features (the kernel's second dimension).
    public var units: Int
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(units)` is added.
    public var useBias: Bool

    /// A dense layer, linear and with a bias unless given.
    public init(units: Int, activation: Activation = .linear, useBias: Bool = true) {
        self.units = units
        self.activation = activation
        self.useBias = useBias
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        guard input.count >= 2, let last = input.last! else {
            throw LayerShapeError("expects an input with a known last dimension, got \(ShapeFormat.tuple(input))")
        }
        try ShapeCheck.positive(units, "units")
        var weights = [WeightSpec(name: "kernel", shape: [last, units])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [units])) }
        let rows = input.dropFirst().dropLast().reduce(1) { $0 * ($1 ?? 0) }  // unknown steps (sequences): MACs unknown, 0
        return Inference(output: Array(input.dropLast()) + [units], weights: weights, macs: rows * last * units)
    }

    public var outputActivation: Activation? { activation }

    public var op: LayerOp { .dense(self) }

    enum CodingKeys: String, CodingKey { case units, activation, useBias = "use_bias" }
}
