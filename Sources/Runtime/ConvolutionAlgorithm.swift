import CKernels
import Dispatch
import Foundation
import ModelFile

/// How the runtime computes a 2-D convolution.
public enum ConvolutionAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    /// im2col of a tile of output rows, then one GEMM with the HWIO kernel (any convolution).
    case im2col
    /// Winograd F(2x2,3x3): 16 GEMMs per block of 2x2 output tiles, 2.25x fewer multiplications than direct
    /// convolution (3x3, stride 1, undilated).
    case winograd2x2 = "winograd-2x2"
    /// Winograd F(4x4,3x3): 36 GEMMs per block of 4x4 output tiles, 4x fewer multiplications (3x3, stride 1,
    /// undilated), with larger transforms and about 10x F(2x2)'s rounding error.
    case winograd4x4 = "winograd-4x4"
    /// Winograd F(6x6,3x3): 64 GEMMs per block of 6x6 output tiles, 5.06x fewer multiplications (3x3, stride
    /// 1, undilated), with the largest transforms and rounding error of the three.
    case winograd6x6 = "winograd-6x6"

    /// Floats per input channel and filter of the transformed kernel (0: the kernel is used as stored).
    var transformedArea: Int {
        switch self {
        case .im2col: 0
        case .winograd2x2: 16
        case .winograd4x4: 36
        case .winograd6x6: 64
        }
    }
}

/// How the engine picks each convolution's algorithm.
public enum ConvolutionChoice: Sendable, Hashable {
    /// Times every algorithm that applies once per layer geometry when a plan is built and keeps the
    /// fastest (as cuDNN's find mode does); choices are remembered on disk (`Engine.Options.algorithmCache`).
    case measured
    /// This algorithm wherever it applies, im2col elsewhere (deterministic; for tests and comparisons).
    case fixed(ConvolutionAlgorithm)
}

/// Where measured algorithm choices are kept between processes.
public enum AlgorithmCacheLocation: Sendable, Hashable {
    /// `$XDG_CACHE_HOME/vggtool/convolution-algorithms.json`, else `~/.cache/vggtool/...`; off when the
    /// environment variable `VGGTOOL_ALGORITHM_CACHE` is `0` or `off`.
    case standard
    /// Not kept: every new geometry is measured again.
    case disabled
    /// This JSON file.
    case file(String)

    /// The file's path, nil when disabled.
    var path: String? {
        switch self {
        case .disabled: return nil
        case .file(let p): return p
        case .standard:
            let env = ProcessInfo.processInfo.environment
            if let v = env["VGGTOOL_ALGORITHM_CACHE"], v == "0" || v.lowercased() == "off" { return nil }
            if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/vggtool/convolution-algorithms.json" }
            guard let home = env["HOME"], home.hasPrefix("/") else { return nil }
            return home + "/.cache/vggtool/convolution-algorithms.json"
        }
    }
}

/// One convolution computed by one algorithm: its geometry, the scratch it needs and the parallel loop over
/// the C kernels. Shared by the plan's steps and the measurement that chooses between algorithms.
struct ConvolutionKernel {
    let algorithm: ConvolutionAlgorithm
    var shape: vgg_conv_shape
    let threads: Int
    /// Winograd tiles in all (0 for im2col) and per block of a thread.
    let tiles: Int, block: Int

    init(_ algorithm: ConvolutionAlgorithm, shape: vgg_conv_shape, threads: Int) {
        self.algorithm = algorithm
        self.shape = shape
        self.threads = threads
        var s = shape
        switch algorithm {
        case .im2col: tiles = 0; block = 0
        case .winograd2x2:
            tiles = Int(vgg_winograd_tiles(&s))
            block = min(160, (tiles + threads - 1) / threads)
        case .winograd4x4:
            tiles = Int(vgg_winograd4_tiles(&s))
            block = min(Self.winograd4Block, (tiles + threads - 1) / threads)
        case .winograd6x6:
            tiles = Int(vgg_winograd6_tiles(&s))
            block = min(Self.winograd6Block, (tiles + threads - 1) / threads)
        }
    }

    /// Tiles per block for F(4x4): GEMMs of this many rows. Measured on one core on VGG16's geometries
    /// (56x56x256, 28x28x512, 112x112x128, 14x14x512 at batch 8): 128 was 5-15% faster than 64 (OpenBLAS
    /// packs each u matrix once per GEMM, so longer GEMMs amortize it) and within 5% of 256, which doubles
    /// the scratch (36 x 128 x (c + k) floats per thread: 19 MB at 512 channels).
    static let winograd4Block = 128
    /// Tiles per block for F(6x6) (64 x 96 x (c + k) floats per thread).
    static let winograd6Block = 96

    var c: Int { Int(shape.c) }
    var k: Int { Int(shape.k) }
    var kk: Int { Int(shape.kh * shape.kw) * c }

    /// Floats of the transformed kernel (0 for im2col).
    var transformedFloats: Int { algorithm.transformedArea * c * k }

    /// Floats of work space, all threads together (the transformed kernel not included).
    var workFloats: Int {
        switch algorithm {
        case .im2col: return threads * Plan.im2colBlockRows(kk: kk) * kk
        case .winograd2x2, .winograd4x4, .winograd6x6: return threads * algorithm.transformedArea * block * (c + k)
        }
    }

    /// Whether the threads share one block of all the tiles (F(4x4) and F(6x6) with fewer tiles than one block
    /// per thread; e.g. VGG16's 14x14 to 56x56 layers at batch 1) instead of each taking its own blocks.
    var sharesBlocks: Bool {
        guard threads > 1, Self.shareSmall else { return false }
        switch algorithm {
        case .winograd4x4: return tiles <= threads * Self.winograd4Block
        case .winograd6x6: return tiles <= threads * Self.winograd6Block
        default: return false
        }
    }
    static let shareSmall = ProcessInfo.processInfo.environment["VGGTOOL_WINOGRAD_SHARED"] != "0"

    /// Whether `run` applies ReLU itself when asked (else the caller applies the activation).
    var fusesReLU: Bool { algorithm == .winograd4x4 || algorithm == .winograd6x6 }

    /// Transforms the HWIO kernel into `u` (transformedFloats), split over the threads by filters; packed for the
    /// products where that applies (`vgg_winograd_packs`).
    func transform(_ kernel: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>) {
        let c = Int32(c), k = Int32(k), packed = vgg_winograd_packs(k)
        Runtime.parallelParts(Int(k), threads) { a, b, _ in
            switch algorithm {
            case .im2col: break
            case .winograd2x2: vgg_winograd_kernel_transform(kernel, c, k, u, Int32(a), Int32(b), packed)
            case .winograd4x4: vgg_winograd4_kernel_transform(kernel, c, k, u, Int32(a), Int32(b), packed)
            case .winograd6x6: vgg_winograd6_kernel_transform(kernel, c, k, u, Int32(a), Int32(b), packed)
            }
        }
    }

    /// Computes the convolution of `x` into `out` (NHWC). `weights` is the HWIO kernel for im2col, the
    /// transformed kernel for Winograd; `work` holds `workFloats`. With `relu` and `fusesReLU`, ReLU is applied.
    func run(x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool,
             out: UnsafeMutablePointer<Float>, work: UnsafeMutablePointer<Float>) {
        let shape = shape
        switch algorithm {
        case .im2col:
            let rows = Int(shape.n * shape.oh * shape.ow), blockRows = Plan.im2colBlockRows(kk: kk), kk = kk
            Runtime.parallelParts(rows, threads, minChunk: 64) { a, b, part in
                var sh = shape
                vgg_conv2d_gemm_rows(&sh, x, weights, bias, out, a, b, work + part * blockRows * kk, blockRows)
            }
        case .winograd4x4 where sharesBlocks, .winograd6x6 where sharesBlocks:  // (a `where` binds to one pattern)
            // Few tiles: one block for all threads, so each transformed kernel matrix is packed once and every
            // GEMM has all the tiles' rows; the threads split the tiles in the transforms and the matrices
            // in the products.
            let tiles = tiles, area = algorithm.transformedArea, c = c, side = Int32(algorithm == .winograd4x4 ? 4 : 6)
            let v = work, m = work + area * tiles * c
            Runtime.parallelParts(tiles, threads) { a, b, _ in
                var sh = shape
                vgg_winograd_block_input(side, &sh, x, a, b, 0, tiles, v)
            }
            Runtime.parallelParts(area, threads) { a, b, _ in
                var sh = shape
                vgg_winograd_block_products(&sh, tiles, v, weights, m, Int32(a), Int32(b))
            }
            Runtime.parallelParts(tiles, threads) { a, b, _ in
                var sh = shape
                vgg_winograd_block_output(side, &sh, m, bias, relu ? 1 : 0, out, a, b, 0, tiles)
            }
        case .winograd2x2, .winograd4x4, .winograd6x6:
            let tiles = tiles, block = block, area = algorithm.transformedArea, c = c, algorithm = algorithm
            let perThread = area * block * (c + k)
            // One contiguous range of tiles per thread, in blocks that keep v and m near the caches.
            let parts = min(threads, max(1, (tiles + block - 1) / block))
            Runtime.parallelParts(parts, threads) { p0, p1, _ in
                for p in p0..<p1 {
                    var sh = shape
                    let v = work + p * perThread
                    let m = v + area * block * c
                    let t1 = tiles * (p + 1) / parts
                    var t = tiles * p / parts
                    while t < t1 {
                        let e = min(t + block, t1)
                        switch algorithm {
                        case .winograd4x4: vgg_winograd4_tiles_run(&sh, x, weights, bias, relu ? 1 : 0, out, t, e, v, m)
                        case .winograd6x6: vgg_winograd6_tiles_run(&sh, x, weights, bias, relu ? 1 : 0, out, t, e, v, m)
                        default: vgg_winograd_tiles_run(&sh, x, weights, bias, out, t, e, v, m)
                        }
                        t = e
                    }
                }
            }
        }
    }
}

/// Measures algorithms on a convolution's geometry and remembers the fastest, in memory and on disk.
enum AlgorithmSearch {
    /// Largest input or output tensor a measurement allocates: batches beyond it are measured on fewer
    /// images (the time per image is what is compared).
    static let measureBytes = 48 << 20

    /// The fastest of `candidates` for `shape` on `threads` threads: `seconds` holds each one's best time.
    static func measure(_ shape: vgg_conv_shape, candidates: [ConvolutionAlgorithm], threads: Int,
                        transformsPerRun: Bool = false) -> (best: ConvolutionAlgorithm, seconds: [ConvolutionAlgorithm: Double]) {
        let s = measurementShape(shape)
        let kernels = candidates.map { ConvolutionKernel($0, shape: s, threads: threads) }
        let inCount = Int(s.n * s.h * s.w * s.c), outCount = Int(s.n * s.oh * s.ow * s.k)
        let weightCount = max(kernels.map(\.transformedFloats).max() ?? 0, Int(s.kh * s.kw * s.c * s.k))
        let workCount = kernels.map(\.workFloats).max() ?? 0
        let x = UnsafeMutablePointer<Float>.allocate(capacity: inCount), out = UnsafeMutablePointer<Float>.allocate(capacity: outCount)
        let w = UnsafeMutablePointer<Float>.allocate(capacity: weightCount), work = UnsafeMutablePointer<Float>.allocate(capacity: max(workCount, 1))
        let bias = UnsafeMutablePointer<Float>.allocate(capacity: Int(s.k))
        // The HWIO kernel that an engine without cached Winograd kernels transforms on every run (timed too).
        let sourceCount = transformsPerRun ? Int(s.kh * s.kw * s.c * s.k) : 0
        let source = UnsafeMutablePointer<Float>.allocate(capacity: max(sourceCount, 1))
        defer { x.deallocate(); out.deallocate(); w.deallocate(); work.deallocate(); bias.deallocate(); source.deallocate() }
        x.initialize(repeating: 0.5, count: inCount)
        w.initialize(repeating: 0.01, count: weightCount)
        source.initialize(repeating: 0.01, count: max(sourceCount, 1))
        bias.initialize(repeating: 0, count: Int(s.k))
        let times = bestTimes(kernels.map { k in {
            if transformsPerRun && k.algorithm != .im2col { k.transform(source, into: w) }
            k.run(x: x, weights: w, bias: bias, relu: true, out: out, work: work)
        } })
        let best = Dictionary(uniqueKeysWithValues: zip(candidates, times))
        let fastest = candidates.min { best[$0]! < best[$1]! }!
        return (fastest, best)
    }

    /// `shape` with its batch cut so that neither its input nor its output passes `measureBytes`.
    static func measurementShape(_ shape: vgg_conv_shape) -> vgg_conv_shape {
        var s = shape
        let perImage = Int(s.h * s.w) * Int(s.c) * 4, perImageOut = Int(s.oh * s.ow) * Int(s.k) * 4
        s.n = Int32(max(1, min(Int(s.n), measureBytes / max(perImage, perImageOut, 1))))
        return s
    }

    /// Each of `runs`' best time in seconds. Rounds alternate the runs, so a slow moment of a shared machine
    /// hits them alike; the first of the three rounds warms caches and pages and is not counted.
    static func bestTimes(_ runs: [() -> Void]) -> [Double] {
        var best = [Double](repeating: .infinity, count: runs.count)
        for round in 0..<3 {
            for (i, run) in runs.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                run()
                let t = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if round > 0 { best[i] = min(best[i], t) }
            }
        }
        return best
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var measured: [String: ConvolutionAlgorithm] = [:]  // guarded by lock

    /// The choice for `key`: from the cache file at `path` (or, without one, from this process's earlier
    /// measurements), else `measure()`'s, then remembered there. One search at a time in the process, so
    /// engines built at once on one geometry measure it once and agree.
    static func choice(_ key: String, candidates: [ConvolutionAlgorithm], path: String?, measure: () -> ConvolutionAlgorithm) -> ConvolutionAlgorithm {
        lock.lock()
        defer { lock.unlock() }
        if let path {
            if let a = AlgorithmCacheFile.lookup(key, path: path), candidates.contains(a) { return a }
        } else if let a = measured[key] {
            return a
        }
        let a = measure()
        if let path { AlgorithmCacheFile.store(key, a, path: path) } else { measured[key] = a }
        return a
    }

    /// This machine's identity for the disk cache: CPU model, a hash of its feature flags, the instruction
    /// set the kernels use and OpenBLAS's kernel family.
    static let machineKey: String = {
        var model = "unknown", flags = ""
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) {
            for line in info.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                if parts[0] == "model name", model == "unknown" { model = parts[1] }
                if parts[0] == "flags", flags.isEmpty { flags = parts[1] }
                if model != "unknown", !flags.isEmpty { break }
            }
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in flags.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "\(model)|flags \(String(h, radix: 16))|isa \(vgg_isa())|blas \(Engine.blasCore)"
    }()

    /// The disk cache's key for a geometry, its candidates and the thread count.
    static func key(_ s: vgg_conv_shape, candidates: [ConvolutionAlgorithm], threads: Int, transformsPerRun: Bool = false) -> String {
        "\(machineKey)|threads \(threads)|n\(s.n) \(s.h)x\(s.w)x\(s.c) -> \(s.oh)x\(s.ow)x\(s.k) k\(s.kh)x\(s.kw) s\(s.sh)x\(s.sw) d\(s.dh)x\(s.dw) pad \(s.pad_top),\(s.pad_left)|"
            + candidates.map(\.rawValue).joined(separator: ",") + (transformsPerRun ? "|kernel transformed per run" : "")
    }
}

/// The disk cache of measured choices: a JSON object `{"version": 1, "choices": {key: algorithm}}`, read
/// once per path and process and rewritten whole (through `AtomicFile`) when a choice is added. A file that
/// cannot be read or parsed counts as empty and is replaced on the next write; write failures are ignored
/// (the choice is then measured again by the next process).
package final class AlgorithmCacheFile: @unchecked Sendable {
    private struct Contents: Codable {
        var version: Int
        var choices: [String: ConvolutionAlgorithm]
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: [String: ConvolutionAlgorithm]] = [:]  // guarded by lock

    /// The choice stored under `key` in the file at `path`.
    static func lookup(_ key: String, path: String) -> ConvolutionAlgorithm? {
        lock.lock()
        defer { lock.unlock() }
        return load(path)[key]
    }

    /// Adds a choice and rewrites the file (merging what another process may have written meanwhile).
    static func store(_ key: String, _ algorithm: ConvolutionAlgorithm, path: String) {
        lock.lock()
        defer { lock.unlock() }
        var choices = read(path) ?? [:]
        for (k, v) in loaded[path] ?? [:] where choices[k] == nil { choices[k] = v }
        choices[key] = algorithm
        loaded[path] = choices
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(Contents(version: 1, choices: choices)) else { return }
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? AtomicFile.write([UInt8](data), to: path, durability: .processDeath)
    }

    private static func load(_ path: String) -> [String: ConvolutionAlgorithm] {
        if let c = loaded[path] { return c }
        let c = read(path) ?? [:]
        loaded[path] = c
        return c
    }

    /// The file's choices; nil when it is missing, unreadable or not this format (entries naming an unknown
    /// algorithm included).
    private static func read(_ path: String) -> [String: ConvolutionAlgorithm]? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 16 << 20,
              let c = try? JSONDecoder().decode(Contents.self, from: data), c.version == 1 else { return nil }
        return c.choices
    }

    /// Forgets what was read (tests that rewrite the file between engines).
    package static func forget(_ path: String) {
        lock.lock()
        defer { lock.unlock() }
        loaded[path] = nil
    }
}

/// The instruction sets of the run-time-dispatched kernels (the Winograd F(4x4) and F(6x6) transforms). Every one gives
/// bit-identical results; forcing a lower one exists to test the fallbacks.
package enum KernelISA: Int32, Sendable, CaseIterable {
    /// Baseline x86-64 (SSE2), or plain C elsewhere.
    case scalar = 0
    /// AVX2 (256-bit vectors).
    case avx2 = 1
    /// AVX-512F (512-bit vectors).
    case avx512 = 2

    /// The best this CPU runs.
    package static var supported: KernelISA { KernelISA(rawValue: vgg_isa_supported()) ?? .scalar }
    /// The one the kernels use now.
    package static var current: KernelISA { KernelISA(rawValue: vgg_isa()) ?? .scalar }
    /// Forces the kernels down to `isa` (never above `supported`); nil goes back to the best.
    package static func force(_ isa: KernelISA?) { vgg_set_isa(isa?.rawValue ?? -1) }
}
