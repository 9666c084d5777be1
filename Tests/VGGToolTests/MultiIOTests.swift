import Foundation
import KerasImport
import ModelFile
import Runtime
import Testing
import VGGTool

/// A model with two inputs (an image and a vector) and two outputs (scripts/fixtures/gen_layer_fixtures.py's
/// multi_io, made by tf-keras 2.17 and Keras 3.15): summaries, the engine, and `predict` with one `--input`
/// per model input writing every output to an `.npz` archive.
@Suite struct MultiIOTests {
    static let inputs = ["goldens/multi_io.input0.npy", "goldens/multi_io.input1.npy"]

    @Test func summariesMatchKeras() throws {
        #expect(try loadAnalysis(path: TestSupport.fixture("multi_io.tfkeras.full.h5"), options: .init()).summary(style: .keras2)
            == (try TestSupport.golden("multi_io.keras2.txt")))
        #expect(try loadAnalysis(path: TestSupport.fixture("multi_io.keras3.keras"), options: .init()).summary(style: .keras3)
            == (try TestSupport.golden("multi_io.keras3.txt")))
    }

    /// Both outputs, in the model's output order, equal each Keras's.
    @Test(arguments: [("tfkeras.full.h5", "tfkeras"), ("keras3.keras", "keras3")])
    func engineRunsBothInputsAndOutputs(file: String, golden: String) throws {
        let engine = try Engine(model: try TestSupport.convertAndOpen(TestSupport.fixture("multi_io.\(file)")))
        let outputs = try engine.run(try Self.inputs.map { try NumPy.read(path: TestSupport.fixture($0)) })
        try #require(outputs.count == 2)
        for (i, y) in outputs.enumerated() {
            let expected = try TestSupport.tensor("multi_io.\(golden).output\(i).npy")
            #expect(y.shape == expected.shape)
            #expect(TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4, "output \(i)")
        }
        do {
            _ = try engine.run([try NumPy.read(path: TestSupport.fixture(Self.inputs[0]))])
            Issue.record("ran with one of two inputs")
        } catch let e as RuntimeError {
            #expect(e.kind == .unsupportedInputCount(1))
        }
    }

    /// `predict --input X0.npy --input X1.npy -o Y.npz`: an archive numpy reads, one array per output layer;
    /// an `.npy` output and a missing input are refused before anything is written.
    @Test func predictWritesAnArchivePerOutput() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/m.vggm"
        _ = try convert(input: TestSupport.fixture("multi_io.tfkeras.full.h5"), output: model, options: .init(), hashSource: false)
        let args = ["predict", model] + Self.inputs.flatMap { ["--input", TestSupport.fixture($0)] }
        let r = try await CLI.run(args + ["-o", dir + "/y.npz"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("wrote \(dir)/y.npz (probs [2, 3], reg [2, 2])"), "\(r.stdout)")
        let archive = try ZipArchive(path: dir + "/y.npz")
        for (i, name) in ["probs", "reg"].enumerated() {
            let bytes = try archive.read("\(name).npy")
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/\(name).npy"))
            let y = try NumPy.read(path: dir + "/\(name).npy"), expected = try TestSupport.tensor("multi_io.tfkeras.output\(i).npy")
            #expect(y.shape == expected.shape && TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4)
        }
        let npy = try await CLI.run(args + ["-o", dir + "/y.npy"])
        #expect(npy.status == 1 && npy.stderr == "vggtool: error: \(dir)/y.npy: the model has 2 outputs (probs, reg): write them to an .npz file\n", "\(npy.stderr)")
        let one = try await CLI.run(["predict", model, "--input", TestSupport.fixture(Self.inputs[0])])
        #expect(one.status == 1 && one.stderr == "vggtool: error: \(model): the model takes 2 input(s) (image, aux), 1 .npy file(s) given\n", "\(one.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/y.npy"))
    }
}
