import Foundation
import ModelGraph

extension Dense: KerasLayer {
    /// Keras 2/3 `units`, or Keras 1's `output_dim` and `bias`.
    init(keras c: KerasLayerConfig) throws {
        self.init(units: try c.positive("units", "output_dim"), activation: try c.activation(), useBias: c.bool("use_bias", "bias", default: true))
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["units": units, "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}
