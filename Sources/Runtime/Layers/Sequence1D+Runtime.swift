import CKernels
import ModelGraph

// A sequence (N, steps, C) is an image one row high (N, 1, steps, C): the 1-D layers run the 2-D kernels
// with the kernel (k, in, filters) read as HWIO (1, k, in, filters).

/// The 2-D kernels' geometry for a 1-D window over NLC shapes (batch first).
func sequenceShape(input i: [Int], output o: [Int], kernel: Int, stride: Int, dilation: Int, padBefore: Int) -> vgg_conv_shape {
    vgg_conv_shape(n: Int32(i[0]), h: 1, w: Int32(i[1]), c: Int32(i[2]), oh: 1, ow: Int32(o[1]), k: Int32(o[2]),
                   kh: 1, kw: Int32(kernel), sh: 1, sw: Int32(stride), dh: 1, dw: Int32(dilation), pad_top: 0, pad_left: Int32(padBefore))
}

extension Conv1D: RuntimeKernel {
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        if engine.options.precision == .bf16 { return 0 }  // every Conv1D runs in bf16, with its own scratch
        return Plan.im2colScratchFloats(kk: kernel * inShape[2], engine: engine)
    }

    /// The convolution as a 2-D one of height 1 at these shapes (batch, steps, channels); 'causal' pads
    /// (kernel - 1) * dilation before.
    func convolutionShape(input: [Int], output: [Int]) throws -> vgg_conv_shape {
        let before = try padding.geometry(steps: input[1], window: (kernel - 1) * dilation + 1, stride: strides).before
        return sequenceShape(input: input, output: output, kernel: kernel, stride: strides, dilation: dilation, padBefore: before)
    }

    /// im2col + GEMM over output steps, split across threads; in bf16, or in int8 when the file stores the
    /// kernel as int8, the low-precision product of a 2-D convolution of height 1.
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let shape = try convolutionShape(input: ctx.inShape, output: ctx.outShape)
        if let step = try ctx.engine.lowPrecisionStep(ctx, kernelShape: [1, kernel, ctx.inShape[2], filters], useBias: useBias,
                                                      activation: activation, conv: shape) { return step }
        let weights = try ctx.weight("kernel")
        let bias = useBias ? try ctx.weight("bias") : nil
        return Plan.im2colStep(ctx, shape: shape, weights: weights, bias: bias, filters: filters, kk: kernel * ctx.inShape[2], activation: activation)
    }
}

extension Pooling1D {
    /// `kind`: 0 max, 1 average (over the steps inside the sequence, as TensorFlow).
    func poolStep(_ ctx: StepContext, kind: Int32) -> () throws -> Void {
        let x = ctx.x, out = ctx.out, n = ctx.inShape[0]
        let before = padding.before(ctx.inShape[1], out: ctx.outShape[1], window: pool, stride: strides)
        let shape = sequenceShape(input: ctx.inShape, output: ctx.outShape, kernel: pool, stride: strides, dilation: 1, padBefore: before)
        return {
            var sh = shape
            vgg_pool_rows(&sh, kind, x, out, 0, n)
        }
    }
}

extension MaxPooling1D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void { poolStep(ctx, kind: 0) }
}

extension AveragePooling1D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void { poolStep(ctx, kind: 1) }
}

extension GlobalPooling1D {
    /// `kind`: 0 max, 1 average.
    func globalStep(_ ctx: StepContext, kind: Int32) -> () throws -> Void {
        let x = ctx.x, out = ctx.out, s = ctx.inShape
        return { vgg_global_pool(x, out, s[0], s[1], s[2], kind) }
    }
}

extension GlobalAveragePooling1D: RuntimeKernel {
    /// With a mask, the mean of the kept steps, as Keras computes it (sum of x * mask over the sum of the mask).
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        guard let mask = ctx.mask else { return globalStep(ctx, kind: 1) }
        let x = ctx.x, out = ctx.out, s = ctx.inShape, (n, steps, f) = (s[0], s[1], s[2])
        return {
            for i in 0..<n {
                var kept: Float = 0
                for j in 0..<f { out[i * f + j] = 0 }
                for t in 0..<steps where mask[i * steps + t] != 0 {
                    kept += mask[i * steps + t]
                    for j in 0..<f { out[i * f + j] += x[(i * steps + t) * f + j] * mask[i * steps + t] }
                }
                for j in 0..<f { out[i * f + j] /= kept }
            }
        }
    }
}

extension GlobalMaxPooling1D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void { globalStep(ctx, kind: 0) }
}
