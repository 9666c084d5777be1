import Foundation
import ModelGraph

extension Reshape: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        guard let t = c["target_shape"] as? [Any] else { throw c.error("Reshape has no target_shape") }
        self.init(targetShape: try t.map { try c.int($0, "target_shape") })
    }

    func tfKerasConfig() -> [String: Any] { ["target_shape": targetShape] }
}
