import Foundation
import ModelGraph

extension Softmax: KerasLayer {
    /// `axis` is an integer, or a one-element list in some versions.
    init(keras c: KerasLayerConfig) throws {
        let axis = (c["axis"] as? [Any])?.first ?? c["axis"] ?? -1
        self.init(axis: try c.int(axis, "axis"))
    }

    func tfKerasConfig() -> [String: Any] { ["axis": axis] }
}
