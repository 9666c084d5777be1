import Foundation
import ModelGraph

extension Flatten: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        self.init(dataFormat: try c.channelOrder())
    }

    func tfKerasConfig() -> [String: Any] { ["data_format": dataFormat.rawValue] }
}
