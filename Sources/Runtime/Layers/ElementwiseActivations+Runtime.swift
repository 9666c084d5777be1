import Foundation
import ModelGraph

extension StepContext {
    /// An elementwise function applied in place to the output buffer, split across threads.
    func elementwise(_ f: @escaping @Sendable (Float) -> Float) -> () throws -> Void {
        let engine = engine, out = UnsafeSendable(self.out), count = outCount
        return {
            engine.parallelRanges(count, minChunk: 1 << 14) { a, b in
                let p = out.value
                for i in a..<b { p[i] = f(p[i]) }
            }
        }
    }
}

extension ELU: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }
    /// As Keras: x > 0: x; otherwise alpha * expm1(x).
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let alpha = Float(alpha)
        return c.elementwise { $0 > 0 ? $0 : alpha * expm1($0) }
    }
}

extension ThresholdedReLU: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let theta = Float(theta)
        return c.elementwise { $0 > theta ? $0 : 0 }
    }
}

extension Rescaling: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }
    /// x * scale + offset in float32, as Keras computes it (no fused multiply-add).
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let scale = Float(scale), offset = Float(offset)
        return c.elementwise { ($0 * scale) + offset }
    }
}
