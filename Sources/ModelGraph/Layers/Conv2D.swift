/// Keras `Conv2D`: a 2-D convolution over NHWC input with an HWIO kernel `(kh, kw, in, filters)` and an
/// optional bias `(filters)`, then `activation`.
public struct Conv2D: Convolution2D {
    public static let className = "Conv2D"
    public var filters: Int
    public var kernel: Size2D
    public var strides: Size2D
    public var padding: Padding
    public var dilation: Size2D
    public var activation: Activation
    public var useBias: Bool

    public init(filters: Int, kernel: Size2D, strides: Size2D = 1, padding: Padding = .valid, dilation: Size2D = 1,
                activation: Activation = .linear, useBias: Bool = true) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
    }


    public func infer(_ inputs: [Shape]) throws -> Inference {
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
        case filters, kernel = "kernel_size", strides, padding, dilation = "dilation_rate", activation, useBias = "use_bias"
    }
}
