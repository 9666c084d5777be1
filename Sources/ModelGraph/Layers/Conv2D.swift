/// Keras `Conv2D`: a 2-D convolution over NHWC input (NCHW with `dataFormat` channels first) with an HWIO kernel `(kh, kw, in, filters)` and an
/// optional bias `(filters)`, then `activation`.
public struct Conv2D: Convolution2D {
    public static let className = "Conv2D"
    /// Output channels (the kernel's O).
    public var filters: Int
    /// Kernel height and width (the kernel's H and W).
    public var kernel: Size2D
    /// Step between windows, vertical and horizontal.
    public var strides: Size2D
    /// `valid` (no padding) or `same` (TensorFlow's, extra on the bottom/right).
    public var padding: Padding
    /// Spacing between kernel taps (1: none).
    public var dilation: Size2D
    /// Applied to the output after the bias.
    public var activation: Activation
    /// Whether a bias `(filters)` is added.
    public var useBias: Bool
    /// Where the channels axis is (the kernel's layout does not change).
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A convolution with Keras's defaults (stride 1, `valid`, no dilation, linear, with bias) unless given.
    public init(filters: Int, kernel: Size2D, strides: Size2D = 1, padding: Padding = .valid, dilation: Size2D = 1,
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

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (h, w, c) = try ShapeCheck.spatial(inputs[0])
        try ShapeCheck.positive(filters, "filters")
        let (oh, ow) = try window.output(height: h, width: w)
        var weights = [WeightSpec(name: "kernel", shape: [kernel.height, kernel.width, c, filters])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
        return Inference(output: [nil, oh, ow, filters], weights: weights,
                         macs: (oh ?? 0) * (ow ?? 0) * filters * kernel.area * c)
    }

    public var op: LayerOp { .conv2D(self) }

    enum CodingKeys: String, CodingKey {
        case filters, kernel = "kernel_size", strides, padding, dilation = "dilation_rate", activation, useBias = "use_bias", dataFormat = "data_format"
    }
}
