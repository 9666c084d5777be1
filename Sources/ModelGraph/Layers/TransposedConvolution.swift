/// Keras `Conv2DTranspose` (channels_last): the gradient of a convolution, enlarging the image. Kernel
/// `(kh, kw, filters, in)` (output channels before input channels, unlike Conv2D), bias `(filters)`.
/// Output size per axis: 'valid' (in - 1) * stride + kernel, 'same' in * stride.
public struct Conv2DTranspose: ChannelOrdered {
    public static let className = "Conv2DTranspose"
    /// Output channels.
    public var filters: Int
    /// Kernel height and width.
    public var kernel: Size2D
    /// The enlargement per axis.
    public var strides: Size2D
    /// 'same' (output = input * stride) or 'valid'.
    public var padding: Padding
    /// Dilation of the kernel (the runtime runs 1 only).
    public var dilation: Size2D
    /// Keras's `output_padding`; nil = inferred (none).
    public var outputPadding: Size2D?
    /// Applied to the output.
    public var activation: Activation
    /// Whether a bias (filters) is added.
    public var useBias: Bool
    /// Where the channels axis is (the weights' layout does not change).
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A transposed convolution with Keras's defaults.
    public init(filters: Int, kernel: Size2D, strides: Size2D = 1, padding: Padding = .valid, dilation: Size2D = 1,
                outputPadding: Size2D? = nil, activation: Activation = .linear, useBias: Bool = true, dataFormat: ChannelOrder = .channelsLast) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.outputPadding = outputPadding
        self.activation = activation
        self.useBias = useBias
        self.dataFormat = dataFormat
    }

    public var outputActivation: Activation? { activation }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (h, w, c) = try ShapeCheck.spatial(inputs[0])
        try ShapeCheck.positive(filters, "filters")
        try Window2D(size: kernel, strides: strides, dilation: dilation, padding: padding).check()
        let oh = h.map { WindowND.transposed($0, kernel: kernel.height, stride: strides.height, dilation: dilation.height, padding: padding, outputPadding: outputPadding?.height) }
        let ow = w.map { WindowND.transposed($0, kernel: kernel.width, stride: strides.width, dilation: dilation.width, padding: padding, outputPadding: outputPadding?.width) }
        if let oh, oh < 1 { throw LayerShapeError("output height \(oh) is not positive") }
        if let ow, ow < 1 { throw LayerShapeError("output width \(ow) is not positive") }
        var weights = [WeightSpec(name: "kernel", shape: [kernel.height, kernel.width, filters, c])]
        if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
        return Inference(output: [nil, oh, ow, filters], weights: weights, macs: (h ?? 0) * (w ?? 0) * kernel.area * c * filters)
    }

    public var op: LayerOp { .conv2DTranspose(self) }

    enum CodingKeys: String, CodingKey {
        case filters, kernel = "kernel_size", strides, padding, dilation = "dilation_rate", outputPadding = "output_padding", activation, useBias = "use_bias", dataFormat = "data_format"
    }
}
