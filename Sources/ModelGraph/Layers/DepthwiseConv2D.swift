/// Keras `DepthwiseConv2D`: each input channel convolved with its own `depthMultiplier` filters; kernel
/// `(kh, kw, in, multiplier)`, bias `(in * multiplier)`; output channel `c * multiplier + m`.
public struct DepthwiseConv2D: Convolution2D {
    public static let className = "DepthwiseConv2D"
    public var kernel: Size2D
    public var strides: Size2D
    public var padding: Padding
    public var depthMultiplier: Int
    public var dilation: Size2D
    public var activation: Activation
    public var useBias: Bool

    public init(kernel: Size2D, strides: Size2D = 1, padding: Padding = .valid, depthMultiplier: Int = 1, dilation: Size2D = 1,
                activation: Activation = .linear, useBias: Bool = true) {
        self.kernel = kernel
        self.strides = strides
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.dilation = dilation
        self.activation = activation
        self.useBias = useBias
    }


    public func infer(_ inputs: [Shape]) throws -> Inference {
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
        case kernel = "kernel_size", strides, padding, depthMultiplier = "depth_multiplier", dilation = "dilation_rate", activation, useBias = "use_bias"
    }
}
