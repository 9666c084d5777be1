import ModelGraph

// Sequence layers: the recurrent layers as ONNX's RNN, LSTM and GRU operators (layout 0: X is
// (steps, batch, features), Y is (steps, directions, batch, hidden), Y_h is (directions, batch, hidden)),
// Bidirectional as their "bidirectional" direction, TimeDistributed as its wrapped layer on
// (batch * steps, ...), Embedding as Cast and Gather, and the 1-D step layers (padding, cropping,
// upsampling, repetition).

/// An ONNX recurrent activation for Keras's `a` (`what` names the setting in a refusal): its name and,
/// for HardSigmoid and Affine, its alpha and beta. ONNX's recurrent operators take a fixed list of
/// activations; the ones a Keras model can name are Sigmoid, Tanh, Relu, HardSigmoid (Keras 2's
/// clip(0.2x + 0.5), Keras 3's relu6(x + 3) / 6) and, for linear, Affine with alpha 1 and beta 0; any other
/// is refused.
func recurrentActivation(_ c: ONNXLayerContext, _ a: Activation, _ what: String) throws -> (name: String, alpha: Float?, beta: Float?) {
    switch a {
    case .sigmoid: return ("Sigmoid", nil, nil)
    case .tanh: return ("Tanh", nil, nil)
    case .relu: return ("Relu", nil, nil)
    case .hardSigmoid: return ("HardSigmoid", 0.2, 0.5)
    case .hardSigmoidKeras3: return ("HardSigmoid", 1.0 / 6.0, 0.5)
    case .linear: return ("Affine", 1, 0)
    default:
        throw c.error(.unsupportedSetting("\(what)=\(a.kerasName)"),
                      "\(c.layer.op.className) with \(what) '\(a.kerasName)' cannot be exported (ONNX's recurrent operators take sigmoid, tanh, relu, hard_sigmoid and linear)")
    }
}

/// What one recurrent operator computes: the ONNX operator, Keras's gate block for each ONNX gate, and its
/// activations attributes.
struct RecurrentForm {
    var op: String
    /// ONNX gate `g` is Keras's gate block `gateMap[g]` (LSTM: ONNX i, o, f, c from Keras i, f, c, o).
    var gateMap: [Int]
    var attributes: [ONNXAttribute]

    /// The form of `layer` run in `directions` directions (the activations repeated per direction).
    init(_ c: ONNXLayerContext, _ layer: any Recurrent, directions: Int) throws {
        var acts: [(name: String, alpha: Float?, beta: Float?)]
        var extra: [ONNXAttribute] = []
        switch layer {
        case let l as LSTM:
            op = "LSTM"
            gateMap = [0, 3, 1, 2]
            let g = try recurrentActivation(c, l.recurrentActivation, "recurrent_activation"), a = try recurrentActivation(c, l.activation, "activation")
            acts = [g, a, a]
        case let l as GRU:
            op = "GRU"
            gateMap = [0, 1, 2]
            acts = [try recurrentActivation(c, l.recurrentActivation, "recurrent_activation"), try recurrentActivation(c, l.activation, "activation")]
            extra.append(.int("linear_before_reset", l.resetAfter ? 1 : 0))
        default:
            op = "RNN"
            gateMap = [0]
            acts = [try recurrentActivation(c, layer.activation, "activation")]
        }
        let all = Array(Array(repeating: acts, count: directions).joined())
        var attrs: [ONNXAttribute] = [.strings("activations", all.map(\.name)), .int("hidden_size", layer.units)]
        let alphas = all.compactMap(\.alpha), betas = all.compactMap(\.beta)
        if !alphas.isEmpty { attrs.append(.floats("activation_alpha", alphas)) }
        if !betas.isEmpty { attrs.append(.floats("activation_beta", betas)) }
        attributes = attrs + extra
    }
}

/// Runs `layer` (weights `prefixes[d] + "kernel"`, ... for direction `d`) as ONNX's recurrent operator over
/// the layer's input in `direction` ("forward", "reverse" or "bidirectional"); returns Y and Y_h.
func recurrentNode(_ c: ONNXLayerContext, _ layer: any Recurrent, prefixes: [String], direction: String) throws -> (y: String, yh: String) {
    let form = try RecurrentForm(c, layer, directions: prefixes.count)
    let features = try c.dim(0, 2), u = layer.units, gates = layer.gates, g = gates * u
    let dirs = prefixes.count
    func source(_ weight: String, count: Int) throws -> [String] {
        try prefixes.map { p in
            let key = "\(c.name)/\(p)\(weight)"
            guard let n = c.weights.count(key) else { throw c.error(.missingWeight(p + weight), "weight '\(p + weight)' is missing from the file") }
            guard n == count else { throw c.error(.missingWeight(p + weight), "weight '\(p + weight)' has \(n) values, the layer needs \(count)") }
            return key
        }
    }
    let gateMap = form.gateMap, ws = c.weights
    // W [dirs, gates * units, features] from kernel (features, gates * units); R likewise from
    // recurrent_kernel (units, gates * units); the ONNX gate order.
    func transposed(_ keys: [String], rows: Int, suffix: String) -> String {
        c.graph.floats("\(c.name)/\(suffix)", dims: [dirs, g, rows]) { out in
            for (d, key) in keys.enumerated() {
                try ws.with(key) { v in
                    let o = out + d * g * rows
                    for (og, kg) in gateMap.enumerated() {
                        for j in 0..<u {
                            for i in 0..<rows { o[(og * u + j) * rows + i] = v[i * g + kg * u + j] }
                        }
                    }
                }
            }
        }
    }
    let w = transposed(try source("kernel", count: features * g), rows: features, suffix: "W")
    let r = transposed(try source("recurrent_kernel", count: u * g), rows: u, suffix: "R")
    var inputs = [c.input(0, [1, 0, 2]), w, r]
    if layer.useBias {
        let resetAfter = (layer as? GRU)?.resetAfter ?? false
        let keys = try source("bias", count: resetAfter ? 2 * g : g)
        // B [dirs, 2 * gates * units]: the input bias then the recurrent one (Keras's second row for a
        // reset-after GRU, zeros otherwise).
        inputs.append(c.graph.floats("\(c.name)/B", dims: [dirs, 2 * g]) { out in
            for (d, key) in keys.enumerated() {
                try ws.with(key) { v in
                    let o = out + d * 2 * g
                    for (og, kg) in gateMap.enumerated() {
                        for j in 0..<u {
                            o[og * u + j] = v[kg * u + j]
                            o[g + og * u + j] = resetAfter ? v[g + kg * u + j] : 0
                        }
                    }
                }
            }
        })
    }
    let y = c.temp("Y"), yh = c.temp("Y_h")
    c.graph.add(form.op, name: "\(c.name)/\(form.op)", inputs: inputs, outputs: [y, yh],
                form.attributes + [.string("direction", direction)])
    return (y, yh)
}

/// A reversal of axis `axis` of `x` (Slice with step -1) into `out`.
func reverseAxis(_ c: ONNXLayerContext, _ x: String, axis: Int, _ out: String) {
    c.node("Slice", [x, c.graph.int64s("\(c.name)/reverse_starts", [-1]), c.graph.int64s("\(c.name)/reverse_ends", [Int(Int64.min)]),
                     c.graph.int64s("\(c.name)/reverse_axes", [axis]), c.graph.int64s("\(c.name)/reverse_steps", [-1])], out)
}

/// A standalone recurrent layer: ONNX's operator forwards, or in reverse for `go_backwards`. The last state
/// is Y_h without its direction axis; the sequence is Y without it, held (steps, batch, units), and for
/// `go_backwards` reversed along the steps (ONNX's reverse direction writes each state at the step it read;
/// Keras outputs the states in the order processed).
func exportRecurrent(_ c: inout ONNXLayerContext, _ layer: any Recurrent) throws {
    let (y, yh) = try recurrentNode(c, layer, prefixes: [""], direction: layer.goBackwards ? "reverse" : "forward")
    if layer.returnSequences {
        let out = c.outputName()
        let squeezed = layer.goBackwards ? c.temp("squeezed") : out
        c.node("Squeeze", [y, c.graph.int64s("\(c.name)/axes", [1])], squeezed)
        if layer.goBackwards { reverseAxis(c, squeezed, axis: 0, out) }
        c.setOutput(out, perm: [1, 0, 2])
    } else {
        let out = c.outputName()
        c.node("Squeeze", [yh, c.graph.int64s("\(c.name)/axes", [0])], out)
        c.setOutput(out, perm: [0, 1])
    }
}

extension SimpleRNN: ONNXLayer {
    /// ONNX RNN (layout 0, the input transposed to (steps, batch, features)).
    func exportONNX(_ c: inout ONNXLayerContext) throws { try exportRecurrent(&c, self) }
}

extension LSTM: ONNXLayer {
    /// ONNX LSTM, the gates reordered from Keras's i, f, c, o to ONNX's i, o, f, c.
    func exportONNX(_ c: inout ONNXLayerContext) throws { try exportRecurrent(&c, self) }
}

extension GRU: ONNXLayer {
    /// ONNX GRU (gates z, r, h in both): `linear_before_reset` 1 for Keras's `reset_after`, whose second
    /// bias row is ONNX's recurrent bias; 0 otherwise, with a zero recurrent bias.
    func exportONNX(_ c: inout ONNXLayerContext) throws { try exportRecurrent(&c, self) }
}

extension Bidirectional: ONNXLayer {
    /// The wrapped layer's ONNX operator with direction "bidirectional" (forward weights, then backward),
    /// whose backward states are already at the steps they read, as Keras realigns them; then the merge:
    /// concat as (forward, backward) on the last axis, sum, mul and ave elementwise. A wrapped layer that
    /// goes backwards is refused.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        guard let f = forward else {
            throw c.error(.unsupportedLayer(className: layer.className), "Bidirectional(\(layer.className)) cannot be exported")
        }
        guard !f.goBackwards else {
            throw c.error(.unsupportedSetting("go_backwards"), "Bidirectional of a \(layer.className) with go_backwards cannot be exported")
        }
        let (y, yh) = try recurrentNode(c, f, prefixes: ["forward/", "backward/"], direction: "bidirectional")
        // The directions' axis: 1 of Y (steps, 2, batch, units), 0 of Y_h (2, batch, units).
        let (v, dirAxis) = f.returnSequences ? (y, 1) : (yh, 0)
        let out = c.outputName()
        if mergeMode == .concat {
            // (batch, [steps,] 2, units), then the two directions side by side.
            let t = c.temp("transposed")
            c.node("Transpose", [v], t, [.ints("perm", f.returnSequences ? [2, 0, 1, 3] : [1, 0, 2])])
            c.node("Reshape", [t, c.graph.int64s("\(c.name)/shape", f.returnSequences ? [0, 0, -1] : [0, -1])], out)
            c.setOutput(out, perm: Perm.identity(f.returnSequences ? 3 : 2))
            return
        }
        let a = c.temp("forward"), b = c.temp("backward"), m = c.temp("merged")
        let axes = c.graph.int64s("\(c.name)/direction_axis", [dirAxis])
        c.node("Slice", [v, c.graph.int64s("\(c.name)/forward_start", [0]), c.graph.int64s("\(c.name)/forward_end", [1]), axes], a)
        c.node("Slice", [v, c.graph.int64s("\(c.name)/backward_start", [1]), c.graph.int64s("\(c.name)/backward_end", [2]), axes], b)
        switch mergeMode {
        case .sum: c.node("Add", [a, b], m)
        case .mul: c.node("Mul", [a, b], m)
        case .ave: c.node("Mean", [a, b], m)
        case .concat: preconditionFailure("handled above")
        }
        c.node("Squeeze", [m, axes], out)
        c.setOutput(out, perm: f.returnSequences ? [1, 0, 2] : [0, 1])
    }
}

extension TimeDistributed: ONNXLayer {
    /// The wrapped layer's export on the steps as a batch: the input Reshaped to (batch * steps, ...), the
    /// wrapped layer's nodes (its weights are this layer's), the result Reshaped to (batch, steps, ...). A
    /// wrapped layer the export refuses is refused naming both.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        guard let inner = layer.onnx else {
            throw c.error(.unsupportedLayer(className: layer.className), "TimeDistributed(\(layer.className)) cannot be exported: \(layer.className) has no ONNX form")
        }
        let steps = try c.dim(0, 1)
        let inRest = try (2..<c.rank()).map { try c.dim(0, $0) }
        guard c.outputShape.count >= 2, c.outputShape.dropFirst(2).allSatisfy({ $0 != nil }) else {
            throw c.error(.unknownInputSize, "output size is unknown")
        }
        let outRest = c.outputShape.dropFirst(2).map { $0! }
        let merged = c.temp("merged")
        c.node("Reshape", [c.inputKeras(), c.graph.int64s("\(c.name)/merged_shape", [-1] + inRest)], merged)
        // The wrapped layer as a layer of its own, named under this one; its weights read as this layer's.
        let innerName = "\(c.name)/\(layer.className)", prefix = "\(innerName)/", own = "\(c.name)/", source = c.weights
        let rename: (String) -> String = { $0.hasPrefix(prefix) ? own + $0.dropFirst(prefix.count) : $0 }
        let weights = ONNXWeightSource(count: { source.count(rename($0)) }, with: { try source.with(rename($0), $1) })
        let cf = layer.isChannelsFirst
        let view: (Shape) -> Shape = { s in cf && s.count >= 3 ? [s[0]] + s[2...] + [s[1]] : s }
        var sub = ONNXLayerContext(graph: c.graph, file: c.file, layer: Layer(name: innerName, op: layer, inbound: c.layer.inbound),
                                   inputs: [ONNXValue(name: merged, perm: Perm.identity(inRest.count + 1))],
                                   inputShapes: [view([nil] + inRest.map { Optional($0) })], outputShape: view([nil] + outRest.map { Optional($0) }),
                                   channelsFirst: cf, weights: weights, output: nil)
        do { try inner.exportONNX(&sub) } catch let e as ONNXExportError {
            throw c.error(e.kind, "TimeDistributed(\(layer.className)): \(e.message)")
        }
        guard let result = sub.output else { preconditionFailure("a layer's export sets its output") }
        let out = c.outputName()
        c.node("Reshape", [c.convert(result, to: Perm.identity(outRest.count + 1)), c.graph.int64s("\(c.name)/shape", [-1, steps] + outRest)], out)
        c.setOutput(out, perm: Perm.identity(outRest.count + 2))
    }
}

extension Embedding: ONNXLayer {
    /// The ids (floats) Cast to int64, which truncates toward zero as Keras's integer cast does, then
    /// Gather of the table's rows. `mask_zero` (a mask for later layers) is refused.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        guard !maskZero else {
            throw c.error(.unsupportedSetting("mask_zero"), "Embedding with mask_zero gives later layers a mask, which the export does not write")
        }
        let table = try c.weight("embeddings", dims: [inputDim, outputDim])
        let ids = c.temp("ids"), out = c.outputName()
        c.node("Cast", [c.inputKeras()], ids, [.int("to", 7)])
        c.node("Gather", [table, ids], out, [.int("axis", 0)])
        c.setOutput(out, perm: Perm.identity(c.rank() + 1))
    }
}

extension RepeatVector: ONNXLayer {
    /// (batch, features) Reshaped to (batch, 1, features), then Tile n times on the steps.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let f = try c.dim(0, 1)
        let r = c.temp("unsqueezed"), out = c.outputName()
        c.node("Reshape", [c.inputKeras(), c.graph.int64s("\(c.name)/shape", [0, 1, f])], r)
        c.node("Tile", [r, c.graph.int64s("\(c.name)/repeats", [1, n, 1])], out)
        c.setOutput(out, perm: Perm.identity(3))
    }
}

extension ZeroPadding1D: ONNXLayer {
    /// Pad of the steps (with channels first, Keras 3's, the last axis) where the input holds them, with
    /// the constant -0.0 as ZeroPadding2D (so ONNX Runtime does not fold it into a following Conv or pool).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0], axis = c.onnxAxis(dataFormat == .channelsLast ? 1 : 2, perm: v.perm)
        var pads = [Int](repeating: 0, count: 6)
        pads[axis] = padding[0]
        pads[3 + axis] = padding[1]
        let out = c.outputName()
        c.node("Pad", [v.name, c.graph.int64s("\(c.name)/pads", pads), c.scalar("value", -0.0)], out, [.string("mode", "constant")])
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension Cropping1D: ONNXLayer {
    /// Slice of the kept steps where the input holds them.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let steps = try c.dim(0, 1)
        let v = c.inputs[0], out = c.outputName()
        c.node("Slice", [v.name, c.graph.int64s("\(c.name)/starts", [cropping[0]]), c.graph.int64s("\(c.name)/ends", [steps - cropping[1]]),
                         c.graph.int64s("\(c.name)/axes", [c.onnxAxis(1, perm: v.perm)])], out)
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension UpSampling1D: ONNXLayer {
    /// Each step repeated: an axis of 1 added after the steps (Reshape), Tile `size` times on it, and the
    /// two merged (Reshape), where the input holds the steps.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0], axis = c.onnxAxis(1, perm: v.perm)
        let held = try v.perm.map { $0 == 0 ? 0 : try c.dim(0, $0) }
        var expanded = held, repeats = [1, 1, 1, 1], merged = held
        expanded.insert(1, at: axis + 1)
        repeats[axis + 1] = size
        merged[axis] *= size
        let e = c.temp("expanded"), t = c.temp("tiled"), out = c.outputName()
        c.node("Reshape", [v.name, c.graph.int64s("\(c.name)/expanded_shape", expanded)], e)
        c.node("Tile", [e, c.graph.int64s("\(c.name)/repeats", repeats)], t)
        c.node("Reshape", [t, c.graph.int64s("\(c.name)/shape", merged)], out)
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}
