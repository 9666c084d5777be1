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
    static let maxDimension = 1 << 31

    public static func parse(json text: String, file: String) throws -> ModelGraph {
        guard let data = text.data(using: .utf8),
              let root = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw ImportError(file: file, object: "model config", "is not valid JSON")
        }
        return try Parser(file: file).model(root)
    }

    public static func parse(object root: Any, file: String) throws -> ModelGraph {
        try Parser(file: file).model(root)
    }
}

private struct Parser {
    let file: String

    func err(_ object: String, _ message: String) -> ImportError { ImportError(file: file, object: object, message) }

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
            throw err("model config", "model class '\(className)' is not supported (expected Sequential, Functional or Model)")
        }
    }

    // MARK: Sequential

    func sequential(name: String, layerList: [Any]) throws -> ModelGraph {
        guard layerList.count <= KerasConfig.maxLayers else { throw err("model config", "too many layers (\(layerList.count))") }
        var layers: [Layer] = []
        var prev: String? = nil
        for (i, entry) in layerList.enumerated() {
            guard let dict = entry as? [String: Any] else { throw err("layer #\(i)", "layer entry is not an object") }
            let (lname, cls, cfg) = try header(dict, index: i)
            if cls == "InputLayer" {
                guard prev == nil else { throw err("layer '\(lname)'", "InputLayer in the middle of a Sequential model") }
                layers.append(Layer(name: lname, op: try op(cls, cfg, layer: lname), inbound: []))
                prev = lname
                continue
            }
            if prev == nil {
                // tf.keras: the first layer carries batch_input_shape; Keras names the implied input "<name>_input".
                guard let shape = try batchShape(cfg, layer: lname) else {
                    throw err("layer '\(lname)'", "first layer of a Sequential model declares no input shape")
                }
                let inputName = lname + "_input"
                layers.append(Layer(name: inputName, op: .input(shape: shape), inbound: []))
                prev = inputName
            }
            layers.append(Layer(name: lname, op: try op(cls, cfg, layer: lname), inbound: [prev!], trainable: cfg["trainable"] as? Bool ?? true))
            prev = lname
        }
        guard let first = layers.first, let last = layers.last else { throw err("model config", "Sequential model has no layers") }
        let graph = ModelGraph(name: name, layers: layers, inputs: [first.name], outputs: [last.name], isSequential: true)
        do { try graph.validate() } catch let e as GraphError { throw err("model config", e.description) }
        return graph
    }

    // MARK: Functional

    func functional(name: String, layerList: [Any], config: [String: Any]) throws -> ModelGraph {
        guard layerList.count <= KerasConfig.maxLayers else { throw err("model config", "too many layers (\(layerList.count))") }
        var layers: [Layer] = []
        for (i, entry) in layerList.enumerated() {
            guard let dict = entry as? [String: Any] else { throw err("layer #\(i)", "layer entry is not an object") }
            let (lname, cls, cfg) = try header(dict, index: i)
            let inbound = try inboundLayers(dict["inbound_nodes"], layer: lname)
            layers.append(Layer(name: lname, op: try op(cls, cfg, layer: lname), inbound: inbound, trainable: cfg["trainable"] as? Bool ?? true))
        }
        // Keras lists layers in creation order, which may not be topological for hand-edited files:
        // order them so that every layer follows its inputs, refusing cycles and dangling references.
        layers = try topologicalOrder(layers)
        let inputs = try endpoints(config["input_layers"], what: "input_layers")
        let outputs = try endpoints(config["output_layers"], what: "output_layers")
        let graph = ModelGraph(name: name, layers: layers, inputs: inputs, outputs: outputs, isSequential: false)
        do { try graph.validate() } catch let e as GraphError { throw err("model config", e.description) }
        return graph
    }

    func topologicalOrder(_ layers: [Layer]) throws -> [Layer] {
        var index: [String: Int] = [:]
        for (i, l) in layers.enumerated() {
            guard index[l.name] == nil else { throw err("layer '\(l.name)'", "duplicate layer name") }
            index[l.name] = i
        }
        for l in layers {
            for src in l.inbound where index[src] == nil {
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
                if l.inbound.allSatisfy(placed.contains) { result.append(l); placed.insert(l.name) } else { rest.append(l) }
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
        guard let nodes = value as? [Any], !nodes.isEmpty else { return [] }
        guard nodes.count == 1 else {
            throw err("layer '\(layer)'", "is called \(nodes.count) times (shared layers are not supported)")
        }
        var names: [String] = []
        if let keras2 = nodes[0] as? [Any] {
            for ref in keras2 {
                guard let r = ref as? [Any], let n = r.first as? String else { throw err("layer '\(layer)'", "malformed inbound node") }
                try checkIndices(r.dropFirst().prefix(2).map { $0 }, layer: layer, source: n)
                names.append(n)
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
                    } else {
                        for (_, x) in d { try collect(x) }
                    }
                } else if let l = v as? [Any] {
                    for x in l { try collect(x) }
                }
            }
            try collect(keras3["args"] ?? [])
        } else {
            throw err("layer '\(layer)'", "malformed inbound node")
        }
        return names
    }

    func checkIndices(_ idx: [Any], layer: String, source: String) throws {
        for v in idx {
            guard let n = v as? NSNumber, n.intValue == 0 else {
                throw err("layer '\(layer)'", "uses output \(idx) of '\(source)' (only the first output of the first call is supported)")
            }
        }
    }

    // MARK: Layers

    /// Name, canonical class name and config of a layer entry; refuses code-carrying and foreign classes.
    func header(_ dict: [String: Any], index: Int) throws -> (String, String, [String: Any]) {
        let cfg = dict["config"] as? [String: Any] ?? [:]
        let name = (dict["name"] as? String) ?? (cfg["name"] as? String) ?? ""
        guard !name.isEmpty else { throw err("layer #\(index)", "has no name") }
        guard let cls = dict["class_name"] as? String else { throw err("layer '\(name)'", "has no class_name") }
        let object = "layer '\(name)'"
        if ["Lambda", "TFOpLambda", "SlicingOpLambda"].contains(cls) {
            throw err(object, "is a \(cls) layer: it carries Python code, which vggtool never runs")
        }
        if let module = dict["module"] as? String, !(module == "keras" || module.hasPrefix("keras.")) {
            throw err(object, "class '\(cls)' comes from module '\(module)', outside Keras: custom code is not loaded")
        }
        if let reg = dict["registered_name"] as? String, reg != cls {
            throw err(object, "is a custom class '\(reg)': custom code is not loaded")
        }
        if ["Functional", "Sequential", "Model"].contains(cls) {
            throw err(object, "is a nested model (\(cls)); nested models are not supported yet, save the outer model flattened")
        }
        return (name, cls, cfg)
    }

    func int(_ v: Any?, _ key: String, layer: String) throws -> Int {
        guard let n = v as? NSNumber else { throw err("layer '\(layer)'", "'\(key)' is missing or not a number") }
        let d = n.doubleValue
        guard d.rounded() == d, abs(d) <= Double(KerasConfig.maxDimension) else {
            throw err("layer '\(layer)'", "'\(key)' = \(n) is not a usable integer")
        }
        return n.intValue
    }

    func pair(_ v: Any?, _ key: String, layer: String, default def: [Int]? = nil) throws -> [Int] {
        if v == nil || v is NSNull, let def { return def }
        if let n = v as? NSNumber { let x = try int(n, key, layer: layer); return [x, x] }
        guard let l = v as? [Any], l.count == 2 else { throw err("layer '\(layer)'", "'\(key)' must be an integer or a pair") }
        return try l.map { try int($0, key, layer: layer) }
    }

    func positive(_ values: [Int], _ key: String, layer: String) throws -> [Int] {
        guard values.allSatisfy({ $0 >= 1 }) else { throw err("layer '\(layer)'", "'\(key)' must be positive, got \(values)") }
        return values
    }

    func padding(_ cfg: [String: Any], layer: String) throws -> Padding {
        let p = (cfg["padding"] ?? cfg["border_mode"]) as? String ?? "valid"
        guard let pad = Padding(rawValue: p.lowercased()) else { throw err("layer '\(layer)'", "padding '\(p)' is not supported (same or valid)") }
        return pad
    }

    static let activations: Set<String> = ["linear", "relu", "softmax", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign",
                                          "swish", "silu", "gelu", "hard_sigmoid", "exponential", "relu6", "leaky_relu", "mish",
                                          "log_softmax", "hard_silu", "hard_swish"]

    func activation(_ v: Any?, layer: String) throws -> String {
        if v == nil || v is NSNull { return "linear" }
        if let s = v as? String {
            guard Parser.activations.contains(s) else { throw err("layer '\(layer)'", "activation '\(s)' is not a standard Keras activation") }
            return s
        }
        throw err("layer '\(layer)'", "activation \(v!) is custom: custom code is not loaded")
    }

    func checkChannelsLast(_ cfg: [String: Any], layer: String) throws {
        let df = (cfg["data_format"] ?? cfg["dim_ordering"]) as? String
        if let df, !(df == "channels_last" || df == "tf" || df == "default") {
            throw err("layer '\(layer)'", "data_format '\(df)' is not supported (channels_last only)")
        }
    }

    func batchShape(_ cfg: [String: Any], layer: String) throws -> [Int?]? {
        guard let raw = (cfg["batch_shape"] ?? cfg["batch_input_shape"]) as? [Any] else {
            if let s = cfg["input_shape"] as? [Any] { return try dims(s, layer: layer) }
            return nil
        }
        guard raw.count >= 2 else { throw err("layer '\(layer)'", "input shape \(raw) has no dimensions besides the batch") }
        return try dims(Array(raw.dropFirst()), layer: layer)
    }

    func dims(_ raw: [Any], layer: String) throws -> [Int?] {
        try raw.map { v in
            if v is NSNull { return nil }
            let d = try int(v, "shape", layer: layer)
            guard d >= 1 else { throw err("layer '\(layer)'", "input dimension \(d) is not positive") }
            return d
        }
    }

    func op(_ cls: String, _ cfg: [String: Any], layer: String) throws -> LayerOp {
        let o = "layer '\(layer)'"
        switch cls {
        case "InputLayer":
            guard let shape = try batchShape(cfg, layer: layer) else { throw err(o, "InputLayer declares no shape") }
            return .input(shape: shape)
        case "Conv2D", "Convolution2D":
            try checkChannelsLast(cfg, layer: layer)
            if let g = cfg["groups"] as? NSNumber, g.intValue != 1 { throw err(o, "grouped convolution (groups=\(g)) is not supported") }
            let filters = try int(cfg["filters"] ?? cfg["nb_filter"], "filters", layer: layer)
            let kernel = cfg["kernel_size"] != nil ? try pair(cfg["kernel_size"], "kernel_size", layer: layer)
                : [try int(cfg["nb_row"], "nb_row", layer: layer), try int(cfg["nb_col"], "nb_col", layer: layer)]
            return .conv2D(filters: try positive([filters], "filters", layer: layer)[0],
                           kernel: try positive(kernel, "kernel_size", layer: layer),
                           strides: try positive(try pair(cfg["strides"] ?? cfg["subsample"], "strides", layer: layer, default: [1, 1]), "strides", layer: layer),
                           padding: try padding(cfg, layer: layer),
                           dilation: try positive(try pair(cfg["dilation_rate"], "dilation_rate", layer: layer, default: [1, 1]), "dilation_rate", layer: layer),
                           activation: try activation(cfg["activation"], layer: layer),
                           useBias: (cfg["use_bias"] ?? cfg["bias"]) as? Bool ?? true)
        case "DepthwiseConv2D":
            try checkChannelsLast(cfg, layer: layer)
            return .depthwiseConv2D(kernel: try positive(try pair(cfg["kernel_size"], "kernel_size", layer: layer), "kernel_size", layer: layer),
                                    strides: try positive(try pair(cfg["strides"], "strides", layer: layer, default: [1, 1]), "strides", layer: layer),
                                    padding: try padding(cfg, layer: layer),
                                    depthMultiplier: try positive([try int(cfg["depth_multiplier"] ?? 1, "depth_multiplier", layer: layer)], "depth_multiplier", layer: layer)[0],
                                    dilation: try positive(try pair(cfg["dilation_rate"], "dilation_rate", layer: layer, default: [1, 1]), "dilation_rate", layer: layer),
                                    activation: try activation(cfg["activation"], layer: layer),
                                    useBias: cfg["use_bias"] as? Bool ?? true)
        case "SeparableConv2D", "SeparableConvolution2D":
            try checkChannelsLast(cfg, layer: layer)
            return .separableConv2D(filters: try positive([try int(cfg["filters"], "filters", layer: layer)], "filters", layer: layer)[0],
                                    kernel: try positive(try pair(cfg["kernel_size"], "kernel_size", layer: layer), "kernel_size", layer: layer),
                                    strides: try positive(try pair(cfg["strides"], "strides", layer: layer, default: [1, 1]), "strides", layer: layer),
                                    padding: try padding(cfg, layer: layer),
                                    depthMultiplier: try positive([try int(cfg["depth_multiplier"] ?? 1, "depth_multiplier", layer: layer)], "depth_multiplier", layer: layer)[0],
                                    dilation: try positive(try pair(cfg["dilation_rate"], "dilation_rate", layer: layer, default: [1, 1]), "dilation_rate", layer: layer),
                                    activation: try activation(cfg["activation"], layer: layer),
                                    useBias: cfg["use_bias"] as? Bool ?? true)
        case "Dense":
            let units = try int(cfg["units"] ?? cfg["output_dim"], "units", layer: layer)
            return .dense(units: try positive([units], "units", layer: layer)[0], activation: try activation(cfg["activation"], layer: layer),
                          useBias: (cfg["use_bias"] ?? cfg["bias"]) as? Bool ?? true)
        case "BatchNormalization":
            if let axis = cfg["axis"] {
                let a = (axis as? [Any])?.first ?? axis
                let ax = try int(a, "axis", layer: layer)
                guard ax == -1 || ax == 3 else { throw err(o, "BatchNormalization over axis \(ax) is not supported (last axis only)") }
            }
            return .batchNormalization(epsilon: (cfg["epsilon"] as? NSNumber)?.doubleValue ?? 1e-3,
                                       center: cfg["center"] as? Bool ?? true, scale: cfg["scale"] as? Bool ?? true)
        case "Activation":
            return .activation(try activation(cfg["activation"], layer: layer))
        case "ReLU":
            let maxValue = (cfg["max_value"] as? NSNumber)?.doubleValue
            return .relu(maxValue: maxValue, negativeSlope: (cfg["negative_slope"] as? NSNumber)?.doubleValue ?? 0,
                         threshold: (cfg["threshold"] as? NSNumber)?.doubleValue ?? 0)
        case "Softmax":
            let axis = (cfg["axis"] as? [Any])?.first ?? cfg["axis"] ?? -1
            return .softmax(axis: try int(axis, "axis", layer: layer))
        case "Dropout":
            return .dropout(rate: ((cfg["rate"] ?? cfg["p"]) as? NSNumber)?.doubleValue ?? 0)
        case "Flatten":
            try checkChannelsLast(cfg, layer: layer)
            return .flatten
        case "Reshape":
            guard let t = cfg["target_shape"] as? [Any] else { throw err(o, "Reshape has no target_shape") }
            return .reshape(targetShape: try t.map { try int($0, "target_shape", layer: layer) })
        case "MaxPooling2D", "AveragePooling2D":
            try checkChannelsLast(cfg, layer: layer)
            let pool = try positive(try pair(cfg["pool_size"], "pool_size", layer: layer, default: [2, 2]), "pool_size", layer: layer)
            let strides = try positive(try pair(cfg["strides"], "strides", layer: layer, default: pool), "strides", layer: layer)
            let pad = try padding(cfg, layer: layer)
            return cls == "MaxPooling2D" ? .maxPooling2D(pool: pool, strides: strides, padding: pad) : .averagePooling2D(pool: pool, strides: strides, padding: pad)
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            try checkChannelsLast(cfg, layer: layer)
            let keep = cfg["keepdims"] as? Bool ?? false
            return cls == "GlobalMaxPooling2D" ? .globalMaxPooling2D(keepDims: keep) : .globalAveragePooling2D(keepDims: keep)
        case "ZeroPadding2D":
            try checkChannelsLast(cfg, layer: layer)
            let p = cfg["padding"] ?? 1
            if let n = p as? NSNumber { let v = try int(n, "padding", layer: layer); return .zeroPadding2D(top: v, bottom: v, left: v, right: v) }
            guard let l = p as? [Any], l.count == 2 else { throw err(o, "ZeroPadding2D padding is malformed") }
            if let tb = l[0] as? [Any], let lr = l[1] as? [Any], tb.count == 2, lr.count == 2 {
                return .zeroPadding2D(top: try int(tb[0], "padding", layer: layer), bottom: try int(tb[1], "padding", layer: layer),
                                      left: try int(lr[0], "padding", layer: layer), right: try int(lr[1], "padding", layer: layer))
            }
            let h = try int(l[0], "padding", layer: layer), w = try int(l[1], "padding", layer: layer)
            return .zeroPadding2D(top: h, bottom: h, left: w, right: w)
        case "Add": return .add
        case "Multiply": return .multiply
        case "Concatenate": return .concatenate(axis: try int(cfg["axis"] ?? -1, "axis", layer: layer))
        default:
            throw err(o, "layer class '\(cls)' is not supported")
        }
    }
}
