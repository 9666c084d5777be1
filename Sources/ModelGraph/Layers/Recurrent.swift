/// Keras's recurrent layers (`SimpleRNN`, `LSTM`, `GRU`, Keras's `RNN` base with one cell): input
/// `(batch, timesteps, features)`, output `(batch, timesteps, units)` with `returnSequences`, else
/// `(batch, units)`. Weights, in Keras's order: kernel `(features, gates * units)`, recurrent_kernel
/// `(units, gates * units)`, bias `(gates * units)` (GRU with `resetAfter`: `(2, 3 * units)`), the gates
/// in Keras's order (LSTM i, f, c, o; GRU z, r, h).
public protocol Recurrent: LayerKind {
    /// Size of the output and of the state.
    var units: Int { get }
    /// Output every step's state instead of the last.
    var returnSequences: Bool { get }
    /// Runs over the sequence from its end.
    var goBackwards: Bool { get set }
    /// The activation of the output (and of the candidate state).
    var activation: Activation { get }
    /// Whether the layer has a bias.
    var useBias: Bool { get }
    /// Number of gate blocks in the kernels (1, 4 or 3).
    var gates: Int { get }
    /// The bias shape (with `useBias`).
    var biasShape: [Int] { get }
}

extension Recurrent {
    public var biasShape: [Int] { [gates * units] }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let s = inputs[0]
        guard s.count == 3, let features = s[2] else {
            throw LayerShapeError("expects a 3-D input (batch, timesteps, features) with known features, got \(ShapeFormat.tuple(s))")
        }
        try ShapeCheck.positive(units, "units")
        var weights = [WeightSpec(name: "kernel", shape: [features, gates * units]),
                       WeightSpec(name: "recurrent_kernel", shape: [units, gates * units])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: biasShape)) }
        return Inference(output: returnSequences ? [nil, s[1], units] : [nil, units], weights: weights,
                         macs: (s[1] ?? 0) * (features + units) * gates * units)
    }

    /// This layer reading the sequence the other way (Bidirectional's backward layer).
    public func reversed() -> Self {
        var copy = self
        copy.goBackwards.toggle()
        return copy
    }
}

/// Keras `SimpleRNN`: `h = activation(x · kernel + h · recurrent_kernel + bias)`.
public struct SimpleRNN: Recurrent {
    public static let className = "SimpleRNN"
    public var units: Int
    public var activation: Activation
    public var useBias: Bool
    public var returnSequences: Bool
    public var goBackwards: Bool

    /// Defaults as Keras's: tanh, a bias, the last state only, forwards.
    public init(units: Int, activation: Activation = .tanh, useBias: Bool = true, returnSequences: Bool = false, goBackwards: Bool = false) {
        self.units = units
        self.activation = activation
        self.useBias = useBias
        self.returnSequences = returnSequences
        self.goBackwards = goBackwards
    }

    public var gates: Int { 1 }
    public var op: LayerOp { .simpleRNN(self) }

    enum CodingKeys: String, CodingKey {
        case units, activation, useBias = "use_bias", returnSequences = "return_sequences", goBackwards = "go_backwards"
    }
}

/// Keras `LSTM`: four gates (input, forget, cell, output) with `recurrentActivation` on the gates.
public struct LSTM: Recurrent {
    public static let className = "LSTM"
    public var units: Int
    public var activation: Activation
    /// The activation of the input, forget and output gates (sigmoid by default).
    public var recurrentActivation: Activation
    public var useBias: Bool
    public var returnSequences: Bool
    public var goBackwards: Bool

    /// Defaults as Keras 2.x and 3: tanh, sigmoid gates, a bias, the last state only, forwards.
    public init(units: Int, activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid, useBias: Bool = true,
                returnSequences: Bool = false, goBackwards: Bool = false) {
        self.units = units
        self.activation = activation
        self.recurrentActivation = recurrentActivation
        self.useBias = useBias
        self.returnSequences = returnSequences
        self.goBackwards = goBackwards
    }

    public var gates: Int { 4 }
    public var op: LayerOp { .lstm(self) }

    enum CodingKeys: String, CodingKey {
        case units, activation, recurrentActivation = "recurrent_activation", useBias = "use_bias",
             returnSequences = "return_sequences", goBackwards = "go_backwards"
    }
}

/// Keras `GRU`: three gates (update, reset, candidate). With `resetAfter` (the default of tf-keras 2 and
/// Keras 3; Keras before 2.2 had only the other form) the reset gate applies after the recurrent matrix
/// product, and the bias is `(2, 3 * units)`: input bias and recurrent bias.
public struct GRU: Recurrent {
    public static let className = "GRU"
    public var units: Int
    public var activation: Activation
    /// The activation of the update and reset gates (sigmoid by default).
    public var recurrentActivation: Activation
    public var useBias: Bool
    public var returnSequences: Bool
    public var goBackwards: Bool
    /// Apply the reset gate after the recurrent matrix product; the bias is then `(2, 3 * units)`.
    public var resetAfter: Bool

    /// Defaults as tf-keras 2 and Keras 3: tanh, sigmoid gates, a bias, the last state only, forwards, reset after.
    public init(units: Int, activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid, useBias: Bool = true,
                returnSequences: Bool = false, goBackwards: Bool = false, resetAfter: Bool = true) {
        self.units = units
        self.activation = activation
        self.recurrentActivation = recurrentActivation
        self.useBias = useBias
        self.returnSequences = returnSequences
        self.goBackwards = goBackwards
        self.resetAfter = resetAfter
    }

    public var gates: Int { 3 }
    public var biasShape: [Int] { resetAfter ? [2, 3 * units] : [3 * units] }
    public var op: LayerOp { .gru(self) }

    enum CodingKeys: String, CodingKey {
        case units, activation, recurrentActivation = "recurrent_activation", useBias = "use_bias",
             returnSequences = "return_sequences", goBackwards = "go_backwards", resetAfter = "reset_after"
    }
}
