import Foundation
import ModelGraph

extension NestedModel: KerasLayer {
    static let kerasClassNames = ["Functional", "Sequential", "Model"]

    /// A nested model's entry carries a whole model config: read with the same parser, one level deeper.
    init(keras c: KerasLayerConfig) throws {
        guard c.depth < NestedModel.maxDepth else { throw c.error(.tooLarge, "nests models more than \(NestedModel.maxDepth) deep") }
        let cls = c.className ?? "Functional"
        let graph = try Parser(file: c.file, kerasMajor: c.kerasMajor, depth: c.depth + 1, inspect: c.inspect).model(["class_name": cls, "config": c.values])
        self.init(graph: graph, modelClass: cls)
    }

    /// The nested model's own config (`name`, `layers`, ...), as tf-keras writes it inside its entry.
    func tfKerasConfig() throws -> [String: Any] {
        try KerasH5Writer.tfKerasModel(graph)["config"] as! [String: Any]
    }
}
