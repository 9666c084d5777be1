import Foundation
import KerasImport
import ModelFile
import ModelGraph
import ONNXExport
import Runtime
import Testing
import VGGTool

/// A minimal protobuf reader for checking exported ONNX files: a message's fields in order.
struct Proto {
    enum Value { case varint(UInt64), bytes(ArraySlice<UInt8>), fixed32(UInt32), fixed64(UInt64) }
    let fields: [(number: Int, value: Value)]

    init(_ b: ArraySlice<UInt8>) throws {
        struct Bad: Error {}
        var i = b.startIndex
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < b.endIndex, shift < 64 else { throw Bad() }
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
        }
        var out: [(Int, Value)] = []
        while i < b.endIndex {
            let tag = try varint()
            switch tag & 7 {
            case 0: out.append((Int(tag >> 3), .varint(try varint())))
            case 2:
                let n = Int(try varint())
                guard n >= 0, i + n <= b.endIndex else { throw Bad() }
                out.append((Int(tag >> 3), .bytes(b[i..<(i + n)]))); i += n
            case 5:
                guard i + 4 <= b.endIndex else { throw Bad() }
                out.append((Int(tag >> 3), .fixed32(b[i..<(i + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) }))); i += 4
            case 1:
                guard i + 8 <= b.endIndex else { throw Bad() }
                out.append((Int(tag >> 3), .fixed64(b[i..<(i + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) }))); i += 8
            default: throw Bad()
            }
        }
        fields = out
    }

    func all(_ n: Int) -> [ArraySlice<UInt8>] { fields.compactMap { if $0.number == n, case .bytes(let s) = $0.value { s } else { nil } } }
    func messages(_ n: Int) throws -> [Proto] { try all(n).map { try Proto($0) } }
    func strings(_ n: Int) -> [String] { all(n).map { String(decoding: $0, as: UTF8.self) } }
    func string(_ n: Int) -> String? { strings(n).first }
    func int(_ n: Int) -> Int? { fields.last { $0.number == n }.flatMap { if case .varint(let v) = $0.value { Int(truncatingIfNeeded: v) } else { nil } } }
    func ints(_ n: Int) -> [Int] { fields.compactMap { if $0.number == n, case .varint(let v) = $0.value { Int(truncatingIfNeeded: v) } else { nil } } }
}

/// An exported ONNX model as the tests read it back.
struct ONNXModelView {
    let model: Proto, graph: Proto
    init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        model = try Proto(bytes[...])
        graph = try model.messages(7)[0]
    }
    var opset: Int? { try? model.messages(8).first?.int(2) }
    var irVersion: Int? { model.int(1) }
    var nodes: [Proto] { (try? graph.messages(1)) ?? [] }
    var opTypes: [String] { nodes.compactMap { $0.string(4) } }
    var initializers: [Proto] { (try? graph.messages(5)) ?? [] }
    var inputNames: [String] { ((try? graph.messages(11)) ?? []).compactMap { $0.string(1) } }
    var outputNames: [String] { ((try? graph.messages(12)) ?? []).compactMap { $0.string(1) } }
    var metadata: [String: String] {
        Dictionary(((try? model.messages(14)) ?? []).map { ($0.string(1) ?? "", $0.string(2) ?? "") }) { a, _ in a }
    }
}

/// `export --to onnx` (scripts/fixtures/gen_onnx_goldens.py checked the same exports with onnx.checker and ONNX
/// Runtime against Keras, at every opset and both layouts, and wrote ONNX Runtime's outputs): what vggtool
/// writes parses back with the expected structure, and vggtool's runtime computes what ONNX Runtime computed
/// on it, on both convolution paths.
@Suite struct ONNXExportTests {
    static let models = ["tiny_vgg16", "branching", "layers_zoo", "ops_zoo", "leaky_relu", "merges_noise", "resampling",
                         "sequence", "channels_first", "sequence_cf", "preprocessing", "nested_seq", "nested_func",
                         "nested_branch", "nested_deep", "multi_io", "recurrent", "sequence_ops"] + real
    /// Real files in Fixtures/real: `<model>.h5` with `<model>.config.json`, inputs beside them.
    static let real = ["deepcut_cnn", "chars2vec_eng_50"]

    /// Models compared by absolute difference: deepcut's sigmoid output (6e-8 and 2e-25) is where ONNX
    /// Runtime's approximate Sigmoid is exact to about 1e-7 absolute only (gen_onnx_goldens.py).
    static let absoluteTolerance: [String: Float] = ["deepcut_cnn": 1e-6]

    static func inputs(_ model: String) throws -> [Tensor] {
        let dir = real.contains(model) ? "real" : "goldens"
        if FileManager.default.fileExists(atPath: TestSupport.fixture("\(dir)/\(model).input.npy")) { return [try NumPy.read(path: TestSupport.fixture("\(dir)/\(model).input.npy"))] }
        return try (0..<2).map { try NumPy.read(path: TestSupport.fixture("\(dir)/\(model).input\($0).npy")) }
    }

    /// The Keras file of `model` and the options it converts with (a real file's architecture).
    static func source(_ model: String) throws -> (path: String, options: KerasFile.Options) {
        guard real.contains(model) else { return (TestSupport.fixture("\(model).tfkeras.full.h5"), .init()) }
        return (TestSupport.fixture("real/\(model).h5"), .init(configJSON: try TestSupport.config("real/\(model).config.json")))
    }

    @Test(arguments: models)
    func matchesONNXRuntimeGoldens(model: String) throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/\(model).onnx"
        let (source, keras) = try Self.source(model)
        let report = try exportONNX(model: source, output: out, keras: keras)
        let view = try ONNXModelView(path: out)
        #expect(view.opset == 13 && view.irVersion == 7)
        #expect(report.nodes == view.nodes.count && report.initializers == view.initializers.count)
        let ops = try String(contentsOfFile: TestSupport.fixture("goldens/onnx/\(model).ops.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(view.opTypes == ops, "\(model): the export's nodes changed since gen_onnx_goldens.py checked them; rerun it")
        let vggm = try TestSupport.convertAndOpen(source, options: keras)
        #expect(view.outputNames == vggm.graph.outputs)
        for winograd in [true, false] {
            let engine = try Engine(model: vggm, options: .init(winograd: winograd, winogradMinChannels: 1))
            let ys = try engine.run(try Self.inputs(model))
            for (i, y) in ys.enumerated() {
                let expected = try TestSupport.tensor("onnx/\(model).ort.output\(i).npy")
                #expect(y.shape == expected.shape)
                if let tolerance = Self.absoluteTolerance[model] {
                    let err = zip(y.values, expected.values).map { abs($0 - $1) }.max() ?? .infinity
                    #expect(err < tolerance, "\(model) output \(i) (winograd \(winograd)): absolute error \(err)")
                } else {
                    let err = TestSupport.relativeError(y.values[...], expected.values[...])
                    #expect(err < 1e-4, "\(model) output \(i) (winograd \(winograd)): relative error \(err)")
                }
            }
        }
    }

    /// float16 and bfloat16 `.vggm` files export as float32 weights; ONNX Runtime's outputs on them are
    /// vggtool's.
    @Test(arguments: [TensorDType.f16, .bf16])
    func halfPrecisionSources(dtype: TensorDType) throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), dtype: dtype)
        _ = try ONNXExporter.export(vggm, to: dir + "/m.onnx")
        let y = try Engine(model: vggm).run(try TestSupport.tensor("tiny_vgg16.input.npy"))[0]
        let expected = try TestSupport.tensor("onnx/tiny_vgg16.\(dtype.rawValue).ort.output0.npy")
        #expect(TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4)
        let view = try ONNXModelView(path: dir + "/m.onnx")
        #expect(view.initializers.allSatisfy { $0.int(2) == 1 || $0.int(2) == 7 })
    }

    /// The same model exports to the same bytes; names come from Keras; metadata carries the provenance.
    @Test func deterministicAndNamedAfterKeras() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = TestSupport.fixture("tiny_vgg16.vggm")
        _ = try exportONNX(model: source, output: dir + "/a.onnx")
        _ = try exportONNX(model: source, output: dir + "/b.onnx")
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.onnx")), b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b.onnx"))
        #expect(a == b)
        let view = try ONNXModelView(path: dir + "/a.onnx")
        #expect(view.outputNames == ["predictions"])
        #expect(view.initializers.compactMap { $0.string(8) }.contains("block1_conv1/kernel"))
        #expect(view.nodes.compactMap { $0.string(3) }.contains("block1_conv1/Conv"))
        let meta = view.metadata
        #expect(meta["layout"] == "nhwc" && meta["input_size"] != nil && meta["source_sha256"] != nil)
        #expect(view.model.string(2) == "vggtool" && view.model.string(6)?.isEmpty == false)
    }

    /// Each opset writes its own IR version and the ops that changed (HardSwish from 14, Mish from 18, Gelu
    /// from 20, LayerNormalization from 17) where the fixture uses them.
    @Test(arguments: Array(13...21))
    func opsetVersions(opset: Int) throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try exportONNX(model: TestSupport.fixture("tiny_vgg16.vggm"), output: dir + "/m.onnx", options: .init(opset: opset))
        let view = try ONNXModelView(path: dir + "/m.onnx")
        #expect(view.opset == opset && view.irVersion == ONNXExporter.irVersion(opset: opset))
    }

    /// The front door: `Model.exportONNX` writes what the command writes.
    @Test func frontDoor() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Model(contentsOf: URL(fileURLWithPath: TestSupport.fixture("tiny_vgg16.vggm")))
        try model.exportONNX(to: URL(fileURLWithPath: dir + "/a.onnx"))
        _ = try exportONNX(model: TestSupport.fixture("tiny_vgg16.vggm"), output: dir + "/b.onnx")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.onnx")) == Data(contentsOf: URL(fileURLWithPath: dir + "/b.onnx")))
    }

    /// NCHW layout: the input is (N, C, H, W); a Transpose before Flatten keeps Keras's (H, W, C) order.
    @Test func nchwLayout() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try exportONNX(model: TestSupport.fixture("tiny_vgg16.vggm"), output: dir + "/m.onnx", options: .init(layout: .nchw, batch: 2))
        let view = try ONNXModelView(path: dir + "/m.onnx")
        let input = try view.graph.messages(11)[0]
        let dims = try input.messages(2)[0].messages(1)[0].messages(2)[0].messages(1).map { $0.int(1) }
        #expect(dims == [2, 3, 32, 32])
        #expect(view.opTypes.first == "Conv")
        #expect(view.opTypes.firstIndex(of: "Transpose")! < view.opTypes.firstIndex(of: "Flatten")!)
    }

    /// --include-preprocessing: RGB to BGR (a reversing Slice) and the mean subtraction come first.
    @Test func preprocessingInTheGraph() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try exportONNX(model: TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), output: dir + "/m.onnx", options: .init(includePreprocessing: true))
        let view = try ONNXModelView(path: dir + "/m.onnx")
        #expect(Array(view.opTypes.prefix(2)) == ["Slice", "Sub"])
        #expect(view.metadata["preprocessing"]?.hasPrefix("caffe (in the graph") == true)
    }

    /// --external-data: weights beside the model at 4096-aligned offsets, the same bytes as inside.
    @Test func externalData() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = TestSupport.fixture("tiny_vgg16.vggm")
        let r = try exportONNX(model: source, output: dir + "/m.onnx", options: .init(externalData: true))
        _ = try exportONNX(model: source, output: dir + "/inline.onnx")
        #expect(r.dataFile == dir + "/m.onnx.data")
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.onnx.data"))
        let inline = Dictionary(try ONNXModelView(path: dir + "/inline.onnx").initializers.map { ($0.string(8)!, Data($0.all(9).first ?? [])) }) { a, _ in a }
        var external = 0
        for t in try ONNXModelView(path: dir + "/m.onnx").initializers where t.int(14) == 1 {
            let entries = Dictionary(try t.messages(13).map { ($0.string(1)!, $0.string(2)!) }) { a, _ in a }
            let offset = Int(entries["offset"]!)!, length = Int(entries["length"]!)!
            #expect(entries["location"] == "m.onnx.data" && offset % 4096 == 0)
            #expect(data[offset..<(offset + length)] == inline[t.string(8)!])
            external += 1
        }
        #expect(external > 0)
    }

    /// A model beyond protobuf's limit (here a lowered one) is refused without external data, nothing written,
    /// and written with it.
    @Test func sizeLimit() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vggm = try VGGMFile(path: TestSupport.fixture("tiny_vgg16.vggm"))
        do {
            _ = try ONNXExporter.export(vggm, to: dir + "/m.onnx", options: .init(), inlineLimit: 10_000)
            Issue.record("a model beyond the limit was written inline")
        } catch let e as ONNXExportError {
            guard case .tooLarge = e.kind else { Issue.record("\(e)"); return }
            #expect(e.message.contains("external data"))
        }
        #expect(TestSupport.files(in: dir).isEmpty)
        let r = try ONNXExporter.export(vggm, to: dir + "/m.onnx", options: .init(externalData: true), inlineLimit: 10_000)
        #expect(r.bytes < 10_000 && r.dataBytes > 0)
    }

    /// Refusals: a layer ONNX cannot express is named and nothing is written; an opset out of range, a folder
    /// as the output and a missing folder are refused before any work.
    @Test func refusals() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try exportONNX(model: TestSupport.fixture("masked.tfkeras.full.h5"), output: dir + "/m.onnx")
            Issue.record("a model with LSTM and masks exported")
        } catch let e as ONNXExportError {
            #expect(e.layer != nil && e.file.hasSuffix("masked.tfkeras.full.h5"))
            #expect(e.kind == .unsupportedSetting("mask") || e.kind == .unsupportedLayer(className: "Masking"), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.onnx"))
        #expect(TestSupport.files(in: dir).isEmpty)
        #expect(throws: ONNXExportError.self) { _ = try exportONNX(model: "/nonexistent.vggm", output: dir + "/m.onnx", options: .init(opset: 12)) }
        #expect(throws: ToolError.self) { _ = try exportONNX(model: TestSupport.fixture("tiny_vgg16.vggm"), output: dir) }
        #expect(throws: ModelFileError.self) { _ = try exportONNX(model: TestSupport.fixture("tiny_vgg16.vggm"), output: dir + "/no/such/m.onnx") }
    }

    /// Settings of the sequence layers without an ONNX form are refused in one line naming the layer and the
    /// setting, and nothing is written; BatchNormalization over the last axis of a sequence (Keras's axis 2)
    /// exports.
    @Test func sequenceRefusals() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func graph(_ input: [Int?], _ layer: some LayerKind) -> ModelGraph {
            ModelGraph(name: "m", layers: [Layer(name: "x", InputLayer(shape: input), inbound: []), Layer(name: "l", layer, inbound: ["x"])],
                       inputs: ["x"], outputs: ["l"], isSequential: false)
        }
        let cases: [(String, ModelGraph, ONNXExportError.Kind)] = [
            ("mask_zero", graph([4], Embedding(inputDim: 5, outputDim: 3, maskZero: true)), .unsupportedSetting("mask_zero")),
            ("bn_axis", graph([3, 4, 2], BatchNormalization(axis: 2)), .unsupportedSetting("axis=2")),
            ("softplus", graph([5, 3], LSTM(units: 2, activation: .softplus)), .unsupportedSetting("activation=softplus")),
            ("bi_backwards", graph([5, 3], Bidirectional(layer: GRU(units: 2, goBackwards: true).op)), .unsupportedSetting("go_backwards")),
            ("td_inner", graph([2, 5, 3], TimeDistributed(layer: SimpleRNN(units: 2, activation: .softplus).op)), .unsupportedSetting("activation=softplus")),
        ]
        /// `g` as a `.vggm` with its weights all 0.1.
        func write(_ g: ModelGraph, _ path: String) throws {
            let tensors = try g.analyze().layers.flatMap { info in
                info.weights.map { w in TensorPayload(name: "\(info.layer.name)/\(w.name)", shape: w.shape) { $0.update(repeating: 0.1) } }
            }
            guard case .input(let input) = g.layers[0].op else { preconditionFailure("the graphs start with their input") }
            _ = try VGGMWriter.write(to: path, graph: g, inputShape: input.shape, preprocessing: nil, classNames: nil,
                                     provenance: Provenance(sourceFile: "x", sourceSHA256: "", sourceLayout: "", kerasVersion: nil, converter: "", created: ""),
                                     tensors: tensors)
        }
        for (name, g, kind) in cases {
            try write(g, dir + "/\(name).vggm")
            do {
                _ = try exportONNX(model: dir + "/\(name).vggm", output: dir + "/\(name).onnx")
                Issue.record("\(name) exported")
            } catch let e as ONNXExportError {
                #expect(e.layer == "l" && e.kind == kind && !e.description.contains("\n"), "\(name): \(e)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/\(name).onnx"))
        }
        try write(graph([5, 3], BatchNormalization(axis: 2)), dir + "/bn2.vggm")
        _ = try exportONNX(model: dir + "/bn2.vggm", output: dir + "/bn2.onnx")
        #expect(try ONNXModelView(path: dir + "/bn2.onnx").opTypes.contains("BatchNormalization"))
    }

    /// The command: writes and reports; options checked before any work (usage errors, status 64); bad input
    /// is one line.
    @Test func command() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ok = try await CLI.run(["export", TestSupport.fixture("tiny_vgg16.vggm"), "--to", "onnx", "-o", dir + "/m.onnx", "--opset", "17", "--layout", "nchw", "--batch", "4"])
        #expect(ok.status == 0 && ok.stdout.contains("opset 17"))
        let view = try ONNXModelView(path: dir + "/m.onnx")
        #expect(view.opset == 17)
        for args in [["--opset", "12"], ["--opset", "22"], ["--batch", "0"], ["--layout", "nhcw"]] {
            let r = try await CLI.run(["export", TestSupport.fixture("tiny_vgg16.vggm"), "--to", "onnx", "-o", dir + "/x.onnx"] + args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
        }
        let mixed = try await CLI.run(["export", TestSupport.fixture("tiny_vgg16.vggm"), "--to", "safetensors", "-o", dir + "/x.st", "--layout", "nchw"])
        #expect(mixed.status == 64)
        let garbage = dir + "/garbage.vggm"
        try Data("VGGM but not really".utf8).write(to: URL(fileURLWithPath: garbage))
        let bad = try await CLI.run(["export", garbage, "--to", "onnx", "-o", dir + "/g.onnx"])
        #expect(bad.status == 1 && bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("garbage.vggm"))
        let folder = try await CLI.run(["export", TestSupport.fixture("tiny_vgg16.vggm"), "--to", "onnx", "-o", dir])
        #expect(folder.status == 1 && folder.stderr.contains("is a folder"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.onnx") && !FileManager.default.fileExists(atPath: dir + "/g.onnx"))
    }
}
