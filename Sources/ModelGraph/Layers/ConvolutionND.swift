/// Keras's 1-D and 3-D convolutions other than `Conv1D` (the 2-D ones have files of their own). Kernels
/// are laid out as Keras stores them: spatial axes first, then `(in / groups, filters)` (`Conv3D`),
/// `(filters, in)` (transposed), `(in, multiplier)` (depthwise). Inputs are channels last unless
/// `dataFormat` says otherwise.

/// Keras `Conv3D`: kernel `(kd, kh, kw, in / groups, filters)`, bias `(filters)`, then `activation`.
public struct Conv3D: LayerKind {
    public static let className = "Conv3D"
    /// Output channels (the kernel's last axis).
    public var filters: Int
    /// Kernel depth, height and width.
    public var kernel: [Int]
    /// Step between windows along depth, height and width.
    public var strides: [Int]
    /// `valid` (no padding) or `same` (TensorFlow's, the odd extra at the end).
    public var padding: Padding
    /// Spacing between kernel taps along depth, height and width (1: none).
    public var dilation: [Int]
    /// Channel groups convolved separately; divides the input channels and `filters` (1: none).
    public var groups: Int
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(filters)` is added.
    public var useBias: Bool
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder

    /// Defaults as Keras's.
    public init(filters: Int, kernel: [Int], strides: [Int] = [1, 1, 1], padding: Padding = .valid, dilation: [Int] = [1, 1, 1],
                groups: Int = 1, activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.activation = activation
        self.useBias = useBias
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.splitKnown(inputs[0], rank: 3)
        try ShapeCheck.positive(filters, "filters")
        try ShapeCheck.positive(groups, "groups")
        guard c % groups == 0, filters % groups == 0 else { throw LayerShapeError("channels \(c) and filters \(filters) must be multiples of groups \(groups)") }
        let out = try WindowND.output(spatial, kernel: kernel, strides: strides, dilation: dilation, padding: padding)
        var weights = [WeightSpec(name: "kernel", shape: kernel + [c / groups, filters])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
        return Inference(output: dataFormat.join(out, channels: filters), weights: weights,
                         macs: WindowND.volume(out) * filters * kernel.reduce(1, *) * (c / groups))
    }

    public var outputActivation: Activation? { activation }
    public var op: LayerOp { .conv3D(self) }

    enum CodingKeys: String, CodingKey {
        case filters, kernel = "kernel_size", strides, padding, dilation = "dilation_rate", groups, activation, useBias = "use_bias", dataFormat = "data_format"
    }
}

/// Keras's transposed convolutions of 1 and 3 dimensions: kernel `(k..., filters, in)`, bias `(filters)`;
/// output sizes by Keras's `deconv_output_length`.
public protocol TransposedConvolutionND: LayerKind {
    /// Number of spatial axes.
    static var rank: Int { get }
    /// Output channels.
    var filters: Int { get }
    /// Kernel size along each spatial axis (`rank` entries).
    var kernel: [Int] { get }
    /// The enlargement along each spatial axis.
    var strides: [Int] { get }
    /// `same` (output = input * stride) or `valid`.
    var padding: Padding { get }
    /// Keras's `output_padding` per spatial axis, each below its stride; nil = inferred (none).
    var outputPadding: [Int]? { get }
    /// Spacing between kernel taps along each spatial axis (1: none).
    var dilation: [Int] { get }
    /// Applied to the output after the bias.
    var activation: Activation { get }
    /// Whether a bias `(filters)` is added.
    var useBias: Bool { get }
    /// Channels last `(batch, spatial..., channels)`, Keras's default, or first.
    var dataFormat: ChannelOrder { get }
}

extension TransposedConvolutionND {
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.splitKnown(inputs[0], rank: Self.rank)
        try ShapeCheck.positive(filters, "filters")
        try WindowND.check(kernel, rank: Self.rank, "kernel")
        try WindowND.check(strides, rank: Self.rank, "strides")
        try WindowND.check(dilation, rank: Self.rank, "dilation")
        if let op = outputPadding {
            guard op.count == Self.rank, zip(op, strides).allSatisfy({ $0 >= 0 && $0 < $1 }) else {
                throw LayerShapeError("output_padding \(op) must be below the strides \(strides)")
            }
        }
        let out: [Int?] = spatial.indices.map { i in
            spatial[i].map { WindowND.transposed($0, kernel: kernel[i], stride: strides[i], dilation: dilation[i], padding: padding, outputPadding: outputPadding?[i]) }
        }
        var weights = [WeightSpec(name: "kernel", shape: kernel + [filters, c])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
        return Inference(output: dataFormat.join(out, channels: filters), weights: weights,
                         macs: WindowND.volume(spatial) * kernel.reduce(1, *) * c * filters)
    }

    public var outputActivation: Activation? { activation }
}

/// Keras `Conv1DTranspose`: kernel `(k, filters, in)`.
public struct Conv1DTranspose: TransposedConvolutionND {
    public static let className = "Conv1DTranspose"
    public static let rank = 1
    /// Output channels.
    public var filters: Int
    /// Kernel length in steps (one entry).
    public var kernel: [Int]
    /// The enlargement of the steps (one entry).
    public var strides: [Int]
    /// `same` (output = input * stride) or `valid`.
    public var padding: Padding
    /// Keras's `output_padding` (one entry, below the stride); nil = inferred (none).
    public var outputPadding: [Int]?
    /// Spacing between kernel taps (one entry; 1: none).
    public var dilation: [Int]
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(filters)` is added.
    public var useBias: Bool
    /// Channels last `(batch, steps, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder

    /// Defaults as Keras's.
    public init(filters: Int, kernel: Int, strides: Int = 1, padding: Padding = .valid, outputPadding: Int? = nil, dilation: Int = 1,
                activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.filters = filters
        self.kernel = [kernel]
        self.strides = [strides]
        self.padding = padding
        self.outputPadding = outputPadding.map { [$0] }
        self.dilation = [dilation]
        self.activation = activation
        self.useBias = useBias
        self.dataFormat = dataFormat
    }

    public var op: LayerOp { .conv1DTranspose(self) }

    enum CodingKeys: String, CodingKey {
        case filters, kernel = "kernel_size", strides, padding, outputPadding = "output_padding", dilation = "dilation_rate", activation,
             useBias = "use_bias", dataFormat = "data_format"
    }
}

/// Keras `Conv3DTranspose`: kernel `(kd, kh, kw, filters, in)`.
public struct Conv3DTranspose: TransposedConvolutionND {
    public static let className = "Conv3DTranspose"
    public static let rank = 3
    /// Output channels.
    public var filters: Int
    /// Kernel depth, height and width.
    public var kernel: [Int]
    /// The enlargement along depth, height and width.
    public var strides: [Int]
    /// `same` (output = input * stride) or `valid`.
    public var padding: Padding
    /// Keras's `output_padding` for depth, height and width; nil = inferred (none).
    public var outputPadding: [Int]?
    /// Spacing between kernel taps along depth, height and width (1: none).
    public var dilation: [Int]
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(filters)` is added.
    public var useBias: Bool
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder

    /// Defaults as Keras's.
    public init(filters: Int, kernel: [Int], strides: [Int] = [1, 1, 1], padding: Padding = .valid, outputPadding: [Int]? = nil,
                dilation: [Int] = [1, 1, 1], activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
        self.dataFormat = dataFormat
    }

    public var op: LayerOp { .conv3DTranspose(self) }

    enum CodingKeys: String, CodingKey {
        case filters, kernel = "kernel_size", strides, padding, outputPadding = "output_padding", dilation = "dilation_rate", activation,
             useBias = "use_bias", dataFormat = "data_format"
    }
}

/// Keras `SeparableConv1D`: depthwise kernel `(k, in, multiplier)`, pointwise kernel `(1, in * multiplier,
/// filters)`, bias `(filters)`, then `activation`.
public struct SeparableConv1D: LayerKind {
    public static let className = "SeparableConv1D"
    /// Output channels (the pointwise kernel's last axis).
    public var filters: Int
    /// Depthwise kernel length in steps.
    public var kernel: Int
    /// Step between windows, in steps.
    public var strides: Int
    /// `valid` (no padding) or `same` (TensorFlow's, the odd extra at the end).
    public var padding: Padding
    /// Depthwise output channels per input channel.
    public var depthMultiplier: Int
    /// Spacing between depthwise kernel taps (1: none).
    public var dilation: Int
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(filters)` is added.
    public var useBias: Bool
    /// Channels last `(batch, steps, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder

    /// Defaults as Keras's.
    public init(filters: Int, kernel: Int, strides: Int = 1, padding: Padding = .valid, depthMultiplier: Int = 1, dilation: Int = 1,
                activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.splitKnown(inputs[0], rank: 1)
        try ShapeCheck.positive(filters, "filters")
        try ShapeCheck.positive(depthMultiplier, "depth_multiplier")
        let out = try WindowND.output(spatial, kernel: [kernel], strides: [strides], dilation: [dilation], padding: padding)
        let m = depthMultiplier
        var weights = [WeightSpec(name: "depthwise_kernel", shape: [kernel, c, m]), WeightSpec(name: "pointwise_kernel", shape: [1, c * m, filters])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
        return Inference(output: dataFormat.join(out, channels: filters), weights: weights,
                         macs: WindowND.volume(out) * (c * m * kernel + c * m * filters))
    }

    public var outputActivation: Activation? { activation }
    public var op: LayerOp { .separableConv1D(self) }

    enum CodingKeys: String, CodingKey {
        case filters, kernel = "kernel_size", strides, padding, depthMultiplier = "depth_multiplier", dilation = "dilation_rate", activation,
             useBias = "use_bias", dataFormat = "data_format"
    }
}

/// Keras `DepthwiseConv1D`: kernel `(k, in, multiplier)`, bias `(in * multiplier)`, then `activation`.
public struct DepthwiseConv1D: LayerKind {
    public static let className = "DepthwiseConv1D"
    /// Kernel length in steps.
    public var kernel: Int
    /// Step between windows, in steps.
    public var strides: Int
    /// `valid` (no padding) or `same` (TensorFlow's, the odd extra at the end).
    public var padding: Padding
    /// Output channels per input channel.
    public var depthMultiplier: Int
    /// Spacing between kernel taps (1: none).
    public var dilation: Int
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(in * depthMultiplier)` is added.
    public var useBias: Bool
    /// Channels last `(batch, steps, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder

    /// Defaults as Keras's.
    public init(kernel: Int, strides: Int = 1, padding: Padding = .valid, depthMultiplier: Int = 1, dilation: Int = 1,
                activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.splitKnown(inputs[0], rank: 1)
        try ShapeCheck.positive(depthMultiplier, "depth_multiplier")
        let out = try WindowND.output(spatial, kernel: [kernel], strides: [strides], dilation: [dilation], padding: padding)
        let m = depthMultiplier
        var weights = [WeightSpec(name: "depthwise_kernel", shape: [kernel, c, m])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [c * m])) }
        return Inference(output: dataFormat.join(out, channels: c * m), weights: weights, macs: WindowND.volume(out) * c * m * kernel)
    }

    public var outputActivation: Activation? { activation }
    public var op: LayerOp { .depthwiseConv1D(self) }

    enum CodingKeys: String, CodingKey {
        case kernel = "kernel_size", strides, padding, depthMultiplier = "depth_multiplier", dilation = "dilation_rate", activation,
             useBias = "use_bias", dataFormat = "data_format"
    }
}
