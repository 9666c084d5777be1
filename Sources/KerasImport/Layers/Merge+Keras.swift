import Foundation
import ModelGraph

extension Add: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init() }
    func tfKerasConfig() -> [String: Any] { [:] }
}

extension Multiply: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init() }
    func tfKerasConfig() -> [String: Any] { [:] }
}

extension Concatenate: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(axis: try c.int("axis", default: -1)) }
    func tfKerasConfig() -> [String: Any] { ["axis": axis] }
}

extension Subtract: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init() }
    func tfKerasConfig() -> [String: Any] { [:] }
}

extension Average: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init() }
    func tfKerasConfig() -> [String: Any] { [:] }
}

extension Maximum: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init() }
    func tfKerasConfig() -> [String: Any] { [:] }
}

extension Minimum: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init() }
    func tfKerasConfig() -> [String: Any] { [:] }
}
