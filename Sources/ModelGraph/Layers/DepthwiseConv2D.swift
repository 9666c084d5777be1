/// Keras `DepthwiseConv2D`: each input channel convolved with its own `depthMultiplier` filters; kernel
/// `(kh, kw, in, multiplier)`, bias `(in * multiplier)`; output channel `c * multiplier + m`.
public struct DepthwiseConv2D: Convolution2D {
    public static let className = "DepthwiseConv2D"
    /// Kernel height and width.
    public var kernel: Size2D
    /// Step between windows, vertical and horizontal.
    public var strides: Size2D
    /// `valid` or `same` (TensorFlow's).
    public var padding: Padding
    /// Output channels per input channel.
    public var depthMultiplier: Int
    /// Spacing between kernel taps (1: none).
    public var dilation: Size2D
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(in * multiplier)` is added.
    public var useBias: Bool
    /// Where the channels axis is (the weights' layout does not change).
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A depthwise convolution with Keras's defaults (stride 1, `valid`, multiplier 1, no dilation, linear, with bias) unless given.
    public init(kernel: Size2D, strides: Size2D = 1, padding: Padding = .valid, depthMultiplier: Int = 1, dilation: Size2D = 1,
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


    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (h, w, c) = try ShapeCheck.spatial(inputs[0])
        try ShapeCheck.positive(depthMultiplier, "depth_multiplier")
        let (oh, ow) = try window.output(height: h, width: w)
        let m = depthMultiplier
        var weights = [WeightSpec(name: "depthwise_kernel", shape: [kernel.height, kernel.width, c, m])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [c * m])) }
        return Inference(output: [nil, oh, ow, c * m], weights: weights, macs: (oh ?? 0) * (ow ?? 0) * c * m * kernel.area)
    }

    public var op: LayerOp { .depthwiseConv2D(self) }

    enum CodingKeys: String, CodingKey {
        case kernel = "kernel_size", strides, padding, depthMultiplier = "depth_multiplier", dilation = "dilation_rate", activation, useBias = "use_bias", dataFormat = "data_format"
    }
}
