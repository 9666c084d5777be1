import CKernels
import ModelGraph

extension Dense: RuntimeKernel {
    /// Kernels of at least this many floats (4 MB) at batch 1 are split by rows over the threads.
    static let rowSplitFloats = 1 << 20
    /// Fewest multiply-adds worth a thread of their own.
    static let minParallelMACs = 1 << 15

    /// Rows split across threads for large batches, output columns otherwise.
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, x = ctx.x, out = ctx.out, units = units, act = activation
        let weights = try ctx.weight("kernel")
        let bias = useBias ? try ctx.weight("bias") : nil
        let last = ctx.inShape.last!
        let rows = ctx.outCount / units
        if let step = try engine.lowPrecisionStep(ctx, kernelShape: [last, units], useBias: useBias, activation: act, conv: nil) { return step }
        let threads = engine.threads
        if rows == 1 && threads > 1 && last * units >= Self.rowSplitFloats {
            // One row on a large kernel (fc1: 411 MB): memory-bound, so each thread streams a contiguous range of
            // the kernel's rows into its own partial sums (one long sequential read each, rather than half of
            // every row), then the partial sums are added in thread order with the bias.
            let memory = LowpMemory()
            let partial = UnsafeSendable(memory.floats(threads * units))
            return {
                withExtendedLifetime(memory) {
                    engine.parallelParts(last) { a, b, part in vgg_dense_rows_partial(x, weights, partial.value + part * units, units, a, b) }
                    let parts = min(threads, last)
                    engine.parallelRanges(units, minChunk: 256) { a, b in vgg_dense_sum_partials(partial.value, parts, units, bias, out, a, b) }
                }
                engine.activate(act, out, rows: 1, width: units)
            }
        }
        // A thread gets at least `Self.minParallelMACs` multiply-adds: waking one costs more than a small product
        // (a TimeDistributed Dense(5) on 21 steps of 200: 20 us split over two threads, 2 us on one).
        let minRows = max(1, Self.minParallelMACs / max(1, last * units))
        return {
            if rows >= 4 * engine.threads {
                engine.parallelRanges(rows, minChunk: minRows) { a, b in vgg_dense(x, weights, bias, out, rows, last, units, a, b, 0, units) }
            } else {
                engine.parallelRanges(units, minChunk: 64) { a, b in vgg_dense(x, weights, bias, out, rows, last, units, 0, rows, a, b) }
            }
            engine.activate(act, out, rows: rows, width: units)
        }
    }
}
