import Foundation
import Synchronization
import KerasImport
import ModelFile
import ModelGraph
import Testing
import VGGTool

/// Every Keras layout converts, and all of them give the same tensors, bit for bit (the fixtures were made
/// from the same seeded weights in tf-keras and Keras 3).
@Suite struct ImportLayoutTests {
    static let reference = "tiny_vgg16.tfkeras.full.h5"

    @Test(arguments: [
        ("tiny_vgg16.tfkeras.full.h5", KerasLayout.legacyModel, false),
        ("tiny_vgg16.tfkeras.legacy_weights.h5", .legacyWeights, true),
        ("tiny_vgg16.tfkeras.split_attrs.h5", .legacyWeights, true),
        ("tiny_vgg16.tfkeras.weights.h5", .keras3Weights, true),
        ("tiny_vgg16.keras3.weights.h5", .keras3Weights, true),
        ("tiny_vgg16.keras3.keras", .keras3Archive, false),
        ("tiny_vgg16.keras3.deflated.keras", .keras3Archive, false),
        ("tiny_vgg16.renamed.legacy_weights.h5", .legacyWeights, true),
        ("tiny_vgg16.keras3.legacy.h5", .legacyModel, false),
        ("tiny_vgg16.kerasapps.h5", .kerasApplications, true),
        ("tiny_vgg16.keras1.full.h5", .legacyModel, false),
        ("tiny_vgg16.f32be.legacy_weights.h5", .legacyWeights, true),
        ("tiny_vgg16.f64.legacy_weights.h5", .legacyWeights, true),
    ])
    func layoutConvertsBitExactly(file: String, layout: KerasLayout, needsConfig: Bool) throws {
        let options = KerasFile.Options(configJSON: needsConfig ? try TestSupport.config("tiny_vgg16.config.json") : nil)
        let model = try KerasFile(path: TestSupport.fixture(file), options: options)
        #expect(model.layout == layout)
        #expect(model.tensors.count == 14)
        let converted = try TestSupport.convertAndOpen(TestSupport.fixture(file), options: options)
        let expected = try TestSupport.convertAndOpen(TestSupport.fixture(Self.reference))
        #expect(TestSupport.tensorBits(converted) == TestSupport.tensorBits(expected))
        #expect(converted.verifyTensors().isEmpty)
        #expect(converted.manifest.preprocessing == .caffe)
    }

    /// Regression: two `.keras` archives read at the same time on different threads each get their own
    /// weights (HDF5's core driver identifies in-memory images by name; they once shared one name, and
    /// the second archive read the first one's weights).
    @Test func keras3ArchivesReadConcurrentlyStayApart() throws {
        let files = ["tiny_vgg16.keras3.keras", "branching.keras3.keras", "layers_zoo.keras3.keras"]
        let expected = try files.map { try KerasFile(path: TestSupport.fixture($0)).tensors.map(\.name) }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            let file = files[i % files.count]
            do {
                let names = try KerasFile(path: TestSupport.fixture(file)).tensors.map(\.name)
                if names != expected[i % files.count] { failures.withLock { $0.append("\(file): \(names)") } }
            } catch {
                failures.withLock { $0.append("\(file): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
    }

    /// Layer names in the file differ from the model's (layer_0, layer_1, ...): matched by order and
    /// shape, which the notes say.
    @Test func weightsMatchedByOrderWhenNamesDiffer() throws {
        let options = KerasFile.Options(configJSON: try TestSupport.config("tiny_vgg16.config.json"))
        let model = try KerasFile(path: TestSupport.fixture("tiny_vgg16.renamed.legacy_weights.h5"), options: options)
        #expect(model.notes.contains { $0.contains("order") }, "\(model.notes)")
        #expect(model.tensors.map(\.name).first == "block1_conv1/kernel")
    }

    @Test func float16WeightsConvertExactlyWithANote() throws {
        let options = KerasFile.Options(configJSON: try TestSupport.config("tiny_vgg16.config.json"))
        let model = try KerasFile(path: TestSupport.fixture("tiny_vgg16.f16.legacy_weights.h5"), options: options)
        #expect(model.notes.contains { $0.contains("float16") })
        let f = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.f16.legacy_weights.h5"), options: options)
        let ref = try TestSupport.convertAndOpen(TestSupport.fixture(Self.reference))
        let a = f.floats("fc1/kernel")!, b = ref.floats("fc1/kernel")!
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= abs($1) * 1e-3 + 1e-7 })
        #expect(zip(a, b).contains { $0 != $1 })  // rounded to half precision on the way in
    }

    @Test func sourceHashCanBeSkipped() throws {
        let out = try TestSupport.tempDir() + "/nohash.vggm"
        _ = try convert(input: TestSupport.fixture(Self.reference), output: out, options: .init(), hashSource: false)
        let f = try VGGMFile(path: out)
        #expect(f.manifest.provenance.sourceSHA256 == "")
        #expect(TestSupport.tensorBits(f) == TestSupport.tensorBits(try TestSupport.convertAndOpen(TestSupport.fixture(Self.reference))))
    }

    /// A file another program holds locked (as h5py or Keras writing it do, with flock) still converts: HDF5's
    /// own file locks are not taken for reading.
    @Test func lockedFileConverts() throws {
        let dir = try TestSupport.tempDir()
        let copy = dir + "/locked.h5"
        try FileManager.default.copyItem(atPath: TestSupport.fixture(Self.reference), toPath: copy)
        let fd = open(copy, O_RDWR)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        let f = try TestSupport.convertAndOpen(copy)
        #expect(TestSupport.tensorBits(f) == TestSupport.tensorBits(try TestSupport.convertAndOpen(TestSupport.fixture(Self.reference))))
    }

    @Test func tensorsHoldKerasShapesAndNames() throws {
        let f = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.keras3.keras"))
        #expect(f.entry("block1_conv1/kernel")?.shape == [3, 3, 3, 4])
        #expect(f.entry("fc1/kernel")?.shape == [128, 16])
        #expect(f.entry("predictions/bias")?.shape == [5])
        #expect(f.manifest.provenance.kerasVersion == "3.15.1")
        #expect(f.manifest.provenance.sourceSHA256.count == 64)
    }

    @Test func otherLayerClassesAndBranchesConvert() throws {
        for file in ["layers_zoo.tfkeras.full.h5", "layers_zoo.keras3.keras", "branching.tfkeras.full.h5", "branching.keras3.keras"] {
            let f = try TestSupport.convertAndOpen(TestSupport.fixture(file))
            #expect(f.verifyTensors().isEmpty)
        }
        let zoo = try TestSupport.convertAndOpen(TestSupport.fixture("layers_zoo.keras3.keras"))
        #expect(zoo.entry("bn_plain/moving_mean") != nil && zoo.entry("bn_plain/gamma") == nil)
        #expect(zoo.entry("sep/pointwise_kernel")?.shape == [1, 1, 12, 8])
        #expect(zoo.analysis.nonTrainableParams == 28)
        // The same weights through tf-keras's .h5 and Keras 3's .keras.
        let h5 = try TestSupport.convertAndOpen(TestSupport.fixture("layers_zoo.tfkeras.full.h5"))
        #expect(h5.floats("dw/depthwise_kernel") == zoo.floats("dw/depthwise_kernel"))
    }

    @Test func snakeCaseMatchesKeras() {
        #expect(KerasFile.snakeCase("MaxPooling2D") == "max_pooling2d")
        #expect(KerasFile.snakeCase("ReLU") == "re_lu")
        #expect(KerasFile.snakeCase("Conv2D") == "conv2d")
        #expect(KerasFile.snakeCase("GlobalAveragePooling2D") == "global_average_pooling2d")
        #expect(KerasFile.snakeCase("InputLayer") == "input_layer")
        #expect(KerasFile.snakeCase("BatchNormalization") == "batch_normalization")
    }

    @Test func outputDtypesF16AndBF16() throws {
        let ref = try TestSupport.convertAndOpen(TestSupport.fixture(Self.reference))
        for dtype in [TensorDType.f16, .bf16] {
            let f = try TestSupport.convertAndOpen(TestSupport.fixture(Self.reference), dtype: dtype)
            #expect(f.entry("fc1/kernel")?.dtype == dtype)
            #expect(f.entry("fc1/kernel")?.length == 128 * 16 * 2)
            let tol: Float = dtype == .f16 ? 1e-3 : 8e-3
            #expect(zip(f.floats("fc1/kernel")!, ref.floats("fc1/kernel")!).allSatisfy { abs($0 - $1) <= abs($1) * tol + 1e-6 })
            #expect(f.verifyTensors().isEmpty)
        }
    }
}

/// Full-size VGG16 and VGG19 files written at test time by vggtool's own HDF5 writer, in several layouts.
@Suite struct FullSizeTests {
    @Test func vgg16WithTopRoundTripsThroughTheKerasLayouts() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let h5 = dir + "/vgg16.h5"
        // Cheap deterministic weights: the value encodes the tensor and position.
        try KerasH5Writer.write(path: h5, graph: Architecture.vgg16.graph(), layout: .weightsOnly, fixedLengthNames: true) { layer, spec in
            let tag = Float(layer.count + spec.name.count)
            return (0..<spec.elementCount).map { Float($0 % 1000) * 1e-3 + tag }
        }
        let model = try KerasFile(path: h5)  // architecture detected from the layer names
        #expect(model.architectureSource == "detected vgg16")
        let out = dir + "/vgg16.vggm"
        let report = try convert(input: h5, output: out, options: .init())
        #expect(report.params == 138_357_544)
        let f = try VGGMFile(path: out)
        #expect(f.entry("fc1/kernel")?.shape == [25088, 4096])
        #expect(f.verifyTensors().isEmpty)
        let fc2 = f.floats("fc2/bias")!
        #expect(fc2[999] == Float(999) * 1e-3 + Float("fc2".count + "bias".count))
    }

    @Test(arguments: [Architecture.vgg16Notop, .vgg19Notop, .vgg19])
    func otherBuiltInsAreDetectedAndConvert(arch: Architecture) throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let h5 = dir + "/w.h5"
        try KerasH5Writer.write(path: h5, graph: arch.graph(), layout: .weightsOnly) { _, spec in [Float](repeating: 0.5, count: spec.elementCount) }
        let model = try KerasFile.graphOnly(path: h5)
        #expect(model.architectureSource == "detected \(arch.rawValue)")
        let f = try TestSupport.convertAndOpen(h5)
        #expect(f.analysis.totalParams == (try arch.graph().analyze().totalParams))
    }

    @Test func largeLayerNameListsAreSplitAndRejoined() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let h5 = dir + "/split.h5"
        try TestSupport.writeKeras(h5, graph: Architecture.vgg16Notop.graph(inputShape: [32, 32, 3]), split: 100)
        let f = try TestSupport.convertAndOpen(h5)
        #expect(f.manifest.tensors.count == 26)
    }
}
