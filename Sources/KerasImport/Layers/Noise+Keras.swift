import Foundation
import ModelGraph

extension GaussianNoise: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(stddev: c.double("stddev", "sigma", default: 0)) }
    func tfKerasConfig() -> [String: Any] { ["stddev": stddev, "seed": NSNull()] }
}

extension GaussianDropout: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(rate: c.double("rate", "p", default: 0)) }
    func tfKerasConfig() -> [String: Any] { ["rate": rate, "seed": NSNull()] }
}

extension SpatialDropout2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        self.init(rate: c.double("rate", "p", default: 0), dataFormat: try c.channelOrder())
    }
    func tfKerasConfig() -> [String: Any] { ["rate": rate, "noise_shape": NSNull(), "seed": NSNull(), "data_format": dataFormat.rawValue] }
}

extension ActivityRegularization: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(l1: c.double("l1", default: 0), l2: c.double("l2", default: 0)) }
    func tfKerasConfig() -> [String: Any] { ["l1": l1, "l2": l2] }
}
