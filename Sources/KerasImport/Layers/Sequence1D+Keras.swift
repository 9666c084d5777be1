import Foundation
import ModelGraph

extension KerasLayerConfig {
    /// A 1-D length given as an integer or a one-element list.
    func length(_ keys: String..., default def: Int? = nil) throws -> Int {
        let v = first(keys)
        if v == nil, let def { return def }
        let n = try int((v as? [Any])?.first ?? v, keys[0])
        guard n >= 1 else { throw error("'\(keys[0])' must be positive, got \(n)") }
        return n
    }
}

extension Conv1D: KerasLayer {
    static let kerasClassNames = ["Conv1D", "Convolution1D"]

    /// Keras 2/3 keys, or Keras 1's `nb_filter`, `filter_length`, `subsample_length`, `border_mode`.
    init(keras c: KerasLayerConfig) throws {
        if let g = c["groups"] as? NSNumber, g.intValue != 1 { throw c.error(.unsupported, "grouped convolution (groups=\(g)) is not supported") }
        let p = c.first(["padding", "border_mode"]) as? String ?? "valid"
        guard let padding = Padding1D(rawValue: p.lowercased()) else { throw c.error(.unsupported, "padding '\(p)' is not supported (valid, same or causal)") }
        self.init(filters: try c.positive("filters", "nb_filter"), kernel: try c.length("kernel_size", "filter_length"),
                  strides: try c.length("strides", "subsample_length", default: 1), padding: padding, dilation: try c.length("dilation_rate", default: 1),
                  activation: try c.activation(), useBias: c.bool("use_bias", "bias", default: true), dataFormat: try c.kernelChannelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": [kernel], "strides": [strides], "padding": padding.rawValue, "data_format": dataFormat.rawValue,
         "dilation_rate": [dilation], "groups": 1, "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}

extension Pooling1D {
    static func kerasWindow(_ c: KerasLayerConfig) throws -> (pool: Int, strides: Int, padding: Padding) {
        let pool = try c.length("pool_size", "pool_length", default: 2)
        return (pool, try c.length("strides", "stride", default: pool), try c.padding())
    }

    func tfKerasConfig() -> [String: Any] { ["pool_size": [pool], "strides": [strides], "padding": padding.rawValue, "data_format": dataFormat.rawValue] }
}

extension MaxPooling1D: KerasLayer {
    static let kerasClassNames = ["MaxPooling1D", "MaxPool1D"]
    init(keras c: KerasLayerConfig) throws { let w = try Self.kerasWindow(c); self.init(pool: w.pool, strides: w.strides, padding: w.padding, dataFormat: try c.channelOrder()) }
}

extension AveragePooling1D: KerasLayer {
    static let kerasClassNames = ["AveragePooling1D", "AvgPool1D"]
    init(keras c: KerasLayerConfig) throws { let w = try Self.kerasWindow(c); self.init(pool: w.pool, strides: w.strides, padding: w.padding, dataFormat: try c.channelOrder()) }
}

extension GlobalPooling1D {
    static func kerasKeepDims(_ c: KerasLayerConfig) throws -> Bool {
        c.bool("keepdims", default: false)
    }

    func tfKerasConfig() -> [String: Any] { ["data_format": dataFormat.rawValue, "keepdims": keepDims] }
}

extension GlobalAveragePooling1D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: try Self.kerasKeepDims(c), dataFormat: try c.channelOrder()) }
}

extension GlobalMaxPooling1D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: try Self.kerasKeepDims(c), dataFormat: try c.channelOrder()) }
}
