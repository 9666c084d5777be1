import Foundation
import ModelFile
import ModelGraph

/// How `ONNXExporter` writes a model.
public struct ONNXExportOptions: Sendable, Equatable {
    /// The axis order of the ONNX model's image input (and of its outputs of rank 3 or more).
    public enum Layout: String, Sendable, CaseIterable {
        /// (batch, height, width, channels), as the Keras model takes it (a Transpose inside the graph).
        case nhwc
        /// (batch, channels, height, width), as ONNX's convolutions take it.
        case nchw
    }

    /// The ONNX operator set, 13 ... 21 (`supportedOpsets`).
    public var opset: Int
    /// The input's axis order.
    public var layout: Layout
    /// A fixed batch size, or nil for a symbolic batch dimension `N`.
    public var batch: Int?
    /// Puts the model's recorded preprocessing (caffe: RGB to BGR, mean subtraction) into the graph, so it
    /// takes 0...255 RGB pixels.
    public var includePreprocessing: Bool
    /// Writes the weights beside the `.onnx` (`<name>.onnx.data`, offsets aligned to 4096 bytes).
    public var externalData: Bool
    /// Names of the output classes, recorded in the metadata (`class_names`, a JSON array).
    public var classNames: [String]?
    /// The producer version recorded in the file.
    public var producerVersion: String

    /// Options; the defaults write opset 13, NHWC, a dynamic batch, no preprocessing, weights inside.
    public init(opset: Int = 13, layout: Layout = .nhwc, batch: Int? = nil, includePreprocessing: Bool = false,
                externalData: Bool = false, classNames: [String]? = nil, producerVersion: String = "") {
        self.opset = opset
        self.layout = layout
        self.batch = batch
        self.includePreprocessing = includePreprocessing
        self.externalData = externalData
        self.classNames = classNames
        self.producerVersion = producerVersion
    }
}

/// What an ONNX export wrote.
public struct ONNXExportReport: Sendable, Equatable {
    /// The `.onnx` file's size in bytes.
    public var bytes: Int
    /// The external data file (nil when the weights are inside the model) and its size in bytes.
    public var dataFile: String?
    /// The external data file's size in bytes (0 without one).
    public var dataBytes: Int
    /// Nodes in the graph.
    public var nodes: Int
    /// Initializers (weights and constants).
    public var initializers: Int
}

/// Writes a `.vggm` model as an ONNX model (docs/onnx-export.md): one or more nodes per Keras layer, from
/// each layer type's `ONNXLayer` conformance; weights streamed from the file's mapping into the output's.
public enum ONNXExporter {
    /// The opsets the export writes.
    public static let supportedOpsets = 13...21

    /// The ONNX IR version that goes with an opset (ONNX's versioning table).
    public static func irVersion(opset: Int) -> Int {
        switch opset {
        case ...14: 7
        case 15...18: 8
        case 19...20: 9
        default: 10
        }
    }

    /// Throws unless `options` can be written: the opset in `supportedOpsets`, a positive batch.
    public static func check(_ options: ONNXExportOptions, file: String) throws {
        guard supportedOpsets.contains(options.opset) else {
            throw ONNXExportError(file: file, .unsupportedOpset(options.opset), "opset \(options.opset) is not supported (13 to 21 are)")
        }
    }

    /// Writes `model` as ONNX at `output` (atomically, through `AtomicFile`; with external data the data
    /// file first). Throws `ONNXExportError` naming the layer that cannot be expressed before anything is
    /// written, and `ModelFileError` when the output cannot be written.
    public static func export(_ model: VGGMFile, to output: String, options: ONNXExportOptions = .init()) throws -> ONNXExportReport {
        try export(model, to: output, options: options, inlineLimit: Int(Int32.max))
    }

    /// `export` with the largest `.onnx` written without external data set to `inlineLimit` bytes (protobuf's
    /// 2 GB - 1 outside tests).
    package static func export(_ model: VGGMFile, to output: String, options: ONNXExportOptions, inlineLimit: Int) throws -> ONNXExportReport {
        try check(options, file: model.path)
        let (builder, header) = try build(model, options: options)
        let dataName = URL(fileURLWithPath: output).lastPathComponent + ".data"
        let external = options.externalData ? ONNXExternalData(location: dataName, alignment: 4096) : nil
        let (pieces, data) = builder.serialize(header, external: external)
        let total = pieces.reduce(0) { $0 + $1.count }
        guard total <= inlineLimit else {
            throw ONNXExportError(file: model.path, .tooLarge(bytes: total),
                                  "the ONNX model would be \(total) bytes, beyond protobuf's 2 GB limit: write its weights as external data")
        }
        var dataPath: String?
        var dataBytes = 0
        if external != nil {
            let path = URL(fileURLWithPath: output).deletingLastPathComponent().appendingPathComponent(dataName).path
            dataBytes = data.reduce(0) { $0 + $1.count }
            try write(data, count: dataBytes, to: path)
            dataPath = path
        }
        try write(pieces, count: total, to: output)
        return ONNXExportReport(bytes: total, dataFile: dataPath, dataBytes: dataBytes, nodes: builder.nodes.count, initializers: builder.initializers.count)
    }

    /// Writes `pieces` (`count` bytes) through the AtomicFile's mapping.
    static func write(_ pieces: [ONNXPiece], count: Int, to path: String) throws {
        let out = try AtomicFile(destination: path)
        defer { out.discard() }
        try out.fill(count: count) { buffer in
            guard let base = buffer.baseAddress else { return }
            var at = 0
            for p in pieces {
                switch p {
                case .bytes(let b): b.withUnsafeBytes { (base + at).copyMemory(from: $0.baseAddress!, byteCount: b.count) }
                case .fill(let n, let f): try f(base + at); _ = n
                }
                at += p.count
            }
        }
        try out.commit()
    }

    /// The weights of `model` as the layers' exports read them (float32, converted from f16/bf16).
    static func weightSource(_ model: VGGMFile) -> ONNXWeightSource {
        ONNXWeightSource(count: { name in model.entry(name).map { $0.shape.reduce(1, *) } }, with: { name, body in
            guard let e = model.entry(name) else { return }
            if e.dtype == .f32 {
                let raw = model.bytes(of: e)
                try body(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: Float.self), count: raw.count / 4))
            } else if let values = model.floats(name) {
                try values.withUnsafeBufferPointer { try body($0) }
            }
        })
    }

    /// The graph of `model` in ONNX form, and the model's header facts.
    static func build(_ model: VGGMFile, options: ONNXExportOptions) throws -> (ONNXGraphBuilder, ONNXModelHeader) {
        let file = model.path
        let graph = model.graph.flattened()
        let analysis: GraphAnalysis
        do { analysis = try graph.analyze() } catch let e as GraphError {
            throw ONNXExportError(file: file, layer: e.layer, .unsupportedSetting("shape"), e.message)
        }
        let builder = ONNXGraphBuilder(opset: options.opset)
        let weights = weightSource(model)
        var values: [String: ONNXValue] = [:]
        var inputs: [ONNXValueInfo] = []
        let pre = model.manifest.preprocessing
        for info in analysis.layers {
            let layer = info.layer
            if case .input = layer.op {
                let shape = info.outputShape
                // An unknown size other than the batch (a sequence's steps) is a symbolic dimension; the layers
                // that need it (padding of strided windows, flattening) refuse it by name.
                let r = shape.count
                let perm = options.layout == .nchw ? Perm.channelsFirst(r) : Perm.identity(r)
                builder.reserve(layer.name)
                inputs.append(ONNXValueInfo(name: layer.name, shape: shape, perm: perm, batch: options.batch))
                var value = ONNXValue(name: layer.name, perm: perm)
                if options.includePreprocessing {
                    value = try preprocess(value, rank: r, channels: shape[r - 1] ?? 0, pre, builder: builder, file: file, input: layer.name)
                }
                values[layer.name] = value
                continue
            }
            guard let kind = layer.op.onnx else {
                throw ONNXExportError(file: file, layer: layer.name, .unsupportedLayer(className: layer.op.className),
                                      "layer class \(layer.op.className) cannot be exported to ONNX")
            }
            guard layer.maskInbound.isEmpty else {
                throw ONNXExportError(file: file, layer: layer.name, .unsupportedSetting("mask"), "the layer is given a mask (Keras's masking), which the export does not write")
            }
            let cf = layer.op.isChannelsFirst
            let view: (Shape) -> Shape = { s in cf && s.count >= 3 ? [s[0]] + s[2...] + [s[1]] : s }
            var c = ONNXLayerContext(graph: builder, file: file, layer: layer, inputs: layer.inbound.map { values[$0]! },
                                     inputShapes: info.inputShapes.map(view), outputShape: view(info.outputShape),
                                     channelsFirst: cf, weights: weights, output: nil)
            try kind.exportONNX(&c)
            values[layer.name] = c.output!
        }
        // Outputs: named after their layers, in Keras's order (NHWC layout) or channels first (NCHW, rank >= 3).
        var outputs: [ONNXValueInfo] = []
        // A nested model's output keeps the nested model's name (Keras's output layer), not its inner layer's.
        for (name, flat) in zip(model.graph.outputs, graph.outputs) {
            let info = analysis.info(flat)!
            let r = info.outputShape.count
            let want = options.layout == .nchw ? Perm.channelsFirst(r) : Perm.identity(r)
            let v = values[flat]!
            if v.name != name || v.perm != want {
                var source = v.name
                if v.name == name {  // the layer's value is held in another order: it becomes name/raw
                    source = builder.unique("\(name)/raw")
                    builder.rename(name, to: source)
                } else {
                    builder.reserve(name)
                }
                if v.perm == want {
                    builder.add("Identity", name: "\(name)/Identity", inputs: [source], outputs: [name])
                } else {
                    let inv = Perm.inverse(v.perm)
                    builder.add("Transpose", name: "\(name)/Transpose", inputs: [source], outputs: [name], [.ints("perm", want.map { inv[$0] })])
                }
            }
            outputs.append(ONNXValueInfo(name: name, shape: info.outputShape, perm: want, batch: options.batch))
        }
        let p = model.manifest.provenance
        let shape = model.manifest.inputShape.map { $0.map(String.init) ?? "?" }.joined(separator: "x")
        var metadata: [(String, String)] = [
            ("source_file", p.sourceFile), ("source_sha256", p.sourceSHA256), ("keras_version", p.kerasVersion ?? ""),
            ("converter", p.converter), ("input_size", shape), ("layout", options.layout.rawValue),
            ("preprocessing", pre.map { "\($0.mode)\(options.includePreprocessing ? " (in the graph: input is RGB 0..255)" : " (not in the graph)")" } ?? "none"),
        ]
        if let names = options.classNames, let json = try? JSONSerialization.data(withJSONObject: names), let s = String(data: json, encoding: .utf8) {
            metadata.append(("class_names", s))
        }
        let doc = "\(graph.name), exported by vggtool \(options.producerVersion) from \(p.sourceFile.isEmpty ? URL(fileURLWithPath: file).lastPathComponent : p.sourceFile)"
            + (p.sourceSHA256.isEmpty ? "" : " (SHA-256 \(p.sourceSHA256))") + (p.kerasVersion.map { ", Keras \($0)" } ?? "")
            + "; input \(shape) \(options.layout.rawValue.uppercased())"
        let header = ONNXModelHeader(irVersion: irVersion(opset: options.opset), opset: options.opset, producerVersion: options.producerVersion,
                                     docString: doc, metadata: metadata, graphName: graph.name, inputs: inputs, outputs: outputs)
        return (builder, header)
    }

    /// The model's preprocessing on the graph input `x` (0...255 RGB): channels reversed for BGR, the mean
    /// subtracted and the std divided per channel of the network's order.
    static func preprocess(_ x: ONNXValue, rank r: Int, channels: Int, _ p: Preprocessing?, builder: ONNXGraphBuilder, file: String, input: String) throws -> ONNXValue {
        guard let p, p.mode != "none" else {
            throw ONNXExportError(file: file, layer: input, .unsupportedSetting("preprocessing"), "the model records no preprocessing to include")
        }
        guard r == 4, channels == 3 else {
            throw ONNXExportError(file: file, layer: input, .unsupportedSetting("preprocessing"), "preprocessing needs an RGB image input (height, width, 3)")
        }
        let axis = x.perm.firstIndex(of: r - 1)!
        let bcast = [3] + Array(repeating: 1, count: r - 1 - axis)
        var v = x.name
        if p.channelOrder.uppercased() == "BGR" {
            let out = builder.unique("\(input)/bgr")
            builder.add("Slice", name: out, inputs: [v, builder.int64s("\(input)/bgr_starts", [-1]), builder.int64s("\(input)/bgr_ends", [Int(Int64.min)]),
                                                      builder.int64s("\(input)/bgr_axes", [axis]), builder.int64s("\(input)/bgr_steps", [-1])], outputs: [out])
            v = out
        }
        if p.mean.count == 3 {
            let out = builder.unique("\(input)/centered")
            builder.add("Sub", name: out, inputs: [v, builder.constant("\(input)/mean", p.mean.map(Float.init), dims: bcast)], outputs: [out])
            v = out
        }
        if p.std.count == 3, p.std.contains(where: { $0 != 1 }) {
            let out = builder.unique("\(input)/scaled")
            builder.add("Div", name: out, inputs: [v, builder.constant("\(input)/std", p.std.map(Float.init), dims: bcast)], outputs: [out])
            v = out
        }
        return ONNXValue(name: v, perm: x.perm)
    }
}
