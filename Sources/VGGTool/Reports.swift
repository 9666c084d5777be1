import Foundation
import KerasImport
import ModelFile
import ModelGraph

/// `summary --json`: the table's content plus costs.
public func summaryJSON(_ a: GraphAnalysis) -> String {
    let layers: [[String: Any]] = a.layers.map { info in
        ["name": info.layer.name, "class": info.layer.op.className,
         "output_shape": info.outputShape.isKnownShape ? info.outputShape.map { $0.map { $0 as Any } ?? NSNull() } : NSNull(),
         "params": info.params, "trainable_params": info.trainableParams, "inbound": info.layer.inbound,
         "macs": info.costsKnown ? info.macs : NSNull(), "flops": info.costsKnown ? info.macs * 2 : NSNull(),
         "activation_bytes": info.costsKnown ? info.activationBytes : NSNull()]
    }
    let root: [String: Any] = ["name": a.graph.name, "layers": layers, "total_params": a.totalParams,
                               "trainable_params": a.trainableParams, "non_trainable_params": a.nonTrainableParams,
                               "macs": a.totalMACs, "flops": a.totalMACs * 2,
                               "activation_bytes": a.layers.reduce(0) { $0 + $1.activationBytes },
                               "weight_bytes": a.totalParams * 4]
    let data = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .prettyPrinted])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}

/// The per-layer cost table printed by `summary --flops` (per image; 1 MAC = 2 FLOPs; float32 activations).
public func costTable(_ a: GraphAnalysis) -> String {
    func human(_ x: Double, _ unit: String) -> String {
        let units = ["", "K", "M", "G", "T"]
        var v = x
        var i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return String(format: i == 0 ? "%.0f %@%@" : "%.2f %@%@", v, units[i], unit)
    }
    func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        s.count >= n ? s : (right ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
    }
    var lines = ["", "Costs per image (1 MAC = 2 FLOPs, float32 activations)",
                 pad("Layer", 28) + pad("MACs", 14, right: true) + pad("FLOPs", 14, right: true) + pad("Activations", 14, right: true)]
    for info in a.layers {
        guard info.costsKnown else {
            lines.append(pad(info.layer.name, 28) + pad("? ", 14, right: true) + pad("? ", 14, right: true) + pad("? B", 14, right: true))
            continue
        }
        lines.append(pad(info.layer.name, 28) + pad(human(Double(info.macs), ""), 14, right: true)
                     + pad(human(Double(info.macs * 2), ""), 14, right: true)
                     + pad(human(Double(info.activationBytes), "B"), 14, right: true))
    }
    let act = a.layers.reduce(0) { $0 + $1.activationBytes }
    lines.append(pad("Total", 28) + pad(human(Double(a.totalMACs), ""), 14, right: true) + pad(human(Double(a.totalMACs * 2), ""), 14, right: true)
                 + pad(human(Double(act), "B"), 14, right: true))
    let unknown = a.layers.filter { !$0.costsKnown }.count
    if unknown > 0 { lines.append("(\(unknown) layer\(unknown == 1 ? "" : "s") of unknown cost, marked ?, not counted)") }
    return lines.joined(separator: "\n") + "\n"
}

/// Writes the demo model: full-size VGG16 with top, tf.keras `model.save` layout, seeded weights.
/// Built in libhdf5's memory (about 553 MB), then copied into the mapping of an `AtomicFile`.
public func writeDemoVGG16(path: String, seed: UInt64) throws {
    let graph = Architecture.vgg16.graph()
    let out = try AtomicFile(destination: path)
    defer { out.discard() }
    let h5 = try KerasH5Writer.inMemory(path: path, graph: graph, layout: .fullModel) { layer, spec in
        seededWeights(layer: layer, spec: spec, seed: seed)
    }
    try out.fill(count: try h5.imageSize()) { try h5.copyImage(into: $0) }
    try out.commit()
}
