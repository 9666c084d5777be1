import Foundation
import HDF5
import ModelGraph

/// The on-disk layouts Keras has used for models and weights.
public enum KerasLayout: String, Sendable {
    /// Original keras-applications files: `layer_names` (fixed-length), `<layer>_W_1:0` names, no version.
    case kerasApplications = "keras-applications weights (.h5, Keras 1 era)"
    /// `save_weights('x.h5')`: `layer_names` + per-layer `weight_names` at the root.
    case legacyWeights = "Keras 2 / tf.keras weights (save_weights .h5)"
    /// `model.save('x.h5')`: `model_config` + `model_weights` group (Keras 1, 2, or Keras 3's legacy writer).
    case legacyModel = "Keras HDF5 model (model.save .h5)"
    /// Keras 3 `save_weights('x.weights.h5')`: `layers/<auto name>/vars/<i>`.
    case keras3Weights = "Keras 3 weights (.weights.h5)"
    /// Keras 3 `save_weights` of a subclassed model: `<attribute>/layers/<auto name>/vars/<i>` at any
    /// depth, each `vars` group naming its layer; no top-level `layers` group.
    case keras3AttributeWeights = "Keras 3 subclassed-model weights (.weights.h5, by attribute path)"
    /// Keras 3 `.keras` zip: config.json, metadata.json, model.weights.h5.
    case keras3Archive = "Keras 3 archive (.keras)"
}

/// One weight tensor to import: where it goes (`layer`/`weight`, Keras names and shape) and how to read it
/// as float32 (exact for float32 and float16 sources; float64 is rounded).
public struct TensorSource {
    /// The layer's name in the graph.
    public var layer: String
    /// The weight's name within the layer (`kernel`, `bias`, `gamma`, ...).
    public var weight: String
    /// Shape as Keras holds it (HWIO kernels, (in, units) dense kernels).
    public var shape: [Int]
    /// Where it came from: dataset path in the file.
    public var origin: String
    /// The stored element type, e.g. "float32", "float16".
    public var storedType: String
    /// Fills a buffer of `shape.product` floats.
    public let read: (UnsafeMutableBufferPointer<Float>) throws -> Void
    /// When the stored bytes already are contiguous little-endian float32 in an on-disk file: the file
    /// and byte offset, so a writer can copy them without decoding (`nil` otherwise).
    public var rawLocation: (path: String, offset: Int)? = nil

    /// `layer/weight`, the tensor's name in a `.vggm` file.
    public var name: String { "\(layer)/\(weight)" }
    /// Number of elements (not bytes): the product of `shape`.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A Keras model file opened for import: its layout, graph and weights, matched and checked.
public final class KerasFile {
    /// The file's path (for a `.keras` archive, the archive's).
    public let path: String
    /// Which of Keras's layouts the file has.
    public let layout: KerasLayout
    /// The model's layer graph: from the file's config, from `Options.configJSON`, or a built-in architecture.
    public let graph: ModelGraph
    /// The `keras_version` the file records, when it records one.
    public let kerasVersion: String?
    /// The `backend` the file records (`tensorflow`, `jax`, ...), when it records one.
    public let backend: String?
    /// Weight tensors in graph order (per layer in Keras's weight order).
    public let tensors: [TensorSource]
    /// Things the user should know (conversions done, assumptions made).
    public let notes: [String]
    /// The architecture was taken from `--arch` or detected rather than read from the file.
    public let architectureSource: String
    /// For the inspector (`graphOnly`) when the graph holds opaque layers: the weights the file stores for
    /// each layer (names and shapes), for the layers whose shapes are unknown (`ModelGraph.analyze`).
    public let storedWeights: [String: [WeightSpec]]

    // Keeps the HDF5 file open while tensors are read.
    private let h5: HDF5File

    /// Options for opening.
    public struct Options: Sendable {
        /// Built-in architecture for weights-only files (`nil`: detect when unambiguous).
        public var architecture: Architecture?
        /// A Keras JSON config (`model.to_json()`) to use for weights-only files.
        public var configJSON: String?
        /// Input shape (H, W, C) replacing the one in the config or the architecture's default.
        public var inputShape: [Int?]?
        /// Leave out weights of layers the architecture does not have (listed in a note) instead of refusing
        /// the file.
        public var ignoreExtra: Bool
        /// Run `HDF5File.checkStructure` before libhdf5 opens an HDF5 file. False when the caller has run it
        /// (vggtool runs it beside its isolated probe, `HDF5Isolation`).
        public var checkStructure: Bool
        /// Options for `KerasFile(path:options:)`; the defaults read a file that carries its own config.
        public init(architecture: Architecture? = nil, configJSON: String? = nil, inputShape: [Int?]? = nil, ignoreExtra: Bool = false,
                    checkStructure: Bool = true) {
            self.architecture = architecture
            self.configJSON = configJSON
            self.inputShape = inputShape
            self.ignoreExtra = ignoreExtra
            self.checkStructure = checkStructure
        }
    }

    /// Opens a file: detects its layout, builds the graph and matches every weight to it.
    public convenience init(path: String, options: Options = Options()) throws {
        try self.init(path: path, options: options, matchWeights: true)
    }

    init(path: String, options: Options, matchWeights: Bool) throws {
        self.path = path
        let kind = try KerasFile.sniff(path)
        var notes: [String] = []
        var configText: String?
        let h5: HDF5File
        var layout: KerasLayout
        var version: String?
        var backend: String?
        switch kind {
        case .zip:
            let zip = try ZipArchive(path: path)
            guard zip.entry("config.json") != nil else { throw ImportError(file: path, object: "zip entry 'config.json'", .notKerasFile, "is missing: not a .keras archive") }
            configText = String(decoding: try zip.read("config.json", maxSize: ZipArchive.maxJSONEntrySize), as: UTF8.self)
            if zip.entry("metadata.json") != nil,
               let meta = try? JSONSerialization.jsonObject(with: Data(try zip.read("metadata.json", maxSize: ZipArchive.maxJSONEntrySize))) as? [String: Any] {
                version = meta["keras_version"] as? String
            }
            guard let w = zip.entry("model.weights.h5") else { throw ImportError(file: path, object: "zip entry 'model.weights.h5'", .malformed, "is missing") }
            let image = try zip.read(w.name)
            do { h5 = try HDF5File.open(image: image, label: "\(path):model.weights.h5") } catch let e as HDF5Error {
                throw ImportError(file: path, object: "zip entry 'model.weights.h5'", ImportError.Kind(e.kind), "is not a readable HDF5 file (\(e.message))")
            }
            layout = .keras3Archive
        case .hdf5:
            do { h5 = try HDF5File.open(path: path, checkStructure: options.checkStructure) } catch let e as HDF5Error { throw ImportError(file: path, ImportError.Kind(e.kind), e.message) }
            let root = try KerasFile.wrap(path) { try h5.root() }
            version = try KerasFile.stringAttribute(root, "keras_version", file: path)
            backend = try KerasFile.stringAttribute(root, "backend", file: path)
            configText = try KerasFile.stringAttribute(root, "model_config", file: path)
            if root.contains("layers") && !KerasFile.hasLayerNames(root) {
                layout = .keras3Weights
            } else if configText != nil || root.contains("model_weights") {
                layout = .legacyModel
            } else if KerasFile.hasLayerNames(root) {
                layout = version == nil ? .kerasApplications : .legacyWeights
            } else if root.contains("vars") {
                layout = .keras3AttributeWeights
            } else {
                throw ImportError(file: path, .notKerasFile, "HDF5 file holds no Keras model or weights (no 'layer_names', 'model_weights' or 'layers')")
            }
        }
        if backend == "theano" {
            throw ImportError(file: path, object: "attribute 'backend'", .unsupported, "Theano-ordered kernels (backend 'theano') are not supported; convert the file with Keras first")
        }

        // The graph: from the file, else --config, else --arch, else detection.
        var graph: ModelGraph
        var archSource = "file config"
        if let configText {
            graph = try KerasConfig.parse(json: configText, file: path, kerasVersion: version, inspect: !matchWeights)
        } else if let json = options.configJSON {
            graph = try KerasConfig.parse(json: json, file: path, inspect: !matchWeights)
            archSource = "given config"
        } else {
            let arch: Architecture
            if let a = options.architecture { arch = a; archSource = "given \(a.rawValue)" } else {
                arch = try KerasFile.detectArchitecture(h5: h5, layout: layout, file: path)
                archSource = "detected \(arch.rawValue)"
                notes.append("no architecture in the file: detected \(arch.rawValue) from its weights")
            }
            graph = arch.graph(inputName: [.keras3Weights, .keras3AttributeWeights].contains(layout) ? "input_layer" : "input_1")
        }
        if let shape = options.inputShape {
            do { graph = try graph.withInputShape(shape) } catch let e as GraphError { throw ImportError(file: path, .graph(e), e.description) }
        }
        let analysis: GraphAnalysis
        do { analysis = try graph.analyze() } catch let e as GraphError { throw ImportError(file: path, .graph(e), e.description) }

        var tensors: [TensorSource] = []
        var storedWeights: [String: [WeightSpec]] = [:]
        func storedLayers() throws -> [StoredLayer] {
            let root = try KerasFile.wrap(path) { try h5.root() }
            switch layout {
            case .keras3Weights, .keras3Archive:
                return try KerasFile.keras3Layers(root, graph: graph, file: path)
            case .legacyModel:
                let g = root.contains("model_weights") ? try KerasFile.wrap(path) { try root.group("model_weights") } : root
                return try KerasFile.legacyLayers(g, file: path)
            case .kerasApplications, .legacyWeights:
                return try KerasFile.legacyLayers(root, file: path)
            case .keras3AttributeWeights:
                return try KerasFile.attributeLayers(root, file: path)
            }
        }
        if !matchWeights, graph.layers.contains(where: { $0.op.kind is OpaqueLayer }) {
            // Shapes and params the config cannot tell come from what the file stores.
            for layer in try storedLayers() {
                guard let name = layer.name else { continue }
                storedWeights[name] = try layer.datasets.map { d in
                    let short = String(d.path.split(separator: "/").last ?? "").replacingOccurrences(of: ":0", with: "")
                    let shape = try KerasFile.wrap(path) { try d.dataset.shape() }.map { Int(clamping: $0) }
                    guard shape.count <= 8, shape.allSatisfy({ $0 <= maxDimension }) else {
                        throw ImportError(file: path, object: d.path, .tooLarge, "has an implausible shape \(shape)")
                    }
                    return WeightSpec(name: short, shape: shape, trainable: !short.hasPrefix("moving_"))
                }
            }
            for i in graph.layers.indices {
                guard case .opaque(var o) = graph.layers[i].op else { continue }
                o.weights = storedWeights[graph.layers[i].name] ?? []
                graph.layers[i].op = .opaque(o)
            }
        }
        if matchWeights {
            let stored = try storedLayers()
            // Byte copies straight from the file are only valid for a plain on-disk HDF5 file (no user block).
            let rawPath: String? = kind == .hdf5(signatureAtZero: true) ? path : nil
            // Attribute-path files store innermost layers: they are matched to the flattened graph's layers.
            let matched: GraphAnalysis
            if layout == .keras3AttributeWeights && graph.hasNestedModels {
                do { matched = try graph.flattened().analyze() } catch let e as GraphError { throw ImportError(file: path, .graph(e), e.description) }
            } else {
                matched = analysis
            }
            tensors = try WeightMatcher(file: path, analysis: matched, stored: stored, rawPath: rawPath, ignoreExtra: options.ignoreExtra)
                .match(notes: &notes)
        }
        self.h5 = h5
        self.layout = layout
        self.graph = graph
        self.kerasVersion = version
        self.backend = backend
        self.tensors = tensors
        self.notes = notes
        self.architectureSource = archSource
        self.storedWeights = storedWeights
    }

    /// Reads the graph only (no weight matching).
    public static func graphOnly(path: String, options: Options = Options()) throws -> KerasFile {
        try KerasFile(path: path, options: options, matchWeights: false)
    }

    // MARK: Format detection

    /// `signatureAtZero` is false when the HDF5 file has a user block (its addresses are then offset).
    enum Kind: Equatable { case hdf5(signatureAtZero: Bool), zip }

    static func sniff(_ path: String) throws -> Kind {
        if let problem = InputFile.notRegular(path) { throw ImportError(file: path, .unreadable, problem) }
        guard let fh = FileHandle(forReadingAtPath: path) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { throw ImportError(file: path, .unreadable, "is a directory") }
            throw ImportError(file: path, .unreadable, FileManager.default.fileExists(atPath: path) ? "cannot be opened for reading" : "no such file")
        }
        defer { try? fh.close() }
        let head = (try? fh.read(upToCount: 8)) ?? Data()
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
        // HDF5 signature at 0 or, with a user block, at 512, 1024, 2048, ...
        let sig: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        if head.elementsEqual(sig) { return .hdf5(signatureAtZero: true) }
        var offset: UInt64 = 512
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
        while offset + 8 <= size && offset <= 1 << 20 {
            try? fh.seek(toOffset: offset)
            if let d = try? fh.read(upToCount: 8), d.elementsEqual(sig) { return .hdf5(signatureAtZero: false) }
            offset *= 2
        }
        if head.isEmpty { throw ImportError(file: path, .notKerasFile, "is empty") }
        throw ImportError(file: path, .notKerasFile, "is not a Keras model file (neither HDF5 nor a .keras zip archive)")
    }

    static func wrap<T>(_ file: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as HDF5Error {
            throw ImportError(file: file, object: e.object, ImportError.Kind(e.kind), "\(e.operation) failed" + (e.message.isEmpty ? "" : ": \(e.message)"))
        }
    }

    /// How a link where a group was expected is classified: a dataset is malformed structure, a link is refused.
    static func nonGroup(_ target: HDF5LinkTarget) -> ImportError.Kind {
        if case .hard = target { return .malformed }
        return .refused(.link)
    }

    static func hasLayerNames(_ g: HDF5Group) -> Bool { g.hasAttribute("layer_names") || g.hasAttribute("layer_names0") }

    /// A string attribute (scalar, or the first of an array), `nil` when absent.
    static func stringAttribute(_ g: HDF5Group, _ name: String, file: String) throws -> String? {
        guard g.hasAttribute(name) else { return nil }
        return try wrap(file) { try g.attribute(name).readStrings().first }
    }

    /// A string-list attribute, joined from `name0`, `name1`, ... when Keras split it (over 64 KB).
    static func stringList(_ g: HDF5AttributeHolder, _ name: String, file: String) throws -> [String]? {
        if g.hasAttribute(name) { return try wrap(file) { try g.attribute(name).readStrings() } }
        var result: [String] = []
        var i = 0
        while g.hasAttribute("\(name)\(i)") {
            result += try wrap(file) { try g.attribute("\(name)\(i)").readStrings() }
            i += 1
            if i > 1_000_000 { break }
        }
        return i == 0 ? nil : result
    }

    // MARK: Stored weights

    /// The weights the file holds for one layer, in stored order.
    struct StoredLayer {
        var key: String
        /// The layer name when the file says it (legacy layer_names, Keras 3 vars@name), else nil.
        var name: String?
        var datasets: [(path: String, dataset: HDF5Dataset)]
    }

    static func legacyLayers(_ g: HDF5Group, file: String) throws -> [StoredLayer] {
        guard let names = try stringList(g, "layer_names", file: file) else {
            throw ImportError(file: file, object: g.fullPath, .malformed, "has no 'layer_names' attribute")
        }
        var result: [StoredLayer] = []
        var seen = Set<String>()
        for name in names {
            guard seen.insert(name).inserted else { throw ImportError(file: file, object: "attribute 'layer_names'", .malformed, "names layer '\(name)' twice") }
            guard g.contains(name) else {
                throw ImportError(file: file, object: "attribute 'layer_names'", .malformed, "names layer '\(name)' but there is no group '\(g.fullPath == "/" ? "" : g.fullPath + "/")\(name)'")
            }
            let lg = try wrap(file) { try g.group(name) }
            let weightNames = try stringList(lg, "weight_names", file: file) ?? []
            var ds: [(String, HDF5Dataset)] = []
            for w in weightNames {
                let d = try wrap(file) { try lg.dataset(w) }
                ds.append((d.fullPath, d))
            }
            result.append(StoredLayer(key: name, name: name, datasets: ds))
        }
        return result
    }

    static func keras3Layers(_ root: HDF5Group, graph: ModelGraph, file: String) throws -> [StoredLayer] {
        guard root.contains("layers") else { throw ImportError(file: file, object: "/layers", .malformed, "group is missing") }
        let layersGroup = try wrap(file) { try root.group("layers") }
        let autoToName = keras3AutoNames(graph)
        var result: [StoredLayer] = []
        for link in try wrap(file, { try layersGroup.links() }) {
            guard case .hard(.group) = link.target else {
                throw ImportError(file: file, object: "/layers/\(link.name)", nonGroup(link.target), "is not a group (links are not followed)")
            }
            let lg = try wrap(file) { try layersGroup.group(link.name) }
            guard lg.contains("vars") else { continue }
            let vars = try wrap(file) { try lg.group("vars") }
            let stated = try stringAttribute(vars, "name", file: file)
            let name = stated ?? autoToName[link.name]
            let op = name.flatMap { graph.layer(named: $0) }?.op
            // An opaque (custom) layer keeps its sub-layers' variables in groups of their own, at any depth.
            var ds = op?.kind is OpaqueLayer ? try keras3AllVars(lg, file: file, depth: 0)
                : try keras3LayerVars(lg, vars: vars, op: op, file: file)
            // A nested model keeps its layers' variables in its own `layers` group, at any depth.
            if let nested = name.flatMap({ graph.layer(named: $0) })?.op.nestedModel {
                ds += try keras3NestedVars(lg, graph: nested.graph, file: file, depth: 1)
            }
            result.append(StoredLayer(key: link.name, name: name, datasets: ds))
        }
        return result
    }

    /// The innermost layers of a subclassed model's `.weights.h5`, in Keras's saving order: at each level a
    /// model's `layers` list first (entries in the order Keras numbers them: `conv2d`, `conv2d_1`, ...,
    /// `conv2d_10`), then its other attributes alphabetically (as Keras's `sorted(dir(...))`). Each group
    /// with variables is one layer, named by its `vars` group's `name` attribute.
    static func attributeLayers(_ root: HDF5Group, file: String) throws -> [StoredLayer] {
        var result: [StoredLayer] = []
        var visited = 0
        func walk(_ g: HDF5Group, path: String, depth: Int) throws {
            visited += 1
            guard depth <= 64, visited <= 1_000_000 else { throw ImportError(file: file, object: g.fullPath, .tooLarge, "nests groups too deep or too many") }
            if g.contains("vars") {
                let vars = try wrap(file) { try g.group("vars") }
                let ds = try keras3Vars(vars, file: file)
                if !ds.isEmpty {
                    result.append(StoredLayer(key: path.isEmpty ? "/" : path, name: try stringAttribute(vars, "name", file: file), datasets: ds))
                }
            }
            var children: [String] = []
            for link in try wrap(file, { try g.links() }) where link.name != "vars" {
                guard case .hard(.group) = link.target else {
                    if case .hard = link.target { continue }  // datasets beside groups hold no layer
                    throw ImportError(file: file, object: "\(g.fullPath == "/" ? "" : g.fullPath)/\(link.name)", nonGroup(link.target), "is not a group (links are not followed)")
                }
                children.append(link.name)
            }
            let ordered = (children.contains("layers") ? ["layers"] : []) + children.filter { $0 != "layers" }.sorted()
            for name in ordered {
                let child = try wrap(file) { try g.group(name) }
                if name == "layers" {
                    for entry in try wrap(file, { try child.links() }).map(\.name).sorted(by: autoNameOrder) {
                        let target = try wrap(file, { try child.links() }).first(where: { $0.name == entry })!.target
                        guard case .hard(.group) = target else {
                            throw ImportError(file: file, object: "\(child.fullPath)/\(entry)", nonGroup(target), "is not a group (links are not followed)")
                        }
                        try walk(try wrap(file) { try child.group(entry) }, path: path + "/layers/" + entry, depth: depth + 1)
                    }
                } else {
                    try walk(child, path: path + "/" + name, depth: depth + 1)
                }
            }
        }
        try walk(root, path: "", depth: 0)
        return result
    }

    /// Keras's auto names in numbering order: by class, then by number (`conv2d` < `conv2d_2` < `conv2d_10`).
    static func autoNameOrder(_ a: String, _ b: String) -> Bool {
        func split(_ s: String) -> (String, Int) {
            if let u = s.lastIndex(of: "_"), let n = Int(s[s.index(after: u)...]) { return (String(s[..<u]), n) }
            return (s, 0)
        }
        let (ca, na) = split(a), (cb, nb) = split(b)
        return ca != cb ? ca < cb : na < nb
    }

    /// Auto names as Keras 3 assigns them to a model's layers (per class, in layer order; a Sequential
    /// model's InputLayer is not among its layers), mapped to the layers' names.
    static func keras3AutoNames(_ graph: ModelGraph) -> [String: String] {
        var autoToName: [String: String] = [:]
        var counters: [String: Int] = [:]
        for layer in graph.layers {
            if graph.isSequential, layer.op.inputShape != nil { continue }
            let base = snakeCase(layer.op.className)
            let n = counters[base, default: 0]
            counters[base] = n + 1
            autoToName[n == 0 ? base : "\(base)_\(n)"] = layer.name
        }
        return autoToName
    }

    /// `vars/0`, `vars/1`, ... of one layer, in numeric order (HDF5 lists them alphabetically: 0, 1, 10, 2, ...).
    static func keras3Vars(_ vars: HDF5Group, file: String) throws -> [(path: String, dataset: HDF5Dataset)] {
        let entries = try wrap(file) { try vars.links() }
        var indexed: [(Int, String)] = []
        for e in entries {
            guard let i = Int(e.name), i >= 0, i < entries.count else {
                throw ImportError(file: file, object: "\(vars.fullPath)/\(e.name)", .malformed, "unexpected entry (expected vars/0 ... vars/\(entries.count - 1))")
            }
            indexed.append((i, e.name))
        }
        indexed.sort { $0.0 < $1.0 }
        var ds: [(String, HDF5Dataset)] = []
        for (_, n) in indexed {
            let d = try wrap(file) { try vars.dataset(n) }
            ds.append((d.fullPath, d))
        }
        return ds
    }

    /// Every variable under a layer's group: its own `vars`, then each other group's, depth first (for layers
    /// vggtool does not interpret, whose sub-layers keep their variables in groups of their own).
    static func keras3AllVars(_ g: HDF5Group, file: String, depth: Int) throws -> [(path: String, dataset: HDF5Dataset)] {
        guard depth <= 16 else { throw ImportError(file: file, object: g.fullPath, .tooLarge, "nests groups more than 16 deep") }
        var ds: [(String, HDF5Dataset)] = []
        if g.contains("vars") { ds += try keras3Vars(try wrap(file) { try g.group("vars") }, file: file) }
        for link in try wrap(file, { try g.links() }) where link.name != "vars" {
            guard case .hard(.group) = link.target else { continue }
            ds += try keras3AllVars(try wrap(file) { try g.group(link.name) }, file: file, depth: depth + 1)
        }
        return ds
    }

    /// A layer's variables: its own `vars`, or, for layers that keep them in sub-objects (a recurrent layer's
    /// `cell`, a wrapper's `forward_layer`/`backward_layer`/`layer`, attention's projections), those groups'
    /// `vars` in the layer's weight order (`LayerOp.keras3VarGroups`).
    static func keras3LayerVars(_ lg: HDF5Group, vars: HDF5Group, op: LayerOp?, file: String) throws -> [(path: String, dataset: HDF5Dataset)] {
        let groups = op?.keras3VarGroups ?? [""]
        guard groups != [""] else { return try keras3Vars(vars, file: file) }
        var ds = try keras3Vars(vars, file: file)
        for path in groups {
            var g = lg
            for part in path.split(separator: "/").map(String.init) {
                guard g.contains(part) else { throw ImportError(file: file, object: "\(lg.fullPath)/\(path)", .malformed, "group is missing") }
                g = try wrap(file) { try g.group(part) }
            }
            guard g.contains("vars") else { continue }
            ds += try keras3Vars(try wrap(file) { try g.group("vars") }, file: file)
        }
        return ds
    }

    /// The variables of a nested model's layers (`<group>/layers/<auto name>/vars/<i>`), in the nested
    /// graph's layer order, recursing into nested models within it. Groups are found by the `vars` group's
    /// `name` attribute when Keras wrote one, else by Keras's auto name.
    static func keras3NestedVars(_ g: HDF5Group, graph: ModelGraph, file: String, depth: Int) throws -> [(path: String, dataset: HDF5Dataset)] {
        guard depth <= NestedModel.maxDepth else { throw ImportError(file: file, object: g.fullPath, .tooLarge, "nests models more than \(NestedModel.maxDepth) deep") }
        guard g.contains("layers") else { return [] }
        let layersGroup = try wrap(file) { try g.group("layers") }
        var groupOf: [String: HDF5Group] = [:]
        let autoToName = keras3AutoNames(graph)
        for link in try wrap(file, { try layersGroup.links() }) {
            guard case .hard(.group) = link.target else {
                throw ImportError(file: file, object: "\(layersGroup.fullPath)/\(link.name)", nonGroup(link.target), "is not a group (links are not followed)")
            }
            let lg = try wrap(file) { try layersGroup.group(link.name) }
            var name = autoToName[link.name]
            if lg.contains("vars"), let stated = try stringAttribute(try wrap(file) { try lg.group("vars") }, "name", file: file) { name = stated }
            if let name {
                guard groupOf[name] == nil else { throw ImportError(file: file, object: "\(layersGroup.fullPath)/\(link.name)", .malformed, "holds a second layer named '\(name)'") }
                groupOf[name] = lg
            }
        }
        var ds: [(String, HDF5Dataset)] = []
        for layer in graph.layers {
            guard let lg = groupOf[layer.name] else { continue }  // a missing layer's weights are reported by the matcher
            if lg.contains("vars") { ds += try keras3LayerVars(lg, vars: try wrap(file) { try lg.group("vars") }, op: layer.op, file: file) }
            if let nested = layer.op.nestedModel { ds += try keras3NestedVars(lg, graph: nested.graph, file: file, depth: depth + 1) }
        }
        return ds
    }

    /// Keras's `naming.to_snake_case` for class names: `MaxPooling2D` -> `max_pooling2d`, `ReLU` -> `re_lu`.
    public static func snakeCase(_ name: String) -> String {
        let c = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
        // (.)([A-Z][a-z]+) -> \1_\2
        var s1: [Character] = []
        var i = 0
        while i < c.count {
            if i > 0, c[i].isUppercase, i + 1 < c.count, c[i + 1].isLowercase, !s1.isEmpty {
                // Python's re.sub is non-overlapping: the preceding char must not have been consumed by a match.
                s1.append("_")
            }
            s1.append(c[i])
            i += 1
        }
        // ([a-z])([A-Z]) -> \1_\2
        var s2: [Character] = []
        for (j, ch) in s1.enumerated() {
            if j > 0, ch.isUppercase, s1[j - 1].isLowercase { s2.append("_") }
            s2.append(ch)
        }
        return String(s2).lowercased()
    }

    /// Picks VGG16/VGG19 with or without top from the stored layer names or, for Keras 3 auto names, counts.
    static func detectArchitecture(h5: HDF5File, layout: KerasLayout, file: String) throws -> Architecture {
        let root = try wrap(file) { try h5.root() }
        var weighted: [String] = []
        switch layout {
        case .keras3Weights, .keras3Archive:
            let stored = try keras3Layers(root, graph: Architecture.vgg16.graph(inputName: "input_layer"), file: file)
            let withWeights = stored.filter { !$0.datasets.isEmpty }
            let convs = withWeights.filter { $0.key.hasPrefix("conv2d") }.count
            let denses = withWeights.filter { $0.key.hasPrefix("dense") }.count
            for a in Architecture.allCases where a.convsPerBlock.reduce(0, +) == convs && (a.includesTop ? 3 : 0) == denses && convs + denses == withWeights.count {
                return a
            }
            throw UnknownArchitectureError(file: file, evidence: .layerCounts(convolutions: convs, dense: denses))
        case .keras3AttributeWeights:
            weighted = try attributeLayers(root, file: file).map { $0.name ?? $0.key }
        default:
            let g = root.contains("model_weights") ? try wrap(file) { try root.group("model_weights") } : root
            weighted = try legacyLayers(g, file: file).filter { !$0.datasets.isEmpty }.map(\.key)
        }
        for a in Architecture.allCases where a.weightedLayerNames == weighted { return a }
        throw UnknownArchitectureError(file: file, evidence: .layerNames(weighted))
    }
}
