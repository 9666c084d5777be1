import Foundation
import KerasImport
import ModelFile
import Runtime
import Testing
import VGGTool

/// Keras 3 `.weights.h5` of subclassed models (`self.block1 = Sequential(...)`): weights by attribute path
/// (`block1/layers/conv2d/vars/0`), no top-level `layers` group, layer names in the `vars` groups
/// (scripts/fixtures/gen_nested_fixtures.py, made by Keras 3.15 with tiny_vgg16's weights).
@Suite struct AttributePathWeightsTests {
    static let config = KerasFile.Options(configJSON: try! String(contentsOfFile: TestSupport.fixture("tiny_vgg16.config.json"), encoding: .utf8))

    /// Matched to a config by the recorded names, the weights compute what tf-keras computed.
    @Test func convertsAgainstAConfig() throws {
        let file = try KerasFile(path: TestSupport.fixture("subclassed_tiny_vgg16.keras3.weights.h5"), options: Self.config)
        #expect(file.layout == .keras3AttributeWeights)
        #expect(file.tensors.map(\.origin).first == "/block1/layers/conv2d/vars/0")
        let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("subclassed_tiny_vgg16.keras3.weights.h5"), options: Self.config)
        let y = try Engine(model: vggm).run(try TestSupport.tensor("tiny_vgg16.input.npy"))[0]
        let expected = try TestSupport.tensor("tiny_vgg16.tfkeras.output.npy")
        #expect(TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4)
    }

    /// Weights of a layer the architecture lacks are refused, naming it and the count; with `ignoreExtra`
    /// the rest converts and a note lists what was left out.
    @Test func extraLayersAreRefusedOrLeftOut() throws {
        let aux = TestSupport.fixture("subclassed_tiny_vgg16_aux.keras3.weights.h5")
        do {
            _ = try KerasFile(path: aux, options: Self.config)
            Issue.record("accepted weights for a layer the model lacks")
        } catch {
            #expect("\(error)" == "\(aux): layer 'aux': the file has weights for 1 layer(s) the model does not have: 'aux'")
        }
        var options = Self.config
        options.ignoreExtra = true
        let file = try KerasFile(path: aux, options: options)
        #expect(file.notes.contains("left out the weights of 1 layer(s) the model does not have: 'aux'"))
        #expect(file.tensors.count == 14)
    }

    /// The backbone of a subclassed classifier, taken with the architecture without top: the convolution
    /// tensors are the classifier's, bit for bit.
    @Test func backboneOfASubclassedModel() throws {
        var options = KerasFile.Options(configJSON: try String(contentsOfFile: TestSupport.fixture("tiny_vgg16_notop.config.json"), encoding: .utf8))
        options.ignoreExtra = true
        let backbone = try TestSupport.convertAndOpen(TestSupport.fixture("subclassed_tiny_vgg16.keras3.weights.h5"), options: options)
        let full = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"))
        #expect(backbone.manifest.tensors.count == 8)
        for t in backbone.manifest.tensors {
            #expect(backbone.floats(t.name) == full.floats(t.name), "\(t.name)")
        }
    }

    /// `vggtool convert --ignore-extra` on the built binary: refused without it (one line, exit 1, nothing
    /// written), converted with it and the note printed.
    @Test func ignoreExtraOnTheCommandLine() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let aux = TestSupport.fixture("subclassed_tiny_vgg16_aux.keras3.weights.h5")
        let args = ["convert", aux, "--config", TestSupport.fixture("tiny_vgg16.config.json"), "-o", dir + "/a.vggm"]
        let refused = try await CLI.run(args)
        #expect(refused.status == 1 && refused.stderr == "vggtool: error: \(aux): layer 'aux': the file has weights for 1 layer(s) the model does not have: 'aux'\n")
        #expect(TestSupport.files(in: dir).isEmpty)
        let converted = try await CLI.run(args + ["--ignore-extra"])
        #expect(converted.status == 0, "\(converted.stderr)")
        #expect(converted.stdout.contains("note:       left out the weights of 1 layer(s) the model does not have: 'aux'"))
        #expect(TestSupport.files(in: dir) == ["a.vggm"])
    }
}
