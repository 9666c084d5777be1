/// Keras `SeparableConv2D`: a depthwise convolution (kernel `(kh, kw, in, multiplier)`) then a pointwise
/// one (kernel `(1, 1, in * multiplier, filters)`), bias `(filters)`, then `activation`.
public struct SeparableConv2D: Convolution2D {
    public static let className = "SeparableConv2D"
    /// Output channels of the pointwise convolution.
    public var filters: Int
    /// Depthwise kernel height and width.
    public var kernel: Size2D
    /// Step between depthwise windows, vertical and horizontal.
    public var strides: Size2D
    /// `valid` or `same` (TensorFlow's), for the depthwise step.
    public var padding: Padding
    /// Depthwise output channels per input channel.
    public var depthMultiplier: Int
    /// Spacing between depthwise kernel taps (1: none).
    public var dilation: Size2D
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(filters)` is added after the pointwise step.
    public var useBias: Bool
    /// Where the channels axis is (the weights' layout does not change).
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A separable convolution with Keras's defaults (stride 1, `valid`, multiplier 1, no dilation, linear, with bias) unless given.
    public init(filters: Int, kernel: Size2D, strides: Size2D = 1, padding: Padding = .valid, depthMultiplier: Int = 1,
                dilation: Size2D = 1, activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
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


    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (h, w, c) = try ShapeCheck.spatial(inputs[0])
        try ShapeCheck.positive(filters, "filters")
        try ShapeCheck.positive(depthMultiplier, "depth_multiplier")
        let (oh, ow) = try window.output(height: h, width: w)
        let m = depthMultiplier
        var weights = [WeightSpec(name: "depthwise_kernel", shape: [kernel.height, kernel.width, c, m]),
                       WeightSpec(name: "pointwise_kernel", shape: [1, 1, c * m, filters])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
        return Inference(output: [nil, oh, ow, filters], weights: weights,
                         macs: (oh ?? 0) * (ow ?? 0) * (c * m * kernel.area + c * m * filters))
    }

    public var op: LayerOp { .separableConv2D(self) }

    enum CodingKeys: String, CodingKey {
        case filters, kernel = "kernel_size", strides, padding, depthMultiplier = "depth_multiplier", dilation = "dilation_rate", activation, useBias = "use_bias", dataFormat = "data_format"
    }
}
