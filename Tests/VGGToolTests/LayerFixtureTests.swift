import Foundation
import ModelFile
import ModelGraph
import Runtime
import Testing
import Training
import VGGTool

/// One small model per layer class added to vggtool (scripts/fixtures/gen_layer_fixtures.py), saved by the
/// real tf-keras 2.17 and Keras 3.15: vggtool prints what each Keras printed, and computes what each
/// computed, on both convolution paths.
@Suite struct LayerFixtureTests {
    /// The models of gen_layer_fixtures.py's MODELS.
    static let models = ["leaky_relu", "merges_noise", "resampling", "sequence", "channels_first", "sequence_cf", "preprocessing", "sequence_ops", "recurrent", "masking", "masking_drop"]
    /// gen_layer_fixtures.py's TFKERAS_ONLY_MODELS: models Keras 3 cannot build (a Bidirectional around a
    /// layer reading backwards), which tf-keras files hold.
    static let tfKerasOnly = ["bidirectional_backwards"]

    @Test(arguments: models + tfKerasOnly)
    func summariesMatchKeras(model: String) throws {
        let tf = try loadAnalysis(path: TestSupport.fixture("\(model).tfkeras.full.h5"), options: .init())
        #expect(tf.summary(style: .keras2) == (try TestSupport.golden("\(model).keras2.txt")))
        guard !Self.tfKerasOnly.contains(model) else { return }
        let k3 = try loadAnalysis(path: TestSupport.fixture("\(model).keras3.keras"), options: .init())
        #expect(k3.summary(style: .keras3) == (try TestSupport.golden("\(model).keras3.txt")))
    }

    /// Every layer's output of the tf-keras file equals tf-keras's within 1e-4, Winograd and im2col alike.
    @Test(arguments: models + tfKerasOnly, ["winograd", "im2col"])
    func everyLayerMatchesTFKeras(model: String, path: String) throws {
        let engine = try Engine(model: try TestSupport.convertAndOpen(TestSupport.fixture("\(model).tfkeras.full.h5")),
                                options: .init(winograd: path == "winograd", winogradMinChannels: 1))
        let x = try TestSupport.tensor("\(model).input.npy")
        let listing = try String(contentsOfFile: TestSupport.fixture("goldens/\(model).layers.txt"), encoding: .utf8)
        let layers = listing.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        let outputs = try engine.run(x, outputs: layers)
        let expected = try TestSupport.tensor("\(model).tfkeras.layers.npy").values
        try #require(outputs.reduce(0) { $0 + $1.count } == expected.count)
        var at = 0
        for (layer, out) in zip(layers, outputs) {
            let err = TestSupport.relativeError(out.values[...], expected[at..<(at + out.count)])
            #expect(err < 1e-4, "\(model) layer \(layer) \(out.shape): relative error \(err)")
            at += out.count
        }
    }

    /// The Keras 3 file (its own config dialect and weight layout) computes what Keras 3 computed.
    @Test(arguments: models)
    func keras3FileMatchesKeras3(model: String) throws {
        let engine = try Engine(model: try TestSupport.convertAndOpen(TestSupport.fixture("\(model).keras3.keras")))
        let y = try engine.run(try TestSupport.tensor("\(model).input.npy"))[0]
        let expected = try TestSupport.tensor("\(model).keras3.output.npy")
        #expect(y.shape == expected.shape)
        #expect(TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4)
    }

    /// A graph with channels-first layers is written as format 1.2 (older readers, which would ignore
    /// `data_format`, refuse it); others keep the minor version they need.
    @Test func channelsFirstGraphsAreFormat12() throws {
        for (model, minor) in [("channels_first", 2), ("sequence_cf", 2), ("leaky_relu", 0)] {
            let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("\(model).tfkeras.full.h5"))
            #expect(vggm.graph.hasChannelsFirstLayers == (minor == 2))
            let header = try FileHandle(forReadingFrom: URL(fileURLWithPath: vggm.path)).readToEnd()!.dropFirst(10).prefix(2)
            #expect(Array(header) == [UInt8(minor), 0], "\(model): written as 1.\(Array(header))")
        }
    }

    /// Training refuses a trainable channels-first layer by name (frozen, it runs in the base).
    @Test func trainingRefusesChannelsFirstLayers() throws {
        let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("sequence_cf.tfkeras.full.h5"))
        let layers = try vggm.graph.analyze().layers.filter { $0.layer.name == "conv_s2" }
        #expect(throws: TrainingError.self) {
            _ = try Network(layers: layers, weights: { _, _ in [] }, threads: 1)
        }
    }
}
