/// Keras `Embedding`: integer indices `(batch, ...)` to vectors `(batch, ..., outputDim)`; weight
/// `embeddings` `(inputDim, outputDim)`. With `maskZero`, index 0 is padding (a mask for later layers).
public struct Embedding: LayerKind {
    public static let className = "Embedding"
    /// Vocabulary size (largest index + 1).
    public var inputDim: Int
    /// Size of each vector.
    public var outputDim: Int
    /// Index 0 is padding, masked for later layers (Keras's `mask_zero`).
    public var maskZero: Bool

    /// Defaults as Keras's: no mask.
    public init(inputDim: Int, outputDim: Int, maskZero: Bool = false) {
        self.inputDim = inputDim
        self.outputDim = outputDim
        self.maskZero = maskZero
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        try ShapeCheck.positive(inputDim, "input_dim")
        try ShapeCheck.positive(outputDim, "output_dim")
        return Inference(output: inputs[0] + [outputDim], weights: [WeightSpec(name: "embeddings", shape: [inputDim, outputDim])])
    }

    public var op: LayerOp { .embedding(self) }

    enum CodingKeys: String, CodingKey { case inputDim = "input_dim", outputDim = "output_dim", maskZero = "mask_zero" }
}

/// Keras `SpatialDropout1D`: in training drops whole channels of `(batch, steps, channels)`; the identity
/// at inference.
public struct SpatialDropout1D: IdentityAtInference {
    public static let className = "SpatialDropout1D"
    /// Fraction of channels dropped in training, in [0, 1).
    public var rate: Double
    /// A rate in [0, 1).
    public init(rate: Double) { self.rate = rate }
    public var op: LayerOp { .spatialDropout1D(self) }
}

/// Keras `SpatialDropout3D`: in training drops whole channels of a volume; the identity at inference.
public struct SpatialDropout3D: IdentityAtInference {
    public static let className = "SpatialDropout3D"
    /// Fraction of channels dropped in training, in [0, 1).
    public var rate: Double
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder
    /// A rate in [0, 1).
    public init(rate: Double, dataFormat: ChannelOrder = .channelsLast) {
        self.rate = rate
        self.dataFormat = dataFormat
    }
    public var op: LayerOp { .spatialDropout3D(self) }
    enum CodingKeys: String, CodingKey { case rate, dataFormat = "data_format" }
}

/// Keras `AlphaDropout`: in training, dropout that keeps SELU's self-normalization; the identity at inference.
public struct AlphaDropout: IdentityAtInference {
    public static let className = "AlphaDropout"
    /// Fraction of values dropped in training, in [0, 1).
    public var rate: Double
    /// A rate in [0, 1).
    public init(rate: Double) { self.rate = rate }
    public var op: LayerOp { .alphaDropout(self) }
}

/// Keras `Masking`: marks the steps whose every feature equals `maskValue` as skipped for later layers; the
/// values pass unchanged (masked steps are zeroed).
public struct Masking: IdentityAtInference {
    public static let className = "Masking"
    /// A step is masked when every one of its features equals this.
    public var maskValue: Double
    /// Defaults as Keras's: 0.
    public init(maskValue: Double = 0) { self.maskValue = maskValue }
    public var op: LayerOp { .masking(self) }
    enum CodingKeys: String, CodingKey { case maskValue = "mask_value" }
}

/// Keras 3 `Identity`: its input, unchanged.
public struct Identity: IdentityAtInference {
    public static let className = "Identity"
    /// No settings.
    public init() {}
    public var op: LayerOp { .identity(self) }
}

/// Keras `RepeatVector`: `(batch, features)` repeated `n` times, `(batch, n, features)`.
public struct RepeatVector: LayerKind {
    public static let className = "RepeatVector"
    /// Number of repetitions: the output's steps.
    public var n: Int
    /// Repeats `n` (>= 1) times.
    public init(n: Int) { self.n = n }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let s = inputs[0]
        guard s.count == 2 else { throw LayerShapeError("expects a 2-D input (batch, features), got \(ShapeFormat.tuple(s))") }
        try ShapeCheck.positive(n, "n")
        return Inference(output: [nil, n, s[1]])
    }

    public var op: LayerOp { .repeatVector(self) }
}
