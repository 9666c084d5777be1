import Foundation
import ModelGraph

/// Parses a Keras model config (`model_config` attribute, `config.json`, `model.to_json()`) in any of the
/// dialects Keras has written: Keras 1 (`Convolution2D`, `nb_filter`, `border_mode`, Sequential as a bare
/// list), Keras 2 / tf.keras (`batch_input_shape`, nested-list inbound nodes) and Keras 3
/// (`batch_shape`, `__keras_tensor__` nodes with `keras_history`, dtype policies, modules).
///
/// Nothing is executed: Lambda layers (marshalled Python bytecode), custom classes and classes from
/// modules outside Keras are refused by name.
public enum KerasConfig {
    /// Caps on what a config may declare.
    static let maxLayers = 100_000

    /// Parses a config from JSON text. `kerasVersion` is the version of Keras that wrote it, when the file
    /// says (`keras_version`); otherwise the config's own `keras_version` or its dialect decides (Keras 3
    /// configs name a `module` per class).
    ///
    /// With `inspect`, a layer vggtool cannot interpret (a custom or foreign class, a Lambda, an unknown
    /// Keras class) becomes an `OpaqueLayer` instead of a refusal: the graph is then for the inspector only.
    public static func parse(json text: String, file: String, kerasVersion: String? = nil, inspect: Bool = false) throws -> ModelGraph {
        guard let data = text.data(using: .utf8),
              let root = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw ImportError(file: file, object: "model config", .malformed, "is not valid JSON")
        }
        return try parse(object: root, file: file, kerasVersion: kerasVersion, inspect: inspect)
    }

    /// Parses a config already decoded from JSON.
    public static func parse(object root: Any, file: String, kerasVersion: String? = nil, inspect: Bool = false) throws -> ModelGraph {
        try Parser(file: file, kerasMajor: kerasMajor(kerasVersion, config: root), inspect: inspect).model(root)
    }

    /// The Keras major version behind a config: the stated version, else the config's `keras_version`,
    /// else 3 when classes carry a `module` (only Keras 3 writes one), else 2.
    static func kerasMajor(_ version: String?, config: Any) -> Int {
        let top = config as? [String: Any]
        if let v = version ?? top?["keras_version"] as? String, let major = Int(v.split(separator: ".").first ?? "") { return major }
        return top?["module"] != nil ? 3 : 2
    }
}

struct Parser {
    let file: String
    /// The Keras major version that wrote the config (1, 2 or 3).
    let kerasMajor: Int
    /// How deep inside nested models this config is (0: the file's model).
    var depth = 0
    /// Whether layers vggtool cannot interpret become `OpaqueLayer`s (the inspector) rather than refusals.
    var inspect = false

    /// An `ImportError` of `kind` about `object`.
    func err(_ object: String, _ kind: ImportError.Kind, _ message: String) -> ImportError {
        ImportError(file: file, object: object, kind, message)
    }
    /// A malformed config: `object` and what is wrong with it.
    func err(_ object: String, _ message: String) -> ImportError { err(object, .malformed, message) }

    func model(_ root: Any) throws -> ModelGraph {
        guard let top = root as? [String: Any] else { throw err("model config", "expected a JSON object at the top") }
        let className = top["class_name"] as? String ?? ""
        switch className {
        case "Sequential":
            if let list = top["config"] as? [Any] {  // Keras 1: config is the layer list
                return try sequential(name: "sequential", layerList: list)
            }
            guard let cfg = top["config"] as? [String: Any], let list = cfg["layers"] as? [Any] else {
                throw err("model config", "Sequential config has no 'layers' list")
            }
            return try sequential(name: cfg["name"] as? String ?? "sequential", layerList: list)
        case "Functional", "Model":
            guard let cfg = top["config"] as? [String: Any], let list = cfg["layers"] as? [Any] else {
                throw err("model config", "\(className) config has no 'layers' list")
            }
            return try functional(name: cfg["name"] as? String ?? "model", layerList: list, config: cfg)
        case "":
            throw err("model config", "has no 'class_name'")
        default:
            throw err("model config", .unsupported, "model class '\(className)' is not supported (expected Sequential, Functional or Model)")
        }
    }

    // MARK: Sequential

    func sequential(name: String, layerList: [Any]) throws -> ModelGraph {
        guard layerList.count <= KerasConfig.maxLayers else { throw err("model config", .tooLarge, "too many layers (\(layerList.count))") }
        var layers: [Layer] = []
        var prev: String? = nil
        var builtOn: [String: Shape] = [:]  // Keras 3: the input shape each layer was built on
        for (i, entry) in layerList.enumerated() {
            guard let dict = entry as? [String: Any] else { throw err("layer #\(i)", "layer entry is not an object") }
            let (lname, cls, cfg, refusal) = try header(dict, index: i)
            let layerOp = try op(cls, cfg, layer: lname, refusal: refusal, inputCount: 1)
            if let shape = ((dict["build_config"] as? [String: Any])?["input_shape"] as? [Any]).flatMap({ try? config(cfg, layer: lname).dims($0) }) {
                builtOn[lname] = shape
            }
            if cls == "InputLayer" {
                guard prev == nil else { throw err("layer '\(lname)'", "InputLayer in the middle of a Sequential model") }
                layers.append(Layer(name: lname, op: layerOp, inbound: []))
                prev = lname
                continue
            }
            if prev == nil {
                // tf.keras: the first layer carries batch_input_shape (a nested model: its own input's shape);
                // Keras names the implied input "<name>_input".
                let nestedInput = layerOp.nestedModel.flatMap { m in m.graph.layer(named: m.graph.inputs[0])?.op.inputShape }
                guard let shape = try config(cfg, layer: lname).batchShape() ?? nestedInput else {
                    throw err("layer '\(lname)'", "first layer of a Sequential model declares no input shape")
                }
                let inputName = lname + "_input"
                layers.append(Layer(name: inputName, InputLayer(shape: shape), inbound: []))
                prev = inputName
            }
            layers.append(Layer(name: lname, op: layerOp, inbound: [prev!], trainable: cfg["trainable"] as? Bool ?? true))
            prev = lname
        }
        guard let first = layers.first, let last = layers.last else { throw err("model config", "Sequential model has no layers") }
        // An opaque layer's output shape is the shape the next layer was built on.
        for i in layers.indices.dropLast() {
            guard case .opaque(var o) = layers[i].op, let next = builtOn[layers[i + 1].name] else { continue }
            o.outputShape = next
            layers[i].op = .opaque(o)
        }
        let graph = ModelGraph(name: name, layers: layers, inputs: [first.name], outputs: [last.name], isSequential: true)
        do { try graph.validate() } catch let e as GraphError { throw err("model config", .graph(e), e.description) }
        return graph
    }

    // MARK: Functional

    func functional(name: String, layerList: [Any], config: [String: Any]) throws -> ModelGraph {
        guard layerList.count <= KerasConfig.maxLayers else { throw err("model config", .tooLarge, "too many layers (\(layerList.count))") }
        var layers: [Layer] = []
        var tensorShapes: [String: Shape] = [:]  // Keras 3: the shapes of the tensors layers are called on
        for (i, entry) in layerList.enumerated() {
            guard let dict = entry as? [String: Any] else { throw err("layer #\(i)", "layer entry is not an object") }
            let (lname, cls, cfg, refusal) = try header(dict, index: i)
            var masks: [String] = []
            let inbound = try inboundLayers(dict["inbound_nodes"], layer: lname, shapes: &tensorShapes, masks: &masks)
            layers.append(Layer(name: lname, op: try op(cls, cfg, layer: lname, refusal: refusal, inputCount: inbound.count), inbound: inbound,
                                trainable: cfg["trainable"] as? Bool ?? true, maskInbound: masks))
        }
        for i in layers.indices {
            guard case .opaque(var o) = layers[i].op, let shape = tensorShapes[layers[i].name] else { continue }
            o.outputShape = shape
            layers[i].op = .opaque(o)
        }
        // Keras lists layers in creation order, which may not be topological for hand-edited files:
        // order them so that every layer follows its inputs, refusing cycles and dangling references.
        layers = try topologicalOrder(layers)
        let inputs = try endpoints(config["input_layers"], what: "input_layers")
        let outputs = try endpoints(config["output_layers"], what: "output_layers")
        let graph = ModelGraph(name: name, layers: layers, inputs: inputs, outputs: outputs, isSequential: false)
        do { try graph.validate() } catch let e as GraphError { throw err("model config", .graph(e), e.description) }
        return graph
    }

    func topologicalOrder(_ layers: [Layer]) throws -> [Layer] {
        var index: [String: Int] = [:]
        for (i, l) in layers.enumerated() {
            guard index[l.name] == nil else { throw err("layer '\(l.name)'", "duplicate layer name") }
            index[l.name] = i
        }
        for l in layers {
            for src in l.connections where index[src] == nil {
                throw err("layer '\(l.name)'", "inbound layer '\(src)' does not exist")
            }
        }
        // Stable: repeatedly emit, in original order, layers whose inputs are all emitted.
        var placed = Set<String>()
        var result: [Layer] = []
        var pending = layers
        while !pending.isEmpty {
            var rest: [Layer] = []
            for l in pending {
                if l.connections.allSatisfy(placed.contains) { result.append(l); placed.insert(l.name) } else { rest.append(l) }
            }
            if rest.count == pending.count {
                throw err("layer '\(rest[0].name)'", "the graph has a cycle (through \(rest.map { "'\($0.name)'" }.prefix(4).joined(separator: ", ")))")
            }
            pending = rest
        }
        return result
    }

    /// `[["name", 0, 0], ...]`, or a single `["name", 0, 0]` (Keras 3 with one input).
    func endpoints(_ value: Any?, what: String) throws -> [String] {
        guard let list = value as? [Any], !list.isEmpty else { throw err("model config", "'\(what)' is missing or empty") }
        if list.first is String { return [list[0] as! String] }
        return try list.map { item in
            guard let triple = item as? [Any], let n = triple.first as? String else { throw err("model config", "'\(what)' entry is malformed") }
            return n
        }
    }

    /// Names of the layers feeding a layer's single inbound node (Keras 1/2 nested lists or Keras 3 args).
    func inboundLayers(_ value: Any?, layer: String) throws -> [String] {
        var shapes: [String: Shape] = [:]
        var masks: [String] = []
        return try inboundLayers(value, layer: layer, shapes: &shapes, masks: &masks)
    }

    /// `inboundLayers`, noting in `shapes` the shape Keras 3 records for each tensor read (by its layer), and
    /// in `masks` the layers whose outputs Keras 3 passes as the `mask` keyword.
    func inboundLayers(_ value: Any?, layer: String, shapes: inout [String: Shape], masks: inout [String]) throws -> [String] {
        guard let nodes = value as? [Any], !nodes.isEmpty else { return [] }
        guard nodes.count == 1 else {
            throw err("layer '\(layer)'", .unsupported, "is called \(nodes.count) times (shared layers are not supported)")
        }
        var names: [String] = []
        if let keras2 = nodes[0] as? [Any] {
            for ref in keras2 {
                guard let r = ref as? [Any], let n = r.first as? String else { throw err("layer '\(layer)'", "malformed inbound node") }
                try checkIndices(r.dropFirst().prefix(2).map { $0 }, layer: layer, source: n)
                names.append(n)
                // Tensors passed by keyword (MultiHeadAttention's `value`, `key`) follow as `[name, node, tensor]`.
                if r.count > 3, let kwargs = r[3] as? [String: Any] {
                    for key in ["value", "key"] {
                        guard let t = kwargs[key] as? [Any], let kn = t.first as? String else { continue }
                        try checkIndices(Array(t.dropFirst().prefix(2)), layer: layer, source: kn)
                        names.append(kn)
                    }
                }
            }
        } else if let keras3 = nodes[0] as? [String: Any] {
            func collect(_ v: Any) throws {
                if let d = v as? [String: Any] {
                    if d["class_name"] as? String == "__keras_tensor__" {
                        guard let hist = (d["config"] as? [String: Any])?["keras_history"] as? [Any], let n = hist.first as? String else {
                            throw err("layer '\(layer)'", "malformed keras_history")
                        }
                        try checkIndices(Array(hist.dropFirst().prefix(2)), layer: layer, source: n)
                        names.append(n)
                        if let raw = (d["config"] as? [String: Any])?["shape"] as? [Any], !raw.isEmpty,
                           let dims = try? config([:], layer: layer).dims(Array(raw.dropFirst())) {
                            shapes[n] = [nil] + dims
                        }
                    } else {
                        for (_, x) in d { try collect(x) }
                    }
                } else if let l = v as? [Any] {
                    for x in l { try collect(x) }
                }
            }
            try collect(keras3["args"] ?? [])
            if let mask = (keras3["kwargs"] as? [String: Any])?["mask"] {
                let data = names
                names = []
                try collect(mask)
                masks = names
                names = data
            }
        } else {
            throw err("layer '\(layer)'", "malformed inbound node")
        }
        return names
    }

    /// `[node index, tensor index]` of an inbound reference: any node (a nested model's call in this model
    /// is its node 1 in tf-keras; a layer called several times is refused where its nodes are read), the
    /// first tensor only.
    func checkIndices(_ idx: [Any], layer: String, source: String) throws {
        guard idx.allSatisfy({ ($0 as? NSNumber).map { $0.intValue >= 0 } ?? false }),
              (idx.dropFirst().first as? NSNumber)?.intValue ?? 0 == 0 else {
            throw err("layer '\(layer)'", .unsupported, "uses output \(idx) of '\(source)' (only a layer's first output is supported)")
        }
    }

    // MARK: Layers

    /// Name, class name and config of a layer entry, and the refusal of a code-carrying, foreign or custom
    /// class (thrown unless inspecting).
    func header(_ dict: [String: Any], index: Int) throws -> (String, String, [String: Any], ImportError?) {
        let (name, cls, cfg) = try namedEntry(dict, index: index)
        do {
            try checkClass(dict, name: name, cls: cls)
            return (name, cls, cfg, nil)
        } catch let e as ImportError where inspect {
            return (name, cls, cfg, e)  // Keras names the row by the Python class: class_name
        }
    }

    func namedEntry(_ dict: [String: Any], index: Int) throws -> (String, String, [String: Any]) {
        let cfg = dict["config"] as? [String: Any] ?? [:]
        let name = (dict["name"] as? String) ?? (cfg["name"] as? String) ?? ""
        guard !name.isEmpty else { throw err("layer #\(index)", "has no name") }
        guard let cls = dict["class_name"] as? String else { throw err("layer '\(name)'", "has no class_name") }
        return (name, cls, cfg)
    }

    func checkClass(_ dict: [String: Any], name: String, cls: String) throws {
        let object = "layer '\(name)'"
        if ["Lambda", "TFOpLambda", "SlicingOpLambda"].contains(cls) {
            throw err(object, .refused(.pythonCode(className: cls)), "is a \(cls) layer: it carries Python code, which vggtool never runs")
        }
        if let module = dict["module"] as? String, !(module == "keras" || module.hasPrefix("keras.")) {
            throw err(object, .refused(.foreignModule(className: cls, module: module)), "class '\(cls)' comes from module '\(module)', outside Keras: custom code is not loaded")
        }
        if let reg = dict["registered_name"] as? String, reg != cls {
            throw err(object, .refused(.customClass(reg)), "is a custom class '\(reg)': custom code is not loaded")
        }
    }

    /// The layer's typed form, read by the layer type's Keras dialect; when inspecting, an `OpaqueLayer` for
    /// a class refused by `header` (`refusal`) or unknown.
    func op(_ cls: String, _ cfg: [String: Any], layer: String, refusal: ImportError? = nil, inputCount: Int = 1) throws -> LayerOp {
        if let refusal {
            return OpaqueLayer(kerasClass: cls, reason: refusal.message, inputCount: inputCount).op
        }
        guard let type = LayerOp.byKerasClassName[cls] else {
            let e = err("layer '\(layer)'", .unsupportedLayerClass(cls), "layer class '\(cls)' is not supported")
            if inspect { return OpaqueLayer(kerasClass: cls, reason: e.message, inputCount: inputCount).op }
            throw e
        }
        var c = config(cfg, layer: layer)
        c.className = cls
        return try type.init(keras: c).op
    }

    func config(_ cfg: [String: Any], layer: String) -> KerasLayerConfig {
        KerasLayerConfig(values: cfg, file: file, layer: layer, kerasMajor: kerasMajor, className: nil, depth: depth, inspect: inspect)
    }
}
