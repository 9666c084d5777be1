import Foundation
import Runtime
import Testing
import Training
import ModelFile

/// `vggtool finetune` end to end on the built binary (tiny VGG16 base, small images), its guarantees and
/// its bad inputs.
@Suite(.serialized) struct FinetuneCLITests {
    static func base() async throws -> (dir: String, model: String) {
        let dir = try TestSupport.tempDir()
        let model = dir + "/base.vggm"
        let c = try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", model])
        #expect(c.status == 0, "\(c.stderr)")
        return (dir, model)
    }
    static let small = ["--input-size", "32", "--head", "8,8", "--epochs", "3", "--batch-size", "4"]

    @Test func trainsSavesAndIsReproducible() async throws {
        let (dir, model) = try await Self.base()
        let data = TestSupport.fixture("images/eval")
        let r = try await CLI.run(["finetune", model, "--data", data, "-o", dir + "/a.vggm", "--seed", "7"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Total params:") && r.stdout.contains("Non-trainable params:"))  // the composed summary
        #expect(r.stdout.contains("epoch 3/3") && r.stdout.contains("val_loss"))
        let csv = try String(contentsOfFile: dir + "/a.vggm.history.csv", encoding: .utf8)
        #expect(csv.hasPrefix("epoch,accuracy,loss,val_accuracy,val_loss\n") && csv.split(separator: "\n").count == 4)
        // The output carries class names and preprocessing: predict and evaluate need nothing else.
        let e = try await CLI.run(["evaluate", dir + "/a.vggm", "--data", data, "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let p = try await CLI.run(["predict", dir + "/a.vggm", TestSupport.fixture("images/rgb.png")])
        #expect(p.status == 0 && p.stdout.contains("class_"), "\(p.stdout)\(p.stderr)")
        // The same seed and data give the same weights, bit for bit.
        let r2 = try await CLI.run(["finetune", model, "--data", data, "-o", dir + "/b.vggm", "--seed", "7"] + Self.small)
        #expect(r2.status == 0)
        let a = try TestSupport.tensorBits(dir + "/a.vggm"), b = try TestSupport.tensorBits(dir + "/b.vggm")
        #expect(a == b)
        let r3 = try await CLI.run(["finetune", model, "--data", data, "-o", dir + "/c.vggm", "--seed", "8"] + Self.small)
        let c = try TestSupport.tensorBits(dir + "/c.vggm")
        #expect(r3.status == 0 && c != a)
    }

    /// The on-disk feature cache gives the same training as the in-memory one, and a second run reuses
    /// every entry; other weights or another input size never find them.
    @Test func diskFeatureCacheIsReusedAndKeyed() async throws {
        let (dir, model) = try await Self.base()
        let data = TestSupport.fixture("images/eval")
        let cache = dir + "/cache"
        let args = ["finetune", model, "--data", data, "--seed", "2"] + Self.small
        let a = try await CLI.run(args + ["-o", dir + "/mem.vggm"])
        let b = try await CLI.run(args + ["-o", dir + "/disk.vggm", "--cache-dir", cache])
        #expect(a.status == 0 && b.status == 0, "\(b.stderr)")
        #expect(b.stdout.contains("on disk in \(cache) (0 reused, 15 computed)"), "\(b.stdout)")
        #expect(try TestSupport.tensorBits(dir + "/mem.vggm") == TestSupport.tensorBits(dir + "/disk.vggm"))
        let c = try await CLI.run(args + ["-o", dir + "/disk2.vggm", "--cache-dir", cache])
        #expect(c.stdout.contains("(15 reused, 0 computed)"), "\(c.stdout)")
        let d = try await CLI.run(["finetune", model, "--data", data, "--seed", "2", "--input-size", "40", "--head", "8", "--epochs", "1",
                             "-o", dir + "/other.vggm", "--cache-dir", cache])
        #expect(d.stdout.contains("(0 reused, 15 computed)"), "\(d.stdout)")
    }

    @Test func resumeContinuesFromTheCheckpoint() async throws {
        let (dir, model) = try await Self.base()
        let data = TestSupport.fixture("images/eval")
        let args = ["finetune", model, "--data", data, "-o", dir + "/r.vggm", "--seed", "3", "--input-size", "32", "--head", "8", "--batch-size", "4"]
        #expect(try await CLI.run(args + ["--epochs", "2"]).status == 0)
        let r = try await CLI.run(args + ["--epochs", "4", "--resume"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("resuming after epoch") && r.stdout.contains("epoch 4/4") && !r.stdout.contains("epoch 1/4"))
        // A state that does not belong to the checkpoint (as after a crash between the two writes) is refused.
        let statePath = dir + "/r.vggm.state.json"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: statePath))) as! [String: Any]
        json["checkpoint"] = "another"
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: statePath))
        let stale = try await CLI.run(args + ["--epochs", "5", "--resume"])
        #expect(stale.status != 0 && stale.stderr.contains("belongs to another checkpoint"), "\(stale.stderr)")
        let missing = try await CLI.run(args + ["--epochs", "4", "--resume", "-o", dir + "/none.vggm"])
        #expect(missing.status != 0 && missing.stderr.contains("--resume needs a checkpoint"))
    }

    @Test func trainableFromAugmentAndOptions() async throws {
        let (dir, model) = try await Self.base()
        let data = TestSupport.fixture("images/eval")
        let r = try await CLI.run(["finetune", model, "--data", data, "-o", dir + "/t.vggm", "--trainable-from", "block3_conv2",
                             "--augment", "flip,rotate", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.001",
                             "--pooling", "avg", "--dropout", "0.25", "--class-weight", "balanced", "--patience", "1"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("augmenting (flip,rotate)") && r.stdout.contains("block3_pool"))
        let s = try await CLI.run(["summary", dir + "/t.vggm"])
        #expect(s.stdout.contains("global_average_pooling2d") && s.stdout.contains("dropout"))
    }

    @Test func badInputsFailClearlyBeforeTraining() async throws {
        let (dir, model) = try await Self.base()
        func fails(_ args: [String], _ words: String) async throws {
            let r = try await CLI.run(["finetune", model] + args + Self.small)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(words) && r.stderr.filter { $0 == "\n" }.count == 1, "\(args): \(r.stderr)")
        }
        let fm = FileManager.default
        // One class only.
        let one = dir + "/one"
        try fm.createDirectory(atPath: one + "/only", withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestSupport.fixture("images/rgb.png"), toPath: one + "/only/a.png")
        try await fails(["--data", one, "-o", dir + "/o.vggm"], "needs at least two class folders")
        // A class whose only file cannot be decoded; another whose folder is empty.
        let bad = dir + "/bad"
        for c in ["a", "b"] { try fm.createDirectory(atPath: bad + "/" + c, withIntermediateDirectories: true) }
        for i in 0..<4 { try fm.copyItem(atPath: TestSupport.fixture("images/rgb.png"), toPath: bad + "/a/\(i).png") }
        for i in 0..<4 { try fm.copyItem(atPath: TestSupport.fixture("images/text.jpg"), toPath: bad + "/b/\(i).jpg") }
        try await fails(["--data", bad, "-o", dir + "/o.vggm", "--validation-split", "0"], "b: no training image of this class could be read (4 file(s) skipped)")
        let empty = dir + "/empty"
        try fm.createDirectory(atPath: empty + "/x", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: empty + "/y", withIntermediateDirectories: true)
        try fm.copyItem(atPath: TestSupport.fixture("images/rgb.png"), toPath: empty + "/x/a.png")
        try await fails(["--data", empty, "-o", dir + "/o.vggm"], "y: class folder has no images")
        // Too little data for the split; a layer that does not exist; an output folder that does not exist.
        let two = dir + "/two"
        for c in ["a", "b"] {
            try fm.createDirectory(atPath: two + "/" + c, withIntermediateDirectories: true)
            try fm.copyItem(atPath: TestSupport.fixture("images/rgb.png"), toPath: two + "/\(c)/x.png")
        }
        try await fails(["--data", two, "-o", dir + "/o.vggm", "--validation-split", "0.1"], "too few for a validation split")
        try await fails(["--data", TestSupport.fixture("images/eval"), "-o", dir + "/o.vggm", "--trainable-from", "block9_conv1"], "no layer 'block9_conv1'")
        try await fails(["--data", TestSupport.fixture("images/eval"), "-o", dir + "/nowhere/o.vggm"], "does not exist")
        // NaN loss: a learning rate that blows up (in the first epoch, with this seed) stops with a clear message
        // and writes no checkpoint; a file already at the output path is left as it was.
        try fm.copyItem(atPath: model, toPath: dir + "/n.vggm")
        let before = try TestSupport.tensorBits(dir + "/n.vggm")
        let nan = try await CLI.run(["finetune", model, "--data", TestSupport.fixture("images/eval"), "-o", dir + "/n.vggm", "--lr", "1e30",
                               "--optimizer", "sgd", "--input-size", "32", "--head", "8", "--epochs", "5", "--batch-size", "2"])
        #expect(nan.status == 1 && nan.stderr == "vggtool: error: loss became nan at epoch 1, batch 2: stopped (try a lower --lr); no checkpoint was written\n",
                "\(nan.stderr)")
        #expect(try TestSupport.tensorBits(dir + "/n.vggm") == before)
        #expect(try await CLI.run(["verify", dir + "/n.vggm"]).status == 0)
        #expect(!fm.fileExists(atPath: dir + "/o.vggm"))
        #expect(TestSupport.files(in: dir).allSatisfy { !$0.contains(".tmp") })
    }
}
