import Foundation
import ModelGraph

/// What the recurrent layers read and write alike.
extension Recurrent {
    /// Refuses what changes the outputs' number or needs state across batches.
    static func checkKeras(_ c: KerasLayerConfig) throws {
        if c.bool("return_state", default: false) { throw c.error("return_state (several outputs) is not supported") }
        if c.bool("stateful", default: false) { throw c.error("stateful recurrent layers are not supported") }
        if c.bool("time_major", default: false) { throw c.error("time_major recurrent layers are not supported") }
    }

    func tfKerasCommon() throws -> [String: Any] {
        ["units": units, "activation": try activation.tfKerasName(), "use_bias": useBias, "return_sequences": returnSequences,
         "return_state": false, "go_backwards": goBackwards, "stateful": false, "unroll": false, "time_major": false,
         "dropout": 0.0, "recurrent_dropout": 0.0]
    }
}

extension Recurrent {
    var keras3VarGroups: [String] { ["cell"] }
}

extension SimpleRNN: KerasLayer, KerasSubobjectWeights {
    /// Keras 2/3 `units` (Keras 1 `output_dim`).
    init(keras c: KerasLayerConfig) throws {
        try Self.checkKeras(c)
        self.init(units: try c.positive("units", "output_dim"), activation: try c.activation(), useBias: c.bool("use_bias", default: true),
                  returnSequences: c.bool("return_sequences", default: false), goBackwards: c.bool("go_backwards", default: false))
    }
    func tfKerasConfig() throws -> [String: Any] { try tfKerasCommon() }
}

extension LSTM: KerasLayer, KerasSubobjectWeights {
    /// Keras 2/3 `units` (Keras 1 `output_dim`, `inner_activation`).
    init(keras c: KerasLayerConfig) throws {
        try Self.checkKeras(c)
        self.init(units: try c.positive("units", "output_dim"), activation: try c.activation(),
                  recurrentActivation: c["recurrent_activation"] != nil ? try c.activation("recurrent_activation") : try c.activation("inner_activation"),
                  useBias: c.bool("use_bias", default: true), returnSequences: c.bool("return_sequences", default: false),
                  goBackwards: c.bool("go_backwards", default: false))
        if c["recurrent_activation"] == nil, c["inner_activation"] == nil { recurrentActivation = .sigmoid }
    }
    func tfKerasConfig() throws -> [String: Any] {
        var d = try tfKerasCommon()
        d["recurrent_activation"] = try recurrentActivation.tfKerasName()
        d["unit_forget_bias"] = true
        d["implementation"] = 2
        return d
    }
}

extension GRU: KerasLayer, KerasSubobjectWeights {
    /// `reset_after` as written; when absent, Keras 3's default (true) for Keras 3 configs and the old
    /// default (false) for Keras 1/2 configs, which tf-keras 2 always writes it in.
    init(keras c: KerasLayerConfig) throws {
        try Self.checkKeras(c)
        self.init(units: try c.positive("units", "output_dim"), activation: try c.activation(),
                  recurrentActivation: c["recurrent_activation"] != nil ? try c.activation("recurrent_activation") : try c.activation("inner_activation"),
                  useBias: c.bool("use_bias", default: true), returnSequences: c.bool("return_sequences", default: false),
                  goBackwards: c.bool("go_backwards", default: false), resetAfter: c.bool("reset_after", default: c.kerasMajor >= 3))
        if c["recurrent_activation"] == nil, c["inner_activation"] == nil { recurrentActivation = .sigmoid }
    }
    func tfKerasConfig() throws -> [String: Any] {
        var d = try tfKerasCommon()
        d["recurrent_activation"] = try recurrentActivation.tfKerasName()
        d["reset_after"] = resetAfter
        d["implementation"] = 2
        return d
    }
}

extension Bidirectional: KerasLayer, KerasSubobjectWeights {
    /// The wrapped recurrent layer under `layer`; `merge_mode` None (two outputs) is refused, as is a
    /// `backward_layer` that is not the forward layer reversed.
    init(keras c: KerasLayerConfig) throws {
        let layer = try c.wrappedLayer()
        guard let forward = layer.kind as? any Recurrent else { throw c.error("Bidirectional wraps \(layer.className), not a recurrent layer") }
        guard let m = c["merge_mode"] as? String else { throw c.error("Bidirectional with merge_mode None (two outputs) is not supported") }
        guard let mode = BidirectionalMerge(rawValue: m) else { throw c.error("merge_mode '\(m)' is not concat, sum, mul or ave") }
        if c["backward_layer"] != nil {
            let backward = try c.wrappedLayer("backward_layer")
            guard (backward.kind as? any Recurrent)?.reversed().op == forward.op else {
                throw c.error("a backward_layer other than the forward layer reversed is not supported")
            }
        }
        self.init(layer: layer, mergeMode: mode)
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["layer": try layer.tfKerasEntry(name: snakeCaseClass(layer)), "merge_mode": mergeMode.rawValue]
    }

    var keras3VarGroups: [String] {
        let inner = layer.keras3VarGroups
        return inner.map { "forward_layer/" + $0 } + inner.map { "backward_layer/" + $0 }
    }
}

extension TimeDistributed: KerasLayer, KerasSubobjectWeights {
    init(keras c: KerasLayerConfig) throws { self.init(layer: try c.wrappedLayer()) }
    func tfKerasConfig() throws -> [String: Any] { ["layer": try layer.tfKerasEntry(name: snakeCaseClass(layer))] }
    var keras3VarGroups: [String] { layer.keras3VarGroups.map { $0.isEmpty ? "layer" : "layer/" + $0 } }
}
