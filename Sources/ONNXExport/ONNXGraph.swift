import ModelGraph

/// The ONNX graph under construction and its serialization as a `ModelProto` (onnx/onnx.proto, IR 7-10).
///
/// Field numbers used (onnx.proto): ModelProto ir_version 1, producer_name 2, producer_version 3,
/// doc_string 6, graph 7, opset_import 8, metadata_props 14; OperatorSetIdProto version 2; GraphProto node 1,
/// name 2, initializer 5, doc_string 10, input 11, output 12; NodeProto input 1, output 2, name 3, op_type 4,
/// attribute 5; AttributeProto name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9, type 20; TensorProto dims 1,
/// data_type 2, name 8, raw_data 9, external_data 13, data_location 14; ValueInfoProto name 1, type 2;
/// TypeProto tensor_type 1; TypeProto.Tensor elem_type 1, shape 2; TensorShapeProto dim 1; Dimension
/// dim_value 1, dim_param 2; StringStringEntryProto key 1, value 2.

/// A node attribute.
enum ONNXAttribute {
    case int(String, Int)
    case float(String, Float)
    case ints(String, [Int])
    case floats(String, [Float])
    case string(String, String)
    case strings(String, [String])

    func encode(_ w: inout ProtoWriter) {
        switch self {
        case .int(let n, let v): w.string(1, n); w.int(3, v); w.int(20, 2)
        case .float(let n, let v): w.string(1, n); w.float(2, v); w.int(20, 1)
        case .ints(let n, let v): w.string(1, n); for x in v { w.int(8, x) }; w.int(20, 7)
        case .floats(let n, let v): w.string(1, n); for x in v { w.float(7, x) }; w.int(20, 6)
        case .string(let n, let v): w.string(1, n); w.string(4, v); w.int(20, 3)
        case .strings(let n, let v): w.string(1, n); for x in v { w.string(9, x) }; w.int(20, 8)
        }
    }
}

/// One node: an operator applied to named values.
struct ONNXNode {
    var op: String
    var name: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [ONNXAttribute]

    func encode(_ w: inout ProtoWriter) {
        for i in inputs { w.string(1, i) }
        for o in outputs { w.string(2, o) }
        w.string(3, name)
        w.string(4, op)
        for a in attributes { w.message(5) { a.encode(&$0) } }
    }
}

/// A constant or weight: its bytes are produced only when the file is written (`fill` writes `byteCount`
/// bytes, little-endian), so a large model's weights go from the source mapping straight to the output.
struct ONNXInitializer {
    /// TensorProto.DataType: 1 float, 7 int64.
    var dataType: Int
    var name: String
    var dims: [Int]
    var byteCount: Int
    var fill: (UnsafeMutableRawPointer) throws -> Void
}

/// A graph input or output: its name, element type (float) and shape (a `nil` dimension is symbolic: the
/// batch `N`, or `symbols[i]` for another unknown size, such as a sequence's steps).
struct ONNXValueInfo {
    var name: String
    var dims: [Int?]
    var symbols: [Int: String] = [:]

    /// The value `name` of the Keras shape `shape` held in the axis order `perm`: the batch is `batch` (nil:
    /// `N`), another unknown Keras axis `k` the symbol `name_k`.
    init(name: String, shape: Shape, perm: [Int], batch: Int?) {
        self.name = name
        dims = perm.map { $0 == 0 ? batch : shape[$0] }
        for (i, k) in perm.enumerated() where k != 0 && shape[k] == nil { symbols[i] = "\(name)_\(k)" }
    }

    func encode(_ w: inout ProtoWriter) {
        w.string(1, name)
        w.message(2) { type in
            type.message(1) { tensor in
                tensor.int(1, 1)
                tensor.message(2) { shape in
                    for (i, d) in dims.enumerated() {
                        shape.message(1) { dim in
                            if let d { dim.int(1, d) } else { dim.string(2, symbols[i] ?? "N") }
                        }
                    }
                }
            }
        }
    }
}

/// Nodes and initializers as the layers add them, with unique names.
final class ONNXGraphBuilder {
    let opset: Int
    private(set) var nodes: [ONNXNode] = []
    private(set) var initializers: [ONNXInitializer] = []
    private var names: Set<String> = []
    private var nodeNames: Set<String> = []
    /// Transposed copies already made: "value|perm" -> name.
    var transposes: [String: String] = [:]

    init(opset: Int) { self.opset = opset }

    /// `base`, or `base_1`, `base_2`, ... when taken; the result is reserved.
    func unique(_ base: String) -> String {
        var name = base
        var i = 1
        while names.contains(name) {
            name = "\(base)_\(i)"
            i += 1
        }
        names.insert(name)
        return name
    }

    /// Reserves a name that must be exact (a graph input, a layer's output); false when already taken.
    @discardableResult
    func reserve(_ name: String) -> Bool { names.insert(name).inserted }

    func isTaken(_ name: String) -> Bool { names.contains(name) }

    /// Adds a node; its name is made unique from `name`.
    func add(_ op: String, name: String, inputs: [String], outputs: [String], _ attributes: [ONNXAttribute] = []) {
        var n = name
        var i = 1
        while nodeNames.contains(n) {
            n = "\(name)_\(i)"
            i += 1
        }
        nodeNames.insert(n)
        nodes.append(ONNXNode(op: op, name: n, inputs: inputs, outputs: outputs, attributes: attributes))
    }

    /// Renames a value everywhere it appears in nodes added so far.
    func rename(_ old: String, to new: String) {
        for i in nodes.indices {
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
            nodes[i].outputs = nodes[i].outputs.map { $0 == old ? new : $0 }
        }
    }

    /// A float initializer of `dims` whose `count` values `fill` writes; returns its (unique) name.
    func floats(_ name: String, dims: [Int], fill: @escaping (UnsafeMutablePointer<Float>) throws -> Void) -> String {
        let n = unique(name)
        let count = dims.reduce(1, *)
        initializers.append(ONNXInitializer(dataType: 1, name: n, dims: dims, byteCount: count * 4) { raw in
            try fill(raw.bindMemory(to: Float.self, capacity: count))
        })
        return n
    }

    /// A float constant holding `values` with shape `dims`.
    func constant(_ name: String, _ values: [Float], dims: [Int]? = nil) -> String {
        floats(name, dims: dims ?? [values.count]) { p in
            for (i, v) in values.enumerated() { p[i] = v }
        }
    }

    /// An int64 constant holding `values` (shape `[count]`).
    func int64s(_ name: String, _ values: [Int]) -> String {
        let n = unique(name)
        initializers.append(ONNXInitializer(dataType: 7, name: n, dims: [values.count], byteCount: values.count * 8) { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: Int64(v).littleEndian, toByteOffset: i * 8, as: Int64.self) }
        })
        return n
    }
}

/// A run of the output: bytes built here, or `count` bytes an initializer writes in place.
enum ONNXPiece {
    case bytes([UInt8])
    case fill(Int, (UnsafeMutableRawPointer) throws -> Void)

    var count: Int {
        switch self {
        case .bytes(let b): b.count
        case .fill(let n, _): n
        }
    }
}

/// The header facts of a `ModelProto`.
struct ONNXModelHeader {
    var irVersion: Int
    var opset: Int
    var producerVersion: String
    var docString: String
    var metadata: [(String, String)]
    var graphName: String
    var inputs: [ONNXValueInfo]
    var outputs: [ONNXValueInfo]
}

/// Where the weights go when they are written beside the model: the data file's name (relative to the
/// `.onnx`), and the alignment of each tensor's offset in it.
struct ONNXExternalData {
    var location: String
    var alignment: Int
}

extension ONNXGraphBuilder {
    /// The model as pieces of the `.onnx` file, and (with external data) the pieces of the data file.
    func serialize(_ h: ONNXModelHeader, external: ONNXExternalData?) -> (model: [ONNXPiece], data: [ONNXPiece]) {
        var head = ProtoWriter()
        for n in nodes { head.message(1) { n.encode(&$0) } }
        head.string(2, h.graphName)
        var graph: [ONNXPiece] = [.bytes(head.bytes)]
        var data: [ONNXPiece] = []
        var dataOffset = 0
        for t in initializers {
            var w = ProtoWriter()
            for d in t.dims { w.int(1, d) }
            w.int(2, t.dataType)
            w.string(8, t.name)
            if let external, t.byteCount >= 1024 {
                let aligned = (dataOffset + external.alignment - 1) / external.alignment * external.alignment
                if aligned > dataOffset { data.append(.bytes([UInt8](repeating: 0, count: aligned - dataOffset))) }
                data.append(.fill(t.byteCount, t.fill))
                for (k, v) in [("location", external.location), ("offset", "\(aligned)"), ("length", "\(t.byteCount)")] {
                    w.message(13) { e in e.string(1, k); e.string(2, v) }
                }
                w.int(14, 1)
                dataOffset = aligned + t.byteCount
                var outer = ProtoWriter()
                outer.bytes(5, w.bytes)
                graph.append(.bytes(outer.bytes))
            } else {
                var outer = ProtoWriter()
                let length = w.bytes.count + Self.headerSize(9, t.byteCount) + t.byteCount
                outer.header(5, length: length)
                outer.bytes.append(contentsOf: w.bytes)
                outer.header(9, length: t.byteCount)
                graph.append(.bytes(outer.bytes))
                graph.append(.fill(t.byteCount, t.fill))
            }
        }
        var tail = ProtoWriter()
        for i in h.inputs { tail.message(11) { i.encode(&$0) } }
        for o in h.outputs { tail.message(12) { o.encode(&$0) } }
        graph.append(.bytes(tail.bytes))

        var model = ProtoWriter()
        model.int(1, h.irVersion)
        model.string(2, "vggtool")
        model.string(3, h.producerVersion)
        model.string(6, h.docString)
        model.message(8) { $0.int(2, h.opset) }
        for (k, v) in h.metadata { model.message(14) { e in e.string(1, k); e.string(2, v) } }
        model.header(7, length: graph.reduce(0) { $0 + $1.count })
        return ([.bytes(model.bytes)] + graph, data)
    }

    /// Bytes of a length-delimited field's tag and length.
    static func headerSize(_ field: Int, _ length: Int) -> Int {
        var w = ProtoWriter()
        w.header(field, length: length)
        return w.bytes.count
    }
}
