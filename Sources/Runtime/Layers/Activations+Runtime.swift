import CKernels
import ModelGraph

// Elementwise activation layers: in place on their input's buffer when they are its last reader.

extension ActivationLayer: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, out = ctx.out, act = activation
        let c = ctx.outShape.last!, rows = ctx.outCount / c
        return { engine.activate(act, out, rows: rows, width: c) }
    }
}

extension ReLU: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        ReLU.step(ctx, maxValue: maxValue.map { Float($0) } ?? -1, slope: Float(negativeSlope), threshold: Float(threshold))
    }

    /// Keras's ReLU family in place (`maxValue` < 0: no upper bound).
    static func step(_ ctx: StepContext, maxValue: Float, slope: Float, threshold: Float) -> () throws -> Void {
        let engine = ctx.engine, out = ctx.out, count = ctx.outCount
        return {
            engine.parallelRanges(count, minChunk: 1 << 14) { a, b in vgg_relu_layer(out + a, b - a, maxValue, slope, threshold) }
        }
    }
}

extension LeakyReLU: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    /// x >= 0: x; x < 0: slope * x, which is ReLU with that negative slope and threshold 0.
    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        ReLU.step(ctx, maxValue: -1, slope: Float(negativeSlope), threshold: 0)
    }
}

extension Softmax: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let shape = ctx.outShape, out = ctx.out
        let ax = axis < 0 ? shape.count + axis : axis
        guard ax >= 1, ax < shape.count else { throw RuntimeError(file: ctx.engine.model.path, layer: ctx.name, .invalidLayerConfig, "softmax axis \(axis) is out of range") }
        let outer = shape[..<ax].reduce(1, *), len = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        return { vgg_softmax(out, outer, len, inner, 0) }
    }
}
