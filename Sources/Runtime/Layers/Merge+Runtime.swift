import CKernels
import ModelGraph

extension ElementwiseMerge {
    /// out = first input, then combined with each other input by `combine` over ranges of `count` values
    /// (split across threads). The output may be the first input's buffer.
    func mergeStep(_ ctx: StepContext, _ combine: @escaping (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void) -> () throws -> Void {
        let engine = ctx.engine, out = ctx.out, count = ctx.outCount
        let srcs = ctx.inputs.map(\.ptr)
        return {
            engine.parallelRanges(count, minChunk: 1 << 14) { a, b in
                let o = out + a
                if o != UnsafeMutablePointer(mutating: srcs[0] + a) { o.update(from: srcs[0] + a, count: b - a) }
                for src in srcs.dropFirst() { combine(o, src + a, b - a) }
            }
        }
    }
}

extension Add: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        mergeStep(ctx) { o, s, n in for i in 0..<n { o[i] += s[i] } }
    }
}

extension Multiply: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        mergeStep(ctx) { o, s, n in for i in 0..<n { o[i] *= s[i] } }
    }
}

extension Subtract: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        mergeStep(ctx) { o, s, n in for i in 0..<n { o[i] -= s[i] } }
    }
}

extension Average: RuntimeKernel {
    /// The sum of the inputs in order, then divided by their count (as Keras).
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let sum = mergeStep(ctx) { o, s, n in for i in 0..<n { o[i] += s[i] } }
        let out = ctx.out, count = ctx.outCount, k = Float(ctx.inputs.count)
        return {
            try sum()
            for i in 0..<count { out[i] /= k }
        }
    }
}

extension Maximum: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        mergeStep(ctx) { o, s, n in for i in 0..<n { o[i] = Swift.max(o[i], s[i]) } }
    }
}

extension Minimum: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        mergeStep(ctx) { o, s, n in for i in 0..<n { o[i] = Swift.min(o[i], s[i]) } }
    }
}

extension Concatenate: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let out = ctx.out, shape = ctx.outShape, ins = ctx.inputs
        let ax = resolvedAxis(rank: shape.count)
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *), total = shape[ax]
        return {
            var at = 0
            for i in ins {
                vgg_concat_part(i.ptr, out, outer, i.shape[ax], inner, total, at)
                at += i.shape[ax]
            }
        }
    }
}
