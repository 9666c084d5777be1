import Foundation
import ModelGraph

/// Both pooling classes read and write the same keys.
extension Pooling2D {
    static func kerasWindow(_ c: KerasLayerConfig) throws -> (pool: Size2D, strides: Size2D, padding: Padding) {
        let pool = try c.size("pool_size", default: 2)
        return (pool, try c.size("strides", default: pool), try c.padding())
    }

    func tfKerasConfig() -> [String: Any] {
        ["pool_size": pool.array, "strides": strides.array, "padding": padding.rawValue, "data_format": dataFormat.rawValue]
    }
}

extension MaxPooling2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let w = try Self.kerasWindow(c)
        self.init(pool: w.pool, strides: w.strides, padding: w.padding, dataFormat: try c.channelOrder())
    }
}

extension AveragePooling2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let w = try Self.kerasWindow(c)
        self.init(pool: w.pool, strides: w.strides, padding: w.padding, dataFormat: try c.channelOrder())
    }
}
