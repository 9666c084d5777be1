/// Keras's 1-D convolution and pooling over sequences `(batch, steps, channels)` (`(batch, channels, steps)`
/// with `dataFormat` channels first).

/// How a 1-D window meets the sequence's ends: as 2-D windows do, or Keras's 'causal' (all the padding
/// before the first step, so an output never sees later steps).
public enum Padding1D: String, Sendable, Hashable, Codable {
    /// No padding.
    case valid
    /// TensorFlow's 'same': output ceil(steps / stride), the odd step of padding at the end.
    case same
    /// (kernel - 1) * dilation steps of zeros before the sequence, none after.
    case causal

    /// Output length and the padding before the first step for `steps` and a window of `window` (dilation
    /// included) moved by `stride`.
    public func geometry(steps: Int, window: Int, stride: Int) throws -> (length: Int, before: Int) {
        switch self {
        case .valid, .same:
            let p = self == .same ? Padding.same : .valid
            let out = try p.outputLength(steps, window: window, stride: stride, axis: "length")
            return (out, p.before(steps, out: out, window: window, stride: stride))
        case .causal:
            guard steps >= 1 else { throw LayerShapeError("input length \(steps) is too small") }
            return ((steps - 1) / stride + 1, window - 1)
        }
    }
}

/// Keras `Conv1D`: kernel `(kernel, in, filters)`, bias `(filters)`, then `activation`.
public struct Conv1D: ChannelOrdered {
    public static let className = "Conv1D"
    /// Output channels.
    public var filters: Int
    /// Kernel length (steps).
    public var kernel: Int
    /// Steps between windows.
    public var strides: Int
    /// How the windows meet the ends.
    public var padding: Padding1D
    /// Spacing of the kernel's taps.
    public var dilation: Int
    /// Applied to the output.
    public var activation: Activation
    /// Whether a bias `(filters)` is added.
    public var useBias: Bool
    /// Where the channels axis is (the weights' layout does not change).
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A 1-D convolution with Keras's defaults.
    public init(filters: Int, kernel: Int, strides: Int = 1, padding: Padding1D = .valid, dilation: Int = 1,
                activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
        self.dataFormat = dataFormat
    }

    public var outputActivation: Activation? { activation }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        guard input.count == 3, let c = input[2] else { throw LayerShapeError("expects a 3-D input (batch, steps, channels), got \(ShapeFormat.tuple(input))") }
        try ShapeCheck.positive(filters, "filters")
        for (name, v) in [("kernel", kernel), ("stride", strides), ("dilation", dilation)] { try ShapeCheck.positive(v, name) }
        let window = (kernel - 1) * dilation + 1
        let out = try input[1].map { try padding.geometry(steps: $0, window: window, stride: strides).length }
        var weights = [WeightSpec(name: "kernel", shape: [kernel, c, filters])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
        return Inference(output: [nil, out, filters], weights: weights, macs: (out ?? 0) * kernel * c * filters)
    }

    public var op: LayerOp { .conv1D(self) }

    enum CodingKeys: String, CodingKey { case filters, kernel = "kernel_size", strides, padding, dilation = "dilation_rate", activation, useBias = "use_bias", dataFormat = "data_format" }
}

/// Keras's 1-D pooling layers: a window of `pool` steps moved by `strides` over each channel.
public protocol Pooling1D: ChannelOrdered {
    /// Window length (steps).
    var pool: Int { get }
    /// Steps between windows.
    var strides: Int { get }
    /// 'valid' or 'same'.
    var padding: Padding { get }
}

extension Pooling1D {
    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        guard input.count == 3, let c = input[2] else { throw LayerShapeError("expects a 3-D input (batch, steps, channels), got \(ShapeFormat.tuple(input))") }
        let out = try WindowND.output([input[1]], kernel: [pool], strides: [strides], padding: padding)
        return Inference(output: [nil] + out + [c])
    }
}

/// Keras `MaxPooling1D`: the largest value of each window.
public struct MaxPooling1D: Pooling1D {
    public static let className = "MaxPooling1D"
    public var pool: Int
    public var strides: Int
    public var padding: Padding
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder
    /// `strides` defaults to `pool`, as in Keras.
    public init(pool: Int = 2, strides: Int? = nil, padding: Padding = .valid, dataFormat: ChannelOrder = .channelsLast) {
        self.pool = pool; self.strides = strides ?? pool; self.padding = padding; self.dataFormat = dataFormat
    }
    public var op: LayerOp { .maxPooling1D(self) }
    enum CodingKeys: String, CodingKey { case pool = "pool_size", strides, padding, dataFormat = "data_format" }
}

/// Keras `AveragePooling1D`: the mean of each window (over the steps inside the sequence).
public struct AveragePooling1D: Pooling1D {
    public static let className = "AveragePooling1D"
    public var pool: Int
    public var strides: Int
    public var padding: Padding
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder
    /// `strides` defaults to `pool`, as in Keras.
    public init(pool: Int = 2, strides: Int? = nil, padding: Padding = .valid, dataFormat: ChannelOrder = .channelsLast) {
        self.pool = pool; self.strides = strides ?? pool; self.padding = padding; self.dataFormat = dataFormat
    }
    public var op: LayerOp { .averagePooling1D(self) }
    enum CodingKeys: String, CodingKey { case pool = "pool_size", strides, padding, dataFormat = "data_format" }
}

/// Keras's global 1-D pooling: one value per channel over all steps; `(batch, channels)`, or
/// `(batch, 1, channels)` with `keepDims`.
public protocol GlobalPooling1D: ChannelOrdered {
    /// Keep the steps axis (length 1).
    var keepDims: Bool { get }
}

extension GlobalPooling1D {
    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        guard input.count == 3, let c = input[2] else { throw LayerShapeError("expects a 3-D input (batch, steps, channels), got \(ShapeFormat.tuple(input))") }
        return Inference(output: keepDims ? [nil, 1, c] : [nil, c])
    }
}

/// Keras `GlobalAveragePooling1D`: the mean over the steps.
public struct GlobalAveragePooling1D: GlobalPooling1D {
    public static let className = "GlobalAveragePooling1D"
    public var keepDims: Bool
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder
    /// A global average pooling.
    public init(keepDims: Bool = false, dataFormat: ChannelOrder = .channelsLast) { self.keepDims = keepDims; self.dataFormat = dataFormat }
    public var op: LayerOp { .globalAveragePooling1D(self) }
    enum CodingKeys: String, CodingKey { case keepDims = "keepdims", dataFormat = "data_format" }
}

/// Keras `GlobalMaxPooling1D`: the maximum over the steps.
public struct GlobalMaxPooling1D: GlobalPooling1D {
    public static let className = "GlobalMaxPooling1D"
    public var keepDims: Bool
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder
    /// A global max pooling.
    public init(keepDims: Bool = false, dataFormat: ChannelOrder = .channelsLast) { self.keepDims = keepDims; self.dataFormat = dataFormat }
    public var op: LayerOp { .globalMaxPooling1D(self) }
    enum CodingKeys: String, CodingKey { case keepDims = "keepdims", dataFormat = "data_format" }
}
