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
        var run: () throws -> Void
    }

    let key: PlanKey
    private(set) var steps: [Step] = []
    private var buffers: [UnsafeMutablePointer<Float>] = []
    private var scratch: UnsafeMutablePointer<Float>?
    private(set) var bytes = 0
    private(set) var bufferBytes = 0
    private var inputSlot = 0
    private var inputCount = 0
    private var outputs: [(slot: Int, shape: [Int])] = []

    /// im2col rows per tile: this many bytes of scratch per thread.
    static let im2colBlockBytes = 4 << 20

    init(engine: Engine, key: PlanKey) throws {
        self.key = key
        let file = engine.model.path
        // Only the layers the requested outputs depend on (so a model with a top can run at another input
        // size up to its feature layers).
        var needed = Set(key.outputs)
        for l in engine.model.graph.layers.reversed() where needed.contains(l.name) { needed.formUnion(l.inbound) }
        var sub = engine.model.graph
        sub.layers = sub.layers.filter { needed.contains($0.name) }
        sub.outputs = key.outputs
        let graph: ModelGraph
        let analysis: GraphAnalysis
        do {
            graph = try sub.withInputShape([key.height, key.width, key.channels])
            analysis = try graph.analyze()
        } catch let e as GraphError {
            throw RuntimeError(file: file, "input of \(key.height)x\(key.width)x\(key.channels): \(e.description)")
        }
        let n = key.batch
        let layers = analysis.layers
        var shapes: [String: [Int]] = [:]
        for info in layers {
            shapes[info.layer.name] = [n] + info.outputShape.dropFirst().map { $0 ?? 1 }
        }

        // ---- buffer planning
        var consumers: [String: Int] = [:]
        for info in layers { for i in info.layer.inbound { consumers[i, default: 0] += 1 } }
        for o in key.outputs { consumers[o, default: 0] += 1 }  // outputs stay live to the end
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
        for info in layers {
            let l = info.layer
            let count = shapes[l.name]!.reduce(1, *)
            let uses = consumers[l.name] ?? 0
            var slot: Int
            switch l.op {
            case .flatten, .reshape, .dropout:
                slot = slotOf[l.inbound[0]]!
                placement[l.name] = .alias
            case _ where Self.worksInPlace(l.op):
                let s = slotOf[l.inbound[0]]!
                if refs[s] == 1 { slot = s; placement[l.name] = .inPlace } else { slot = take(count); placement[l.name] = .fresh }
            default:
                slot = take(count)
                placement[l.name] = .fresh
            }
            refs[slot] += uses
            slotOf[l.name] = slot
            for i in l.inbound { release(slotOf[i]!) }
            if uses == 0 { refs[slot] += 1; release(slot) }
            scratchFloats = max(scratchFloats, Self.scratchNeed(info, shapes: shapes, engine: engine))
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
        let inputName = graph.inputs[0]
        inputSlot = slotOf[inputName]!
        inputCount = shapes[inputName]!.reduce(1, *)
        outputs = key.outputs.map { (slotOf[$0]!, shapes[$0]!) }

        // ---- steps
        for info in layers {
            let l = info.layer
            let out = buffers[slotOf[l.name]!]
            let ins = l.inbound.map { (ptr: UnsafePointer(buffers[slotOf[$0]!]), shape: shapes[$0]!) }
            let outShape = shapes[l.name]!
            if case .input = l.op { continue }
            if placement[l.name] == .alias { continue }
            // Elementwise layers work in place; when their input is still needed, copy it first.
            if placement[l.name] == .fresh, Self.worksInPlace(l.op) { steps.append(Self.copyStep(l.name, ins[0].ptr, out, outShape)) }
            steps.append(Step(layer: l.name, run: try Self.makeStep(engine: engine, info: info, ins: ins, out: out, outShape: outShape, scratch: scratch)))
        }
    }

    deinit {
        for b in buffers { b.deallocate() }
        scratch?.deallocate()
    }

    /// Layers whose kernels rewrite their input buffer in place.
    static func worksInPlace(_ op: LayerOp) -> Bool {
        switch op {
        case .activation, .relu, .softmax, .batchNormalization: return true
        default: return false
        }
    }

    static func copyStep(_ name: String, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ shape: [Int]) -> Step {
        let count = shape.reduce(1, *)
        return Step(layer: name) { dst.update(from: src, count: count) }
    }

    func execute(engine: Engine, input: UnsafeBufferPointer<Float>) throws -> [Tensor] {
        guard input.count == inputCount else {
            throw RuntimeError(file: engine.model.path, "input has \(input.count) values, the plan expects \(inputCount)")
        }
        buffers[inputSlot].update(from: input.baseAddress!, count: inputCount)
        engine.resetTimes()
        for step in steps {
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

    // MARK: geometry

    /// TensorFlow's padding: 'same' pads (out-1)*stride + window - in in total, the smaller half first.
    static func padBefore(_ size: Int, out: Int, window: Int, stride: Int, _ padding: Padding) -> Int {
        guard padding == .same else { return 0 }
        return max((out - 1) * stride + window - size, 0) / 2
    }

    static func convShape(_ inShape: [Int], _ outShape: [Int], kernel k: [Int], strides s: [Int], dilation d: [Int],
                          padding: Padding) -> vgg_conv_shape {
        let effH = (k[0] - 1) * d[0] + 1, effW = (k[1] - 1) * d[1] + 1
        return vgg_conv_shape(
            n: Int32(inShape[0]), h: Int32(inShape[1]), w: Int32(inShape[2]), c: Int32(inShape[3]),
            oh: Int32(outShape[1]), ow: Int32(outShape[2]), k: Int32(outShape[3]),
            kh: Int32(k[0]), kw: Int32(k[1]), sh: Int32(s[0]), sw: Int32(s[1]), dh: Int32(d[0]), dw: Int32(d[1]),
            pad_top: Int32(padBefore(inShape[1], out: outShape[1], window: effH, stride: s[0], padding)),
            pad_left: Int32(padBefore(inShape[2], out: outShape[2], window: effW, stride: s[1], padding)))
    }

    static func useWinograd(_ engine: Engine, kernel k: [Int], strides s: [Int], dilation d: [Int], channels c: Int) -> Bool {
        engine.winograd && k == [3, 3] && s == [1, 1] && d == [1, 1] && c >= engine.winogradMinChannels
    }

    /// Winograd tiles per block for c input and k output channels.
    /// Measured on VGG16 (bench --layers): 96-192 tiles per block is best for 64 and for 512 channels alike
    /// (GEMMs of 160 rows keep OpenBLAS efficient while v and m stay near the core's caches).
    static func winogradBlock(c: Int, k: Int) -> Int { 160 }

    /// Floats of scratch a layer needs (all threads together).
    static func scratchNeed(_ info: LayerInfo, shapes: [String: [Int]], engine: Engine) -> Int {
        let t = engine.threads
        func conv(_ k: [Int], _ s: [Int], _ d: [Int], c: Int, filters: Int, inShape: [Int], outShape: [Int]) -> Int {
            if useWinograd(engine, kernel: k, strides: s, dilation: d, channels: c) {
                let tiles = inShape[0] * ((outShape[1] + 1) / 2) * ((outShape[2] + 1) / 2)
                let block = min(winogradBlock(c: c, k: filters), (tiles + t - 1) / t)
                return (engine.cacheWinogradKernels ? 0 : 16 * c * filters) + t * 16 * block * (c + filters)
            }
            let kk = k[0] * k[1] * c
            let rows = max(1, im2colBlockBytes / (kk * 4))
            return t * rows * kk
        }
        let inShape = info.layer.inbound.first.flatMap { shapes[$0] } ?? []
        let outShape = shapes[info.layer.name]!
        switch info.layer.op {
        case .conv2D(let f, let k, let s, _, let d, _, _):
            return conv(k, s, d, c: inShape[3], filters: f, inShape: inShape, outShape: outShape)
        case .separableConv2D(_, _, _, _, let m, _, _, _):
            // depthwise result (in the scratch), then a pointwise product needing no scratch
            return inShape[0] * outShape[1] * outShape[2] * inShape[3] * m
        default:
            return 0
        }
    }

    // MARK: steps

    typealias Input = (ptr: UnsafePointer<Float>, shape: [Int])

    static func makeStep(engine: Engine, info: LayerInfo, ins: [Input], out: UnsafeMutablePointer<Float>, outShape: [Int],
                         scratch: UnsafeMutablePointer<Float>?) throws -> () throws -> Void {
        let name = info.layer.name
        let outCount = outShape.reduce(1, *)
        let x = ins.first?.ptr
        let inShape = ins.first?.shape ?? []
        switch info.layer.op {
        case .input, .flatten, .reshape, .dropout:
            return {}

        case .conv2D(let filters, let k, let s, let padding, let d, let act, let useBias):
            let kernel = try engine.weight(name, "kernel")
            let bias = useBias ? try engine.weight(name, "bias") : nil
            var shape = convShape(inShape, outShape, kernel: k, strides: s, dilation: d, padding: padding)
            let rows = outCount / filters
            if useWinograd(engine, kernel: k, strides: s, dilation: d, channels: inShape[3]) {
                let c = inShape[3]
                let tiles = Int(vgg_winograd_tiles(&shape))
                let block = min(winogradBlock(c: c, k: filters), (tiles + engine.threads - 1) / engine.threads)
                let cached = engine.cacheWinogradKernels
                let work = cached ? scratch! : scratch! + 16 * c * filters  // per-thread v and m
                let perThread = 16 * block * (c + filters)
                return {
                    let u: UnsafeMutablePointer<Float>
                    if cached {
                        u = engine.winogradKernel(name, kernel, c: c, k: filters)
                    } else {
                        u = scratch!
                        engine.parallelRanges(filters) { a, b in vgg_winograd_kernel_transform(kernel, Int32(c), Int32(filters), u, Int32(a), Int32(b)) }
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
                                vgg_winograd_tiles_run(&sh, x!, u, bias, out, t, e, v, m)
                                t = e
                            }
                        }
                    }
                    engine.activate(act, out, rows: rows, width: filters)
                }
            }
            let kk = k[0] * k[1] * inShape[3]
            let blockRows = max(1, im2colBlockBytes / (kk * 4))
            return {
                engine.parallelParts(rows, minChunk: 64) { a, b, part in
                    var sh = shape
                    vgg_conv2d_gemm_rows(&sh, x!, kernel, bias, out, a, b, scratch.map { $0 + part * blockRows * kk }, blockRows)
                }
                engine.activate(act, out, rows: rows, width: filters)
            }

        case .depthwiseConv2D(let k, let s, let padding, let mult, let d, let act, let useBias):
            let kernel = try engine.weight(name, "depthwise_kernel")
            let bias = useBias ? try engine.weight(name, "bias") : nil
            var shape = convShape(inShape, outShape, kernel: k, strides: s, dilation: d, padding: padding)
            shape.k = Int32(inShape[3] * mult)
            let rows = outShape[0] * outShape[1]
            return {
                engine.parallelRanges(rows) { a, b in
                    var sh = shape
                    vgg_depthwise_rows(&sh, Int32(mult), x!, kernel, bias, out, a, b)
                }
                engine.activate(act, out, rows: outCount / outShape[3], width: outShape[3])
            }

        case .separableConv2D(let filters, let k, let s, let padding, let mult, let d, let act, let useBias):
            let dk = try engine.weight(name, "depthwise_kernel")
            let pk = try engine.weight(name, "pointwise_kernel")
            let bias = useBias ? try engine.weight(name, "bias") : nil
            var shape = convShape(inShape, outShape, kernel: k, strides: s, dilation: d, padding: padding)
            let mid = inShape[3] * mult
            shape.k = Int32(mid)
            let rows = outShape[0] * outShape[1]
            let pixels = outCount / filters
            return {
                let tmp = scratch!
                engine.parallelRanges(rows) { a, b in
                    var sh = shape
                    vgg_depthwise_rows(&sh, Int32(mult), x!, dk, nil, tmp, a, b)
                }
                engine.parallelRanges(pixels, minChunk: 16) { a, b in
                    vgg_dense(tmp, pk, bias, out, pixels, mid, filters, a, b, 0, filters)
                }
                engine.activate(act, out, rows: pixels, width: filters)
            }

        case .dense(let units, let act, let useBias):
            let kernel = try engine.weight(name, "kernel")
            let bias = useBias ? try engine.weight(name, "bias") : nil
            let last = inShape.last!
            let rows = outCount / units
            return {
                if rows >= 4 * engine.threads {
                    engine.parallelRanges(rows) { a, b in vgg_dense(x!, kernel, bias, out, rows, last, units, a, b, 0, units) }
                } else {
                    engine.parallelRanges(units, minChunk: 64) { a, b in vgg_dense(x!, kernel, bias, out, rows, last, units, 0, rows, a, b) }
                }
                engine.activate(act, out, rows: rows, width: units)
            }

        case .batchNormalization(let eps, let center, let scaleOn):
            let c = outShape.last!
            let mean = try engine.weight(name, "moving_mean"), variance = try engine.weight(name, "moving_variance")
            let gamma = scaleOn ? try engine.weight(name, "gamma") : nil
            let beta = center ? try engine.weight(name, "beta") : nil
            // As Keras: inv = rsqrt(var + eps) * gamma; y = x * inv + (beta - mean * inv).
            var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
            for j in 0..<c {
                let inv = 1 / (variance[j] + Float(eps)).squareRoot() * (gamma?[j] ?? 1)
                scale[j] = inv
                shift[j] = (beta?[j] ?? 0) - mean[j] * inv
            }
            let rows = outCount / c
            return {
                scale.withUnsafeBufferPointer { sc in
                    shift.withUnsafeBufferPointer { sf in
                        engine.parallelRanges(rows, minChunk: 256) { a, b in vgg_scale_shift(out + a * c, b - a, c, sc.baseAddress, sf.baseAddress) }
                    }
                }
            }

        case .activation(let act):
            let c = outShape.last!
            return { engine.activate(act, out, rows: outCount / c, width: c) }

        case .relu(let maxValue, let slope, let threshold):
            return {
                engine.parallelRanges(outCount, minChunk: 1 << 14) { a, b in
                    vgg_relu_layer(out + a, b - a, maxValue.map { Float($0) } ?? -1, Float(slope), Float(threshold))
                }
            }

        case .softmax(let axis):
            let rank = outShape.count
            let ax = axis < 0 ? rank + axis : axis
            guard ax >= 1, ax < rank else { throw RuntimeError(file: engine.model.path, layer: name, "softmax axis \(axis) is out of range") }
            let outer = outShape[..<ax].reduce(1, *), len = outShape[ax], inner = outShape[(ax + 1)...].reduce(1, *)
            return { vgg_softmax(out, outer, len, inner, 0) }

        case .maxPooling2D(let p, let s, let padding), .averagePooling2D(let p, let s, let padding):
            var kind: Int32 = 0
            if case .averagePooling2D = info.layer.op { kind = 1 }
            let shape = convShape(inShape, outShape, kernel: p, strides: s, dilation: [1, 1], padding: padding)
            let rows = outShape[0] * outShape[1]
            return {
                engine.parallelRanges(rows) { a, b in
                    var sh = shape
                    vgg_pool_rows(&sh, kind, x!, out, a, b)
                }
            }

        case .globalAveragePooling2D, .globalMaxPooling2D:
            var kind: Int32 = 0
            if case .globalAveragePooling2D = info.layer.op { kind = 1 }
            return { vgg_global_pool(x!, out, inShape[0], inShape[1] * inShape[2], inShape[3], kind) }

        case .zeroPadding2D(let t, let b, let l, let r):
            return { vgg_zero_pad(x!, out, Int32(inShape[0]), Int32(inShape[1]), Int32(inShape[2]), Int32(inShape[3]), Int32(t), Int32(b), Int32(l), Int32(r)) }

        case .add, .multiply:
            var isAdd = false
            if case .add = info.layer.op { isAdd = true }
            let srcs = ins.map(\.ptr)
            return {
                engine.parallelRanges(outCount, minChunk: 1 << 14) { a, b in
                    let o = out + a
                    if o != UnsafeMutablePointer(mutating: srcs[0] + a) { o.update(from: srcs[0] + a, count: b - a) }
                    for src in srcs.dropFirst() {
                        let sp = src + a
                        if isAdd { for i in 0..<(b - a) { o[i] += sp[i] } } else { for i in 0..<(b - a) { o[i] *= sp[i] } }
                    }
                }
            }

        case .concatenate(let axis):
            let rank = outShape.count
            let ax = axis < 0 ? rank + axis : axis
            let outer = outShape[..<ax].reduce(1, *), inner = outShape[(ax + 1)...].reduce(1, *), total = outShape[ax]
            return {
                var at = 0
                for i in ins {
                    vgg_concat_part(i.ptr, out, outer, i.shape[ax], inner, total, at)
                    at += i.shape[ax]
                }
            }
        }
    }
}
