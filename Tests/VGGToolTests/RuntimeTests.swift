import Foundation
import ModelFile
import Runtime
import Testing
import VGGTool

/// The runtime against what the real Keras (tf-keras 2.17 `predict`) computed for the same weights and
/// inputs (Fixtures/goldens, made by scripts/fixtures/gen_goldens.py).
@Suite struct RuntimeTests {
    /// Every layer's output of each fixture model equals tf-keras's within 1e-4 (relative to the layer's
    /// largest value), on both convolution paths (Winograd is forced on for small channel counts).
    @Test(arguments: [("tiny_vgg16", "winograd"), ("tiny_vgg16", "im2col"), ("layers_zoo", "winograd"), ("branching", "winograd"),
                      ("ops_zoo", "winograd"), ("ops_zoo", "winograd-uncached"), ("ops_zoo", "im2col")])
    func everyLayerMatchesKeras(model name: String, path: String) throws {
        let model = try TestSupport.convertAndOpen(TestSupport.fixture("\(name).tfkeras.full.h5"))
        let engine = try Engine(model: model, options: .init(winograd: path != "im2col", cacheWinogradKernels: path != "winograd-uncached",
                                                             winogradMinChannels: 1))
        let x = try TestSupport.tensor("\(name).input.npy")
        let listing = try String(contentsOfFile: TestSupport.fixture("goldens/\(name).layers.txt"), encoding: .utf8)
        let layers = listing.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        let outputs = try engine.run(x, outputs: layers)
        let expected = try TestSupport.tensor("\(name).tfkeras.layers.npy").values
        try #require(outputs.reduce(0) { $0 + $1.count } == expected.count, "\(name): the layers' outputs and the golden differ in size")
        var at = 0
        for (layer, out) in zip(layers, outputs) {
            let err = TestSupport.relativeError(out.values[...], expected[at..<(at + out.count)])
            #expect(err < 1e-4, "\(name) layer \(layer) \(out.shape): relative error \(err)")
            at += out.count
        }
        // The model's own output, through the normal path.
        let y = try engine.run(x)[0]
        let final = try TestSupport.tensor("\(name).tfkeras.output.npy")
        #expect(y.shape == final.shape)
        #expect(TestSupport.relativeError(y.values[...], final.values[...]) < 1e-4)
    }

    /// Full-size VGG16 with the top at 224x224 (seeded weights written by vggtool's own writer, as the demo
    /// does; tf-keras predicted on the same file): probabilities and block5_pool features.
    @Test func fullSizeVGG16MatchesKeras() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try writeDemoVGG16(path: dir + "/vgg16.h5", seed: 16)
        _ = try convert(input: dir + "/vgg16.h5", output: dir + "/vgg16.vggm", options: .init(), hashSource: false)
        try FileManager.default.removeItem(atPath: dir + "/vgg16.h5")
        let engine = try Engine(model: try VGGMFile(path: dir + "/vgg16.vggm"))
        var x = [Float](repeating: 0, count: 2 * 224 * 224 * 3)
        var i = 0
        for n in 0..<2 { for h in 0..<224 { for w in 0..<224 { for c in 0..<3 {
            x[i] = Float((n * 7919 + h * 31 + w * 17 + c * 13) % 256) - 128
            i += 1
        } } } }
        let out = try engine.run(Tensor(shape: [2, 224, 224, 3], values: x), outputs: ["predictions", "block5_pool"])
        let probs = try TestSupport.tensor("vgg16_seed16.tfkeras.output.npy")
        let features = try TestSupport.tensor("vgg16_seed16.block5_pool.tfkeras.output.npy")
        #expect(out[0].shape == [2, 1000] && out[1].shape == [2, 7, 7, 512])
        #expect(TestSupport.relativeError(out[0].values[...], probs.values[...]) < 1e-4)
        #expect(TestSupport.relativeError(out[1].values[...], features.values[...]) < 1e-4)
        // Each image alone: at batch 1 fc1 and fc2 are split by kernel rows over the threads (partial sums).
        for n in 0..<2 {
            let one = Array(x[(n * 224 * 224 * 3)..<((n + 1) * 224 * 224 * 3)])
            let y = try engine.run(Tensor(shape: [1, 224, 224, 3], values: one), outputs: ["predictions"])[0]
            #expect(TestSupport.relativeError(y.values[...], probs.values[(n * 1000)..<((n + 1) * 1000)]) < 1e-4, "image \(n) alone")
        }
    }

    @Test func plannedMemoryIsReusedAcrossLayers() throws {
        let model = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"))
        let engine = try Engine(model: model)
        let planned = try engine.plannedMemory(batch: 4, height: 32, width: 32, channels: 3).buffers
        let everyLayer = model.analysis.layers.reduce(0) { $0 + $1.activationBytes } * 4
        #expect(planned < everyLayer, "planned \(planned) bytes, one buffer per layer would be \(everyLayer)")
    }
}
