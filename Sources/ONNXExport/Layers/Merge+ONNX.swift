import ModelGraph

/// An elementwise merge: every input held in the first one's axis order, then `op` over them (binary ops
/// chained left to right when there are more than two inputs).
func merge(_ c: inout ONNXLayerContext, op: String, variadic: Bool) {
    let perm = c.inputs[0].perm
    let xs = c.inputs.map { c.convert($0, to: perm) }
    let out = c.outputName()
    if variadic || xs.count == 2 {
        c.node(op, xs, out)
    } else {
        var acc = xs[0]
        for (i, x) in xs.dropFirst().enumerated() {
            let next = i == xs.count - 2 ? out : c.temp(op.lowercased())
            c.node(op, [acc, x], next)
            acc = next
        }
    }
    c.output = ONNXValue(name: out, perm: perm)
}

extension Add: ONNXLayer {
    /// Add (Sum for more than two inputs).
    func exportONNX(_ c: inout ONNXLayerContext) throws { merge(&c, op: c.inputs.count == 2 ? "Add" : "Sum", variadic: true) }
}

extension Multiply: ONNXLayer {
    /// Mul, chained.
    func exportONNX(_ c: inout ONNXLayerContext) throws { merge(&c, op: "Mul", variadic: false) }
}

extension Subtract: ONNXLayer {
    /// Sub of the second input from the first.
    func exportONNX(_ c: inout ONNXLayerContext) throws { merge(&c, op: "Sub", variadic: false) }
}

extension Average: ONNXLayer {
    /// Mean.
    func exportONNX(_ c: inout ONNXLayerContext) throws { merge(&c, op: "Mean", variadic: true) }
}

extension Maximum: ONNXLayer {
    /// Max.
    func exportONNX(_ c: inout ONNXLayerContext) throws { merge(&c, op: "Max", variadic: true) }
}

extension Minimum: ONNXLayer {
    /// Min.
    func exportONNX(_ c: inout ONNXLayerContext) throws { merge(&c, op: "Min", variadic: true) }
}

extension Concatenate: ONNXLayer {
    /// Concat on the Keras axis, found where the first input holds it.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let perm = c.inputs[0].perm, r = perm.count
        let ax = axis < 0 ? r + axis : axis
        guard ax >= 1, ax < r else { throw c.error(.unsupportedSetting("axis=\(axis)"), "concatenation axis \(axis) is out of range") }
        let xs = c.inputs.map { c.convert($0, to: perm) }
        let out = c.outputName()
        c.node("Concat", xs, out, [.int("axis", c.onnxAxis(ax, perm: perm))])
        c.output = ONNXValue(name: out, perm: perm)
    }
}
