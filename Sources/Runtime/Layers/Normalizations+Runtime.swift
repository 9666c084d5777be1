import Foundation
import ModelGraph

extension LayerNormalization: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    /// Per row of the last axis, as tf-keras: mean and variance of the row, inv = rsqrt(var + eps) * gamma,
    /// y = x * inv + (beta - mean * inv).
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        try checkLastAxis(axis, c)
        let width = c.outShape.last!, rows = c.outCount / width, eps = Float(epsilon)
        let gamma = scale ? try c.weight("gamma") : nil, beta = center ? try c.weight("beta") : nil
        let g = gamma.map(UnsafeSendable.init), bt = beta.map(UnsafeSendable.init)
        let out = UnsafeSendable(c.out), engine = c.engine
        return {
            engine.parallelRanges(rows, minChunk: 64) { a, b in
                for r in a..<b {
                    let p = out.value + r * width
                    var mean: Float = 0
                    for i in 0..<width { mean += p[i] }
                    mean /= Float(width)
                    var variance: Float = 0
                    for i in 0..<width { let d = p[i] - mean; variance += d * d }
                    variance /= Float(width)
                    let rs = 1 / (variance + eps).squareRoot()
                    for i in 0..<width {
                        let inv = rs * (g?.value[i] ?? 1)
                        p[i] = p[i] * inv + ((bt?.value[i] ?? 0) - mean * inv)
                    }
                }
            }
        }
    }
}

extension Normalization: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    /// (x - mean) / max(sqrt(variance), 1e-7) per channel (Keras's epsilon), or inverted.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        try checkLastAxis(axis, c)
        let width = c.outShape.last!
        let mean = try c.weight("mean"), variance = try c.weight("variance")
        let sd = (0..<width).map { Swift.max(variance[$0].squareRoot(), 1e-7) }
        let mu = (0..<width).map { mean[$0] }
        let invert = invert
        let out = UnsafeSendable(c.out), engine = c.engine, count = c.outCount
        return {
            engine.parallelRanges(count, minChunk: 1 << 14) { a, b in
                let p = out.value
                for i in a..<b {
                    let k = i % width
                    p[i] = invert ? mu[k] + p[i] * sd[k] : (p[i] - mu[k]) / sd[k]
                }
            }
        }
    }
}

extension PReLU: RuntimeKernel {
    var bufferUse: BufferUse { .inPlace }

    /// x >= 0: x; otherwise alpha * x, alpha broadcast over the shared axes once when the step is built.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let shape = Array(c.outShape.dropFirst()), per = shape.reduce(1, *)
        let alphaShape = shape.enumerated().map { sharedAxes.contains($0.offset + 1) ? 1 : $0.element }
        let alpha = try c.weight("alpha")
        var full = [Float](repeating: 0, count: per)
        for i in 0..<per {
            var rest = i, src = 0, mul = 1
            for k in stride(from: shape.count - 1, through: 0, by: -1) {
                let coord = rest % shape[k]
                rest /= shape[k]
                src += (alphaShape[k] == 1 ? 0 : coord) * mul
                mul *= alphaShape[k]
            }
            full[i] = alpha[src]
        }
        let out = UnsafeSendable(c.out), engine = c.engine, count = c.outCount, a0 = full
        return {
            engine.parallelRanges(count, minChunk: 1 << 14) { a, b in
                let p = out.value
                for i in a..<b where p[i] < 0 { p[i] *= a0[i % per] }
            }
        }
    }
}

/// The runtime normalizes the last axis: another `axis` is refused by name.
func checkLastAxis(_ axis: Int?, _ c: StepContext) throws {
    if let axis, axis != c.inShape.count - 1 {
        throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedSetting("axis=\(axis)"), "\(c.info.layer.op.className) over axis \(axis) of a \(c.inShape.count)-D input cannot be run (the last axis can)")
    }
}
