import Foundation
import ModelGraph

extension GlobalPooling2D {
    static func kerasKeepDims(_ c: KerasLayerConfig) throws -> Bool {
        return c.bool("keepdims", default: false)
    }

    func tfKerasConfig() -> [String: Any] { ["data_format": dataFormat.rawValue, "keepdims": keepDims] }
}

extension GlobalAveragePooling2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: try Self.kerasKeepDims(c), dataFormat: try c.channelOrder()) }
}

extension GlobalMaxPooling2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(keepDims: try Self.kerasKeepDims(c), dataFormat: try c.channelOrder()) }
}
