import Cluster
import Foundation
import ModelFile
import Testing
import VGGTool

/// Open MPI's launcher for the multi-rank tests: `mpirun` on the PATH (openmpi-bin). Without it the tests
/// that launch ranks are skipped, unless `VGGTOOL_MPI_CHECK=1` (scripts/test.sh sets it), where they fail.
enum MPI {
    static let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let required = ProcessInfo.processInfo.environment["VGGTOOL_MPI_CHECK"] == "1"
    static let enabled = mpirun != nil || required

    /// `mpirun` for `ranks` ranks on this machine, as root too, more ranks than cores allowed, its own notices off.
    static func launcher(_ ranks: Int) -> [String] {
        [mpirun ?? "mpirun", "--allow-run-as-root", "--oversubscribe", "-q", "-n", "\(ranks)"]
    }

    /// The binary run as `ranks` ranks (one thread each, as the launcher's local size gives them).
    static func run(_ ranks: Int, _ args: [String], env: [String: String] = [:], timeout: Double = 300) async throws -> CLI.Result {
        try await CLI.run(args, env: env, timeout: timeout, launcher: launcher(ranks))
    }
}

/// `mpirun -n N vggtool evaluate|predict|finetune` against the single process (docs/distributed.md): the same
/// counts and printed results, the same `-o` bytes, weights within 1e-5, rank 0 alone writing; `--resume`
/// across rank counts; a failing, killed or hanging rank ends the job with a non-zero status in seconds.
@Suite(.serialized) struct DistributedCLITests {
    static func base() async throws -> (dir: String, model: String) { try await FinetuneCLITests.base() }

    /// A tuned classifier of the eval folder's five classes.
    static func classifier() async throws -> (dir: String, model: String) {
        let (dir, base) = try await Self.base()
        let r = try await CLI.run(["finetune", base, "--data", TestSupport.fixture("images/eval"), "-o", dir + "/tuned.vggm", "--seed", "1",
                                   "--input-size", "32", "--head", "8", "--epochs", "2", "--batch-size", "4", "-q"])
        #expect(r.status == 0, "\(r.stderr)")
        return (dir, dir + "/tuned.vggm")
    }

    /// Largest difference between the two files' tensors, relative to each tensor's largest magnitude.
    static func maxRelativeDifference(_ a: String, _ b: String) throws -> Float {
        let fa = try VGGMFile(path: a), fb = try VGGMFile(path: b)
        var worst: Float = 0
        for name in fa.manifest.tensors.map(\.name) {
            let x = fa.floats(name)!, y = fb.floats(name)!
            let scale = max(x.map(abs).max() ?? 0, 1e-12)
            for (u, v) in zip(x, y) { worst = max(worst, abs(u - v) / scale) }
        }
        return worst
    }

    @Test func launchIsDetectedFromTheEnvironmentOnly() {
        #expect(Launch.detect(environment: [:]) == nil)
        #expect(Launch.detect(environment: ["SLURM_PROCID": "0", "SLURM_NTASKS": "4"]) == nil)  // an allocation, not an MPI launch
        #expect(Launch.detect(environment: ["OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"])
                == Launch(rank: 2, size: 3, localSize: 2, source: "OMPI_COMM_WORLD_RANK"))
        #expect(Launch.detect(environment: ["PMIX_RANK": "1", "SLURM_STEP_NUM_TASKS": "8", "SLURM_STEP_TASKS_PER_NODE": "4(x2)"])
                == Launch(rank: 1, size: 8, localSize: 4, source: "PMIX_RANK"))
    }

    /// Open MPI is not linked: a normal run never loads it.
    @Test func binaryDoesNotLinkOpenMPI() async throws {
        let out = try TestSupport.tempDir() + "/ldd"
        let ldd = try await ChildProcess.run(["/bin/sh", "-c", "ldd \"$0\" > \"$1\"", CLI.binary, out],
                                             environment: ProcessInfo.processInfo.environment, timeout: 60)
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(ldd.code == 0 && text.contains("libc.so") && !text.contains("libmpi") && !text.contains("open-pal"), "\(text)")
    }

    @Test(.enabled(if: MPI.enabled)) func evaluateEqualsSingleProcess() async throws {
        let (_, model) = try await Self.classifier()
        let data = TestSupport.fixture("images/eval")
        for format in [["--json"], []] {
            let args = ["evaluate", model, "--data", data, "--batch-size", "2"] + format
            let one = try await CLI.run(args)
            #expect(one.status == 0, "\(one.stderr)")
            for ranks in [2, 3] {
                let many = try await MPI.run(ranks, args)
                #expect(many.status == 0, "\(many.stderr)")
                #expect(many.stdout == one.stdout, "\(ranks) ranks")
            }
        }
    }

    @Test(.enabled(if: MPI.enabled)) func evaluateSkipsUnreadableFilesAsOneProcessDoes() async throws {
        let (dir, model) = try await Self.classifier()
        let data = dir + "/data"
        for c in 0..<5 {
            let from = TestSupport.fixture("images/eval/class_\(c)")
            try FileManager.default.createDirectory(atPath: data + "/class_\(c)", withIntermediateDirectories: true)
            for f in try FileManager.default.contentsOfDirectory(atPath: from) { try FileManager.default.copyItem(atPath: from + "/" + f, toPath: data + "/class_\(c)/" + f) }
        }
        try FileManager.default.copyItem(atPath: TestSupport.fixture("images/empty.png"), toPath: data + "/class_1/zz_empty.png")
        try FileManager.default.copyItem(atPath: TestSupport.fixture("images/empty.png"), toPath: data + "/class_3/aa_empty.png")
        let args = ["evaluate", model, "--data", data, "--batch-size", "1", "--json"]
        let one = try await CLI.run(args)
        let many = try await MPI.run(3, args)
        #expect(one.status == 0 && many.status == 0, "\(many.stderr)")
        #expect(many.stdout == one.stdout && one.stdout.contains("aa_empty.png"))
        // Rank 0 writes the report page.
        let page = try await MPI.run(2, ["evaluate", model, "--data", data, "--report", dir + "/page.html"])
        #expect(page.status == 0 && page.stdout.contains("wrote \(dir)/page.html"), "\(page.stderr)")
        #expect(try String(contentsOfFile: dir + "/page.html", encoding: .utf8).contains("class_4"))
    }

    @Test(.enabled(if: MPI.enabled)) func predictWritesTheSameOutput() async throws {
        let (dir, model) = try await Self.classifier()
        let eval = TestSupport.fixture("images/eval")
        var images: [String] = []
        for c in 0..<5 { images += try FileManager.default.contentsOfDirectory(atPath: eval + "/class_\(c)").sorted().map { eval + "/class_\(c)/" + $0 } }
        let withBad = Array(images[..<4]) + [TestSupport.fixture("images/empty.png")] + Array(images[4...])
        for ranks in [1, 2, 3] {
            let launch = { (args: [String]) async throws -> CLI.Result in ranks == 1 ? try await CLI.run(args) : try await MPI.run(ranks, args) }
            let ok = try await launch(["predict", model] + images + ["--batch-size", "2", "-o", dir + "/y\(ranks).npy"])
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(ok.stdout.replacingOccurrences(of: "y\(ranks).npy", with: "y.npy").contains("wrote \(dir)/y.npy (shape [15, 5])"))
            let skip = try await launch(["predict", model] + withBad + ["--batch-size", "2", "--skip-unreadable", "-o", dir + "/s\(ranks).npy"])
            #expect(skip.status == 0 && skip.stderr == "vggtool: skipped \(withBad[4]): empty file\n", "\(skip.stderr)")
            let strict = try await launch(["predict", model] + withBad + ["--batch-size", "2", "-o", dir + "/t\(ranks).npy"])
            #expect(strict.status == 1 && strict.stderr.hasPrefix("vggtool: error: \(withBad[4]): empty file") && strict.stderr.split(separator: "\n").count == 1,
                    "\(strict.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/t\(ranks).npy"))
            let npz = try await launch(["predict", model] + withBad + ["--batch-size", "3", "--skip-unreadable", "-o", dir + "/z\(ranks).npz"])
            #expect(npz.status == 0, "\(npz.stderr)")
        }
        for ranks in [2, 3] {
            #expect(FileManager.default.contents(atPath: dir + "/y\(ranks).npy") == FileManager.default.contents(atPath: dir + "/y1.npy"))
            #expect(FileManager.default.contents(atPath: dir + "/s\(ranks).npy") == FileManager.default.contents(atPath: dir + "/s1.npy"))
            #expect(FileManager.default.contents(atPath: dir + "/s\(ranks).txt") == FileManager.default.contents(atPath: dir + "/s1.txt"))
            #expect(FileManager.default.contents(atPath: dir + "/z\(ranks).npz") == FileManager.default.contents(atPath: dir + "/z1.npz"))
        }
    }

    static let small = ["--seed", "7", "--input-size", "32", "--head", "8,8", "--batch-size", "5", "-q"]

    /// Same weights (1e-5) and history as one process; rank 0 alone writes (no other file appears).
    @Test(.enabled(if: MPI.enabled)) func finetuneEqualsSingleProcess() async throws {
        let (dir, base) = try await Self.base()
        let data = TestSupport.fixture("images/eval")
        let variants: [(String, [String])] = [
            ("plain", ["--epochs", "3", "--validation-split", "0"]),
            ("split", ["--epochs", "3"]),
            ("everything", ["--epochs", "3", "--validation-split", "0", "--dropout", "0.3", "--augment", "flip,crop", "--trainable-from", "block3_conv1",
                            "--class-weight", "balanced"]),
        ]
        for (name, extra) in variants {
            let one = try await CLI.run(["finetune", base, "--data", data, "-o", "\(dir)/\(name)1.vggm"] + Self.small + extra)
            #expect(one.status == 0, "\(one.stderr)")
            for ranks in [2, 3] {
                let out = "\(dir)/\(name)\(ranks)/tuned.vggm"
                try FileManager.default.createDirectory(atPath: "\(dir)/\(name)\(ranks)", withIntermediateDirectories: true)
                let many = try await MPI.run(ranks, ["finetune", base, "--data", data, "-o", out] + Self.small + extra)
                #expect(many.status == 0, "\(many.stderr)")
                #expect(try Self.maxRelativeDifference("\(dir)/\(name)1.vggm", out) <= 1e-5, "\(name), \(ranks) ranks")
                let h1 = try String(contentsOfFile: "\(dir)/\(name)1.vggm.history.csv", encoding: .utf8)
                let hN = try String(contentsOfFile: out + ".history.csv", encoding: .utf8)
                let v1 = h1.split(whereSeparator: { $0 == "," || $0 == "\n" }).compactMap { Double($0) }
                let vN = hN.split(whereSeparator: { $0 == "," || $0 == "\n" }).compactMap { Double($0) }
                #expect(v1.count == vN.count && zip(v1, vN).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) }, "\(h1)\n\(hN)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: "\(dir)/\(name)\(ranks)").sorted()
                        == ["tuned.vggm", "tuned.vggm.history.csv", "tuned.vggm.report.json", "tuned.vggm.state.json", "tuned.vggm.state.npy"])
                // One copy of the output: rank 0's.
                #expect(many.stdout.components(separatedBy: "best epoch").count == 2, "\(many.stdout)")
            }
        }
    }

    /// A rank killed in the middle of training (SIGKILL, as the OOM killer sends) ends the job within seconds;
    /// what rank 0 had written is a complete checkpoint, and no temporary file is left.
    @Test(.enabled(if: MPI.enabled)) func aRankKilledMidRunLeavesACompleteCheckpoint() async throws {
        let (dir, base) = try await Self.base()
        let out = dir + "/run/k.vggm"
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        // mpirun in the background, the newest of its ranks killed after 3 s.
        let killer = ["/bin/sh", "-c", "\"$@\" & m=$!; sleep 3; kill -9 $(pgrep -P $m | tail -1); wait $m", "sh"] + MPI.launcher(2)
        let r = try await CLI.run(["finetune", base, "--data", TestSupport.fixture("images/eval"), "-o", out, "--epochs", "1000", "--batch-size", "2",
                                   "--validation-split", "0", "--seed", "7", "--input-size", "32", "--head", "8,8", "-q"],
                                  timeout: 120, launcher: killer)
        #expect(r.status != 0 && !r.timedOut && r.seconds < 30, "\(r.status) \(r.stderr)")
        if FileManager.default.fileExists(atPath: out) {
            let v = try await CLI.run(["verify", out])
            #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/run")
        #expect(names.allSatisfy { !$0.hasPrefix(".") && ["k.vggm", "k.vggm.history.csv", "k.vggm.state.json", "k.vggm.state.npy"].contains($0) }, "\(names)")
    }

    /// A run of 2 ranks resumed by 3 gives what one process gives in one go.
    @Test(.enabled(if: MPI.enabled)) func resumeWorksWithAnyNumberOfRanks() async throws {
        let (dir, base) = try await Self.base()
        let data = TestSupport.fixture("images/eval")
        let args = ["finetune", base, "--data", data, "--validation-split", "0"] + Self.small
        #expect(try await CLI.run(args + ["-o", dir + "/whole.vggm", "--epochs", "4"]).status == 0)
        let first = try await MPI.run(2, args + ["-o", dir + "/parts.vggm", "--epochs", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        let rest = try await MPI.run(3, args + ["-o", dir + "/parts.vggm", "--epochs", "4", "--resume"])
        #expect(rest.status == 0 && rest.stdout.contains("resuming after epoch 2"), "\(rest.stderr)")
        #expect(try Self.maxRelativeDifference(dir + "/whole.vggm", dir + "/parts.vggm") <= 1e-5)
    }

    /// A rank that fails, dies or hangs ends the job: non-zero status within seconds, the failing rank named in
    /// one line, no checkpoint.
    @Test(.enabled(if: MPI.enabled)) func aFailingRankEndsTheJob() async throws {
        let (dir, base) = try await Self.base()
        let data = TestSupport.fixture("images/eval")
        let args = ["finetune", base, "--data", data, "--epochs", "2"] + Self.small
        let failed = try await MPI.run(3, args + ["-o", dir + "/a.vggm"], env: ["VGGTOOL_MPI_FAULT": "1:error"], timeout: 60)
        #expect(failed.status != 0 && failed.stderr == "vggtool: error: rank 1 of 3: injected fault (VGGTOOL_MPI_FAULT)\n", "\(failed.stderr)")
        let killed = try await MPI.run(2, args + ["-o", dir + "/b.vggm"], env: ["VGGTOOL_MPI_FAULT": "1:kill"], timeout: 60)
        #expect(killed.status != 0 && !killed.timedOut && killed.seconds < 20)
        let hung = try await MPI.run(2, args + ["-o", dir + "/c.vggm"], env: ["VGGTOOL_MPI_FAULT": "1:hang", "VGGTOOL_MPI_TIMEOUT": "3"], timeout: 60)
        #expect(hung.status != 0 && !hung.timedOut && hung.seconds < 20, "\(hung.stderr)")
        #expect(hung.stderr.hasPrefix("vggtool: error: rank 0 of 2: ") && hung.stderr.contains("within 3 s"), "\(hung.stderr)")
        for f in ["a", "b", "c"] { #expect(!FileManager.default.fileExists(atPath: "\(dir)/\(f).vggm")) }
        // A failure every rank meets at once (the loss became NaN, the model is missing) is one line, the single
        // process's, without a rank.
        let nan = ["finetune", base, "--data", data, "-o", dir + "/nan.vggm", "--epochs", "2", "--lr", "1e30", "--optimizer", "sgd"] + Self.small
        let nanOne = try await CLI.run(nan), nanTwo = try await MPI.run(2, nan, timeout: 60)
        #expect(nanOne.status == 1 && nanTwo.status == 1 && nanTwo.stderr == nanOne.stderr && nanOne.stderr.contains("loss became nan"), "\(nanTwo.stderr)")
        let bad = try await MPI.run(2, ["evaluate", dir + "/none.vggm", "--data", data], timeout: 60)
        #expect(bad.status == 1 && bad.stderr.split(separator: "\n").count == 1 && !bad.stderr.contains("rank"), "\(bad.stderr)")
    }
}
