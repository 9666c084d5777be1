import Foundation
import ModelGraph

extension LeakyReLU: KerasLayer {
    /// Keras 3 writes `negative_slope`, Keras 1/2 and tf-keras `alpha`; both default to 0.3.
    init(keras c: KerasLayerConfig) throws {
        self.init(negativeSlope: c.double("negative_slope", "alpha", default: 0.3))
    }

    func tfKerasConfig() -> [String: Any] { ["alpha": negativeSlope] }
}
