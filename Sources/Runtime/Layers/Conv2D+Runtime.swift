import CKernels
import ModelGraph

extension Conv2D: RuntimeKernel {
    /// The algorithms that can compute this convolution with `c` input channels, im2col first: Winograd
    /// F(2x2,3x3), F(4x4,3x3) and F(6x6,3x3) for 3x3 stride-1 undilated convolutions with enough input channels.
    func candidates(_ engine: Engine, channels c: Int) -> [ConvolutionAlgorithm] {
        guard engine.winograd, kernel == 3, strides == 1, dilation == 1, c >= engine.winogradMinChannels else { return [.im2col] }
        return [.im2col, .winograd2x2, .winograd4x4, .winograd6x6]
    }

    /// The kernel that computes this convolution at these shapes (batch first), its algorithm chosen by the engine.
    func convolutionKernel(_ engine: Engine, inShape: [Int], outShape: [Int]) -> ConvolutionKernel {
        let shape = window.kernelShape(input: inShape, output: outShape)
        let algorithm = engine.convolutionAlgorithm(shape, candidates: candidates(engine, channels: inShape[3]))
        return ConvolutionKernel(algorithm, shape: shape, threads: engine.threads)
    }

    /// An int8 Winograd convolution (linear or ReLU) pools in its output transform: each 2x2 tile is a window.
    func fusesMaxPool(_ layer: String, inShape: [Int], outShape: [Int], engine: Engine) throws -> Bool {
        guard activation == .relu || activation == .linear else { return false }
        return try engine.runsInt8Winograd(layer, inShape: inShape, outShape: outShape, window: window, useBias: useBias)
    }

    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        if engine.options.precision == .bf16 { return 0 }  // every Conv2D runs in bf16, with its own scratch
        let conv = convolutionKernel(engine, inShape: inShape, outShape: outShape)
        return conv.transformedFloats + conv.workFloats  // the kernel is transformed into scratch until cached
    }

    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, name = ctx.name, x = ctx.x, out = ctx.out, scratch = ctx.scratch, filters = filters
        let act = activation
        let weights = try ctx.weight("kernel")
        let bias = useBias ? try ctx.weight("bias") : nil
        let rows = ctx.outCount / filters
        if let step = try engine.lowPrecisionStep(ctx, kernelShape: [kernel.height, kernel.width, ctx.inShape[3], filters], useBias: useBias,
                                                  activation: act, conv: window.kernelShape(input: ctx.inShape, output: ctx.outShape)) { return step }
        let conv = convolutionKernel(engine, inShape: ctx.inShape, outShape: ctx.outShape)
        engine.recordAlgorithm(name, conv.algorithm)
        let fused = conv.fusesReLU && act == .relu
        if conv.algorithm == .im2col {
            return {
                conv.run(x: x, weights: weights, bias: bias, relu: false, out: out, work: scratch!)
                engine.activate(act, out, rows: rows, width: filters)
            }
        }
        let cached = engine.cacheWinogradKernels
        let work = scratch! + conv.transformedFloats
        return {
            let u: UnsafeMutablePointer<Float>
            if cached && engine.planRuns > 0 {
                u = engine.transformedKernel(name, weights, by: conv)
            } else {
                u = scratch!
                conv.transform(weights, into: u)
            }
            conv.run(x: x, weights: u, bias: bias, relu: fused, out: out, work: work)
            if !fused { engine.activate(act, out, rows: rows, width: filters) }
        }
    }
}
