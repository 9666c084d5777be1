import Foundation
import ModelFile
import Runtime
import Testing
import Training
import VGGTool

/// The library's front door: `Model(contentsOf:)` on Keras files and `.vggm` files, its summary, raw
/// predictions, classification of image files and evaluation of a class folder. Serialized: the first test
/// checks that opening a Keras file leaves no temporary file, which another test opening one at the same
/// time would.
@Suite(.serialized) struct ModelAPITests {
    static let kerasFile = URL(fileURLWithPath: TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"))

    /// A Keras file opens directly (converted on the way, nothing left behind) and computes what tf-keras did.
    @Test func kerasFileOpensAndPredictsAsKeras() throws {
        let before = Set(TestSupport.files(in: NSTemporaryDirectory()))
        let model = try Model(contentsOf: Self.kerasFile)
        #expect(Set(TestSupport.files(in: NSTemporaryDirectory())).subtracting(before).filter { $0.contains("vggtool-model") }.isEmpty)
        #expect(model.summary(style: .keras2) == (try TestSupport.golden("tiny_vgg16.keras2.txt")))
        #expect(model.inputShape == [32, 32, 3])
        let y = try model.predict(try TestSupport.tensor("tiny_vgg16.input.npy"))[0]
        let expected = try TestSupport.tensor("tiny_vgg16.tfkeras.output.npy")
        #expect(y.shape == expected.shape)
        #expect(TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4)
    }

    /// A `.vggm` opens the same way; classifications are the outputs' top classes, most likely first, with
    /// the model's class names.
    @Test func vggmClassifiesImages() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = URL(fileURLWithPath: dir + "/tiny.vggm")
        let report = try Model.convert(Self.kerasFile, to: out)
        #expect(report.tensors > 0)
        let model = try Model(contentsOf: out)
        let images = ["rgb.jpg", "rgb.png", "gray.png"].map { URL(fileURLWithPath: TestSupport.fixture("images/\($0)")) }
        let guesses = try model.classify(imagesAt: images, top: 3, batchSize: 2)
        #expect(guesses.count == 3)
        for g in guesses {
            #expect(g.count == 3)
            #expect(g[0].probability >= g[1].probability && g[1].probability >= g[2].probability)
            #expect(Set(g.map(\.index)).count == 3)
        }
        #expect(try model.classify(imageAt: images[1], top: 3) == guesses[1])
        let all = try model.classify(imageAt: images[0], top: 5)
        #expect(abs(all.reduce(0) { $0 + $1.probability } - 1) < 1e-5)  // softmax over 5 classes
        do {
            _ = try model.classify(imageAt: URL(fileURLWithPath: TestSupport.fixture("images/truncated.jpg")))
            Issue.record("classified a truncated JPEG")
        } catch {
            #expect("\(error)".contains("truncated.jpg: corrupt or truncated JPEG"))
        }
    }

    /// Fine-tuning from a Keras file through the front door: the events arrive in order, the checkpoint
    /// opens as a model with the folders' class names and the source's name, and it evaluates and
    /// classifies images.
    @Test func fineTunesFromAKerasFile() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try Model(contentsOf: Self.kerasFile)
        var options = FineTuneOptions()
        options.inputSize = 32
        options.head = [8]
        options.epochs = 2
        options.batchSize = 4
        options.seed = 3
        var epochsSeen: [Int] = []
        let data = URL(fileURLWithPath: TestSupport.fixture("images/eval"))
        let output = URL(fileURLWithPath: dir + "/tuned.vggm")
        let result = try base.fineTune(on: data, saveTo: output, options: options) { event in
            if case .epochEnded(let record, _) = event { epochsSeen.append(record.epoch) }
        }
        #expect(epochsSeen == [1, 2])
        #expect(result.history.count == 2)
        let tuned = try Model(contentsOf: output)
        #expect(tuned.classNames == result.classNames)
        #expect(tuned.file.manifest.provenance.sourceFile == "tiny_vgg16.tfkeras.full.h5")
        let evaluation = try tuned.evaluate(directory: data)
        #expect(evaluation.images == result.trainImages + result.validationImages)
        let guess = try tuned.classify(imageAt: URL(fileURLWithPath: TestSupport.fixture("images/rgb.png")), top: 1)
        #expect(guess.count == 1 && result.classNames.contains(guess[0].label ?? ""))
    }

    /// A missing file is an error naming it.
    @Test func missingFileNamesIt() {
        do {
            _ = try Model(contentsOf: URL(fileURLWithPath: "/nonexistent/model.h5"))
            Issue.record("opened a missing file")
        } catch {
            #expect("\(error)".contains("/nonexistent/model.h5"))
        }
    }
}
