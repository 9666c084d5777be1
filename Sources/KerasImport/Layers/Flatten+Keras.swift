import Foundation
import ModelGraph

extension Flatten: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        try c.checkChannelsLast()
        self.init()
    }

    func tfKerasConfig() -> [String: Any] { ["data_format": "channels_last"] }
}
