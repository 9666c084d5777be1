import ModelGraph

extension Dense: ONNXLayer {
    /// Gemm for a 2-D input; MatMul then Add over the last axis otherwise (Keras's order, so a Dense after
    /// Flatten sees Keras's (H, W, C) rows in either layout). Kernel `(in, units)` as stored.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputKeras()
        let n = try c.dim(0, -1)
        let w = try c.weight("kernel", dims: [n, units])
        let b = useBias ? try c.weight("bias", dims: [units]) : nil
        let out = c.preActivation(activation)
        if c.rank() == 2 {
            c.node("Gemm", [x, w] + (b.map { [$0] } ?? []), out)
        } else if let b {
            let m = c.temp("matmul")
            c.node("MatMul", [x, w], m)
            c.node("Add", [m, b], out)
        } else {
            c.node("MatMul", [x, w], out)
        }
        c.finish(out, activation: activation, perm: Perm.identity(c.outputShape.count))
    }
}

extension BatchNormalization: ONNXLayer {
    /// BatchNormalization (inference form) over the channels axis, held at ONNX axis 1; gamma 1 and beta
    /// 0 are written when Keras's `scale` or `center` is off. Only the last axis (channels last, or Keras's
    /// `axis` naming the last axis, as 2 for sequences) or channels first: another `axis` is refused.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let r = c.rank()
        guard normalizesLastAxis(rank: r) else {
            let a = axis.map(String.init) ?? "?"
            throw c.error(.unsupportedSetting("axis=\(a)"), "BatchNormalization over axis \(a) of a rank-\(r) input cannot be exported (only the channels axis can)")
        }
        let x = c.inputNCHW()
        let ch = try c.dim(0, -1)
        let gamma = scale ? try c.weight("gamma", dims: [ch]) : c.graph.constant("\(c.name)/gamma", Array(repeating: 1, count: ch))
        let beta = center ? try c.weight("beta", dims: [ch]) : c.graph.constant("\(c.name)/beta", Array(repeating: 0, count: ch))
        let mean = try c.weight("moving_mean", dims: [ch]), variance = try c.weight("moving_variance", dims: [ch])
        let out = c.outputName()
        c.node("BatchNormalization", [x, gamma, beta, mean, variance], out, [.float("epsilon", Float(epsilon))])
        c.setOutput(out, perm: Perm.channelsFirst(r))
    }
}

extension LayerNormalization: ONNXLayer {
    /// Over the last axis: LayerNormalization from opset 17, else mean, variance and rsqrt spelled out
    /// (ReduceMean's axes an attribute before opset 18).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        if let axis, axis != c.rank() - 1 {
            throw c.error(.unsupportedSetting("axis=\(axis)"), "LayerNormalization over axis \(axis) of a rank-\(c.rank()) input cannot be exported (the last axis can)")
        }
        let x = c.inputKeras()
        let n = try c.dim(0, -1)
        let gamma = scale ? try c.weight("gamma", dims: [n]) : c.graph.constant("\(c.name)/gamma", Array(repeating: 1, count: n))
        let beta = center ? try c.weight("beta", dims: [n]) : c.graph.constant("\(c.name)/beta", Array(repeating: 0, count: n))
        let out = c.outputName()
        if c.opset >= 17 {
            c.node("LayerNormalization", [x, gamma, beta], out, [.int("axis", -1), .float("epsilon", Float(epsilon))])
        } else {
            let mean = c.temp("mean"), d = c.temp("centered"), sq = c.temp("squared"), v = c.temp("variance"),
                ve = c.temp("variance_eps"), sd = c.temp("std"), nrm = c.temp("normalized"), sc = c.temp("scaled")
            c.node("ReduceMean", [x], mean, [.ints("axes", [-1]), .int("keepdims", 1)])
            c.node("Sub", [x, mean], d)
            c.node("Mul", [d, d], sq)
            c.node("ReduceMean", [sq], v, [.ints("axes", [-1]), .int("keepdims", 1)])
            c.node("Add", [v, c.scalar("epsilon", Float(epsilon))], ve)
            c.node("Sqrt", [ve], sd)
            c.node("Div", [d, sd], nrm)
            c.node("Mul", [nrm, gamma], sc)
            c.node("Add", [sc, beta], out)
        }
        c.setOutput(out, perm: Perm.identity(c.rank()))
    }
}

extension Normalization: ONNXLayer {
    /// (x - mean) / max(sqrt(variance), 1e-7) over the last axis, or its inverse, with the statistics
    /// folded into two constants.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        if let axis, axis != c.rank() - 1 {
            throw c.error(.unsupportedSetting("axis=\(axis)"), "Normalization over axis \(axis) of a rank-\(c.rank()) input cannot be exported (the last axis can)")
        }
        let x = c.inputKeras()
        let n = try c.dim(0, -1)
        let key = "\(c.name)/"
        var mean = [Float](repeating: 0, count: n), sd = [Float](repeating: 1, count: n)
        guard c.weights.count(key + "mean") == n, c.weights.count(key + "variance") == n else {
            throw c.error(.missingWeight("mean"), "weights 'mean' and 'variance' of \(n) values are missing from the file")
        }
        try c.weights.with(key + "mean") { v in for i in 0..<n { mean[i] = v[i] } }
        try c.weights.with(key + "variance") { v in for i in 0..<n { sd[i] = Swift.max(v[i].squareRoot(), 1e-7) } }
        let m = c.graph.constant(key + "mean", mean), s = c.graph.constant(key + "std", sd)
        let out = c.outputName(), t = c.temp(invert ? "scaled" : "centered")
        if invert {
            c.node("Mul", [x, s], t)
            c.node("Add", [t, m], out)
        } else {
            c.node("Sub", [x, m], t)
            c.node("Div", [t, s], out)
        }
        c.setOutput(out, perm: Perm.identity(c.rank()))
    }
}

extension Flatten: ONNXLayer {
    /// Flatten after bringing the input to Keras's (H, W, C) order (a Transpose when it is held NCHW).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputKeras()
        let out = c.outputName()
        c.node("Flatten", [x], out, [.int("axis", 1)])
        c.setOutput(out, perm: [0, 1])
    }
}

extension Reshape: ONNXLayer {
    /// Reshape of the Keras-ordered input to (batch, target shape...) (0 keeps the batch).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputKeras()
        let shape = c.graph.int64s("\(c.name)/shape", [0] + targetShape)
        let out = c.outputName()
        c.node("Reshape", [x, shape], out)
        c.setOutput(out, perm: Perm.identity(targetShape.count + 1))
    }
}

extension Permute: ONNXLayer {
    /// No node: the output is the input held in another axis order (a later layer transposes if it must).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let full = [0] + dims
        let inv = Perm.inverse(full)
        c.output = ONNXValue(name: c.inputs[0].name, perm: c.inputs[0].perm.map { inv[$0] })
    }
}
