import CKernels
import ModelGraph

extension Conv2D: RuntimeKernel {
    /// Winograd F(2x2,3x3) for 3x3 stride-1 undilated convolutions with enough input channels.
    func usesWinograd(_ engine: Engine, channels c: Int) -> Bool {
        engine.winograd && kernel == 3 && strides == 1 && dilation == 1 && c >= engine.winogradMinChannels
    }

    /// Winograd tiles per block for c input and k output channels.
    /// Measured on VGG16 (bench --layers): 96-192 tiles per block is best for 64 and for 512 channels alike
    /// (GEMMs of 160 rows keep OpenBLAS efficient while v and m stay near the core's caches).
    static func winogradBlock(c: Int, k: Int) -> Int { 160 }

    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        let t = engine.threads, c = inShape[3]
        if usesWinograd(engine, channels: c) {
            let tiles = inShape[0] * ((outShape[1] + 1) / 2) * ((outShape[2] + 1) / 2)
            let block = min(Self.winogradBlock(c: c, k: filters), (tiles + t - 1) / t)
            return (engine.cacheWinogradKernels ? 0 : 16 * c * filters) + t * 16 * block * (c + filters)
        }
        return Plan.im2colScratchFloats(kk: kernel.area * c, engine: engine)
    }

    func makeStep(_ ctx: StepContext) throws -> () throws -> Void {
        let engine = ctx.engine, name = ctx.name, x = ctx.x, out = ctx.out, scratch = ctx.scratch, filters = filters
        let act = activation
        let weights = try ctx.weight("kernel")
        let bias = useBias ? try ctx.weight("bias") : nil
        var shape = window.kernelShape(input: ctx.inShape, output: ctx.outShape)
        let rows = ctx.outCount / filters
        let c = ctx.inShape[3]
        if let step = try engine.lowPrecisionStep(ctx, kernelShape: [kernel.height, kernel.width, c, filters], useBias: useBias, activation: act, conv: window) { return step }
        if usesWinograd(engine, channels: c) {
            let tiles = Int(vgg_winograd_tiles(&shape))
            let block = min(Self.winogradBlock(c: c, k: filters), (tiles + engine.threads - 1) / engine.threads)
            let cached = engine.cacheWinogradKernels
            let work = cached ? scratch! : scratch! + 16 * c * filters  // per-thread v and m
            let perThread = 16 * block * (c + filters)
            return {
                let u: UnsafeMutablePointer<Float>
                if cached {
                    u = engine.winogradKernel(name, weights, c: c, k: filters)
                } else {
                    u = scratch!
                    engine.parallelRanges(filters) { a, b in vgg_winograd_kernel_transform(weights, Int32(c), Int32(filters), u, Int32(a), Int32(b)) }
                }
                // One contiguous range of tiles per thread, in blocks that keep v and m in cache.
                let parts = min(engine.threads, max(1, (tiles + block - 1) / block))
                engine.parallelParts(parts) { p0, p1, _ in
                    for p in p0..<p1 {
                        var sh = shape
                        let v = work + p * perThread
                        let m = v + 16 * block * c
                        let t0 = tiles * p / parts, t1 = tiles * (p + 1) / parts
                        var t = t0
                        while t < t1 {
                            let e = min(t + block, t1)
                            vgg_winograd_tiles_run(&sh, x, u, bias, out, t, e, v, m)
                            t = e
                        }
                    }
                }
                engine.activate(act, out, rows: rows, width: filters)
            }
        }
        return Plan.im2colStep(ctx, shape: shape, weights: weights, bias: bias, filters: filters, kk: kernel.area * c, activation: act)
    }
}
