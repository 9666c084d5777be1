import CKernels
import Dispatch
import Foundation
import ModelFile
import ModelGraph

/// The arithmetic the convolution and dense products run in (docs/precision.md). Everything else (pooling,
/// normalizations, activations other than a fused ReLU, softmax) stays float32.
public enum Precision: String, Sendable, CaseIterable, Hashable {
    /// float32 throughout (weights of an int8 file dequantized).
    case fp32
    /// Weights rounded to bfloat16 once when the plan is built, activations rounded to bfloat16 before each
    /// product, products accumulated in float32 (`vdpbf16ps` on CPUs with AVX512-BF16).
    case bf16
    /// The int8 layers of a quantized file (`vggtool quantize`): u8 activations x s8 weights accumulated in
    /// int32 (`vpdpbusd` on CPUs with AVX512-VNNI), requantized to float32 with bias and ReLU fused; its
    /// float layers run in float32.
    case int8

    /// Whether this CPU runs the mode on its own instructions (always for fp32); when false the mode runs on
    /// the portable fallback (the same results, several times slower). `VGGTOOL_FORCE_FALLBACK=1` forces it.
    public var isNative: Bool {
        switch self {
        case .fp32: true
        case .bf16: vgg_lowp_has_bf16() != 0
        case .int8: vgg_lowp_has_vnni() != 0
        }
    }

    /// The one-line note a command prints when the mode is emulated (nil when native).
    public var fallbackNote: String? {
        isNative ? nil : "note: this CPU lacks \(self == .bf16 ? "AVX512_BF16" : "AVX512_VNNI") (or the fallback is forced): \(rawValue) runs emulated, slower"
    }

    /// Forces the portable fallbacks (true) or lets the CPU's instructions be used again (false), for tests.
    public static func forceFallback(_ on: Bool) { vgg_lowp_force_fallback(on ? 1 : 0) }
}

/// Memory a low-precision step owns (packed weights, folded scales, the quantized input, im2col tiles),
/// 64-byte aligned, freed with the step.
final class LowpMemory: @unchecked Sendable {
    private var blocks: [UnsafeMutableRawPointer] = []
    func bytes(_ n: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(64, n), alignment: 64)
        blocks.append(p)
        return p
    }
    func floats(_ n: Int) -> UnsafeMutablePointer<Float> { bytes(4 * n).bindMemory(to: Float.self, capacity: max(16, n)) }
    deinit { for b in blocks { b.deallocate() } }
}

/// A Conv2D, Conv1D or Dense layer's product in int8 or bf16: its weights packed for the kernels (vgg_lowp.h) and
/// scales folded with the bias, ready to run on float32 NHWC input into float32 output.
package final class LowpProduct: @unchecked Sendable {
    let memory = LowpMemory()
    /// Rows of the (k x n) weight matrix (kh*kw*c, or a Dense layer's inputs) and its columns (outputs).
    let k: Int, n: Int
    let precision: Precision
    // int8
    var packed8: UnsafeMutablePointer<Int8>? = nil
    var scale: UnsafeMutablePointer<Float>? = nil, offset: UnsafeMutablePointer<Float>? = nil
    var invInputScale: Float = 1, zeroPoint: Int32 = 0
    // bf16
    var packed16: UnsafeMutablePointer<UInt16>? = nil
    var bias: UnsafeMutablePointer<Float>? = nil

    /// Padded depth the kernels read (k rounded up to 4 for int8, 2 for bf16) and column blocks of 16.
    // bf16 Winograd F(2x2): the 16 transformed kernel matrices (C x n each), packed as bf16.
    var winogradPacked: UnsafeMutablePointer<UInt16>? = nil

    var kp: Int { precision == .int8 ? Int(vgg_lowp_k4(k)) : Int(vgg_lowp_k2(k)) }
    var blocks: Int { Int(vgg_lowp_n16(n)) / 16 }

    /// An int8 product from an int8 (k x n) matrix, its column scales, the input's scale and zero point and
    /// the bias (nil: none).
    package init(int8 w: UnsafePointer<Int8>, k: Int, n: Int, weightScales: [Float], inputScale: Float, zeroPoint: Int, bias: UnsafePointer<Float>?) {
        self.k = k
        self.n = n
        precision = .int8
        let n16 = Int(vgg_lowp_n16(n))
        let p = memory.bytes(Int(vgg_lowp_k4(k)) * n16).bindMemory(to: Int8.self, capacity: Int(vgg_lowp_k4(k)) * n16)
        var wsum = [Int32](repeating: 0, count: n)
        vgg_lowp_pack_s8(w, k, n, p, &wsum)
        packed8 = p
        scale = memory.floats(n16)
        offset = memory.floats(n16)
        for j in 0..<n16 {
            let s = j < n ? inputScale * weightScales[j] : 0
            scale![j] = s
            offset![j] = j < n ? (bias?[j] ?? 0) - Float(zeroPoint) * Float(wsum[j]) * s : 0
        }
        invInputScale = 1 / inputScale
        self.zeroPoint = Int32(zeroPoint)
    }

    /// A bf16 product from a float32 (k x n) matrix (rounded to bfloat16 here) and the bias (nil: none).
    package init(bf16 w: UnsafePointer<Float>, k: Int, n: Int, bias b: UnsafePointer<Float>?) {
        self.k = k
        self.n = n
        precision = .bf16
        let n16 = Int(vgg_lowp_n16(n)), k2 = Int(vgg_lowp_k2(k))
        let p = memory.bytes(2 * k2 * n16).bindMemory(to: UInt16.self, capacity: k2 * n16)
        vgg_lowp_pack_bf16(w, k, n, p)
        packed16 = p
        if let b {
            bias = memory.floats(n)
            bias!.update(from: b, count: n)
        }
    }

    /// Output rows of im2col per tile (a multiple of the GEMM's 8 rows).
    /// A bf16 3x3 convolution computed with Winograd F(2x2,3x3): the kernel (HWIO, 3 x 3 x c x n) transformed
    /// once, each of the 16 transformed matrices rounded to bf16 and packed; the input tiles are transformed in
    /// float32 and rounded to bf16 for the products, accumulated in float32. (F(4x4)'s transforms scale values
    /// by up to 5 and 8 on the way in and out: with bf16 products its error was 25 times direct bf16's, 5% of
    /// the largest output; F(2x2)'s coefficients are 0, 1/2 and 1, and its error is direct bf16's.)
    package init(bf16Winograd w: UnsafePointer<Float>, c: Int, n: Int, bias b: UnsafePointer<Float>?, threads: Int) {
        k = 9 * c
        self.n = n
        precision = .bf16
        let area = Self.winogradArea, c2 = Int(vgg_lowp_k2(c)), n16 = Int(vgg_lowp_n16(n))
        let p = memory.bytes(2 * area * c2 * n16).bindMemory(to: UInt16.self, capacity: area * c2 * n16)
        let ps = UnsafeSendable(p)
        Self.withTransformedKernel(w, c: c, n: n, tile: 2, threads: threads) { u, a, e in
            for i in a..<e { vgg_lowp_pack_bf16(u + i * c * n, c, n, ps.value + i * c2 * n16) }
        }
        winogradPacked = p
        if let b {
            bias = memory.floats(n)
            bias!.update(from: b, count: n)
        }
    }

    /// An int8 3x3 convolution computed with Winograd F(2x2,3x3) (docs/precision.md): the kernel (HWIO, 3 x 3 x c x
    /// n, an int8 file's dequantized) transformed once, each of the 16 transformed matrices quantized to int8 per
    /// filter and packed (`packed8`, `scale` and `offset` then hold 16 matrices' worth); each tile's transformed
    /// input rows get their own u8 scale and zero point when the convolution runs.
    /// `tile` is the output tile's side: 2 for F(2x2) (16 transformed matrices), 4 for F(4x4) (36).
    package init(int8Winograd w: UnsafePointer<Float>, c: Int, n: Int, bias b: UnsafePointer<Float>?, tile: Int = 2, threads: Int) {
        precondition(tile == 2 || tile == 4, "int8 Winograd F(2x2) or F(4x4)")
        k = 9 * c
        self.n = n
        precision = .int8
        int8Tile = tile
        let area = int8Area, c4 = Int(vgg_lowp_k4(c)), n16 = Int(vgg_lowp_n16(n))
        let p = memory.bytes(area * c4 * n16).bindMemory(to: Int8.self, capacity: area * c4 * n16)
        let sc = memory.floats(area * n16), of = memory.floats(area * n16)
        let ps = UnsafeSendable(p), ss = UnsafeSendable(sc), os = UnsafeSendable(of)
        Self.withTransformedKernel(w, c: c, n: n, tile: tile, threads: threads) { u, a, e in
            vgg_winograd_int8_pack(u, Int32(c), Int32(n), Int32(a), Int32(e), ps.value, ss.value, os.value)
        }
        packed8 = p
        scale = sc
        offset = of
        if let b {
            bias = memory.floats(n)
            bias!.update(from: b, count: n)
        }
    }

    /// The transformed matrices (float32, c x n each, unpacked: 16 for F(2x2), 36 for F(4x4)) of the HWIO 3x3
    /// kernel `w`, split over the threads by filters, then handed to `pack` over the threads by matrices [a, e);
    /// freed after.
    private static func withTransformedKernel(_ w: UnsafePointer<Float>, c: Int, n: Int, tile: Int, threads: Int,
                                              pack: @escaping @Sendable (UnsafePointer<Float>, Int, Int) -> Void) {
        let area = (tile + 2) * (tile + 2)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: area * c * n)
        defer { u.deallocate() }
        parallelParts(n, threads) { a, e, _ in
            if tile == 4 { vgg_winograd4_kernel_transform(w, Int32(c), Int32(n), u, Int32(a), Int32(e), 0) }
            else { vgg_winograd_kernel_transform(w, Int32(c), Int32(n), u, Int32(a), Int32(e), 0) }
        }
        let us = UnsafeSendable(UnsafePointer(u))
        parallelParts(area, threads) { a, e, _ in pack(us.value, a, e) }
    }

    /// The output tile's side of an int8 Winograd product (`init(int8Winograd:)`: 2 or 4); 0 for the others.
    private(set) var int8Tile = 0
    /// Whether this is an int8 Winograd product.
    var winogradInt8: Bool { int8Tile > 0 }
    /// Transformed values per tile of the int8 Winograd product (16 or 36).
    var int8Area: Int { (int8Tile + 2) * (int8Tile + 2) }
    /// The algorithm an int8 Winograd product computes.
    var int8Algorithm: ConvolutionAlgorithm { int8Tile == 4 ? .winograd4x4 : .winograd2x2 }
    /// Tiles of an int8 Winograd product's convolution of geometry `s`.
    func int8Tiles(_ s: vgg_conv_shape) -> Int {
        var s = s
        return Int(int8Tile == 4 ? vgg_winograd4_tiles(&s) : vgg_winograd_tiles(&s))
    }
    /// Tiles per block of the int8 Winograd convolution (at most): its u8 rows (16 x 48 x c bytes) stay in the
    /// second-level cache. Measured on one core at VGG16's shapes: 12 to 192 within 5% of each other.
    static let int8WinogradBlock = 48

    /// One int8 block's scratch: vq (16 x T x k4(c) bytes) at 0, row scales and zero points (16 x T floats each)
    /// at `rs` and `zr`, one tile's transformed rows (16 x c floats) at `tile`, 64 filters' products (16 x T x 64
    /// floats) at `mm`.
    func int8WinogradLayout(_ s: vgg_conv_shape, block t: Int) -> (rs: Int, zr: Int, tile: Int, mm: Int, bytes: Int) {
        let c = Int(s.c), c4 = Int(vgg_lowp_k4(c)), area = int8Area
        let rs = VGGMFormat.alignUp64(area * t * c4)
        let zr = rs + VGGMFormat.alignUp64(4 * area * t)
        let tile = zr + VGGMFormat.alignUp64(4 * area * t)
        let mm = tile + VGGMFormat.alignUp64(4 * area * c)
        return (rs, zr, tile, mm, mm + VGGMFormat.alignUp64(4 * area * t * 64))
    }

    /// Bytes of scratch for the int8 Winograd convolution of `shape`.
    func int8WinogradScratchBytes(_ shape: vgg_conv_shape, threads: Int) -> Int {
        threads * int8WinogradLayout(shape, block: Self.winogradBlock(tiles: int8Tiles(shape), threads: threads, at: Self.int8WinogradBlock)).bytes
    }

    /// Runs the int8 Winograd convolution (bias added, ReLU when `relu`): each thread takes a contiguous range of
    /// tiles in even blocks. (Splitting the filters between the threads instead, each reading only its share of
    /// the transformed kernel, measured no faster on VGG16's 14x14 layers at batch 1.)
    /// With `pooled` (its height and width), `out` gets the output max-pooled 2x2 with stride 2 instead.
    func runWinogradInt8(engine: Engine, shape: vgg_conv_shape, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, relu: Bool,
                         pooled: (h: Int, w: Int)? = nil, scratch: UnsafeMutableRawPointer) {
        let s = shape
        let tiles = int8Tiles(s), area = int8Area, four = int8Tile == 4
        let block = Self.winogradBlock(tiles: tiles, threads: engine.threads, at: Self.int8WinogradBlock)
        let c = Int(s.c), c4 = Int(vgg_lowp_k4(c)), k = Int32(s.k)
        let layout = int8WinogradLayout(s, block: block)
        let packed = packed8!, scale = scale!, offset = offset!, bias = bias, relu32: Int32 = relu ? 1 : 0
        let parts = min(engine.threads, (tiles + block - 1) / block)
        let base = UnsafeSendable(scratch)
        let ph = Int32(pooled?.h ?? 0), pw = Int32(pooled?.w ?? 0)
        engine.parallelParts(parts) { p0, p1, _ in
            for p in p0..<p1 {
                let start = base.value + p * layout.bytes
                let vq = start.bindMemory(to: UInt8.self, capacity: area * block * c4)
                let rs = (start + layout.rs).bindMemory(to: Float.self, capacity: area * block)
                let zr = (start + layout.zr).bindMemory(to: Float.self, capacity: area * block)
                let tile = (start + layout.tile).bindMemory(to: Float.self, capacity: area * c)
                let mm = (start + layout.mm).bindMemory(to: Float.self, capacity: area * block * 64)
                let t0 = tiles * p / parts, t1 = tiles * (p + 1) / parts
                // Even blocks of at most `block` tiles (98 tiles: 33, 33, 32 rather than 48, 48, 2).
                let count = (t1 - t0 + block - 1) / block
                for b in 0..<count {
                    var sh = s
                    let a = t0 + (t1 - t0) * b / count, e = t0 + (t1 - t0) * (b + 1) / count
                    if four { vgg_winograd4_tiles_run_int8(&sh, x, packed, scale, offset, bias, relu32, out, ph, pw, a, e, vq, rs, zr, tile, mm) }
                    else { vgg_winograd2_tiles_run_int8(&sh, x, packed, scale, offset, bias, relu32, out, ph, pw, a, e, vq, rs, zr, tile, mm) }
                }
            }
        }
    }

    /// Transformed values per tile of F(2x2) (4 x 4).
    static let winogradArea = 16
    /// Tiles per block of the bf16 Winograd convolution (at most; fewer so that every thread has a block).
    static let winogradBlock = 160

    /// Whether bf16 computes a convolution of this geometry with Winograd F(2x2): 3x3, stride 1, undilated,
    /// at least 16 input channels (fewer make the transforms cost more than the products save).
    static func winogradApplies(_ s: vgg_conv_shape) -> Bool {
        s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.c >= 16
    }

    /// Tiles per block for `tiles` tiles over `threads` threads, at most `cap`.
    static func winogradBlock(tiles: Int, threads: Int, at cap: Int = winogradBlock) -> Int { max(1, min(cap, (tiles + threads - 1) / threads)) }

    /// One block's scratch: v (16 x T x c floats) at 0, vb (T x k2(c) bf16) at `vb`, mm (16 x T x k floats) at
    /// `mm`, `bytes` in all (each part 64-byte aligned).
    static func winogradBlockLayout(_ s: vgg_conv_shape, block t: Int) -> (vb: Int, mm: Int, bytes: Int) {
        let c = Int(s.c), kk = Int(s.k), c2 = Int(vgg_lowp_k2(c))
        let vb: Int = VGGMFormat.alignUp64(4 * winogradArea * t * c)
        let mm: Int = vb + VGGMFormat.alignUp64(2 * t * c2)
        return (vb, mm, mm + VGGMFormat.alignUp64(4 * winogradArea * t * kk))
    }

    /// Bytes of scratch for the bf16 Winograd convolution of `shape`.
    func winogradScratchBytes(_ shape: vgg_conv_shape, threads: Int) -> Int {
        var s = shape
        let tiles = Int(vgg_winograd_tiles(&s))
        return threads * Self.winogradBlockLayout(s, block: Self.winogradBlock(tiles: tiles, threads: threads)).bytes
    }

    /// Runs the bf16 Winograd convolution (bias added; the activation is the caller's): each thread takes a
    /// contiguous range of tiles in blocks.
    func runWinograd(engine: Engine, shape: vgg_conv_shape, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                     scratch: UnsafeMutableRawPointer) {
        var s = shape
        let tiles = Int(vgg_winograd_tiles(&s)), threads = engine.threads, area = Self.winogradArea
        let block = Self.winogradBlock(tiles: tiles, threads: threads)
        let c = Int(s.c), c2 = Int(vgg_lowp_k2(c))
        let layout = Self.winogradBlockLayout(s, block: block)
        let packed = winogradPacked!, bias = bias
        let parts = min(threads, (tiles + block - 1) / block)
        let base = UnsafeSendable(scratch)
        engine.parallelParts(parts) { p0, p1, _ in
            for p in p0..<p1 {
                let start = base.value + p * layout.bytes
                let v = start.bindMemory(to: Float.self, capacity: area * block * c)
                let vb = (start + layout.vb).bindMemory(to: UInt16.self, capacity: block * c2)
                let mm = (start + layout.mm).bindMemory(to: Float.self, capacity: area * block * Int(s.k))
                var t = tiles * p / parts
                let t1 = tiles * (p + 1) / parts
                while t < t1 {
                    let e = min(t + block, t1)
                    var sh = s
                    vgg_winograd2_tiles_run_bf16(&sh, x, packed, bias, out, t, e, v, vb, mm)
                    t = e
                }
            }
        }
    }

    static let tileRows = 96

    /// Bytes of scratch `run` needs for `rows` output rows from `inputCount` input values over `threads`.
    func scratchBytes(inputCount: Int, direct: Bool, threads: Int) -> Int {
        let e = precision == .int8 ? 1 : 2
        return VGGMFormat.alignUp64(e * inputCount) + (direct ? 0 : threads * Self.tileRows * kp * e)
    }

    /// Runs the product: a convolution of geometry `shape` (NHWC `x` to NHWC `out`) when given, else a Dense
    /// layer over `rows` rows of `k` values. ReLU is fused when `relu`. `scratch` holds `scratchBytes`.
    func run(engine: Engine, shape: vgg_conv_shape?, x: UnsafePointer<Float>, rows: Int, out: UnsafeMutablePointer<Float>,
             relu: Bool, scratch: UnsafeMutableRawPointer) {
        let k = k, n = n, kp = kp, blocks = blocks, threads = engine.threads, relu32: Int32 = relu ? 1 : 0
        let int8 = precision == .int8
        let e = int8 ? 1 : 2
        let inv = invInputScale, zp = zeroPoint
        if var s = shape {
            // Convolution: the whole input quantized (or rounded) once, then im2col tiles per thread.
            let inCount = Int(s.n) * Int(s.h) * Int(s.w) * Int(s.c)
            let q = scratch
            engine.parallelRanges(inCount, minChunk: 1 << 15) { a, b in
                if int8 { vgg_lowp_quantize_u8(x + a, q.assumingMemoryBound(to: UInt8.self) + a, b - a, inv, zp) }
                else { vgg_lowp_to_bf16(x + a, q.assumingMemoryBound(to: UInt16.self) + a, b - a) }
            }
            let direct = Self.isDirect(s)
            let cols = scratch + VGGMFormat.alignUp64(e * inCount)
            let tile = Self.tileRows
            engine.parallelParts(rows, minChunk: 32) { a, b, part in
                var m = a
                let col = cols + part * tile * kp * e
                while m < b {
                    let end = direct ? b : min(b, m + tile)
                    if int8 {
                        let q8 = q.assumingMemoryBound(to: UInt8.self)
                        let src: UnsafePointer<UInt8>
                        if direct { src = UnsafePointer(q8 + m * k) } else {
                            vgg_lowp_im2col_u8(&s, q8, m, end, col.assumingMemoryBound(to: UInt8.self), kp, UInt8(zp))
                            src = UnsafePointer(col.assumingMemoryBound(to: UInt8.self))
                        }
                        vgg_lowp_gemm_u8s8(src, end - m, direct ? k : kp, kp, packed8, 0, blocks, scale, offset, relu32, out + m * n, n, n)
                    } else {
                        let q16 = q.assumingMemoryBound(to: UInt16.self)
                        let src: UnsafePointer<UInt16>
                        if direct { src = UnsafePointer(q16 + m * k) } else {
                            vgg_lowp_im2col_u16(&s, q16, m, end, col.assumingMemoryBound(to: UInt16.self), kp)
                            src = UnsafePointer(col.assumingMemoryBound(to: UInt16.self))
                        }
                        vgg_lowp_gemm_bf16(src, end - m, direct ? k : kp, kp, packed16, 0, blocks, bias, relu32, out + m * n, n, n)
                    }
                    m = end
                }
            }
            _ = threads
        } else {
            // Dense: rows padded to kp, then rows or column blocks split over the threads.
            let q = scratch
            engine.parallelRanges(rows) { a, b in
                if int8 { vgg_lowp_quantize_u8_rows(x + a * k, q.assumingMemoryBound(to: UInt8.self) + a * kp, b - a, k, kp, inv, zp) }
                else { vgg_lowp_to_bf16_rows(x + a * k, q.assumingMemoryBound(to: UInt16.self) + a * kp, b - a, k, kp) }
            }
            func gemm(_ r0: Int, _ r1: Int, _ b0: Int, _ b1: Int) {
                if int8 {
                    vgg_lowp_gemm_u8s8(q.assumingMemoryBound(to: UInt8.self) + r0 * kp, r1 - r0, kp, kp, packed8, b0, b1, scale, offset, relu32, out + r0 * n, n, n)
                } else {
                    vgg_lowp_gemm_bf16(q.assumingMemoryBound(to: UInt16.self) + r0 * kp, r1 - r0, kp, kp, packed16, b0, b1, bias, relu32, out + r0 * n, n, n)
                }
            }
            if rows >= 8 * threads {
                engine.parallelRanges(rows) { a, b in gemm(a, b, 0, blocks) }
            } else {
                engine.parallelRanges(blocks) { a, b in gemm(0, rows, a, b) }
            }
        }
    }

    /// A 1x1, stride-1, unpadded convolution whose channels are a multiple of 4 (int8) reads its input as the
    /// matrix itself (no im2col).
    static func isDirect(_ s: vgg_conv_shape) -> Bool {
        s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pad_top == 0 && s.pad_left == 0 && s.c % 4 == 0
    }
}

extension VGGMFormat {
    static func alignUp64(_ x: Int) -> Int { (x + 63) / 64 * 64 }
}

extension Engine {
    /// The low-precision product of a Conv2D, Conv1D or Dense layer when the engine's precision asks for one (bf16: every
    /// such layer; int8: the layers the file stores as int8), built once per engine; nil to run it in float32.
    func lowpProduct(_ layer: String, kernelShape: [Int], useBias: Bool) throws -> LowpProduct? {
        switch options.precision {
        case .fp32: return nil
        case .bf16:
            if let p = lowpProducts[layer] { return p }
            let w = try weight(layer, "kernel")
            let p = LowpProduct(bf16: w, k: kernelShape.dropLast().reduce(1, *), n: kernelShape.last!, bias: useBias ? try weight(layer, "bias") : nil)
            lowpProducts[layer] = p
            return p
        case .int8:
            guard let q = model.quantization(ofLayer: layer) else { return nil }
            if let p = lowpProducts[layer], !p.winogradInt8 { return p }
            let raw = model.bytes(of: q.kernel).bindMemory(to: Int8.self)
            let p = LowpProduct(int8: raw.baseAddress!, k: kernelShape.dropLast().reduce(1, *), n: kernelShape.last!, weightScales: q.weightScales,
                                inputScale: q.inputScale, zeroPoint: q.inputZeroPoint, bias: useBias ? try weight(layer, "bias") : nil)
            lowpProducts[layer] = p
            return p
        }
    }

    /// The step of a Conv2D or Conv1D (`conv`, its geometry) or Dense layer in low precision, or nil to build the
    /// float32 one.
    func lowPrecisionStep(_ ctx: StepContext, kernelShape: [Int], useBias: Bool, activation: Activation, conv shape: vgg_conv_shape?) throws -> (() throws -> Void)? {
        let x = ctx.x, out = ctx.out, n = kernelShape.last!
        precondition(ctx.pooled == nil || options.precision == .int8, "layer '\(ctx.name)': only int8 Winograd steps pool")
        if options.precision == .bf16, options.winograd, let s = shape, LowpProduct.winogradApplies(s) {
            // bf16 3x3 convolutions: Winograd F(2x2) with bf16 products (docs/precision.md).
            let product: LowpProduct
            if let p = lowpProducts[ctx.name], p.winogradPacked != nil { product = p } else {
                product = LowpProduct(bf16Winograd: try weight(ctx.name, "kernel"), c: Int(s.c), n: n,
                                      bias: useBias ? try weight(ctx.name, "bias") : nil, threads: threads)
                lowpProducts[ctx.name] = product
            }
            let scratchMemory = LowpMemory()
            let scratch = scratchMemory.bytes(product.winogradScratchBytes(s, threads: threads))
            let rows = ctx.outCount / n
            recordAlgorithm(ctx.name, .winograd2x2)
            return { [self] in
                withExtendedLifetime(scratchMemory) {
                    product.runWinograd(engine: self, shape: s, x: x, out: out, scratch: scratch)
                }
                activate(activation, out, rows: rows, width: n)
            }
        }
        if options.precision == .int8, options.winograd, let s = shape, LowpProduct.winogradApplies(s), model.quantization(ofLayer: ctx.name) != nil,
           let product = try int8Winograd(ctx.name, s, kernelShape: kernelShape, useBias: useBias) {
            // int8 3x3 convolutions where a Winograd form measured faster than the direct product (docs/precision.md).
            let scratchMemory = LowpMemory()
            let scratch = scratchMemory.bytes(product.int8WinogradScratchBytes(s, threads: threads))
            let relu = activation == .relu, rows = ctx.outCount / n
            let pooled = ctx.pooled.map { (h: $0[1], w: $0[2]) }
            precondition(pooled == nil || relu || activation == .linear, "the plan fuses pooling only after a linear or ReLU convolution")
            recordAlgorithm(ctx.name, product.int8Algorithm)
            return { [self] in
                withExtendedLifetime(scratchMemory) {
                    product.runWinogradInt8(engine: self, shape: s, x: x, out: out, relu: relu, pooled: pooled, scratch: scratch)
                }
                if !relu && pooled == nil { activate(activation, out, rows: rows, width: n) }
            }
        }
        // Only the int8 Winograd form pools (the plan asks it through `runsInt8Winograd`, which makes the same choice).
        precondition(ctx.pooled == nil, "layer '\(ctx.name)': the plan fused a pooling into a step that cannot pool")
        guard let product = try lowpProduct(ctx.name, kernelShape: kernelShape, useBias: useBias) else { return nil }
        if shape != nil { recordAlgorithm(ctx.name, .im2col) }
        let rows = ctx.outCount / n
        let inCount = ctx.inShape.reduce(1, *)
        let scratchMemory = LowpMemory()
        let scratch = scratchMemory.bytes(product.scratchBytes(inputCount: shape == nil ? rows * product.kp : inCount,
                                                               direct: shape.map(LowpProduct.isDirect) ?? true, threads: threads))
        let relu = activation == .relu
        return { [self] in
            withExtendedLifetime(scratchMemory) {
                product.run(engine: self, shape: shape, x: x, rows: rows, out: out, relu: relu, scratch: scratch)
            }
            if !relu { activate(activation, out, rows: rows, width: n) }
        }
    }
}

extension Engine {
    /// Whether the quantized 3x3 convolution `layer` runs as int8 Winograd at these shapes (measuring the
    /// choice if it is not made yet): its output transform can then max-pool 2x2 on the way (`StepContext.pooled`).
    func runsInt8Winograd(_ layer: String, inShape: [Int], outShape: [Int], window: Window2D, useBias: Bool) throws -> Bool {
        guard options.precision == .int8, options.winograd, model.quantization(ofLayer: layer) != nil else { return false }
        let s = window.kernelShape(input: inShape, output: outShape)
        guard LowpProduct.winogradApplies(s) else { return false }
        return try int8Winograd(layer, s, kernelShape: [3, 3, inShape[3], outShape[3]], useBias: useBias) != nil
    }

    /// Most input channels for which an int8 convolution may run as Winograd F(4x4). Its transforms amplify the
    /// rounding of the transformed values (coefficients up to 5 in, 8 out). Measured in numpy on HED's VGG16 with
    /// real activations (per-row input scales and zero points, per-filter kernel scales), relative error of F(4x4)
    /// / F(2x2) / direct int8: block1_conv2 (64 channels) 1.1 / 1.0 / 1.2%, block2_conv1 (64) 1.5 / 0.8 / 0.8%,
    /// block2_conv2 (128) 1.2 / 0.6 / 0.8%, block3_conv1 (128) 2.7 / 1.5 / 1.1%, blocks 3-5 (256-512) 2.1-4.7%.
    /// With F(4x4) up to 128 channels a fine-tuned classifier's top-1 agreement with fp32 fell from 99.53% to
    /// 99.20%; the 64-channel layers, where F(2x2) gains least (its transforms weigh most), keep it.
    static let int8Winograd4MaxChannels = 64

    /// The int8 Winograd tiles a 3x3 convolution of `channels` input channels may run in: 2, and 4 up to
    /// `int8Winograd4MaxChannels`.
    static func int8WinogradTiles(channels: Int) -> [Int] { channels <= int8Winograd4MaxChannels ? [2, 4] : [2] }

    /// The int8 Winograd product (F(2x2), or F(4x4) up to `int8Winograd4MaxChannels` input channels) of a
    /// quantized 3x3 convolution when it is the algorithm to use (fixed by the options, or measured against
    /// the direct product on this geometry and remembered as the float32 choices are, under a key of its own);
    /// nil for the direct product.
    func int8Winograd(_ layer: String, _ s: vgg_conv_shape, kernelShape: [Int], useBias: Bool) throws -> LowpProduct? {
        func winograd(_ tile: Int) throws -> LowpProduct {
            if let p = lowpProducts[layer], p.int8Tile == tile { return p }
            return LowpProduct(int8Winograd: try weight(layer, "kernel"), c: Int(s.c), n: Int(s.k), bias: useBias ? try weight(layer, "bias") : nil,
                               tile: tile, threads: threads)
        }
        func keep(_ p: LowpProduct) -> LowpProduct {
            lowpProducts[layer] = p
            return p
        }
        let candidates: [ConvolutionAlgorithm] = [.im2col] + Self.int8WinogradTiles(channels: Int(s.c)).map { $0 == 4 ? .winograd4x4 : .winograd2x2 }
        if let a = fixedAlgorithm {
            // As in float32, a fixed algorithm where it may run (F(4x4) within its channel limit), else direct.
            switch a {
            case .winograd2x2: return keep(try winograd(2))
            case .winograd4x4 where candidates.contains(.winograd4x4): return keep(try winograd(4))
            default: return nil
            }
        }
        let key = AlgorithmSearch.key(s, candidates: candidates, threads: threads) + "|int8"
        // The products are built only when the choice is measured (not when this engine or the cache has it).
        var built: [ConvolutionAlgorithm: LowpProduct] = [:], failure: Error?
        let choice = rememberedAlgorithm(key, candidates: candidates) {
            do {
                let direct = try lowpProduct(layer, kernelShape: kernelShape, useBias: useBias)!
                for a in candidates.dropFirst() { built[a] = try winograd(a == .winograd4x4 ? 4 : 2) }
                return Self.measureInt8(s, direct: direct, winograd: candidates.dropFirst().map { built[$0]! }, engine: self)
            } catch {
                failure = error
                return .im2col
            }
        }
        if let failure { throw failure }
        switch choice {
        case .winograd2x2: return keep(try built[choice] ?? winograd(2))
        case .winograd4x4: return keep(try built[choice] ?? winograd(4))
        default: return nil
        }
    }

    /// Times the direct and the Winograd int8 products on `s` as `AlgorithmSearch.measure` times float32's
    /// (`measurementShape`, `bestTimes`); the fastest one's algorithm.
    static func measureInt8(_ shape: vgg_conv_shape, direct: LowpProduct, winograd: [LowpProduct], engine: Engine) -> ConvolutionAlgorithm {
        let s = AlgorithmSearch.measurementShape(shape)
        let inCount = Int(s.n * s.h * s.w * s.c), rows = Int(s.n * s.oh * s.ow)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: inCount), out = UnsafeMutablePointer<Float>.allocate(capacity: rows * Int(s.k))
        defer { x.deallocate(); out.deallocate() }
        for i in 0..<inCount { x[i] = Float(i % 97) / 97 }
        let memory = LowpMemory()
        let directScratch = memory.bytes(direct.scratchBytes(inputCount: inCount, direct: false, threads: engine.threads))
        let scratches = winograd.map { memory.bytes($0.int8WinogradScratchBytes(s, threads: engine.threads)) }
        let best = AlgorithmSearch.bestTimes([{ direct.run(engine: engine, shape: s, x: x, rows: rows, out: out, relu: true, scratch: directScratch) }]
            + zip(winograd, scratches).map { w, scratch in { w.runWinogradInt8(engine: engine, shape: s, x: x, out: out, relu: true, scratch: scratch) } })
        let fastest = best.indices.min { best[$0] < best[$1] }!
        return fastest == 0 ? .im2col : winograd[fastest - 1].int8Algorithm
    }
}

extension LowpProduct {
    /// Runs the product as a convolution of `window` on NHWC `input` of `inShape` (batch first) into an output of
    /// `outShape`, with its own scratch (tests, calibration); ReLU fused when `relu`. An int8 Winograd product
    /// needs a 3x3 stride-1 undilated window, and can max-pool its output 2x2 (`pooled`: the pooled size).
    package func convolve(engine: Engine, window: Window2D, input: [Float], inShape: [Int], outShape: [Int], relu: Bool = false,
                          pooled: (h: Int, w: Int)? = nil) -> [Float] {
        let s = window.kernelShape(input: inShape, output: outShape)
        let rows = outShape.dropLast().reduce(1, *)
        var out = [Float](repeating: 0, count: pooled.map { outShape[0] * $0.h * $0.w * n } ?? rows * n)
        let memory = LowpMemory()
        if winogradInt8 {
            let scratch = memory.bytes(int8WinogradScratchBytes(s, threads: engine.threads))
            input.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    runWinogradInt8(engine: engine, shape: s, x: x.baseAddress!, out: o.baseAddress!, relu: relu, pooled: pooled, scratch: scratch)
                }
            }
            return out
        }
        precondition(pooled == nil, "only the int8 Winograd product pools")
        let scratch = memory.bytes(scratchBytes(inputCount: input.count, direct: LowpProduct.isDirect(s), threads: engine.threads))
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in run(engine: engine, shape: s, x: x.baseAddress!, rows: rows, out: o.baseAddress!, relu: relu, scratch: scratch) }
        }
        return out
    }

    /// Runs the product as a Dense layer over `rows` rows of `k` values (tests); ReLU fused when `relu`.
    package func multiply(engine: Engine, input: [Float], rows: Int, relu: Bool = false) -> [Float] {
        var out = [Float](repeating: 0, count: rows * n)
        let memory = LowpMemory()
        let scratch = memory.bytes(scratchBytes(inputCount: rows * kp, direct: true, threads: engine.threads))
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in run(engine: engine, shape: nil, x: x.baseAddress!, rows: rows, out: o.baseAddress!, relu: relu, scratch: scratch) }
        }
        return out
    }
}
