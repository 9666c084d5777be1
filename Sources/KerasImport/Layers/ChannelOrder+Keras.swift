import Foundation
import ModelGraph

/// Readers for the 1-D and 3-D layers' settings and for wrapped layers.
extension KerasLayerConfig {
    /// `data_format` (Keras 1's `dim_ordering`), channels last when absent.
    func channelOrder() throws -> ChannelOrder {
        guard let df = first(["data_format", "dim_ordering"]) as? String else { return .channelsLast }
        switch df {
        case "channels_last", "tf", "default": return .channelsLast
        case "channels_first", "th": return .channelsFirst
        default: throw error("data_format '\(df)' is not channels_last or channels_first")
        }
    }

    /// `count` positive integers given as one integer (every axis) or a list.
    func sizes(_ keys: String..., count: Int, default def: [Int]? = nil) throws -> [Int] {
        let v = first(keys)
        let key = keys[0]
        let values: [Int]
        if v == nil, let def { values = def } else if let n = v as? NSNumber {
            values = Array(repeating: try int(n, key), count: count)
        } else {
            guard let l = v as? [Any], l.count == count else { throw error("'\(key)' must be an integer or \(count) integers") }
            values = try l.map { try int($0, key) }
        }
        guard values.allSatisfy({ $0 >= 1 }) else { throw error("'\(key)' must be positive, got \(values)") }
        return values
    }

    /// `count` pairs `[before, after]` given as one integer (everywhere), `count` integers (symmetric) or
    /// `count` pairs.
    func pairs(_ key: String, count: Int, default def: Int) throws -> [[Int]] {
        let v = self[key] ?? def
        if let n = v as? NSNumber { let x = try int(n, key); return Array(repeating: [x, x], count: count) }
        guard let l = v as? [Any], l.count == count || (count == 1 && l.count == 2) else { throw error("'\(key)' is malformed") }
        if count == 1, l.count == 2, l.allSatisfy({ $0 is NSNumber }) { return [try l.map { try int($0, key) }] }
        return try l.map { item in
            if let n = item as? NSNumber { let x = try int(n, key); return [x, x] }
            guard let p = item as? [Any], p.count == 2 else { throw error("'\(key)' is malformed") }
            return try p.map { try int($0, key) }
        }
    }

    /// The layer a wrapper holds under `key` (`{"class_name", "config"}`), read by its own dialect.
    func wrappedLayer(_ key: String = "layer") throws -> LayerOp {
        guard let entry = self[key] as? [String: Any], let cls = entry["class_name"] as? String else { throw error("'\(key)' holds no layer") }
        if let module = entry["module"] as? String, !(module == "keras" || module.hasPrefix("keras.")) {
            throw error("wrapped class '\(cls)' comes from module '\(module)', outside Keras: custom code is not loaded")
        }
        guard let type = LayerOp.byKerasClassName[cls] else { throw error("wrapped layer class '\(cls)' is not supported") }
        var inner = KerasLayerConfig(values: entry["config"] as? [String: Any] ?? [:], file: file, layer: layer, kerasMajor: kerasMajor,
                                     className: cls, depth: depth + 1)
        inner.className = cls
        return try type.init(keras: inner).op
    }
}

extension LayerOp {
    /// A wrapped layer as tf-keras writes it: `{"class_name", "config"}`.
    func tfKerasEntry(name: String) throws -> [String: Any] {
        var config = try keras.tfKerasConfig()
        config["name"] = name
        config["trainable"] = true
        config["dtype"] = "float32"
        return ["class_name": className, "config": config]
    }
}

/// Layers whose Keras 3 weights live in sub-objects of the layer's group (`cell/vars`, `forward_layer/...`)
/// rather than in its own `vars`.
protocol KerasSubobjectWeights {
    /// The groups under the layer's group whose `vars` hold its weights, in the layer's weight order
    /// (`""`: the layer's own `vars`).
    var keras3VarGroups: [String] { get }
}

extension LayerOp {
    /// Where a layer's Keras 3 weights are, relative to its group.
    var keras3VarGroups: [String] { (keras as? KerasSubobjectWeights)?.keras3VarGroups ?? [""] }
}

func snakeCaseClass(_ op: LayerOp) -> String {
    var out = ""
    let chars = Array(op.className)
    for (i, ch) in chars.enumerated() {
        if ch.isUppercase, i > 0, chars[i - 1].isLowercase || (i + 1 < chars.count && chars[i + 1].isLowercase && chars[i - 1].isUppercase) { out += "_" }
        out += ch.lowercased()
    }
    return out
}
