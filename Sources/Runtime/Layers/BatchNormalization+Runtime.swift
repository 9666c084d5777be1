import CKernels
import ModelGraph

extension BatchNormalization: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    /// As Keras: inv = rsqrt(var + eps) * gamma; y = x * inv + (beta - mean * inv), folded once per plan.
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, out = ctx.out
        guard normalizesLastAxis(rank: ctx.inShape.count) else {
            throw RuntimeError(file: engine.model.path, layer: ctx.name, .unsupportedSetting("axis=\(axis ?? -1)"), "BatchNormalization over axis \(axis ?? -1) of a \(ctx.inShape.count)-D input cannot be run (the last axis, or 1, can)")
        }
        let c = ctx.outShape.last!
        let mean = try ctx.weight("moving_mean"), variance = try ctx.weight("moving_variance")
        let gamma = scale ? try ctx.weight("gamma") : nil
        let beta = center ? try ctx.weight("beta") : nil
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        for j in 0..<c {
            let inv = 1 / (variance[j] + Float(epsilon)).squareRoot() * (gamma?[j] ?? 1)
            scale[j] = inv
            shift[j] = (beta?[j] ?? 0) - mean[j] * inv
        }
        let rows = ctx.outCount / c
        return {
            scale.withUnsafeBufferPointer { sc in
                shift.withUnsafeBufferPointer { sf in
                    engine.parallelRanges(rows, minChunk: 256) { a, b in vgg_scale_shift(out + a * c, b - a, c, sc.baseAddress, sf.baseAddress) }
                }
            }
        }
    }
}
