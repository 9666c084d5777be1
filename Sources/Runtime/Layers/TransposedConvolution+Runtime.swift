import CBLAS
import Foundation
import ModelGraph

extension Conv2DTranspose: RuntimeKernel {
    /// Scratch for the products of every input pixel with the kernel: (n·h·w) x (kh·kw·filters).
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        inShape[0] * inShape[1] * inShape[2] * kernel.area * filters
    }

    /// col = x · Wᵀ (input pixels x (ky, kx, filter), by OpenBLAS over row ranges), then each output row
    /// gathers the products that land on it (no two threads write one value), then bias and activation.
    /// TensorFlow's padding: 'same' drops max((h-1)·s + k - out, 0) / 2 rows before.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        guard dilation == 1 else { throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedSetting("dilation_rate=\(dilation)"), "Conv2DTranspose with dilation \(dilation) cannot be run") }
        let s = c.inShape, o = c.outShape
        let (n, h, w, ch, oh, ow, f) = (s[0], s[1], s[2], s[3], o[1], o[2], o[3])
        let (kh, kw, sh, sw) = (kernel.height, kernel.width, strides.height, strides.width)
        let padTop = padding == .same ? max((h - 1) * sh + kh - oh, 0) / 2 : 0
        let padLeft = padding == .same ? max((w - 1) * sw + kw - ow, 0) / 2 : 0
        let k = kh * kw * f
        // Wᵀ: (in channels) x (ky, kx, filter), from Keras's (kh, kw, filters, in).
        let weights = try c.weight("kernel")
        var wt = [Float](repeating: 0, count: ch * k)
        for j in 0..<k { for cc in 0..<ch { wt[cc * k + j] = weights[j * ch + cc] } }
        let bias = useBias ? try c.weight("bias") : nil
        let x = UnsafeSendable(c.x), out = UnsafeSendable(c.out), col = UnsafeSendable(c.scratch!), engine = c.engine, act = activation
        let m = n * h * w
        return {
            wt.withUnsafeBufferPointer { wp in
                let wv = UnsafeSendable(wp.baseAddress!)
                engine.parallelRanges(m, minChunk: 16) { a, b in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(b - a), Int32(k), Int32(ch), 1,
                                x.value + a * ch, Int32(ch), wv.value, Int32(k), 0, col.value + a * k, Int32(k))
                }
            }
            engine.parallelRanges(n * oh) { a, b in
                for r in a..<b {
                    let (b0, oy) = (r / oh, r % oh)
                    let row = out.value + r * ow * f
                    for xo in 0..<ow {
                        let dst = row + xo * f
                        if let bias { dst.update(from: bias, count: f) } else { dst.update(repeating: 0, count: f) }
                    }
                    for ky in 0..<kh {
                        let yy = oy + padTop - ky
                        guard yy >= 0, yy % sh == 0, yy / sh < h else { continue }
                        for xo in 0..<ow {
                            let dst = row + xo * f
                            for kx in 0..<kw {
                                let xx = xo + padLeft - kx
                                guard xx >= 0, xx % sw == 0, xx / sw < w else { continue }
                                let src = col.value + ((b0 * h + yy / sh) * w + xx / sw) * k + (ky * kw + kx) * f
                                for j in 0..<f { dst[j] += src[j] }
                            }
                        }
                    }
                }
            }
            engine.activate(act, out.value, rows: n * oh * ow, width: f)
        }
    }
}
