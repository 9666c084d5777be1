import Foundation
import ModelGraph

extension BatchNormalization: KerasLayer {
    /// Normalization over the last axis (`axis` -1, or 3 for images) or over axis 1 (channels first) is
    /// accepted.
    init(keras c: KerasLayerConfig) throws {
        var order = ChannelOrder.channelsLast
        if let axis = c["axis"] {
            let list = axis as? [Any]
            guard list == nil || list!.count == 1 else { throw c.error(.unsupported, "BatchNormalization over several axes \(list!) is not supported") }
            let ax = try c.int(list?.first ?? axis, "axis")
            switch ax {
            case -1, 3: order = .channelsLast
            case 1: order = .channelsFirst
            default: throw c.error(.unsupported, "BatchNormalization over axis \(ax) is not supported (the last axis, or 1)")
            }
        }
        self.init(epsilon: c.double("epsilon", default: 1e-3), center: c.bool("center", default: true), scale: c.bool("scale", default: true),
                  dataFormat: order)
    }

    func tfKerasConfig() -> [String: Any] {
        ["axis": dataFormat == .channelsFirst ? 1 : -1, "momentum": 0.99, "epsilon": epsilon, "center": center, "scale": scale]
    }
}
