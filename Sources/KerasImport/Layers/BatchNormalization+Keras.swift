import Foundation
import ModelGraph

extension BatchNormalization: KerasLayer {
    /// Only normalization over the last axis (`axis` -1, or 3 for images) is accepted.
    init(keras c: KerasLayerConfig) throws {
        if let axis = c["axis"] {
            let ax = try c.int((axis as? [Any])?.first ?? axis, "axis")
            guard ax == -1 || ax == 3 else { throw c.error(.unsupported, "BatchNormalization over axis \(ax) is not supported (last axis only)") }
        }
        self.init(epsilon: c.double("epsilon", default: 1e-3), center: c.bool("center", default: true), scale: c.bool("scale", default: true))
    }

    func tfKerasConfig() -> [String: Any] {
        ["axis": -1, "momentum": 0.99, "epsilon": epsilon, "center": center, "scale": scale]
    }
}
