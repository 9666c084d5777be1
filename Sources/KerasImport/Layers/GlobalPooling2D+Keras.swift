import Foundation
import ModelGraph

extension GlobalPooling2D {
    static func kerasKeepDims(_ c: KerasLayerConfig) throws -> Bool {
        try c.checkChannelsLast()
        return c.bool("keepdims", default: false)
    }

    func tfKerasConfig() -> [String: Any] { ["data_format": "channels_last", "keepdims": keepDims] }
}

extension GlobalAveragePooling2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: try Self.kerasKeepDims(c)) }
}

extension GlobalMaxPooling2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: try Self.kerasKeepDims(c)) }
}
