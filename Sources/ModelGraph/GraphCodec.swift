import Foundation

/// vggtool's own JSON form of a graph (used in the `.vggm` manifest and `summary --json`): each layer is
/// `{"name", "class", "config", "inbound", "trainable"}` where `config` is the layer type's `Codable` form
/// (see docs/vggm-format.md). Decoding is strict: unknown classes, missing or mistyped keys are errors.
public enum GraphCodec {
    /// The graph as a JSON object (`[String: Any]`, for embedding in a larger document).
    public static func encode(_ graph: ModelGraph) -> [String: Any] {
        // Encoding plain structs of numbers, strings and arrays cannot fail.
        let data = try! JSONEncoder().encode(graph)
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// One layer's `config` object.
    public static func config(_ op: LayerOp) -> [String: Any] {
        let data = try! JSONEncoder().encode(AnyLayerKind(op.kind))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Why a JSON graph was refused: the object at fault (`model`, `layer 'fc1'`), what kind of problem it is
    /// and what is wrong. `description` is `object: message`.
    public struct DecodeError: Error, CustomStringConvertible, Sendable, Equatable {
        /// What went wrong, in terms a caller can switch on. Keys are dotted paths inside the object's
        /// `config` (`kernel_size.[0]`), empty for the object itself.
        public enum Kind: Sendable, Equatable {
            /// The document's structure is wrong (not an object, required entries missing).
            case malformed
            /// A count, depth or integer over vggtool's caps.
            case tooLarge
            /// A layer config holds a non-finite number.
            case nonFiniteNumber
            /// A layer of a class vggtool does not know (its class name).
            case unknownClass(String)
            /// A required key is missing.
            case missingKey(String)
            /// A key holds a value of the wrong type.
            case wrongType(key: String)
            /// A key holds null.
            case nullValue(key: String)
            /// A key holds a value its layer type refuses.
            case invalidValue(key: String)
        }

        /// The object at fault (`model`, `layer 'fc1'`, `layer #3`).
        public var object: String
        /// What kind of problem it is.
        public var kind: Kind
        /// What is wrong, in words.
        public var message: String
        /// `object: message`.
        public var description: String { "\(object): \(message)" }

        init(object: String, _ kind: Kind, message: String) {
            self.object = object
            self.kind = kind
            self.message = message
        }
    }

    /// Largest layer count accepted.
    public static let maxLayers = 100_000

    /// Decodes a graph from a parsed JSON object. `sourceKerasMajor` is the Keras major version the model
    /// came from (older files stored Keras 3's `hard_sigmoid` under that name).
    public static func decode(_ value: Any, sourceKerasMajor: Int = 2) throws -> ModelGraph {
        guard let d = value as? [String: Any] else { throw DecodeError(object: "model", .malformed, message: "is not an object") }
        guard d["name"] is String, d["sequential"] is Bool, d["inputs"] is [String], d["outputs"] is [String],
              let layers = d["layers"] as? [Any] else {
            throw DecodeError(object: "model", .malformed, message: "needs name, sequential, inputs, outputs and layers")
        }
        guard layers.count <= maxLayers else { throw DecodeError(object: "model", .tooLarge, message: "too many layers (\(layers.count))") }
        try checkNesting(d, depth: 0)
        for (i, l) in layers.enumerated() {
            guard let ld = l as? [String: Any], let name = ld["name"] as? String, ld["class"] is String,
                  let cfg = ld["config"] as? [String: Any], ld["inbound"] is [String], ld["mask_inbound"] == nil || ld["mask_inbound"] is [String] else {
                throw DecodeError(object: "layer #\(i)", .malformed, message: "needs name, class, config and inbound")
            }
            try checkNumbers(cfg, layer: name)
        }
        let data = try JSONSerialization.data(withJSONObject: d)
        let decoder = JSONDecoder()
        decoder.userInfo[Activation.sourceKerasMajorKey] = sourceKerasMajor
        do {
            return try decoder.decode(ModelGraph.self, from: data)
        } catch let e as DecodeError {
            throw e
        } catch let e as DecodingError {
            throw describe(e, layers: layers)
        }
    }

    /// Nested models may nest at most `NestedModel.maxDepth` deep.
    static func checkNesting(_ graph: [String: Any], depth: Int) throws {
        guard let layers = graph["layers"] as? [Any] else { return }
        for case let l as [String: Any] in layers {
            guard let model = (l["config"] as? [String: Any])?["model"] as? [String: Any] else { continue }
            guard depth < NestedModel.maxDepth else {
                throw DecodeError(object: "layer '\(l["name"] as? String ?? "?")'", .tooLarge, message: "nests models more than \(NestedModel.maxDepth) deep")
            }
            try checkNesting(model, depth: depth + 1)
        }
    }

    /// Integers in a layer config are limited to 2^31 in magnitude, so that no size arithmetic overflows.
    static func checkNumbers(_ value: Any, layer: String) throws {
        if let n = value as? NSNumber {
            let v = n.doubleValue
            guard v.isFinite else { throw DecodeError(object: "layer '\(layer)'", .nonFiniteNumber, message: "config holds a non-finite number") }
            if v == v.rounded(), abs(v) > Double(maxDimension) {
                throw DecodeError(object: "layer '\(layer)'", .tooLarge, message: "config holds the integer \(n), out of range")
            }
        } else if let a = value as? [Any] {
            for x in a { try checkNumbers(x, layer: layer) }
        } else if let o = value as? [String: Any] {
            for (_, x) in o { try checkNumbers(x, layer: layer) }
        }
    }

    /// How `LayerOp.decode` starts its message for a class it does not know (`unknown class 'X'`).
    static let unknownClassPrefix = "unknown class '"

    /// A one-line message naming the layer and the key from a decoding failure.
    static func describe(_ e: DecodingError, layers: [Any]) -> DecodeError {
        let path: [CodingKey]
        let why: String
        let kind: (String) -> DecodeError.Kind
        switch e {
        case .keyNotFound(let key, let c): path = c.codingPath + [key]; why = "is missing"; kind = { .missingKey($0) }
        case .typeMismatch(_, let c): path = c.codingPath; why = "has the wrong type"; kind = { .wrongType(key: $0) }
        case .valueNotFound(_, let c): path = c.codingPath; why = "is null"; kind = { .nullValue(key: $0) }
        case .dataCorrupted(let c):
            path = c.codingPath
            why = c.debugDescription.isEmpty ? "is malformed" : c.debugDescription
            let unknown = why.hasPrefix(unknownClassPrefix) && why.hasSuffix("'") ? String(why.dropFirst(unknownClassPrefix.count).dropLast()) : nil
            kind = { key in unknown.map { .unknownClass($0) } ?? .invalidValue(key: key) }
        @unknown default: return DecodeError(object: "model", .malformed, message: "\(e)")
        }
        var object = "model"
        var rest = path[...]
        if rest.first?.stringValue == "layers", let i = rest.dropFirst().first?.intValue {
            let name = (layers[safe: i] as? [String: Any])?["name"] as? String
            object = name.map { "layer '\($0)'" } ?? "layer #\(i)"
            rest = rest.dropFirst(2)
            if rest.first?.stringValue == "config" { rest = rest.dropFirst() }
        }
        let key = rest.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return DecodeError(object: object, kind(key), message: key.isEmpty ? why : "'\(key)' \(why)")
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

/// A layer type's `Codable` form through its existential.
struct AnyLayerKind: Encodable {
    let kind: any LayerKind
    init(_ kind: any LayerKind) { self.kind = kind }
    func encode(to encoder: Encoder) throws { try kind.encode(to: encoder) }
}

extension LayerOp {
    /// Layer types by Keras class name. Opaque layers (the inspector's) are never read from a graph.
    static let byClassName: [String: any LayerKind.Type] = Dictionary(uniqueKeysWithValues: kinds.filter { $0 != OpaqueLayer.self }
        .flatMap { k in ([k.className] + k.aliases).map { ($0, k) } })

    /// Decodes the `config` of a layer of class `className`.
    static func decode(className: String, config: Decoder) throws -> LayerOp {
        guard let type = byClassName[className] else {
            throw DecodingError.dataCorrupted(.init(codingPath: config.codingPath, debugDescription: "\(GraphCodec.unknownClassPrefix)\(className)'"))
        }
        return try type.init(from: config).op
    }
}

extension Layer: Codable {
    enum CodingKeys: String, CodingKey { case name, className = "class", config, inbound, trainable, maskInbound = "mask_inbound" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let className = try c.decode(String.self, forKey: .className)
        self.init(name: try c.decode(String.self, forKey: .name),
                  op: try LayerOp.decode(className: className, config: try c.superDecoder(forKey: .config)),
                  inbound: try c.decode([String].self, forKey: .inbound),
                  trainable: try c.decodeIfPresent(Bool.self, forKey: .trainable) ?? true,
                  maskInbound: try c.decodeIfPresent([String].self, forKey: .maskInbound) ?? [])
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(op.className, forKey: .className)
        try op.kind.encode(to: c.superEncoder(forKey: .config))
        try c.encode(inbound, forKey: .inbound)
        if !maskInbound.isEmpty { try c.encode(maskInbound, forKey: .maskInbound) }
        try c.encode(trainable, forKey: .trainable)
    }
}

extension ModelGraph: Codable {
    enum CodingKeys: String, CodingKey { case name, sequential, inputs, outputs, layers }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), layers: try c.decode([Layer].self, forKey: .layers),
                  inputs: try c.decode([String].self, forKey: .inputs), outputs: try c.decode([String].self, forKey: .outputs),
                  isSequential: try c.decode(Bool.self, forKey: .sequential))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(isSequential, forKey: .sequential)
        try c.encode(inputs, forKey: .inputs)
        try c.encode(outputs, forKey: .outputs)
        try c.encode(layers, forKey: .layers)
    }
}
