import Foundation
import ModelGraph

extension BatchNormalization: KerasLayer {
    /// Normalization over one axis: -1 (the last), 1 (channels first) or a positive axis kept as written.
    init(keras c: KerasLayerConfig) throws {
        var order = ChannelOrder.channelsLast
        var kept: Int? = nil
        if let axis = c["axis"] {
            let list = axis as? [Any]
            guard list == nil || list!.count == 1 else { throw c.error(.unsupported, "BatchNormalization over several axes \(list!) is not supported") }
            let ax = try c.int(list?.first ?? axis, "axis")
            switch ax {
            case -1: order = .channelsLast
            case 1: order = .channelsFirst
            case 2...8: kept = ax
            default: throw c.error(.unsupported, "BatchNormalization over axis \(ax) is not supported (-1, or 1 to 8)")
            }
        }
        self.init(epsilon: c.double("epsilon", default: 1e-3), center: c.bool("center", default: true), scale: c.bool("scale", default: true),
                  dataFormat: order, axis: kept)
    }

    func tfKerasConfig() -> [String: Any] {
        ["axis": axis ?? (dataFormat == .channelsFirst ? 1 : -1), "momentum": 0.99, "epsilon": epsilon, "center": center, "scale": scale]
    }
}
