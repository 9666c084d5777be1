import ModelGraph

/// Steps of a sequence `(outer, steps, inner)` copied into `(outer, outSteps, inner)`: output step `t` takes
/// input step `source(t)`, or zeros where it is nil. Rows (outer) split across threads.
func stepCopy(_ c: StepContext, outer: Int, steps: Int, outSteps: Int, inner: Int, source: @escaping @Sendable (Int) -> Int?) -> () throws -> Void {
    let x = UnsafeSendable(c.x), out = UnsafeSendable(c.out), engine = c.engine
    let table = (0..<outSteps).map(source)
    return {
        engine.parallelRanges(outer) { a, b in
            for o in a..<b {
                let src = x.value + o * steps * inner, dst = out.value + o * outSteps * inner
                for t in 0..<outSteps {
                    if let s = table[t] { (dst + t * inner).update(from: src + s * inner, count: inner) } else { (dst + t * inner).update(repeating: 0, count: inner) }
                }
            }
        }
    }
}

extension ZeroPadding1D: RuntimeKernel {
    /// Zero steps before and after; with channels first (Keras 3), the last axis is the one padded.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape, before = padding[0]
        let (outer, steps, inner) = dataFormat == .channelsLast ? (s[0], s[1], s[2]) : (s[0] * s[1], s[2], 1)
        let outSteps = steps + padding[0] + padding[1]
        return stepCopy(c, outer: outer, steps: steps, outSteps: outSteps, inner: inner) { t in
            t >= before && t < before + steps ? t - before : nil
        }
    }
}

extension Cropping1D: RuntimeKernel {
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape, before = cropping[0]
        return stepCopy(c, outer: s[0], steps: s[1], outSteps: c.outShape[1], inner: s[2]) { t in t + before }
    }
}

extension UpSampling1D: RuntimeKernel {
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape, size = size
        return stepCopy(c, outer: s[0], steps: s[1], outSteps: c.outShape[1], inner: s[2]) { t in t / size }
    }
}

extension RepeatVector: RuntimeKernel {
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape
        return stepCopy(c, outer: s[0], steps: 1, outSteps: n, inner: s[1]) { _ in 0 }
    }
}

extension Embedding: RuntimeKernel {
    /// Row `id` of the table for each id, the ids cast to integers as Keras does (truncated toward zero); an
    /// id outside `0 ..< input_dim` is an error naming it, as TensorFlow's on the CPU. With `mask_zero` the
    /// later layers would be given a mask, which the runtime does not apply: refused.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        guard !maskZero else {
            throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedSetting("mask_zero"), "Embedding with mask_zero gives later layers a mask, which vggtool's runtime does not apply")
        }
        let table = UnsafeSendable(try c.weight("embeddings")), x = UnsafeSendable(c.x), out = UnsafeSendable(c.out)
        let count = c.inShape.reduce(1, *), dim = outputDim, vocabulary = inputDim
        let file = c.engine.model.path, name = c.name
        return {
            for i in 0..<count {
                let v = x.value[i]
                guard v.isFinite, let id = Int(exactly: v.rounded(.towardZero)), id >= 0, id < vocabulary else {
                    throw RuntimeError(file: file, layer: name, .badInputValue, "id \(v) at position \(i) is not in [0, \(vocabulary))")
                }
                (out.value + i * dim).update(from: table.value + id * dim, count: dim)
            }
        }
    }
}

extension TimeDistributed: RuntimeKernel {
    /// The wrapped layer's kernel on the steps as a batch: `(batch, steps, ...)` is `(batch * steps, ...)`
    /// in memory, so the kernel runs once on all steps, with this layer's weights.
    var bufferUse: BufferUse { layer.planned?.bufferUse ?? .fresh }

    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        guard let inner = layer.planned, inShape.count >= 3 else { return 0 }
        return inner.scratchFloats(inShape: Self.merged(inShape), outShape: Self.merged(outShape), engine: engine)
    }

    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        guard let inner = layer.planned else {
            throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedLayer(className: layer.className), "TimeDistributed(\(layer.className)) cannot be run: vggtool's runtime does not run \(layer.className)")
        }
        let context = StepContext(engine: c.engine, info: c.info, inputs: [(ptr: c.x, shape: Self.merged(c.inShape))], out: c.out,
                                  outShape: Self.merged(c.outShape), scratch: c.scratch)
        return try inner.makeStep(context)
    }

    /// `(batch, steps, rest...)` as `(batch * steps, rest...)`.
    static func merged(_ s: [Int]) -> [Int] { [s[0] * s[1]] + s.dropFirst(2) }
}
