import Foundation
import ModelFile
import Runtime
import Testing
import VGGTool

/// Models of layers vggtool inspects and converts but does not run (gen_layer_fixtures.py's INSPECT_MODELS:
/// attention, 1-D and 3-D convolutions, pooling,
/// padding, cropping and upsampling, in both data formats), saved by the real tf-keras 2.17 and Keras 3.15.
@Suite struct InspectorLayerTests {
    /// Each model and the first layer the runtime cannot run, with its class.
    static let models: [(model: String, layer: String, className: String)] = [
        ("sequence_attention", "mha", "MultiHeadAttention"),
        ("volumes", "conv3d", "Conv3D"),
        ("volumes_cf", "conv3d_cf", "Conv3D"),
        ("augment_inspect", "crop", "RandomCrop"),
    ]

    static var names: [String] { models.map(\.model) }

    /// vggtool prints what each Keras printed, in its own style, and the other style too from the other file.
    @Test(arguments: names)
    func summariesMatchKeras(model: String) throws {
        let tf = try loadAnalysis(path: TestSupport.fixture("\(model).tfkeras.full.h5"), options: .init())
        #expect(tf.summary(style: .keras2) == (try TestSupport.golden("\(model).keras2.txt")))
        let k3 = try loadAnalysis(path: TestSupport.fixture("\(model).keras3.keras"), options: .init())
        #expect(k3.summary(style: .keras3) == (try TestSupport.golden("\(model).keras3.txt")))
    }

    /// Both files convert, their weights matched by shape in Keras's order: the two Keras versions hold the
    /// same values (the generator copies them), so the converted tensors are equal bit for bit, name by name.
    @Test(arguments: names)
    func convertsBothFilesToTheSameTensors(model: String) throws {
        let tf = try TestSupport.convertAndOpen(TestSupport.fixture("\(model).tfkeras.full.h5"))
        let k3 = try TestSupport.convertAndOpen(TestSupport.fixture("\(model).keras3.keras"))
        #expect(!tf.manifest.tensors.isEmpty)
        #expect(TestSupport.tensorBits(tf) == TestSupport.tensorBits(k3))
        #expect(tf.analysis.totalParams == k3.analysis.totalParams)
    }

    /// The runtime refuses the converted model before running anything, in one line naming the layer and class.
    @Test(arguments: names)
    func runtimeRefusesNamingLayerAndClass(model: String) throws {
        let entry = Self.models.first { $0.model == model }!
        let file = try TestSupport.convertAndOpen(TestSupport.fixture("\(model).keras3.keras"))
        do {
            _ = try Engine(model: file)
            Issue.record("the engine accepted \(model)")
        } catch let e as RuntimeError {
            #expect(e.description == "\(file.path): layer '\(entry.layer)': layer class \(entry.className) cannot be run by vggtool's runtime")
            #expect(!e.description.contains("\n"))
        }
    }
}
