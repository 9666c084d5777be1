import ModelGraph

/// TensorFlow's explicit padding along one axis: (before, after), the odd pixel after.
func tfPads(_ size: Int, out: Int, window: Int, stride: Int, same: Bool) -> (Int, Int) {
    guard same else { return (0, 0) }
    let total = max((out - 1) * stride + window - size, 0)
    return (total / 2, total - total / 2)
}

extension Convolution2D {
    /// ONNX Conv/pool attributes for this window on the context's input: kernel_shape, strides, dilations
    /// and explicit pads [top, left, bottom, right] reproducing TensorFlow's 'same' (never auto_pad).
    func convAttributes(_ c: ONNXLayerContext) throws -> [ONNXAttribute] {
        try windowAttributes(c, window: window, dilated: true)
    }
}

/// kernel_shape, strides, (dilations,) pads for a 2-D window on input 0 of `c` (NHWC view).
func windowAttributes(_ c: ONNXLayerContext, window: Window2D, dilated: Bool) throws -> [ONNXAttribute] {
    let h = try c.dim(0, 1), w = try c.dim(0, 2)
    guard let oh = c.outputShape[1], let ow = c.outputShape[2] else { throw c.error(.unknownInputSize, "output size is unknown") }
    let e = window.effective
    let (t, b) = tfPads(h, out: oh, window: e.height, stride: window.strides.height, same: window.padding == .same)
    let (l, r) = tfPads(w, out: ow, window: e.width, stride: window.strides.width, same: window.padding == .same)
    var a: [ONNXAttribute] = [.ints("kernel_shape", window.size.array), .ints("strides", window.strides.array)]
    if dilated { a.append(.ints("dilations", window.dilation.array)) }
    a.append(.ints("pads", [t, l, b, r]))
    return a
}

extension Conv2D: ONNXLayer {
    /// Conv on NCHW with the HWIO kernel written OIHW, bias, then the activation.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputNCHW()
        let ch = try c.dim(0, 3)
        let (kh, kw, f) = (kernel.height, kernel.width, filters)
        let w = try c.weight("kernel", dims: [f, ch, kh, kw]) { src, dst in
            // dst[o][i][y][x] = src[y][x][i][o]
            for y in 0..<kh { for xx in 0..<kw { for i in 0..<ch { for o in 0..<f {
                dst[((o * ch + i) * kh + y) * kw + xx] = src[((y * kw + xx) * ch + i) * f + o]
            } } } }
        }
        var inputs = [x, w]
        if useBias { inputs.append(try c.weight("bias", dims: [f])) }
        let out = c.preActivation(activation)
        c.node("Conv", inputs, out, try convAttributes(c))
        c.finish(out, activation: activation, perm: Perm.channelsFirst(4))
    }
}

extension DepthwiseConv2D: ONNXLayer {
    /// A grouped Conv (group = input channels): output channel c·multiplier + m is input channel c with
    /// the kernel (kh, kw, c, m), as TensorFlow orders them.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputNCHW()
        let ch = try c.dim(0, 3)
        let (kh, kw, m) = (kernel.height, kernel.width, depthMultiplier)
        let w = try c.weight("depthwise_kernel", dims: [ch * m, 1, kh, kw]) { src, dst in
            for y in 0..<kh { for xx in 0..<kw { for i in 0..<ch { for j in 0..<m {
                dst[((i * m + j) * kh + y) * kw + xx] = src[((y * kw + xx) * ch + i) * m + j]
            } } } }
        }
        var inputs = [x, w]
        if useBias { inputs.append(try c.weight("bias", dims: [ch * m])) }
        let out = c.preActivation(activation)
        c.node("Conv", inputs, out, try convAttributes(c) + [.int("group", ch)])
        c.finish(out, activation: activation, perm: Perm.channelsFirst(4))
    }
}

extension SeparableConv2D: ONNXLayer {
    /// A grouped (depthwise) Conv then a 1x1 Conv with the bias, then the activation.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputNCHW()
        let ch = try c.dim(0, 3)
        let (kh, kw, m, f) = (kernel.height, kernel.width, depthMultiplier, filters)
        let dw = try c.weight("depthwise_kernel", dims: [ch * m, 1, kh, kw]) { src, dst in
            for y in 0..<kh { for xx in 0..<kw { for i in 0..<ch { for j in 0..<m {
                dst[((i * m + j) * kh + y) * kw + xx] = src[((y * kw + xx) * ch + i) * m + j]
            } } } }
        }
        let mid = c.temp("depthwise")
        c.node("Conv", [x, dw], mid, try convAttributes(c) + [.int("group", ch)])
        let cm = ch * m
        let pw = try c.weight("pointwise_kernel", dims: [f, cm, 1, 1]) { src, dst in
            for i in 0..<cm { for o in 0..<f { dst[o * cm + i] = src[i * f + o] } }
        }
        var inputs = [mid, pw]
        if useBias { inputs.append(try c.weight("bias", dims: [f])) }
        let out = c.preActivation(activation)
        c.node("Conv", inputs, out, [.ints("kernel_shape", [1, 1])])
        c.finish(out, activation: activation, perm: Perm.channelsFirst(4))
    }
}

extension Conv2DTranspose: ONNXLayer {
    /// ConvTranspose with the kernel (kh, kw, filters, in) written (in, filters, kh, kw); TensorFlow's
    /// 'same' drops max((h-1)·s + k - out, 0) / 2 rows before, the rest after (output_padding when the
    /// output is longer than the full result).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        guard dilation == 1 else { throw c.error(.unsupportedSetting("dilation_rate=\(dilation)"), "Conv2DTranspose with dilation \(dilation) cannot be exported") }
        let x = c.inputNCHW()
        let h = try c.dim(0, 1), wd = try c.dim(0, 2), ch = try c.dim(0, 3)
        guard let oh = c.outputShape[1], let ow = c.outputShape[2] else { throw c.error(.unknownInputSize, "output size is unknown") }
        let (kh, kw, f, sh, sw) = (kernel.height, kernel.width, filters, strides.height, strides.width)
        let w = try c.weight("kernel", dims: [ch, f, kh, kw]) { src, dst in
            for y in 0..<kh { for xx in 0..<kw { for o in 0..<f { for i in 0..<ch {
                dst[((i * f + o) * kh + y) * kw + xx] = src[((y * kw + xx) * f + o) * ch + i]
            } } } }
        }
        let top = padding == .same ? max((h - 1) * sh + kh - oh, 0) / 2 : 0
        let left = padding == .same ? max((wd - 1) * sw + kw - ow, 0) / 2 : 0
        let bottom = (h - 1) * sh + kh - top - oh, right = (wd - 1) * sw + kw - left - ow
        var inputs = [x, w]
        if useBias { inputs.append(try c.weight("bias", dims: [f])) }
        let out = c.preActivation(activation)
        c.node("ConvTranspose", inputs, out, [.ints("kernel_shape", [kh, kw]), .ints("strides", [sh, sw]),
                                            .ints("pads", [top, left, max(bottom, 0), max(right, 0)]),
                                            .ints("output_padding", [max(-bottom, 0), max(-right, 0)])])
        c.finish(out, activation: activation, perm: Perm.channelsFirst(4))
    }
}

extension Conv1D: ONNXLayer {
    /// A 1-D Conv on (batch, channels, steps) with the (k, in, filters) kernel written (filters, in, k);
    /// 'causal' pads (k - 1)·dilation steps before.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputNCHW()
        let steps = try c.dim(0, 1), ch = try c.dim(0, 2)
        let (k, f) = (kernel, filters)
        let window = (k - 1) * dilation + 1
        let (_, before) = try padding.geometry(steps: steps, window: window, stride: strides)
        guard let out1 = c.outputShape[1] else { throw c.error(.unknownInputSize, "output size is unknown") }
        let after = max((out1 - 1) * strides + window - steps - before, 0)
        let w = try c.weight("kernel", dims: [f, ch, k]) { src, dst in
            for t in 0..<k { for i in 0..<ch { for o in 0..<f { dst[(o * ch + i) * k + t] = src[(t * ch + i) * f + o] } } }
        }
        var inputs = [x, w]
        if useBias { inputs.append(try c.weight("bias", dims: [f])) }
        let out = c.preActivation(activation)
        c.node("Conv", inputs, out, [.ints("kernel_shape", [k]), .ints("strides", [strides]), .ints("dilations", [dilation]),
                                   .ints("pads", [before, after])])
        c.finish(out, activation: activation, perm: Perm.channelsFirst(3))
    }
}
