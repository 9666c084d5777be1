import Foundation
import ModelGraph

extension ActivationLayer: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(try c.activation()) }

    func tfKerasConfig() throws -> [String: Any] { ["activation": try activation.tfKerasName()] }
}
