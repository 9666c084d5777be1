import Foundation
import HDF5
import ModelGraph

/// Matches stored weights to the graph's layers: by layer name when the file names its layers, otherwise by
/// order among layers that have weights (Keras's own rule), then checks every tensor's count, dtype and
/// shape. Every problem names the layer, the weight, and the expected and actual shapes.
struct WeightMatcher {
    let file: String
    let analysis: GraphAnalysis
    let stored: [KerasFile.StoredLayer]
    /// The on-disk HDF5 file, when its datasets' bytes may be copied directly.
    let rawPath: String?
    /// Leave out stored layers the model does not have (with a note) instead of refusing the file.
    var ignoreExtra = false

    /// Size of `rawPath` in bytes.
    func rawFileSize() -> UInt64? {
        guard let rawPath, let attrs = try? FileManager.default.attributesOfItem(atPath: rawPath),
              let size = attrs[.size] as? NSNumber else { return nil }
        return size.uint64Value
    }

    /// A stored layer's datasets in the order of the model's weights: by name when every weight's name ends
    /// exactly one dataset's path (`.../moving_mean:0`), else as stored. tf-keras stores a nested model's
    /// weights as `model.weights` lists them, trainable ones first: a BatchNormalization's moving statistics
    /// come after every kernel of the nested model, not beside their layer's gamma and beta.
    static func aligned(_ datasets: [(path: String, dataset: HDF5Dataset)], to weights: [WeightSpec]) -> [(path: String, dataset: HDF5Dataset)] {
        guard weights.count == datasets.count, weights.count > 1 else { return datasets }
        var result: [(path: String, dataset: HDF5Dataset)] = []
        var used = Set<Int>()
        for w in weights {
            let matches = datasets.indices.filter { datasets[$0].path.hasSuffix("/\(w.name):0") || datasets[$0].path.hasSuffix("/\(w.name)") }
            guard matches.count == 1, used.insert(matches[0]).inserted else { return datasets }
            result.append(datasets[matches[0]])
        }
        return result
    }

    /// Largest tensor accepted: 2^32 elements (16 GB of float32).
    static let maxElements = 1 << 32

    /// An `ImportError` of `kind` about `object` in the file.
    func err(_ object: String, _ kind: ImportError.Kind, _ message: String) -> ImportError {
        ImportError(file: file, object: object, kind, message)
    }

    func match(notes: inout [String]) throws -> [TensorSource] {
        let expected = analysis.layers.filter { !$0.weights.isEmpty }
        let rawFileSize = rawFileSize()
        let storedWithWeights = stored.filter { !$0.datasets.isEmpty }
        var byName: [String: KerasFile.StoredLayer] = [:]
        for s in storedWithWeights { if let n = s.name { byName[n] = s } }
        // A layer inside a nested model (`vgg16/block1_conv1`) is found by its path or, when the file names
        // layers without their model, by its own name if no other layer has it.
        let ownNames = expected.map { String($0.layer.name.split(separator: "/").last ?? "") }
        let uniqueOwn = Set(Dictionary(grouping: ownNames, by: { $0 }).filter { $0.value.count == 1 }.keys)
        func storedName(_ info: LayerInfo, _ own: String) -> String? {
            byName[info.layer.name] != nil ? info.layer.name : (uniqueOwn.contains(own) && byName[own] != nil ? own : nil)
        }
        let names = zip(expected, ownNames).map { storedName($0, $1) }

        var pairs: [(LayerInfo, KerasFile.StoredLayer)] = []
        if names.allSatisfy({ $0 != nil }) {
            pairs = zip(expected, names).map { ($0, byName[$1!]!) }
            let used = Set(names.compactMap { $0 })
            let unused = storedWithWeights.filter { !used.contains($0.name ?? "") }
            if !unused.isEmpty {
                let list = unused.map { "'\($0.name ?? $0.key)'" }.prefix(6).joined(separator: ", ") + (unused.count > 6 ? ", ..." : "")
                if ignoreExtra {
                    notes.append("left out the weights of \(unused.count) layer(s) the model does not have: \(list)")
                } else {
                    throw err("layer '\(unused[0].name ?? unused[0].key)'", .extraWeights(layers: unused.map { $0.name ?? $0.key }), "the file has weights for \(unused.count) layer(s) the model does not have: \(list)")
                }
            }
        } else if expected.count == storedWithWeights.count {
            pairs = Array(zip(expected, storedWithWeights))
            if storedWithWeights.contains(where: { $0.name != nil }) {
                notes.append("layer names differ between the file and the model: weights matched by order among layers with weights")
            }
        } else {
            // Name the first layer that cannot be matched, with shapes.
            let first = zip(expected, names).first { $1 == nil }?.0 ?? expected[0]
            let shapes = first.weights.map { ShapeFormat.tuple($0.shape.map { Optional($0) }) }.joined(separator: ", ")
            let storedNames = storedWithWeights.map { $0.name ?? $0.key }
            throw err("layer '\(first.layer.name)'", .missingWeights(layer: first.layer.name), "has no weights in the file (expects \(shapes)); the model has \(expected.count) layers with weights, the file \(storedWithWeights.count) (\(storedNames.prefix(6).joined(separator: ", "))\(storedNames.count > 6 ? ", ..." : ""))")
        }

        var result: [TensorSource] = []
        var converted: [String: Int] = [:]
        for (info, s) in pairs {
            let lname = info.layer.name
            guard s.datasets.count == info.weights.count else {
                throw err("layer '\(lname)'", .weightCountMismatch(layer: lname, expected: info.weights.count, actual: s.datasets.count), "file has \(s.datasets.count) weight(s) at '\(s.key)', the model expects \(info.weights.count) (\(info.weights.map(\.name).joined(separator: ", ")))")
            }
            for (spec, (path, ds)) in zip(info.weights, Self.aligned(s.datasets, to: info.weights)) {
                let obj = "layer '\(lname)' weight '\(spec.name)' (dataset '\(path)')"
                let shape = try KerasFile.wrap(file) { try ds.shape() }
                var count: UInt64 = 1
                for d in shape {
                    let (p, o) = count.multipliedReportingOverflow(by: d)
                    guard !o, p <= UInt64(WeightMatcher.maxElements) else { throw err(obj, .tooLarge, "declares \(shape) elements, over the cap of 2^32") }
                    count = p
                }
                let actual = shape.map { Int($0) }
                guard actual == spec.shape else {
                    throw err(obj, .weightShapeMismatch(layer: lname, weight: spec.name, expected: spec.shape, actual: actual), "shape mismatch: file has \(ShapeFormat.tuple(actual.map { Optional($0) })), model expects \(ShapeFormat.tuple(spec.shape.map { Optional($0) }))")
                }
                let type = try KerasFile.wrap(file) { try ds.typeInfo() }
                // A non-trainable scalar statistic (Normalization's sample count) may be an integer.
                let integerCount = spec.shape.isEmpty && !spec.trainable && type.typeClass == .integer && type.size <= 8
                guard (type.typeClass == .float && [2, 4, 8].contains(type.size)) || integerCount else {
                    throw err(obj, .unsupported, "has type \(type); only float16, float32 and float64 weights are supported")
                }
                let storage = try KerasFile.wrap(file) { try ds.storage() }
                if storage.layout == .virtual { throw err(obj, .refused(.virtualDataset), "is a virtual dataset (refused: it reads other files)") }
                if storage.externalFiles > 0 { throw err(obj, .refused(.externalStorage), "uses external storage files (refused)") }
                for f in storage.filters where ![1, 2, 3].contains(f.id) {
                    throw err(obj, .refused(.filter(id: f.id)), "uses HDF5 filter \(f.id) ('\(f.name)'); only gzip, shuffle and fletcher32 are supported and plugins are never loaded")
                }
                if type.size != 4 || type.bigEndian {
                    converted[type.description, default: 0] += 1
                }
                let file = self.file
                var raw: (String, Int)? = nil
                // (A corrupt offset, past the file or past Int, leaves the read to libhdf5, which reports it.)
                if let rawPath, storage.layout == .contiguous, storage.filters.isEmpty, type.size == 4, !type.bigEndian,
                   let off = ds.contiguousOffset(), ds.storageSize() == count * 4, let fileSize = rawFileSize,
                   off <= fileSize, UInt64(count * 4) <= fileSize - off {
                    raw = (rawPath, Int(off))
                }
                var source = TensorSource(layer: lname, weight: spec.name, shape: spec.shape, origin: path, storedType: type.description,
                                           read: { buf in
                                               precondition(buf.count == spec.elementCount)
                                               try KerasFile.wrap(file) { try ds.readFloat32(into: UnsafeMutableRawBufferPointer(buf)) }
                                           })
                source.rawLocation = raw
                result.append(source)
            }
        }
        for (t, n) in converted.sorted(by: { $0.key < $1.key }) {
            notes.append("\(n) tensor(s) stored as \(t) converted to float32" + (t.hasPrefix("float64") ? " (rounded)" : " (exactly)"))
        }
        return result
    }
}
