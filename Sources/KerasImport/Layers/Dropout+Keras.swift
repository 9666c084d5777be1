import Foundation
import ModelGraph

extension Dropout: KerasLayer {
    /// `rate`, or Keras 1's `p`.
    init(keras c: KerasLayerConfig) throws { self.init(rate: c.double("rate", "p", default: 0)) }

    func tfKerasConfig() -> [String: Any] { ["rate": rate, "noise_shape": NSNull(), "seed": NSNull()] }
}
