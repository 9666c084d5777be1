import Foundation
import ModelFile
import Testing
import Training

/// Options are parsed and checked before any work: a bad value fails with ArgumentParser's usage error
/// (exit status 64) naming the option and the subcommand's usage; the libraries name concepts, not flags.
@Suite(.serialized) struct CLIValidationTests {
    @Test func badOptionValuesFailBeforeAnyWork() async throws {
        func usageError(_ args: [String], _ words: String) async throws {
            let r = try await CLI.run(args)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix("Error: ") && r.stderr.contains(words), "\(args): \(r.stderr)")
            #expect(r.stderr.contains("Usage: vggtool \(args[0])"), "\(args): \(r.stderr)")
        }
        let model = TestSupport.fixture("tiny_vgg16.keras3.keras")
        try await usageError(["summary", model, "--input-shape", "0,1"], "--input-shape must be three positive integers H,W,C, got '0,1'")
        try await usageError(["summary", model, "--input-shape", "a,b,c"], "The value 'a,b,c' is invalid for '--input-shape <H,W,C>'")
        // Nothing is read before the options are checked: the files need not exist.
        let ft = ["finetune", "/nonexistent/base.vggm", "--data", "/nonexistent", "-o", "/nonexistent/out.vggm"]
        try await usageError(ft + ["--head", "1,a"], "The value '1,a' is invalid for '--head <n,n,...>'")
        try await usageError(ft + ["--head", "8,0"], "--head must be positive integers like 1024,1024,4096")
        try await usageError(ft + ["--augment", "flip,bad"], "The value 'flip,bad' is invalid for '--augment <a,b,...>'")
        try await usageError(ft + ["--class-weight", "even"], "Please provide one of 'balanced'")
        try await usageError(ft + ["--validation-split", "1"], "--validation-split must be at least 0 and below 1")
        try await usageError(ft + ["--epochs", "0"], "--epochs must be positive")
        try await usageError(ft + ["--input-size", "16"], "--input-size must be between 32 and 4096")
        try await usageError(ft + ["--dropout", "1"], "--dropout must be at least 0 and below 1")
        try await usageError(ft + ["--exif-orientation", "sideways"], "The value 'sideways' is invalid for '--exif-orientation <exif-orientation>'")
        try await usageError(["predict", "/nonexistent/m.vggm", "x.jpg", "--exif-orientation", "upright"], "Please provide one of 'ignore' and 'apply'")
        try await usageError(["predict", "/nonexistent/m.vggm"], "no input: give image files or --input X.npy")
        try await usageError(["predict", "/nonexistent/m.vggm", "x.png", "--input-size", "0"], "--input-size must be positive")
        try await usageError(["bench", "/nonexistent/m.vggm", "--batch", "0"], "--batch must be between 1 and 4096")
        try await usageError(["dataset", "mnist", "-o", "/nonexistent"], "Please provide one of 'fashion-mnist'")
        try await usageError(["dataset", "fashion-mnist", "-o", "/nonexistent", "--classes", "Trouser,Hat"], "--classes: unknown class 'Hat'")
        try await usageError(["dataset", "fashion-mnist", "-o", "/nonexistent", "--split", "test"], "Please provide one of 'train' and 't10k'")
    }

    @Test func librarySettingErrorsNameTheConceptAndTheCommandItsFlag() {
        let e = FineTuneError(.learningRate, .nonFiniteLoss(loss: .nan, epoch: 1, batch: 1)) { "loss became nan: try a lower \($0)" }
        #expect(e.description == "loss became nan: try a lower learning rate")
        #expect(e.message(naming: "--lr") == "loss became nan: try a lower --lr")
    }

    @Test func temporaryFilesAreListedForTheCallersInterruptionHandling() throws {
        let dir = try TestSupport.tempDir()
        let registry = TemporaryFiles()
        // The fallback's hidden name (an unnamed O_TMPFILE file has none to list).
        let t = try AtomicFile(destination: dir + "/out.bin", registry: registry, unnamed: false)
        #expect(registry.current == [t.writablePath] && FileManager.default.fileExists(atPath: t.writablePath))
        #expect(registry.removeAll() == 1)
        #expect(!FileManager.default.fileExists(atPath: t.writablePath) && registry.current.isEmpty)
        t.discard()
        let u = try AtomicFile(destination: dir + "/kept.bin", registry: registry)
        try u.commit()
        #expect(registry.current.isEmpty && TestSupport.files(in: dir) == ["kept.bin"])
    }
}
