import CKernels
import ModelGraph

extension Dense: RuntimeKernel {
    /// Rows split across threads for large batches, output columns otherwise.
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, x = ctx.x, out = ctx.out, units = units, act = activation
        let weights = try ctx.weight("kernel")
        let bias = useBias ? try ctx.weight("bias") : nil
        let last = ctx.inShape.last!
        let rows = ctx.outCount / units
        if let step = try engine.lowPrecisionStep(ctx, kernelShape: [last, units], useBias: useBias, activation: act, conv: nil) { return step }
        return {
            if rows >= 4 * engine.threads {
                engine.parallelRanges(rows) { a, b in vgg_dense(x, weights, bias, out, rows, last, units, a, b, 0, units) }
            } else {
                engine.parallelRanges(units, minChunk: 64) { a, b in vgg_dense(x, weights, bias, out, rows, last, units, 0, rows, a, b) }
            }
            engine.activate(act, out, rows: rows, width: units)
        }
    }
}
