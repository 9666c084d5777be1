import Foundation
import ModelGraph

extension ELU: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(alpha: c.double("alpha", default: 1)) }
    func tfKerasConfig() -> [String: Any] { ["alpha": alpha] }
}

extension ThresholdedReLU: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(theta: c.double("theta", default: 1)) }
    func tfKerasConfig() -> [String: Any] { ["theta": theta] }
}

extension Rescaling: KerasLayer {
    /// `scale` and `offset` are numbers (per-channel lists are refused by name).
    init(keras c: KerasLayerConfig) throws {
        for key in ["scale", "offset"] where c[key] != nil && !(c[key] is NSNumber) {
            throw c.error(.unsupported, "Rescaling with a per-channel '\(key)' is not supported (one number)")
        }
        self.init(scale: c.double("scale", default: 1), offset: c.double("offset", default: 0))
    }
    func tfKerasConfig() -> [String: Any] { ["scale": scale, "offset": offset] }
}
