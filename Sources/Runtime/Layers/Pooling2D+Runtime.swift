import CKernels
import ModelGraph

extension Pooling2D {
    /// `kind`: 0 max, 1 average (over the values inside the input, as TensorFlow).
    func poolStep(_ ctx: StepContext, kind: Int32) -> () throws -> Void {
        let engine = ctx.engine, x = ctx.x, out = ctx.out
        let shape = window.kernelShape(input: ctx.inShape, output: ctx.outShape)
        let rows = ctx.outShape[0] * ctx.outShape[1]
        return {
            engine.parallelRanges(rows) { a, b in
                var sh = shape
                vgg_pool_rows(&sh, kind, x, out, a, b)
            }
        }
    }
}

extension MaxPooling2D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void { poolStep(ctx, kind: 0) }
}

extension AveragePooling2D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void { poolStep(ctx, kind: 1) }
}

extension GlobalPooling2D {
    /// `kind`: 0 max, 1 average.
    func globalPoolStep(_ ctx: StepContext, kind: Int32) -> () throws -> Void {
        let x = ctx.x, out = ctx.out, s = ctx.inShape
        return { vgg_global_pool(x, out, s[0], s[1] * s[2], s[3], kind) }
    }
}

extension GlobalMaxPooling2D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void { globalPoolStep(ctx, kind: 0) }
}

extension GlobalAveragePooling2D: RuntimeKernel {
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void { globalPoolStep(ctx, kind: 1) }
}
