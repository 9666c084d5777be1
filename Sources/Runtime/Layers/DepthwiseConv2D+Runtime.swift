import CKernels
import ModelGraph

extension DepthwiseConv2D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, x = ctx.x, out = ctx.out, outShape = ctx.outShape, outCount = ctx.outCount
        let mult = depthMultiplier, act = activation
        let weights = try ctx.weight("depthwise_kernel")
        let bias = useBias ? try ctx.weight("bias") : nil
        var shape = window.kernelShape(input: ctx.inShape, output: outShape)
        shape.k = Int32(ctx.inShape[3] * mult)
        let rows = outShape[0] * outShape[1]
        return {
            engine.parallelRanges(rows) { a, b in
                var sh = shape
                vgg_depthwise_rows(&sh, Int32(mult), x, weights, bias, out, a, b)
            }
            engine.activate(act, out, rows: outCount / outShape[3], width: outShape[3])
        }
    }
}
