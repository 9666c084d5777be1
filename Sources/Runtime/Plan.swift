import CKernels
import Dispatch
import Foundation
import ModelGraph

/// An execution plan for one input geometry: every layer's concrete shape, the buffer it writes (buffers
/// are reused once their last reader has run; Flatten, Reshape and Dropout alias their input; elementwise
/// layers work in place when they are their input's last reader), and the scratch memory the kernels need.
final class Plan {
    struct Step {
        var layer: String
        /// The step's first input and its output (buffer, shape batch first), for observers.
        var input: Input? = nil
        var output: Input? = nil
        var run: () throws -> Void
    }

    let key: PlanKey
    private(set) var steps: [Step] = []
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var scratch: UnsafeMutablePointer<Float>?
    /// Each Masking layer's mask, `(batch, steps)`, read by the layers its mask reaches.
    private var masks: [String: UnsafeMutablePointer<Float>] = [:]
    private(set) var bytes = 0
    private(set) var bufferBytes = 0
    /// Each model input's buffer and value count, in the graph's input order (nil: not needed for the outputs).
    private var inputSlots: [(slot: Int, count: Int)?] = []
    private var outputs: [(slot: Int, shape: [Int])] = []

    /// im2col rows per tile: this many bytes of scratch per thread.
    static let im2colBlockBytes = 4 << 20

    /// Rows of an im2col tile for a window of `kk` values (kernel area x input channels).
    static func im2colBlockRows(kk: Int) -> Int { max(1, im2colBlockBytes / (kk * 4)) }

    /// Scratch floats an im2col convolution needs, all threads together.
    static func im2colScratchFloats(kk: Int, engine: Engine) -> Int { engine.threads * im2colBlockRows(kk: kk) * kk }

    /// A convolution's step by im2col + GEMM over its output rows (split across threads, each with its tile
    /// of scratch), then the activation. `shape` is the kernels' geometry; kernels HWIO.
    static func im2colStep(_ ctx: StepContext, shape: vgg_conv_shape, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                           filters: Int, kk: Int, activation: Activation) -> () throws -> Void {
        let engine = ctx.engine, x = ctx.x, out = ctx.out, scratch = ctx.scratch
        let rows = ctx.outCount / filters, blockRows = im2colBlockRows(kk: kk)
        return {
            engine.parallelParts(rows, minChunk: 64) { a, b, part in
                var sh = shape
                vgg_conv2d_gemm_rows(&sh, x, weights, bias, out, a, b, scratch.map { $0 + part * blockRows * kk }, blockRows)
            }
            engine.activate(activation, out, rows: rows, width: filters)
        }
    }

    init(engine: Engine, key: PlanKey) throws {
        self.key = key
        let file = engine.model.path
        // Only the layers the requested outputs depend on (so a model with a top can run at another input
        // size up to its feature layers).
        var needed = Set(key.outputs)
        for l in engine.graph.layers.reversed() where needed.contains(l.name) { needed.formUnion(l.inbound) }
        var sub = engine.graph
        sub.layers = sub.layers.filter { needed.contains($0.name) }
        sub.outputs = key.outputs
        let graph: ModelGraph
        let analysis: GraphAnalysis
        do {
            graph = try sub.withInputShapes(key.inputShapes.map { $0.dropFirst().map { Optional($0) } })
            analysis = try graph.analyze()
        } catch let e as GraphError {
            let first = key.inputShapes[0]
            if first.count == 4 {
                throw RuntimeError(file: file, .inputDoesNotFit(height: first[1], width: first[2], channels: first[3], e),
                                   "input of \(first[1])x\(first[2])x\(first[3]): \(e.description)")
            }
            throw RuntimeError(file: file, .badInputShape(first), "inputs of shapes \(key.inputShapes): \(e.description)")
        }
        let n = key.inputShapes[0][0]
        let layers = analysis.layers
        var shapes: [String: [Int]] = [:]
        for info in layers {
            shapes[info.layer.name] = [n] + info.outputShape.dropFirst().map { $0 ?? 1 }
        }

        // ---- buffer planning
        var consumers: [String: Int] = [:]
        for info in layers { for i in info.layer.inbound { consumers[i, default: 0] += 1 } }
        for o in key.outputs { consumers[o, default: 0] += 1 }  // outputs stay live to the end
        // A 2x2 stride-2 MaxPooling2D that alone reads a layer able to pool on the way (an int8 Winograd
        // convolution) is fused into it: the layer's buffer is the pooled one and the pooling aliases it.
        var pooledBy: [String: String] = [:], fusedInto: [String: String] = [:]
        if key.fuse {
            for info in layers {
                let l = info.layer
                guard l.inbound.count == 1, case .maxPooling2D(let pool) = l.op, pool.pool == Size2D(2, 2), pool.strides == Size2D(2, 2),
                      pool.dataFormat == .channelsLast, !(l.op.planned?.channelsFirst ?? true) else { continue }
                let src = l.inbound[0]
                guard consumers[src] == 1, let source = graph.layer(named: src), let kernel = source.op.planned,
                      let inShape = source.inbound.first.flatMap({ shapes[$0] }), let convShape = shapes[src], let pooled = shapes[l.name],
                      convShape.count == 4, pooled[1] == (pool.padding == .valid ? convShape[1] / 2 : (convShape[1] + 1) / 2),
                      pooled[2] == (pool.padding == .valid ? convShape[2] / 2 : (convShape[2] + 1) / 2),
                      try kernel.fusesMaxPool(src, inShape: inShape, outShape: convShape, engine: engine) else { continue }
                pooledBy[src] = l.name
                fusedInto[l.name] = src
            }
        }
        engine.recordFusions(fusedInto)
        var capacity: [Int] = []
        var refs: [Int] = []
        var slotOf: [String: Int] = [:]
        var free: Set<Int> = []
        func take(_ count: Int) -> Int {
            if let best = free.filter({ capacity[$0] >= count }).min(by: { capacity[$0] < capacity[$1] }) {
                free.remove(best); return best
            }
            if let grow = free.max(by: { capacity[$0] < capacity[$1] }) {
                free.remove(grow); capacity[grow] = count; return grow
            }
            capacity.append(count); refs.append(0)
            return capacity.count - 1
        }
        func release(_ slot: Int) {
            refs[slot] -= 1
            if refs[slot] == 0 { free.insert(slot) }
        }
        enum Placement { case fresh, alias, inPlace }
        var placement: [String: Placement] = [:]
        var scratchFloats = 0
        // The inputs are written before any step runs: each gets a buffer of its own from the start.
        for info in layers where info.layer.op.inputShape != nil {
            let l = info.layer
            let slot = take(shapes[l.name]!.reduce(1, *))
            let uses = consumers[l.name] ?? 0
            refs[slot] += max(uses, 1)
            slotOf[l.name] = slot
            placement[l.name] = .fresh
            if uses == 0 { release(slot) }
        }
        for info in layers where info.layer.op.inputShape == nil {
            let l = info.layer
            let count = shapes[pooledBy[l.name] ?? l.name]!.reduce(1, *)
            let uses = consumers[l.name] ?? 0
            var slot: Int
            switch fusedInto[l.name] != nil ? .alias : l.op.planned!.bufferUse {  // every layer has a kernel (checked by Engine.init)
            case .alias:
                slot = slotOf[l.inbound[0]]!
                placement[l.name] = .alias
            case .inPlace:
                let s = slotOf[l.inbound[0]]!
                if refs[s] == 1 { slot = s; placement[l.name] = .inPlace } else { slot = take(count); placement[l.name] = .fresh }
            case .fresh:
                slot = take(count)
                placement[l.name] = .fresh
            }
            refs[slot] += uses
            slotOf[l.name] = slot
            for i in l.inbound { release(slotOf[i]!) }
            if uses == 0 { refs[slot] += 1; release(slot) }
            let inShape = l.inbound.first.flatMap { shapes[$0] } ?? []
            scratchFloats = max(scratchFloats, l.op.planned!.scratchFloats(inShape: inShape, outShape: shapes[l.name]!, engine: engine))
        }

        // ---- memory
        buffers = capacity.map { c in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(c, 1))
            p.initialize(repeating: 0, count: max(c, 1))
            return p
        }
        if scratchFloats > 0 {
            scratch = .allocate(capacity: scratchFloats)
            scratch!.initialize(repeating: 0, count: scratchFloats)
        }
        bufferBytes = capacity.reduce(0, +) * 4
        bytes = bufferBytes + scratchFloats * 4
        inputSlots = graph.inputs.map { name in slotOf[name].map { ($0, shapes[name]!.reduce(1, *)) } }
        outputs = key.outputs.map { (slotOf[$0]!, shapes[$0]!) }

        // ---- masks: which Masking layer's mask each layer reads (refusing layers that cannot apply one)
        let maskInput = try maskFlow(layers.map(\.layer), file: file)
        for info in layers {
            guard case .masking = info.layer.op, let s = shapes[info.layer.name], s.count >= 2 else { continue }
            let p = UnsafeMutablePointer<Float>.allocate(capacity: s[0] * s[1])
            p.initialize(repeating: 1, count: s[0] * s[1])
            masks[info.layer.name] = p
        }

        // ---- steps
        for info in layers {
            let l = info.layer
            let out = buffers[slotOf[l.name]!]
            let ins = l.inbound.map { (ptr: UnsafePointer(buffers[slotOf[$0]!]), shape: shapes[$0]!) }
            let outShape = shapes[l.name]!
            if l.op.inputShape != nil { continue }
            if placement[l.name] == .alias { continue }
            let kernel = l.op.planned!
            // Elementwise layers work in place; when their input is still needed, copy it first.
            if placement[l.name] == .fresh, kernel.bufferUse == .inPlace { steps.append(Self.copyStep(l.name, ins[0].ptr, out, outShape)) }
            var context = StepContext(engine: engine, info: info, inputs: ins, out: out, outShape: outShape, scratch: scratch)
            context.mask = maskInput[l.name].flatMap { masks[$0] }.map { UnsafePointer($0) }
            context.maskOut = masks[l.name]
            context.pooled = pooledBy[l.name].map { shapes[$0]! }
            steps.append(Step(layer: l.name, input: ins.first, output: (UnsafePointer(out), context.pooled ?? outShape), run: try kernel.makeStep(context)))
        }
    }

    deinit {
        for b in buffers { b.deallocate() }
        scratch?.deallocate()
        for m in masks.values { m.deallocate() }
    }

    static func copyStep(_ name: String, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ shape: [Int]) -> Step {
        let count = shape.reduce(1, *)
        return Step(layer: name, input: (src, shape), output: (UnsafePointer(dst), shape)) { dst.update(from: src, count: count) }
    }

    /// Runs the plan on one buffer per model input (in the graph's input order).
    func execute(engine: Engine, inputs: [UnsafeBufferPointer<Float>], observe: Engine.StepObserver? = nil) throws -> [Tensor] {
        precondition(inputs.count == inputSlots.count, "one buffer per input")
        for (input, slot) in zip(inputs, inputSlots) {
            guard let slot else { continue }
            guard input.count == slot.count else {
                throw RuntimeError(file: engine.model.path, .inputCountMismatch(expected: slot.count, actual: input.count), "input has \(input.count) values, the plan expects \(slot.count)")
            }
            buffers[slot.slot].update(from: input.baseAddress!, count: slot.count)
        }
        engine.resetTimes()
        for step in steps {
            if let observe {
                try observe(step.layer, true, step.input, step.output!)
                try step.run()
                try observe(step.layer, false, step.input, step.output!)
                continue
            }
            if engine.timeLayers {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try step.run()
                engine.record(step.layer, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            } else {
                try step.run()
            }
        }
        return outputs.map { o in
            let count = o.shape.reduce(1, *)
            return Tensor(shape: o.shape, values: Array(UnsafeBufferPointer(start: buffers[o.slot], count: count)))
        }
    }

    typealias Input = (ptr: UnsafePointer<Float>, shape: [Int])
}
