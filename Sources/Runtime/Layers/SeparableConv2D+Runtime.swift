import CKernels
import ModelGraph

extension SeparableConv2D: RuntimeKernel {
    /// The depthwise result (in the scratch), then a pointwise product needing no scratch.
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        inShape[0] * outShape[1] * outShape[2] * inShape[3] * depthMultiplier
    }

    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, x = ctx.x, out = ctx.out, scratch = ctx.scratch
        let mult = depthMultiplier, act = activation, filters = filters
        let dk = try ctx.weight("depthwise_kernel")
        let pk = try ctx.weight("pointwise_kernel")
        let bias = useBias ? try ctx.weight("bias") : nil
        var shape = window.kernelShape(input: ctx.inShape, output: ctx.outShape)
        let mid = ctx.inShape[3] * mult
        shape.k = Int32(mid)
        let rows = ctx.outShape[0] * ctx.outShape[1]
        let pixels = ctx.outCount / filters
        return {
            let tmp = scratch!
            engine.parallelRanges(rows) { a, b in
                var sh = shape
                vgg_depthwise_rows(&sh, Int32(mult), x, dk, nil, tmp, a, b)
            }
            engine.parallelRanges(pixels, minChunk: 16) { a, b in
                vgg_dense(tmp, pk, bias, out, pixels, mid, filters, a, b, 0, filters)
            }
            engine.activate(act, out, rows: pixels, width: filters)
        }
    }
}
