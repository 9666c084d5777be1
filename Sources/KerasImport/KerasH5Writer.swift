import Foundation
import HDF5
import ModelGraph

/// Writes Keras HDF5 files in the tf.keras 2.x layouts: `model.save('x.h5')` (model_config + model_weights)
/// or `save_weights('x.h5')` (weights at the root). Used by `vggtool export --to keras-h5`, by the demo (a
/// full-size VGG16 with seeded weights) and by tests. Weight datasets are `<layer>/<layer>/<weight>:0`.
public enum KerasH5Writer {
    /// Which file to write.
    public enum Layout: Sendable {
        /// `model.save('x.h5')`: the `model_config` attribute and the weights under `model_weights`.
        case fullModel
        /// `save_weights('x.h5')`: `layer_names` and the weights at the root, no config.
        case weightsOnly
    }

    /// The Keras version written in `keras_version`: the tf.keras release whose layout this reproduces.
    public static let layoutKerasVersion = "2.17.0"

    /// `weights(layer, weight)` returns the float32 values for each weight the graph implies (row-major,
    /// Keras shapes). `fixedLengthNames` stores `layer_names`/`weight_names` as NUL-padded byte strings
    /// (older Keras) instead of variable-length strings (tf.keras 2.x with h5py 3). Writes `path` in place (not
    /// crash-safe: a kill leaves a partial file); vggtool's commands build `inMemory` and copy its image into an `AtomicFile`.
    public static func write(path: String, graph: ModelGraph, layout: Layout, fixedLengthNames: Bool = false,
                             splitAttributesOver: Int = 64_512,
                             weights: (String, WeightSpec) throws -> [Float]) throws {
        try fill(HDF5File.create(path: path), path: path, graph: graph, layout: layout, fixedLengthNames: fixedLengthNames,
                 splitAttributesOver: splitAttributesOver, weights: weights)
    }

    /// As `write(path:...)`, into memory (libhdf5's core driver): the caller copies the file's image
    /// (`HDF5File.imageSize()`, `copyImage(into:)`) into a crash-safe writer (`AtomicFile.fill`). `path` names
    /// the destination in errors and in the config.
    public static func inMemory(path: String, graph: ModelGraph, layout: Layout, fixedLengthNames: Bool = false,
                                splitAttributesOver: Int = 64_512,
                                weights: (String, WeightSpec) throws -> [Float]) throws -> HDF5File {
        let file = try HDF5File.createInMemory(label: path)
        try fill(file, path: path, graph: graph, layout: layout, fixedLengthNames: fixedLengthNames,
                 splitAttributesOver: splitAttributesOver, weights: weights)
        return file
    }

    static func fill(_ file: HDF5File, path: String, graph: ModelGraph, layout: Layout, fixedLengthNames: Bool,
                     splitAttributesOver: Int, weights: (String, WeightSpec) throws -> [Float]) throws {
        let analysis = try graph.analyze()
        let root = try file.root()
        try root.setAttribute("backend", strings: ["tensorflow"], fixedLength: false, scalar: true)
        try root.setAttribute("keras_version", strings: [layoutKerasVersion], fixedLength: false, scalar: true)
        let weightsGroup: HDF5Group
        if layout == .fullModel {
            try root.setAttribute("model_config", strings: [tfKerasConfigJSON(graph, file: path)], fixedLength: false, scalar: true)
            weightsGroup = try root.createGroup("model_weights")
            try weightsGroup.setAttribute("backend", strings: ["tensorflow"], fixedLength: false, scalar: true)
            try weightsGroup.setAttribute("keras_version", strings: [layoutKerasVersion], fixedLength: false, scalar: true)
        } else {
            weightsGroup = root
        }
        try setSplitting(weightsGroup, "layer_names", analysis.layers.map(\.layer.name), fixed: fixedLengthNames, limit: splitAttributesOver)
        for info in analysis.layers {
            let g = try weightsGroup.createGroup(info.layer.name)
            // tf-keras names a variable by its own layer only: a nested model's weights sit in its group as
            // `<inner layer>/<weight>:0` (however deep the inner layer is), others as `<layer>/<weight>:0`.
            let nested = info.layer.op.nestedModel != nil
            let stored = info.weights.map { spec -> (group: String, dataset: String) in
                let parts = spec.name.split(separator: "/").map(String.init)
                return nested ? (parts[parts.count - 2], parts[parts.count - 1] + ":0") : (info.layer.name, spec.name + ":0")
            }
            try setSplitting(g, "weight_names", stored.map { "\($0.group)/\($0.dataset)" }, fixed: fixedLengthNames, limit: splitAttributesOver)
            var groups: [String: HDF5Group] = [:]
            for (spec, place) in zip(info.weights, stored) {
                let values = try weights(info.layer.name, spec)
                precondition(values.count == spec.elementCount, "weight \(info.layer.name)/\(spec.name) has \(values.count) values")
                if groups[place.group] == nil { groups[place.group] = try g.createGroup(place.group) }
                try values.withUnsafeBufferPointer { _ = try groups[place.group]!.createDataset(place.dataset, shape: spec.shape, data: $0) }
            }
        }
        try file.flush()
    }

    /// Keras's `save_attributes_to_hdf5_group`: one attribute, or `name0`, `name1`, ... chunks when the
    /// list is larger than the HDF5 object header allows.
    static func setSplitting(_ g: HDF5Group, _ name: String, _ values: [String], fixed: Bool, limit: Int) throws {
        let bytes = values.reduce(0) { $0 + $1.utf8.count + 1 }
        if bytes <= limit || values.isEmpty {
            try g.setAttribute(name, strings: values, fixedLength: fixed)
            return
        }
        var chunks = 1
        while true {
            chunks += 1
            let size = (values.count + chunks - 1) / chunks
            let parts = stride(from: 0, to: values.count, by: size).map { Array(values[$0..<min($0 + size, values.count)]) }
            if parts.allSatisfy({ $0.reduce(0) { $0 + $1.utf8.count + 1 } <= limit }) {
                for (i, p) in parts.enumerated() { try g.setAttribute("\(name)\(i)", strings: p, fixedLength: fixed) }
                return
            }
        }
    }

    /// The graph as tf.keras 2.x `model.to_json()` would write it (Functional, or Sequential).
    public static func tfKerasConfigJSON(_ graph: ModelGraph, file: String = "model") throws -> String {
        let data = try JSONSerialization.data(withJSONObject: try tfKerasModel(graph, file: file), options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// The graph as tf-keras 2.x's `model.get_config()` wrapped in `{"class_name", "config"}`; nested models
    /// are entries holding their own config. A reader of a nested model reads its node 1 (node 0 is the
    /// nested model's own, made when it was built).
    static func tfKerasModel(_ graph: ModelGraph, file: String = "model") throws -> [String: Any] {
        var layers: [[String: Any]] = []
        for layer in graph.layers {
            var cfg: [String: Any]
            do { cfg = try layer.op.keras.tfKerasConfig() } catch let e as InexpressibleInKeras {
                throw ImportError(file: file, object: "layer '\(layer.name)'", .inexpressible, e.message)
            }
            cfg["name"] = layer.name
            if layer.op.inputShape == nil { cfg["trainable"] = layer.trainable }  // InputLayer takes no 'trainable'
            cfg["dtype"] = "float32"
            var entry: [String: Any] = ["class_name": layer.op.className, "config": cfg]
            if !graph.isSequential {
                entry["name"] = layer.name
                entry["inbound_nodes"] = layer.inbound.isEmpty ? [] : [layer.inbound.map { src -> [Any] in
                    [src, graph.layer(named: src)?.op.nestedModel != nil ? 1 : 0, 0, [String: Any]()]
                }]
            }
            layers.append(entry)
        }
        let root: [String: Any]
        if graph.isSequential {
            root = ["class_name": "Sequential", "config": ["name": graph.name, "layers": layers], "keras_version": layoutKerasVersion, "backend": "tensorflow"]
        } else {
            root = ["class_name": "Functional",
                    "config": ["name": graph.name, "trainable": true, "layers": layers,
                               "input_layers": graph.inputs.map { [$0, 0, 0] as [Any] },
                               "output_layers": graph.outputs.map { [$0, graph.layer(named: $0)?.op.nestedModel != nil ? 1 : 0, 0] as [Any] }],
                    "keras_version": layoutKerasVersion, "backend": "tensorflow"]
        }
        return root
    }
}
