import Foundation
import ModelGraph

extension UpSampling2D: RuntimeKernel {
    /// 'nearest' repeats pixels; 'bilinear' interpolates as TensorFlow's ResizeBilinear with half-pixel
    /// centres (the same coordinates, clamping and lerp order, in float32). Output rows split across threads.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape, o = c.outShape
        let (n, h, w, ch, oh, ow) = (s[0], s[1], s[2], s[3], o[1], o[2])
        let engine = c.engine
        switch interpolation {
        case .nearest, .bilinear:
            // Integer factors: TensorFlow's half-pixel nearest index is the pixel repeated.
            return ImageResize(n: n, height: h, width: w, channels: ch, outHeight: oh, outWidth: ow).step(engine, c.x, c.out, bilinear: interpolation == .bilinear)
        default:
            throw RuntimeError(file: engine.model.path, layer: c.name, .unsupportedSetting("interpolation=\(interpolation.rawValue)"), "UpSampling2D with '\(interpolation.rawValue)' interpolation cannot be run (nearest and bilinear can)")
        }
    }
}

/// `tf.image.resize` of a window of each image (the whole image unless given), bilinear or nearest, with
/// half-pixel centres and no antialiasing: TensorFlow's ResizeBilinear (`compute_interpolation_weights`, the
/// same clamping and lerp order in float32) and ResizeNearestNeighbor (`floor((i + 0.5) * scale)`, clamped).
/// Output rows split across threads. Shared by UpSampling2D, Resizing and CenterCrop.
struct ImageResize {
    var n: Int, height: Int, width: Int, channels: Int
    var outHeight: Int, outWidth: Int
    /// The window resized: rows `top ..< top + windowHeight`, columns `left ..< left + windowWidth`.
    var top = 0, left = 0
    var windowHeight: Int, windowWidth: Int

    init(n: Int, height: Int, width: Int, channels: Int, outHeight: Int, outWidth: Int,
         window: (top: Int, left: Int, height: Int, width: Int)? = nil) {
        (self.n, self.height, self.width, self.channels, self.outHeight, self.outWidth) = (n, height, width, channels, outHeight, outWidth)
        (top, left, windowHeight, windowWidth) = window ?? (0, 0, height, width)
    }

    /// Keras's `smart_resize` window (also Resizing's `crop_to_aspect_ratio`): the largest centred window
    /// of the target's aspect ratio.
    static func aspectWindow(height: Int, width: Int, targetHeight: Int, targetWidth: Int) -> (top: Int, left: Int, height: Int, width: Int) {
        let ch = min(height, Int(Double(width * targetHeight) / Double(targetWidth)))
        let cw = min(width, Int(Double(height * targetWidth) / Double(targetHeight)))
        return (Int(Double(height - ch) / 2), Int(Double(width - cw) / 2), max(ch, 1), max(cw, 1))
    }

    func step(_ engine: Engine, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, bilinear: Bool) -> () throws -> Void {
        let (n, h, w, ch, oh, ow) = (n, height, width, channels, outHeight, outWidth)
        let x = UnsafeSendable(src + (top * w + left) * ch), out = UnsafeSendable(dst)
        if bilinear {
            let ys = Self.weights(windowHeight, oh), xs = Self.weights(windowWidth, ow)
            return {
                engine.parallelRanges(n * oh) { a, b in
                    for r in a..<b {
                        let (b0, y) = (r / oh, r % oh)
                        let top = x.value + (b0 * h + ys[y].lower) * w * ch, bot = x.value + (b0 * h + ys[y].upper) * w * ch
                        let yl = ys[y].lerp
                        let d = out.value + r * ow * ch
                        for xo in 0..<ow {
                            let l = xs[xo].lower * ch, rr = xs[xo].upper * ch, xl = xs[xo].lerp
                            for k in 0..<ch {
                                let t = top[l + k] + (top[rr + k] - top[l + k]) * xl
                                let bt = bot[l + k] + (bot[rr + k] - bot[l + k]) * xl
                                d[xo * ch + k] = t + (bt - t) * yl
                            }
                        }
                    }
                }
            }
        }
        let ys = Self.nearest(windowHeight, oh), xs = Self.nearest(windowWidth, ow)
        return {
            engine.parallelRanges(n * oh) { a, b in
                for r in a..<b {
                    let (b0, y) = (r / oh, r % oh)
                    let row = x.value + (b0 * h + ys[y]) * w * ch
                    let d = out.value + r * ow * ch
                    for xo in 0..<ow { (d + xo * ch).update(from: row + xs[xo] * ch, count: ch) }
                }
            }
        }
    }

    /// TensorFlow's `compute_interpolation_weights` with half-pixel centres.
    static func weights(_ inSize: Int, _ outSize: Int) -> [(lower: Int, upper: Int, lerp: Float)] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { i in
            let v = (Float(i) + 0.5) * scale - 0.5
            let f = v.rounded(.down)
            return (max(Int(f), 0), min(Int(v.rounded(.up)), inSize - 1), v - f)
        }
    }

    /// TensorFlow's nearest-neighbour source index with half-pixel centres.
    static func nearest(_ inSize: Int, _ outSize: Int) -> [Int] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { i in max(0, min(Int(((Float(i) + 0.5) * scale).rounded(.down)), inSize - 1)) }
    }
}

extension Cropping2D: RuntimeKernel {
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape, o = c.outShape
        let (w, ch, oh, ow) = (s[2], s[3], o[1], o[2])
        let h = s[1], rows = s[0] * oh, top = top, left = left
        let x = UnsafeSendable(c.x), out = UnsafeSendable(c.out), engine = c.engine
        return {
            engine.parallelRanges(rows) { a, b in
                for r in a..<b {
                    let (b0, y) = (r / oh, r % oh)
                    (out.value + r * ow * ch).update(from: x.value + ((b0 * h + y + top) * w + left) * ch, count: ow * ch)
                }
            }
        }
    }
}

extension Permute: RuntimeKernel {
    /// A transpose of the non-batch axes: each output element gathered from its source position.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let inShape = Array(c.inShape.dropFirst()), outShape = Array(c.outShape.dropFirst())
        var inStrides = [Int](repeating: 1, count: inShape.count)
        for i in stride(from: inShape.count - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * inShape[i + 1] }
        let srcStride = dims.map { inStrides[$0 - 1] }  // stride in the input of each output axis
        let per = inShape.reduce(1, *), n = c.inShape[0]
        let x = UnsafeSendable(c.x), out = UnsafeSendable(c.out), engine = c.engine
        return {
            engine.parallelRanges(n * per, minChunk: 1 << 12) { a, b in
                for i in a..<b {
                    var rest = i % per, src = (i / per) * per
                    for k in stride(from: outShape.count - 1, through: 0, by: -1) {
                        src += (rest % outShape[k]) * srcStride[k]
                        rest /= outShape[k]
                    }
                    out.value[i] = x.value[src]
                }
            }
        }
    }
}
