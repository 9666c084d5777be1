import ModelGraph

/// A layer's kernel as the plan runs it. Kernels are written for channels last; a channels-first layer
/// (`LayerOp.isChannelsFirst`) runs its channels-last variant between two transpositions in the plan's
/// scratch memory: the input `(n, c, spatial...)` to `(n, spatial..., c)`, the kernel, the result back
/// (results of rank 2, such as Flatten's or a global pooling's, are copied as they are: Keras's Flatten
/// with channels first flattens in `(spatial..., c)` order too).
struct PlannedKernel {
    /// The kernel that does the work (the channels-last variant for a channels-first layer).
    let kernel: any RuntimeKernel
    /// Whether the transpositions wrap it.
    let channelsFirst: Bool

    var bufferUse: BufferUse { channelsFirst ? .fresh : kernel.bufferUse }

    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        guard channelsFirst else { return kernel.scratchFloats(inShape: inShape, outShape: outShape, engine: engine) }
        let i = Self.channelsLast(inShape), o = Self.channelsLast(outShape)
        return i.reduce(1, *) + o.reduce(1, *) + kernel.scratchFloats(inShape: i, outShape: o, engine: engine)
    }

    /// Channels-first layers never fuse a pooling (their output is transposed after the kernel).
    func fusesMaxPool(_ layer: String, inShape: [Int], outShape: [Int], engine: Engine) throws -> Bool {
        try !channelsFirst && kernel.fusesMaxPool(layer, inShape: inShape, outShape: outShape, engine: engine)
    }

    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        guard channelsFirst else { return try kernel.makeStep(c) }
        let inShape = Self.channelsLast(c.inShape), outShape = Self.channelsLast(c.outShape)
        let inCount = inShape.reduce(1, *), outCount = outShape.reduce(1, *)
        guard let scratch = c.scratch else { preconditionFailure("the plan sizes scratch for channels-first layers") }
        let a = scratch, b = scratch + inCount
        let rest = kernel.scratchFloats(inShape: inShape, outShape: outShape, engine: c.engine) > 0 ? b + outCount : nil
        // The kernel's own buffers: in place and alias kernels work on (or are) the transposed input.
        let result: UnsafeMutablePointer<Float> = kernel.bufferUse == .fresh ? b : a
        let inner = kernel.bufferUse == .alias ? nil
            : try kernel.makeStep(StepContext(engine: c.engine, info: c.info, inputs: [(ptr: UnsafePointer(a), shape: inShape)],
                                              out: result, outShape: outShape, scratch: rest))
        let x = c.x, out = c.out, engine = c.engine, fromShape = c.inShape
        return {
            Self.moveChannels(engine, from: x, to: a, shape: fromShape, toLast: true)
            try inner?()
            Self.moveChannels(engine, from: result, to: out, shape: outShape, toLast: false)
        }
    }

    /// `(n, c, spatial...)` as `(n, spatial..., c)`; rank 2 or less as it is.
    static func channelsLast(_ s: [Int]) -> [Int] { s.count < 3 ? s : [s[0]] + s[2...] + [s[1]] }

    /// Copies `shape`-shaped data moving the channels: from axis 1 to last (`toLast`), or from last to
    /// axis 1 (`shape` is then the channels-last shape). Rank 2 or less is a plain copy.
    static func moveChannels(_ engine: Engine, from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, shape: [Int], toLast: Bool) {
        let count = shape.reduce(1, *)
        guard shape.count >= 3 else { dst.update(from: src, count: count); return }
        let n = shape[0]
        let c = toLast ? shape[1] : shape[shape.count - 1]
        let spatial = count / max(n * c, 1)
        // Per image, a (rows x cols) matrix transposed: channels x spatial to channels last, or back.
        let rows = toLast ? c : spatial, cols = toLast ? spatial : c
        let s = UnsafeSendable(src), d = UnsafeSendable(dst)
        let tile = 32
        let tilesPerImage = (cols + tile - 1) / tile
        engine.parallelRanges(n * tilesPerImage, minChunk: max(1, 4096 / max(rows * tile, 1))) { lo, hi in
            for t in lo..<hi {
                let image = t / tilesPerImage, j0 = (t % tilesPerImage) * tile, j1 = min(j0 + tile, cols)
                let si = s.value + image * rows * cols, di = d.value + image * rows * cols
                var i0 = 0
                while i0 < rows {
                    let i1 = min(i0 + tile, rows)
                    for i in i0..<i1 {
                        for j in j0..<j1 { di[j * rows + i] = si[i * cols + j] }
                    }
                    i0 = i1
                }
            }
        }
    }
}

extension LayerOp {
    /// The kernel the plan runs for this layer (nil when the runtime has none).
    var planned: PlannedKernel? {
        guard let kernel = runtime else { return nil }
        if isChannelsFirst, let variant = (kind as? any ChannelOrdered)?.channelsLastVariant.op.runtime {
            return PlannedKernel(kernel: variant, channelsFirst: true)
        }
        return PlannedKernel(kernel: kernel, channelsFirst: false)
    }
}
