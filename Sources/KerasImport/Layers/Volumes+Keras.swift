import Foundation
import ModelGraph

extension Pooling3D {
    static func kerasWindow(_ c: KerasLayerConfig) throws -> (pool: [Int], strides: [Int], padding: Padding, format: ChannelOrder) {
        let pool = try c.sizes("pool_size", count: 3, default: [2, 2, 2])
        return (pool, try c.sizes("strides", count: 3, default: pool), try c.padding(), try c.channelOrder())
    }

    func tfKerasConfig() -> [String: Any] {
        ["pool_size": pool, "strides": strides, "padding": padding.rawValue, "data_format": dataFormat.rawValue]
    }
}

extension MaxPooling3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let w = try Self.kerasWindow(c)
        self.init(pool: w.pool, strides: w.strides, padding: w.padding, dataFormat: w.format)
    }
}

extension AveragePooling3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let w = try Self.kerasWindow(c)
        self.init(pool: w.pool, strides: w.strides, padding: w.padding, dataFormat: w.format)
    }
}

extension GlobalPooling3D {
    func tfKerasConfig() -> [String: Any] { ["data_format": dataFormat.rawValue, "keepdims": keepDims] }
}

extension GlobalMaxPooling3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: c.bool("keepdims", default: false), dataFormat: try c.channelOrder()) }
}

extension GlobalAveragePooling3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: c.bool("keepdims", default: false), dataFormat: try c.channelOrder()) }
}

extension ZeroPadding1D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(padding: try c.pairs("padding", count: 1, default: 1)[0], dataFormat: try c.channelOrder()) }
    /// tf-keras's ZeroPadding1D has no `data_format`: channels first is Keras 3 only.
    func tfKerasConfig() throws -> [String: Any] {
        guard dataFormat == .channelsLast else { throw InexpressibleInKeras("ZeroPadding1D with channels_first is Keras 3 only") }
        return ["padding": padding]
    }
}

extension ZeroPadding3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(padding: try c.pairs("padding", count: 3, default: 1), dataFormat: try c.channelOrder()) }
    func tfKerasConfig() -> [String: Any] { ["padding": padding, "data_format": dataFormat.rawValue] }
}

extension Cropping1D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(cropping: try c.pairs("cropping", count: 1, default: 1)[0]) }
    func tfKerasConfig() -> [String: Any] { ["cropping": cropping] }
}

extension Cropping3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(cropping: try c.pairs("cropping", count: 3, default: 1), dataFormat: try c.channelOrder()) }
    func tfKerasConfig() -> [String: Any] { ["cropping": cropping, "data_format": dataFormat.rawValue] }
}

extension UpSampling1D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(size: try c.positive("size", "length", default: 2)) }
    func tfKerasConfig() -> [String: Any] { ["size": size] }
}

extension UpSampling3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(size: try c.sizes("size", count: 3, default: [2, 2, 2]), dataFormat: try c.channelOrder()) }
    func tfKerasConfig() -> [String: Any] { ["size": size, "data_format": dataFormat.rawValue] }
}
