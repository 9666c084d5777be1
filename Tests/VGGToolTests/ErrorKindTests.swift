import Foundation
import HDF5
import ImageData
import KerasImport
import ModelFile
import ModelGraph
import Runtime
import Testing
import Training
import VGGTool

/// Every library error type carries a kind (and the file, object or layer at fault) that callers switch on:
/// one representative failure of each kind through the public API, checked by its values, never its text.
@Suite struct ErrorKindTests {
    /// The error of type `E` that `body` throws (a test issue when it throws another or none).
    func caught<E: Error>(_ expected: E.Type, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> E? {
        do {
            try body()
            Issue.record("no error thrown", sourceLocation: sourceLocation)
        } catch let e as E {
            #expect(!"\(e)".contains("\n"), "one line: \(e)", sourceLocation: sourceLocation)
            return e
        } catch {
            Issue.record("expected \(E.self), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    func hostile(_ name: String) -> String { TestSupport.fixture("hostile/" + name) }
    var tinyConfig: KerasFile.Options { .init(configJSON: try! TestSupport.config("tiny_vgg16.config.json")) }

    func importKind(_ path: String, _ options: KerasFile.Options = .init(), sourceLocation: SourceLocation = #_sourceLocation) -> ImportError? {
        caught(ImportError.self, sourceLocation: sourceLocation) { _ = try KerasFile(path: path, options: options) }
    }

    // MARK: Keras import

    @Test func importKinds() throws {
        let missing = importKind("/nonexistent/model.h5")
        #expect(missing?.kind == .unreadable && missing?.file == "/nonexistent/model.h5")
        #expect(importKind(hostile("text.keras"))?.kind == .notKerasFile)
        #expect(importKind(hostile("missing_config.keras"))?.kind == .notKerasFile)

        let lambda = importKind(hostile("lambda_code.h5"))
        guard case .refused(.pythonCode(let cls)) = lambda?.kind else { Issue.record("lambda: \(String(describing: lambda))"); return }
        #expect(cls == "Lambda" && lambda?.object.hasPrefix("layer '") == true)
        guard case .refused(.foreignModule(_, let module)) = importKind(hostile("foreign_class.h5"))?.kind else { Issue.record("foreign"); return }
        #expect(module.contains("evil"))
        #expect(importKind(hostile("soft_link.h5"), tinyConfig)?.kind == .refused(.link))
        #expect(importKind(hostile("unknown_filter.h5"), tinyConfig)?.kind == .refused(.filter(id: 32999)))
        #expect(importKind(hostile("virtual_dataset.h5"), tinyConfig)?.kind == .refused(.virtualDataset))
        #expect(importKind(hostile("external_storage.h5"), tinyConfig)?.kind == .refused(.externalStorage))
        #expect(importKind(hostile("dotdot_entry.keras"))?.kind == .refused(.unsafePath))
        #expect(importKind(hostile("bomb.keras"))?.kind == .tooLarge)
        #expect(importKind(hostile("duplicate_entry.keras"))?.kind == .malformed)
        #expect(importKind(hostile("int_kernel.h5"), tinyConfig)?.kind == .unsupported)
    }

    @Test func unsupportedLayerClassIsNamed() throws {
        let json = #"{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 3]}}, {"class_name": "FancyLayer", "config": {"name": "fancy"}}]}}"#
        let e = caught(ImportError.self) { _ = try KerasConfig.parse(json: json, file: "m.json") }
        #expect(e?.kind == .unsupportedLayerClass("FancyLayer") && e?.object == "layer 'fancy'" && e?.file == "m.json")
    }

    @Test func weightProblemsCarryLayersAndShapes() throws {
        let weights = TestSupport.fixture("tiny_vgg16.tfkeras.legacy_weights.h5")
        var wider = tinyConfig
        wider.inputShape = [64, 64, 3]
        guard case .weightShapeMismatch(let layer, let weight, let expected, let actual) = importKind(weights, wider)?.kind else {
            Issue.record("no shape mismatch"); return
        }
        #expect(layer == "fc1" && weight == "kernel" && expected != actual && expected[1] == actual[1])

        let missing = importKind(TestSupport.fixture("tiny_vgg16_notop.tfkeras.legacy_weights.h5"), tinyConfig)
        guard case .missingWeights(let layer2) = missing?.kind else { Issue.record("missing: \(String(describing: missing))"); return }
        #expect(!layer2.isEmpty)

        // The full model's weights for a model without its top: the top's layers are extra.
        let notop = KerasFile.Options(configJSON: try TestSupport.config("tiny_vgg16_notop.config.json"))
        guard case .extraWeights(let layers) = importKind(weights, notop)?.kind else { Issue.record("no extra weights"); return }
        #expect(Set(layers) == ["fc1", "fc2", "predictions"])
    }

    @Test func unknownArchitectureCarriesItsEvidence() throws {
        let path = TestSupport.fixture("tiny_vgg16.tfkeras.legacy_weights.h5")
        let e = caught(UnknownArchitectureError.self) { _ = try KerasFile(path: path) }
        guard case .layerNames(let names) = e?.evidence else { Issue.record("evidence: \(String(describing: e))"); return }
        #expect(e?.file == path && names.first == "block1_conv1")
    }

    @Test func hdf5Kinds() throws {
        #expect(caught(HDF5Error.self) { _ = try HDF5File.open(path: "/nonexistent.h5") }?.kind == .noSuchFile)
        #expect(caught(HDF5Error.self) { _ = try HDF5File.open(path: hostile("text.keras")) }?.kind == .notHDF5)
    }

    // MARK: .vggm

    func vggmKind(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> ModelFileError? {
        caught(ModelFileError.self, sourceLocation: sourceLocation) { _ = try VGGMFile(path: hostile(name)) }
    }

    @Test func modelFileKinds() throws {
        #expect(caught(ModelFileError.self) { _ = try VGGMFile(path: "/nonexistent.vggm") }?.kind == .unreadable)
        let magic = vggmKind("header_magic.vggm")
        #expect(magic?.kind == .notVGGM && magic?.object == "header" && magic?.file == hostile("header_magic.vggm"))
        guard case .unsupportedVersion = vggmKind("header_major.vggm")?.kind else { Issue.record("major"); return }
        guard case .newerVersion = vggmKind("header_minor.vggm")?.kind else { Issue.record("minor"); return }
        let crc = vggmKind("header_crc.vggm")
        guard case .checksumMismatch(let stored, let computed) = crc?.kind else { Issue.record("crc: \(String(describing: crc))"); return }
        #expect(stored != computed && crc?.object == "header")
        let mcrc = vggmKind("header_mcrc.vggm")
        guard case .checksumMismatch = mcrc?.kind else { Issue.record("mcrc: \(String(describing: mcrc))"); return }
        #expect(mcrc?.object == "manifest")
        #expect(vggmKind("truncated_3.vggm")?.kind == .truncated)
        guard case .overlap(let other) = vggmKind("tensor_overlap.vggm")?.kind else { Issue.record("overlap"); return }
        #expect(!other.isEmpty)
        #expect(vggmKind("manifest_not_json.vggm")?.kind == .malformedManifest)
        guard case .invalidGraph(.invalid(let layer, _)) = vggmKind("graph_cycle.vggm")?.kind else { Issue.record("graph"); return }
        #expect(layer == "block1_conv1")
    }

    // MARK: Runtime

    @Test func runtimeKinds() throws {
        let model = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"))
        let engine = try Engine(model: model)
        let rank3 = caught(RuntimeError.self) { _ = try engine.run(Tensor(shape: [2, 2, 3], values: .init(repeating: 0, count: 12))) }
        #expect(rank3?.kind == .badInputShape([2, 2, 3]) && rank3?.file == model.path)
        let tiny = caught(RuntimeError.self) { _ = try engine.run(Tensor(shape: [1, 1, 1, 3], values: [0, 0, 0])) }
        guard case .inputDoesNotFit(1, 1, 3, let graph) = tiny?.kind else { Issue.record("fit: \(String(describing: tiny))"); return }
        #expect(!graph.layer.isEmpty)
        let input = Tensor(shape: [1, 32, 32, 3], values: .init(repeating: 0, count: 32 * 32 * 3))
        #expect(caught(RuntimeError.self) { _ = try engine.run(input, outputs: ["nope"]) }?.kind == .noSuchLayer("nope"))
    }

    @Test func numpyKinds() throws {
        func kind(_ name: String) -> NumPy.FormatError.Kind? { caught(NumPy.FormatError.self) { _ = try NumPy.read(path: hostile(name)) }?.kind }
        #expect(kind("bad_magic.npy") == .notNumPy)
        #expect(kind("fortran.npy") == .fortranOrder)
        guard case .unsupportedDType = kind("wrong_dtype.npy") else { Issue.record("dtype"); return }
        guard case .dataSizeMismatch = kind("shape_lie.npy") else { Issue.record("size"); return }
        #expect(kind("huge_shape.npy") == .tooLarge)
    }

    // MARK: Images

    @Test func imageKinds() throws {
        func kind(_ path: String) -> ImageError.Kind? { caught(ImageError.self) { _ = try ImageDecoder.decode(path: path) }?.kind }
        #expect(kind("/nonexistent.jpg") == .unreadable)
        #expect(kind(TestSupport.fixture("images/truncated.jpg")) == .corrupt)
        #expect(kind(TestSupport.fixture("images/truncated.png")) == .corrupt)
        #expect(kind(TestSupport.fixture("images/text.jpg")) == .unsupportedFormat)
        #expect(kind(TestSupport.fixture("images/bomb.png")) == .tooLarge)
        for gif in ["truncated.gif", "badindex.gif", "no_terminator.gif", "empty_extension.gif"] { #expect(kind(TestSupport.fixture("images/" + gif)) == .corrupt, "\(gif)") }
        #expect(kind(TestSupport.fixture("images/wide_tall.gif")) == .tooLarge)
        let dir = try TestSupport.tempDir()
        #expect(caught(ImageError.self) { _ = try ImageFolder(root: dir) }?.kind == .noClassFolders)
    }

    // MARK: Training

    @Test func trainingKinds() throws {
        let softmax = LayerInfo(layer: Layer(name: "sm", op: .softmax(Softmax()), inbound: ["in"]), inputShapes: [[nil, 4]], outputShape: [nil, 4],
                                weights: [], macs: 0, activationBytes: 16)
        let e = caught(TrainingError.self) { _ = try Network(layers: [softmax], weights: { _, _ in [] }, threads: 1) }
        #expect(e?.kind == .untrainableLayer(className: "Softmax") && e?.layer == "sm")

        let base = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"))
        let one = caught(TrainingError.self) {
            _ = try Composition(base: base.graph, size: 32, pooling: .flatten, units: [8], dropout: 0, classes: 1, trainableFrom: nil)
        }
        #expect(one?.kind == .invalidSetting(.classCount))
        let from = caught(FineTuneError.self) {
            _ = try Composition(base: base.graph, size: 32, pooling: .flatten, units: [8], dropout: 0, classes: 2, trainableFrom: "nope")
        }
        #expect(from?.kind == .noSuchLayer("nope") && from?.setting == .trainableFrom)

        // A data folder with one class folder, then with an empty second one.
        let data = try TestSupport.tempDir()
        try FileManager.default.createDirectory(atPath: data + "/a", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestSupport.fixture("images/rgb.png"), toPath: data + "/a/x.png")
        var options = FineTuneOptions()
        options.inputSize = 32
        func session() throws { _ = try FineTuneSession(base: base, dataDir: data, output: try TestSupport.tempDir() + "/t.vggm", options: options) }
        #expect(caught(TrainingError.self) { try session() }?.kind == .tooFewClasses(["a"]))
        try FileManager.default.createDirectory(atPath: data + "/b", withIntermediateDirectories: true)
        let empty = caught(TrainingError.self) { try session() }
        #expect(empty?.kind == .emptyClassFolder && empty?.file == data + "/b")
        options.epochs = 0
        #expect(caught(TrainingError.self) { try session() }?.kind == .invalidSetting(.epochs))
    }

    // MARK: Graph JSON and commands

    @Test func graphCodecKinds() throws {
        let graph = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5")).graph
        var json = GraphCodec.encode(graph)
        var layers = json["layers"] as! [[String: Any]]
        layers[1]["class"] = "FancyLayer"
        json["layers"] = layers
        let e = caught(GraphCodec.DecodeError.self) { _ = try GraphCodec.decode(json) }
        #expect(e?.kind == .unknownClass("FancyLayer") && e?.object == "layer '\(graph.layers[1].name)'")
        #expect(caught(GraphCodec.DecodeError.self) { _ = try GraphCodec.decode([1, 2]) }?.kind == .malformed)
    }

    @Test func toolKinds() throws {
        let input = TestSupport.fixture("tiny_vgg16.tfkeras.full.h5")
        let out = try TestSupport.tempDir() + "/m.vggm"
        let names = caught(ToolError.self) { _ = try convert(input: input, output: out, options: .init(), classNames: ["a", "b"]) }
        guard case .classNamesMismatch(2, let outputs) = names?.kind else { Issue.record("names: \(String(describing: names))"); return }
        #expect(outputs != 2 && names?.file == input)
        _ = try convert(input: input, output: out, options: .init())
        #expect(caught(ToolError.self) { _ = try predict(modelPath: out, images: [], npyInputs: [], inputSize: nil) }?.kind == .noInput)
        #expect(caught(ToolError.self) { _ = try bench(modelPath: out, inputSize: nil, batch: 0) }?.kind == .invalidSetting)
    }
}
