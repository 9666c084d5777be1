import CKernels
import ModelGraph

/// One direction of a recurrent layer over a batch: the input projection of every step at once (one matrix
/// product, input bias included), then the steps in order, each a product of the state with the recurrent
/// kernel and the gates as Keras's cells compute them (LSTM i, f, c, o; GRU z, r, h with the reset gate
/// before or after the recurrent product; SimpleRNN). Masks are not applied (layers given one are refused).
struct RecurrentPass {
    enum Cell { case simple, lstm, gru(resetAfter: Bool) }

    let cell: Cell
    let units: Int
    let gates: Int
    let activation: Int32
    let recurrentActivation: Int32
    let backwards: Bool
    let sequences: Bool
    let kernel: UnsafePointer<Float>
    let recurrent: UnsafePointer<Float>
    let inputBias: UnsafePointer<Float>?
    let recurrentBias: UnsafePointer<Float>?

    /// The pass of `layer`, its weights named `prefix + "kernel"`, ... (`forward/` and `backward/` in a
    /// Bidirectional).
    init(_ layer: any Recurrent, _ c: StepContext, prefix: String = "", backwards: Bool? = nil) throws {
        func code(_ a: Activation) throws -> Int32 {
            if a == .linear { return -1 }
            guard let k = a.kernelCode else {
                throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedSetting("activation=\(a.kerasName)"), "a recurrent layer with activation '\(a.kerasName)' cannot be run")
            }
            return k
        }
        switch layer {
        case let l as LSTM: cell = .lstm; recurrentActivation = try code(l.recurrentActivation)
        case let l as GRU: cell = .gru(resetAfter: l.resetAfter); recurrentActivation = try code(l.recurrentActivation)
        default: cell = .simple; recurrentActivation = -1
        }
        units = layer.units
        gates = layer.gates
        activation = try code(layer.activation)
        self.backwards = backwards ?? layer.goBackwards
        sequences = layer.returnSequences
        kernel = try c.weight(prefix + "kernel")
        recurrent = try c.weight(prefix + "recurrent_kernel")
        let bias = layer.useBias ? try c.weight(prefix + "bias") : nil
        inputBias = bias
        if case .gru(resetAfter: true) = cell, let bias { recurrentBias = bias + 3 * layer.units } else { recurrentBias = nil }
    }

    /// Scratch floats for a batch of `n` sequences of `steps` steps.
    static func scratch(units: Int, gates: Int, n: Int, steps: Int) -> Int { n * steps * gates * units + n * gates * units + 3 * n * units }

    /// Runs over `x` `(n, steps, features)` into `out`: `(n, steps, units)` with `sequences` (step k of the
    /// output is the k-th step processed, or, with `reversed`, the (steps - 1 - k)-th: Keras reverses a
    /// Bidirectional's backward outputs whichever way that layer reads), else `(n, units)`.
    ///
    /// With `mask` (`(n, steps)`, 0 for a masked step), a masked step leaves the state as it was and outputs the
    /// last output (the state), or zeros with `zeroMasked` (inside a Bidirectional), as Keras does.
    func run(_ engine: Engine, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, n: Int, steps: Int, features: Int,
             scratch: UnsafeMutablePointer<Float>, reversed: Bool = false, mask: UnsafePointer<Float>? = nil, zeroMasked: Bool = false) {
        let u = units, g = gates * units
        let xw = scratch, hw = xw + n * steps * g, h = hw + n * g, c = h + n * u, t = c + n * u
        let rows = n * steps
        let xs = UnsafeSendable(x), xws = UnsafeSendable(xw), k = UnsafeSendable(kernel), b = inputBias.map { UnsafeSendable($0) }
        engine.parallelRanges(rows, minChunk: 16) { a, e in vgg_dense(xs.value, k.value, b?.value, xws.value, rows, features, g, a, e, 0, g) }
        h.update(repeating: 0, count: n * u)
        c.update(repeating: 0, count: n * u)
        func act(_ code: Int32, _ p: UnsafeMutablePointer<Float>, _ count: Int) { if code >= 0 { vgg_activation(code, p, count) } }
        for step in 0..<steps {
            let ts = backwards ? steps - 1 - step : step
            switch cell {
            case .gru(resetAfter: false):
                // z and r from h, then the candidate's recurrent part from (r * h), every row in one product.
                vgg_dense(h, recurrent, nil, hw, n, u, g, 0, n, 0, 2 * u)
                for i in 0..<n {
                    let z = xw + (i * steps + ts) * g, r = hw + i * g
                    for j in 0..<(2 * u) { r[j] += z[j] }
                    act(recurrentActivation, r, 2 * u)
                    for j in 0..<u { c[i * u + j] = r[u + j] * h[i * u + j] }  // r * h (c is free in a GRU)
                }
                vgg_dense(c, recurrent, nil, hw, n, u, g, 0, n, 2 * u, g)
            default:
                vgg_dense(h, recurrent, recurrentBias, hw, n, u, g, 0, n, 0, g)
            }
            for i in 0..<n {
                let z = xw + (i * steps + ts) * g, r = hw + i * g, hi = h + i * u, ci = c + i * u
                if let mask, mask[i * steps + ts] == 0 {
                    if sequences {
                        let dst = out + (i * steps + (reversed ? steps - 1 - step : step)) * u
                        if zeroMasked { dst.update(repeating: 0, count: u) } else { dst.update(from: hi, count: u) }
                    }
                    continue
                }
                switch cell {
                case .simple:
                    for j in 0..<u { hi[j] = z[j] + r[j] }
                    act(activation, hi, u)
                case .lstm:
                    for j in 0..<g { r[j] += z[j] }
                    act(recurrentActivation, r, 2 * u)           // i, f
                    act(activation, r + 2 * u, u)                 // candidate
                    act(recurrentActivation, r + 3 * u, u)        // o
                    for j in 0..<u { ci[j] = r[u + j] * ci[j] + r[j] * r[2 * u + j] }
                    (t + i * u).update(from: ci, count: u)
                    act(activation, t + i * u, u)
                    for j in 0..<u { hi[j] = r[3 * u + j] * t[i * u + j] }
                case .gru(let after):
                    let cand = t + i * u
                    if after {
                        for j in 0..<(2 * u) { r[j] += z[j] }
                        act(recurrentActivation, r, 2 * u)        // z, r
                        for j in 0..<u { cand[j] = z[2 * u + j] + r[u + j] * r[2 * u + j] }
                    } else {
                        for j in 0..<u { cand[j] = z[2 * u + j] + r[2 * u + j] }  // gates and (r * h) product above
                    }
                    act(activation, cand, u)
                    for j in 0..<u { hi[j] = r[j] * hi[j] + (1 - r[j]) * cand[j] }
                }
                if sequences {
                    let k = reversed ? steps - 1 - step : step
                    (out + (i * steps + k) * u).update(from: hi, count: u)
                }
            }
        }
        if !sequences { out.update(from: h, count: n * u) }
    }
}

extension Recurrent {
    func recurrentScratch(inShape: [Int]) -> Int {
        RecurrentPass.scratch(units: units, gates: gates, n: inShape[0], steps: inShape[1])
    }

    func recurrentStep(_ c: StepContext) throws -> () throws -> Void {
        let pass = try RecurrentPass(self, c)
        let s = c.inShape, engine = c.engine, x = c.x, out = c.out
        guard let scratch = c.scratch else { preconditionFailure("the plan sizes scratch for recurrent layers") }
        let mask = c.mask
        return { pass.run(engine, x: x, out: out, n: s[0], steps: s[1], features: s[2], scratch: scratch, mask: mask) }
    }
}

extension SimpleRNN: RuntimeKernel {
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int { recurrentScratch(inShape: inShape) }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { try recurrentStep(c) }
}

extension LSTM: RuntimeKernel {
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int { recurrentScratch(inShape: inShape) }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { try recurrentStep(c) }
}

extension GRU: RuntimeKernel {
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int { recurrentScratch(inShape: inShape) }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { try recurrentStep(c) }
}

extension Bidirectional: RuntimeKernel {
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int {
        guard let f = forward else { return 0 }
        let each = inShape[0] * (f.returnSequences ? inShape[1] : 1) * f.units
        return 2 * each + RecurrentPass.scratch(units: f.units, gates: f.gates, n: inShape[0], steps: inShape[1])
    }

    /// The forward pass and the backward one (the wrapped layer's copy reading the other way, its outputs
    /// reversed as Keras reverses them), merged by `merge_mode`.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        guard let f = forward else { preconditionFailure("decoding checks the wrapped layer is recurrent") }
        let fw = try RecurrentPass(f, c, prefix: "forward/"), bw = try RecurrentPass(f, c, prefix: "backward/", backwards: !f.goBackwards)
        let s = c.inShape, engine = c.engine, x = c.x, out = c.out, u = f.units, mode = mergeMode
        let each = s[0] * (f.returnSequences ? s[1] : 1) * u
        guard let scratch = c.scratch else { preconditionFailure("the plan sizes scratch for recurrent layers") }
        let a = scratch, b = scratch + each, rest = scratch + 2 * each, mask = c.mask
        return {
            fw.run(engine, x: x, out: a, n: s[0], steps: s[1], features: s[2], scratch: rest, mask: mask, zeroMasked: true)
            bw.run(engine, x: x, out: b, n: s[0], steps: s[1], features: s[2], scratch: rest, reversed: true, mask: mask, zeroMasked: true)
            let rows = each / u
            for r in 0..<rows {
                let pa = a + r * u, pb = b + r * u
                switch mode {
                case .concat:
                    (out + r * 2 * u).update(from: pa, count: u)
                    (out + r * 2 * u + u).update(from: pb, count: u)
                case .sum: for j in 0..<u { out[r * u + j] = pa[j] + pb[j] }
                case .mul: for j in 0..<u { out[r * u + j] = pa[j] * pb[j] }
                case .ave: for j in 0..<u { out[r * u + j] = (pa[j] + pb[j]) / 2 }
                }
            }
        }
    }
}
