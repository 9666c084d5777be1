/// Shape inference, weight shapes and MAC counts per layer class, following Keras's own arithmetic.
enum ShapeInference {
    /// Largest dimension accepted anywhere: guards the arithmetic against absurd configs.
    static let maxDimension = 1 << 31

    static func infer(_ layer: Layer, inputs: [Shape]) throws -> LayerInfo {
        func fail(_ why: String) -> GraphError { .shape(layer: layer.name, why) }
        func spatial(_ s: Shape) throws -> (h: Int?, w: Int?, c: Int) {
            guard s.count == 4, let c = s[3] else {
                throw fail("expects a 4-D input (batch, height, width, channels), got \(ShapeFormat.tuple(s))")
            }
            return (s[1], s[2], c)
        }
        func convOut(_ size: Int?, k: Int, s: Int, d: Int, _ pad: Padding, _ axis: String) throws -> Int? {
            guard let size else { return nil }
            return try convOutKnown(size, k: k, s: s, d: d, pad, axis)
        }
        func convOutKnown(_ size: Int, k: Int, s: Int, d: Int, _ pad: Padding, _ axis: String) throws -> Int {
            guard k >= 1, s >= 1, d >= 1 else { throw fail("kernel, stride and dilation must be positive") }
            let eff = (k - 1) * d + 1
            let out = pad == .same ? (size + s - 1) / s : (size - eff) / s + 1
            guard size >= (pad == .same ? 1 : eff), out >= 1 else {
                throw fail("input \(axis) \(size) is too small for a \(pad.rawValue) window of \(eff) with stride \(s)")
            }
            return out
        }
        let input = inputs.first ?? []
        var weights: [WeightSpec] = []
        var macs = 0
        let out: Shape

        switch layer.op {
        case .input(let shape):
            guard shape.allSatisfy({ $0 == nil || ($0! >= 1 && $0! <= maxDimension) }) else { throw fail("input dimensions must be positive, got \(ShapeFormat.tuple(shape))") }
            out = [nil] + shape
        case .conv2D(let filters, let k, let s, let pad, let d, _, let useBias):
            let (h, w, c) = try spatial(input)
            guard filters >= 1, filters <= maxDimension else { throw fail("filters must be positive, got \(filters)") }
            let oh = try convOut(h, k: k[0], s: s[0], d: d[0], pad, "height")
            let ow = try convOut(w, k: k[1], s: s[1], d: d[1], pad, "width")
            weights = [WeightSpec(name: "kernel", shape: [k[0], k[1], c, filters])]
            if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
            macs = (oh ?? 0) * (ow ?? 0) * filters * k[0] * k[1] * c
            out = [nil, oh, ow, filters]
        case .depthwiseConv2D(let k, let s, let pad, let m, let d, _, let useBias):
            let (h, w, c) = try spatial(input)
            guard m >= 1 else { throw fail("depth_multiplier must be positive") }
            let oh = try convOut(h, k: k[0], s: s[0], d: d[0], pad, "height")
            let ow = try convOut(w, k: k[1], s: s[1], d: d[1], pad, "width")
            weights = [WeightSpec(name: "depthwise_kernel", shape: [k[0], k[1], c, m])]
            if useBias { weights.append(WeightSpec(name: "bias", shape: [c * m])) }
            macs = (oh ?? 0) * (ow ?? 0) * c * m * k[0] * k[1]
            out = [nil, oh, ow, c * m]
        case .separableConv2D(let filters, let k, let s, let pad, let m, let d, _, let useBias):
            let (h, w, c) = try spatial(input)
            guard filters >= 1, m >= 1 else { throw fail("filters and depth_multiplier must be positive") }
            let oh = try convOut(h, k: k[0], s: s[0], d: d[0], pad, "height")
            let ow = try convOut(w, k: k[1], s: s[1], d: d[1], pad, "width")
            weights = [WeightSpec(name: "depthwise_kernel", shape: [k[0], k[1], c, m]),
                       WeightSpec(name: "pointwise_kernel", shape: [1, 1, c * m, filters])]
            if useBias { weights.append(WeightSpec(name: "bias", shape: [filters])) }
            macs = (oh ?? 0) * (ow ?? 0) * (c * m * k[0] * k[1] + c * m * filters)
            out = [nil, oh, ow, filters]
        case .dense(let units, _, let useBias):
            guard input.count >= 2, let last = input.last!, input.dropFirst().allSatisfy({ $0 != nil }) else {
                throw fail("expects an input with a known last dimension, got \(ShapeFormat.tuple(input))")
            }
            guard units >= 1, units <= maxDimension else { throw fail("units must be positive, got \(units)") }
            weights = [WeightSpec(name: "kernel", shape: [last, units])]
            if useBias { weights.append(WeightSpec(name: "bias", shape: [units])) }
            let rows = input.dropFirst().dropLast().reduce(1) { $0 * $1! }
            macs = rows * last * units
            out = Array(input.dropLast()) + [units]
        case .batchNormalization(_, let center, let scale):
            guard let c = input.last ?? nil else { throw fail("expects a known channel dimension") }
            if scale { weights.append(WeightSpec(name: "gamma", shape: [c])) }
            if center { weights.append(WeightSpec(name: "beta", shape: [c])) }
            weights.append(WeightSpec(name: "moving_mean", shape: [c], trainable: false))
            weights.append(WeightSpec(name: "moving_variance", shape: [c], trainable: false))
            out = input
        case .activation, .relu, .softmax, .dropout:
            out = input
        case .flatten:
            guard input.count >= 2 else { throw fail("expects at least a 2-D input") }
            let rest = input.dropFirst()
            out = [nil, rest.contains { $0 == nil } ? nil : rest.reduce(1) { $0 * $1! }]
        case .reshape(let target):
            let known = input.dropFirst()
            guard known.allSatisfy({ $0 != nil }) else { throw fail("cannot reshape an input of unknown size") }
            let total = known.reduce(1) { $0 * $1! }
            let unknown = target.filter { $0 == -1 }.count
            guard unknown <= 1, target.allSatisfy({ $0 == -1 || $0 >= 1 }) else { throw fail("invalid target shape \(target)") }
            let product = target.filter { $0 != -1 }.reduce(1, *)
            var resolved = target
            if unknown == 1 {
                guard product > 0, total % product == 0 else { throw fail("cannot reshape \(ShapeFormat.tuple(input)) to \(target)") }
                resolved = target.map { $0 == -1 ? total / product : $0 }
            } else {
                guard product == total else { throw fail("total size of new array must be unchanged: \(ShapeFormat.tuple(input)) to \(target)") }
            }
            out = [nil] + resolved.map { Optional($0) }
        case .maxPooling2D(let p, let s, let pad), .averagePooling2D(let p, let s, let pad):
            let (h, w, c) = try spatial(input)
            let oh = try convOut(h, k: p[0], s: s[0], d: 1, pad, "height")
            let ow = try convOut(w, k: p[1], s: s[1], d: 1, pad, "width")
            out = [nil, oh, ow, c]
        case .globalAveragePooling2D(let keep), .globalMaxPooling2D(let keep):
            let (_, _, c) = try spatial(input)
            out = keep ? [nil, 1, 1, c] : [nil, c]
        case .zeroPadding2D(let t, let b, let l, let r):
            let (h, w, c) = try spatial(input)
            guard t >= 0, b >= 0, l >= 0, r >= 0 else { throw fail("padding must not be negative") }
            out = [nil, h.map { $0 + t + b }, w.map { $0 + l + r }, c]
        case .add, .multiply:
            guard inputs.allSatisfy({ $0 == input }) else {
                throw fail("inputs must have equal shapes, got \(inputs.map(ShapeFormat.tuple).joined(separator: ", "))")
            }
            out = input
        case .concatenate(let axis):
            let rank = input.count
            let ax = axis < 0 ? rank + axis : axis
            guard ax >= 1, ax < rank else { throw fail("concatenation axis \(axis) is out of range for rank \(rank)") }
            var sum = 0
            for s in inputs {
                guard s.count == rank else { throw fail("inputs must have equal ranks") }
                for d in 1..<rank where d != ax && s[d] != input[d] {
                    throw fail("inputs must match except on axis \(axis), got \(inputs.map(ShapeFormat.tuple).joined(separator: ", "))")
                }
                guard let n = s[ax] else { throw fail("concatenation axis has unknown size") }
                sum += n
            }
            var o = input
            o[ax] = sum
            out = o
        }
        for d in out.dropFirst() {
            if let d, d > maxDimension { throw fail("dimension \(d) is too large") }
        }
        let elements = out.dropFirst().reduce(1) { $0 * ($1 ?? 1) }
        return LayerInfo(layer: layer, inputShapes: inputs, outputShape: out, weights: weights, macs: macs, activationBytes: elements * 4)
    }
}

/// How Keras writes shapes and sizes.
public enum ShapeFormat {
    /// Python tuple syntax: `(None, 224, 224, 3)`, `(None,)` for one element.
    public static func tuple(_ s: Shape) -> String {
        let parts = s.map { $0.map(String.init) ?? "None" }
        return parts.count == 1 ? "(\(parts[0]),)" : "(" + parts.joined(separator: ", ") + ")"
    }
}
