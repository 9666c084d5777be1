import Foundation
import ModelGraph

extension InputLayer: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        guard let shape = try c.batchShape() else { throw c.error("InputLayer declares no shape") }
        self.init(shape: shape)
    }

    func tfKerasConfig() -> [String: Any] {
        ["batch_input_shape": [NSNull()] + shape.map { $0.map { $0 as Any } ?? NSNull() }, "sparse": false, "ragged": false]
    }
}
