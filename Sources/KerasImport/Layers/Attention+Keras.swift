import Foundation
import ModelGraph

extension MultiHeadAttention: KerasLayer, KerasSubobjectWeights {
    /// Keras 3's gated variant (`use_gate`) is refused; `output_shape` may be an integer or a list.
    init(keras c: KerasLayerConfig) throws {
        if c.bool("use_gate", default: false) { throw c.error("MultiHeadAttention with use_gate is not supported") }
        let key = try c.positive("key_dim")
        var out: [Int]? = nil
        if let v = c["output_shape"] {
            if let n = v as? NSNumber { out = [try c.int(n, "output_shape")] } else if let l = v as? [Any] { out = try l.map { try c.int($0, "output_shape") } }
        }
        var axes: [Int]? = nil
        if let v = c["attention_axes"] {
            if let n = v as? NSNumber { axes = [try c.int(n, "attention_axes")] } else if let l = v as? [Any] { axes = try l.map { try c.int($0, "attention_axes") } }
        }
        self.init(numHeads: try c.positive("num_heads"), keyDim: key, valueDim: c["value_dim"] == nil ? key : try c.positive("value_dim"),
                  useBias: c.bool("use_bias", default: true), outputShape: out, attentionAxes: axes)
    }

    func tfKerasConfig() -> [String: Any] {
        ["num_heads": numHeads, "key_dim": keyDim, "value_dim": valueDim, "dropout": 0.0, "use_bias": useBias,
         "output_shape": outputShape.map { $0 as Any } ?? NSNull(), "attention_axes": attentionAxes.map { $0 as Any } ?? NSNull()]
    }

    var keras3VarGroups: [String] { ["query_dense", "key_dense", "value_dense", "output_dense"] }
}

extension Attention: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let mode = c["score_mode"] as? String ?? "dot"
        guard mode == "dot" || mode == "concat" else { throw c.error("score_mode '\(mode)' is not dot or concat") }
        self.init(useScale: c.bool("use_scale", default: false), scoreMode: mode)
    }
    func tfKerasConfig() -> [String: Any] { ["use_scale": useScale, "score_mode": scoreMode, "dropout": 0.0] }
}

extension AdditiveAttention: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(useScale: c.bool("use_scale", default: true)) }
    func tfKerasConfig() -> [String: Any] { ["use_scale": useScale, "dropout": 0.0] }
}

extension Dot: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let v = c["axes"]
        let axes: [Int]
        if let n = v as? NSNumber { let a = try c.int(n, "axes"); axes = [a, a] } else {
            guard let l = v as? [Any], l.count == 2 else { throw c.error("'axes' must be an integer or a pair") }
            axes = try l.map { try c.int($0, "axes") }
        }
        self.init(axes: axes, normalize: c.bool("normalize", default: false))
    }
    func tfKerasConfig() -> [String: Any] { ["axes": axes, "normalize": normalize] }
}

extension GroupNormalization: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        self.init(groups: try c.positive("groups", default: 32), axis: try c.int("axis", default: -1), epsilon: c.double("epsilon", default: 1e-3),
                  center: c.bool("center", default: true), scale: c.bool("scale", default: true))
    }
    func tfKerasConfig() -> [String: Any] { ["groups": groups, "axis": axis, "epsilon": epsilon, "center": center, "scale": scale] }
}

extension UnitNormalization: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let v = c["axis"] ?? -1
        if let n = v as? NSNumber { self.init(axis: [try c.int(n, "axis")]) } else {
            guard let l = v as? [Any], !l.isEmpty else { throw c.error("'axis' is malformed") }
            self.init(axis: try l.map { try c.int($0, "axis") })
        }
    }
    func tfKerasConfig() -> [String: Any] { ["axis": axis] }
}
