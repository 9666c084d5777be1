import ModelGraph

extension ActivationLayer: ONNXLayer {
    /// The activation's ONNX form on the input as it is held (softmax over the Keras last axis).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0]
        let out = c.outputName()
        c.emit(activation, v.name, out, axis: c.onnxAxis(v.perm.count - 1, perm: v.perm))
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension ReLU: ONNXLayer {
    /// Relu (Clip with a max value); with a negative slope or threshold, Keras's piecewise form:
    /// x >= threshold ? x : slope·(x - threshold), then at most max_value.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0]
        let out = c.outputName()
        if negativeSlope == 0, threshold == 0 {
            if let maxValue {
                c.node("Clip", [v.name, c.scalar("min", 0), c.scalar("max", Float(maxValue))], out)
            } else {
                c.node("Relu", [v.name], out)
            }
        } else {
            let th = c.scalar("threshold", Float(threshold))
            let ge = c.temp("ge"), d = c.temp("shifted"), s = c.temp("sloped")
            c.node("GreaterOrEqual", [v.name, th], ge)
            c.node("Sub", [v.name, th], d)
            c.node("Mul", [d, c.scalar("slope", Float(negativeSlope))], s)
            if let maxValue {
                let w = c.temp("where")
                c.node("Where", [ge, v.name, s], w)
                c.node("Min", [w, c.scalar("max", Float(maxValue))], out)
            } else {
                c.node("Where", [ge, v.name, s], out)
            }
        }
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension LeakyReLU: ONNXLayer {
    /// LeakyRelu with Keras's slope.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0], out = c.outputName()
        c.node("LeakyRelu", [v.name], out, [.float("alpha", Float(negativeSlope))])
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension ELU: ONNXLayer {
    /// Elu with Keras's alpha.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0], out = c.outputName()
        c.node("Elu", [v.name], out, [.float("alpha", Float(alpha))])
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension ThresholdedReLU: ONNXLayer {
    /// ThresholdedRelu: x where x > theta, else 0.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0], out = c.outputName()
        c.node("ThresholdedRelu", [v.name], out, [.float("alpha", Float(theta))])
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension Softmax: ONNXLayer {
    /// Softmax over the Keras axis, found where the input holds it (opset 13's single-axis semantics).
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0], r = v.perm.count
        let ax = axis < 0 ? r + axis : axis
        guard ax >= 1, ax < r else { throw c.error(.unsupportedSetting("axis=\(axis)"), "softmax axis \(axis) is out of range") }
        let out = c.outputName()
        c.node("Softmax", [v.name], out, [.int("axis", c.onnxAxis(ax, perm: v.perm))])
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension Rescaling: ONNXLayer {
    /// x·scale + offset.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let v = c.inputs[0], out = c.outputName(), m = c.temp("scaled")
        c.node("Mul", [v.name, c.scalar("scale", Float(scale))], m)
        c.node("Add", [m, c.scalar("offset", Float(offset))], out)
        c.output = ONNXValue(name: out, perm: v.perm)
    }
}

extension PReLU: ONNXLayer {
    /// PRelu on the Keras-ordered input with the slope `alpha` (the input's shape without the batch, 1 on
    /// shared axes) as stored, broadcasting from the right.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputKeras()
        let dims = c.inputShapes[0].dropFirst().enumerated().map { sharedAxes.contains($0.offset + 1) ? 1 : ($0.element ?? 1) }
        let alpha = try c.weight("alpha", dims: Array(dims))
        let out = c.outputName()
        c.node("PRelu", [x, alpha], out)
        c.setOutput(out, perm: Perm.identity(c.rank()))
    }
}

extension Dropout: ONNXIdentityLayer {}
extension GaussianNoise: ONNXIdentityLayer {}
extension GaussianDropout: ONNXIdentityLayer {}
extension SpatialDropout1D: ONNXIdentityLayer {}
extension SpatialDropout2D: ONNXIdentityLayer {}
extension SpatialDropout3D: ONNXIdentityLayer {}
extension AlphaDropout: ONNXIdentityLayer {}
extension ActivityRegularization: ONNXIdentityLayer {}
extension Identity: ONNXIdentityLayer {}
extension RandomAugmentation: ONNXIdentityLayer {}
