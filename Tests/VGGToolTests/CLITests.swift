import Foundation
import Testing
import VGGTool

/// The built `vggtool` binary end to end: output, error lines and exit codes.
@Suite(.serialized) struct CLITests {
    @Test func convertSummaryVerifyInspectExport() async throws {
        let dir = try TestSupport.tempDir()
        let src = dir + "/tiny.keras"
        try FileManager.default.copyItem(atPath: TestSupport.fixture("tiny_vgg16.keras3.keras"), toPath: src)
        let c = try await CLI.run(["convert", src])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stdout.contains("layout:     Keras 3 archive (.keras), keras_version 3.15.1"))
        #expect(c.stdout.contains("parameters: 3997"))
        let out = dir + "/tiny.vggm"
        #expect(FileManager.default.fileExists(atPath: out))

        let s = try await CLI.run(["summary", out])
        let golden2 = try TestSupport.golden("tiny_vgg16.keras2.txt")
        #expect(s.status == 0 && s.stdout == golden2)
        let s3 = try await CLI.run(["summary", out, "--style", "keras3"], env: ["COLUMNS": "200"])  // Keras's default width
        #expect(s3.stdout == (try TestSupport.golden("tiny_vgg16.keras3.txt")))
        let j = try await CLI.run(["summary", out, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        #expect(obj?["total_params"] as? Int == 3997)
        let fl = try await CLI.run(["summary", out, "--flops"])
        #expect(fl.stdout.contains("Costs per image") && fl.stdout.contains("block1_conv1"))

        let v = try await CLI.run(["verify", out])
        #expect(v.status == 0 && v.stdout.contains("OK"))

        let i = try await CLI.run(["inspect", out])
        #expect(i.status == 0 && i.stdout.contains("block1_conv1/kernel  f32  (3, 3, 3, 4)"))
        let ih = try await CLI.run(["inspect", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5")])
        #expect(ih.status == 0 && ih.stdout.contains("@layer_names") && ih.stdout.contains("zeros"))

        let st = try await CLI.run(["export", out, "--to", "safetensors", "-o", dir + "/w.safetensors"])
        #expect(st.status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/w.safetensors"))
        let headerLen = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: bytes[8..<(8 + headerLen)]) as? [String: Any]
        #expect((header?["block1_conv1/kernel"] as? [String: Any])?["shape"] as? [Int] == [3, 3, 3, 4])

        let kh = try await CLI.run(["export", out, "--to", "keras-h5", "-o", dir + "/re.h5"])
        #expect(kh.status == 0, "\(kh.stderr)")
        // The exported Keras file converts back to the same tensors.
        let back = try await CLI.run(["convert", dir + "/re.h5", "-o", dir + "/back.vggm"])
        #expect(back.status == 0, "\(back.stderr)")
        let a = try await CLI.run(["summary", dir + "/back.vggm"])
        #expect(a.stdout == s.stdout)
    }

    /// libhdf5 parses untrusted files in an isolated child first: when it dies there (simulated here with an
    /// abort in the probe), the command fails with one line naming the file, and writes nothing.
    @Test func aCrashInsideTheIsolatedParserIsACleanError() async throws {
        let dir = try TestSupport.tempDir()
        let src = TestSupport.fixture("tiny_vgg16.tfkeras.full.h5")
        let r = try await CLI.run(["convert", src, "-o", dir + "/out.vggm"], env: ["VGGTOOL_PROBE_SIMULATE_CRASH": "1"])
        #expect(r.status == 1 && r.stderr.hasPrefix("vggtool: error: \(src): the isolated HDF5 parser crashed (signal 6)"), "\(r.stderr)")
        #expect(r.stderr.filter { $0 == "\n" }.count == 1)
        #expect(TestSupport.files(in: dir).isEmpty)
        let s = try await CLI.run(["summary", src], env: ["VGGTOOL_PROBE_SIMULATE_CRASH": "1"])
        #expect(s.status == 1 && s.stderr.contains("isolated HDF5 parser"))
        let i = try await CLI.run(["inspect", src], env: ["VGGTOOL_PROBE_SIMULATE_CRASH": "1"])
        #expect(i.status == 1 && i.stderr.contains("isolated HDF5 parser"))
        // Without isolation the same command parses in process.
        let ok = try await CLI.run(["convert", src, "-o", dir + "/out.vggm"], env: ["VGGTOOL_PROBE_SIMULATE_CRASH": "1", "VGGTOOL_NO_ISOLATION": "1"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// Children (the isolated probe, the CLI under test) inherit no descriptors but 0, 1 and 2: an inherited
    /// descriptor would, for one, keep libhdf5's lock on a file alive for as long as the child runs. Exit codes
    /// and signals are told apart; the timeout and the stop condition kill the child.
    @Test func childProcessesInheritOnlyTheStandardDescriptors() async throws {
        let fd = open("/dev/null", O_RDONLY)  // no O_CLOEXEC, like libhdf5's opens
        defer { close(fd) }
        #expect(fd > 2)
        let env = ProcessInfo.processInfo.environment
        let inherited = try await ChildProcess.run(["/bin/sh", "-c", "test -e /proc/$$/fd/\(fd)"], environment: env)
        #expect(inherited == .init(code: 1, signal: nil))
        let standard = try await ChildProcess.run(["/bin/sh", "-c", "test -e /proc/$$/fd/2"], environment: env)
        #expect(standard == .init(code: 0, signal: nil))
        let killed = try await ChildProcess.run(["/bin/sh", "-c", "kill -KILL $$"], environment: env)
        #expect(killed == .init(code: nil, signal: SIGKILL))
        let start = Date()
        let stuck = try await ChildProcess.run(["/bin/sh", "-c", "exec sleep 30"], environment: env, timeout: 0.3)
        #expect(stuck == .init(code: nil, signal: SIGKILL, timedOut: true))
        #expect(Date().timeIntervalSince(start) < 10)
        let stopAt = Date().addingTimeInterval(0.3)
        let stopped = try await ChildProcess.run(["/bin/sh", "-c", "exec sleep 30"], environment: env, timeout: 60, stop: { Date() > stopAt })
        #expect(stopped == .init(code: nil, signal: SIGKILL, timedOut: false))
        #expect(Date().timeIntervalSince(start) < 20)
        // The blocking form refuses a thread of Swift's cooperative pool (blocking it could starve the tasks
        // that run the child), and works from a thread of its own, as in the vggtool executable.
        #expect(throws: ToolError.self) { try ChildProcess.runBlocking(["/bin/true"], environment: env) }
        let blocking = await withCheckedContinuation { done in
            Thread { done.resume(returning: try? ChildProcess.runBlocking(["/bin/sh", "-c", "exit 3"], environment: env)) }.start()
        }
        #expect(blocking == .init(code: 3, signal: nil))
        // So does the isolated probe, given explicitly by the caller: it refuses the pool rather than parse
        // without isolation, and from a thread of its own it runs the binary (after a clean probe the parse
        // skips the structural check that ran beside it).
        let noLimit = ProcessInfo.processInfo.environment["VGGTOOL_PROBE_NO_MEMORY_LIMIT"] != nil  // sanitizer runs
        let isolation = HDF5Isolation(executable: CLI.binary, memoryBytes: noLimit ? nil : 4 << 30)
        let model = TestSupport.fixture("tiny_vgg16.tfkeras.full.h5")
        #expect(throws: ToolError.self) { _ = try isolation.probe(model, options: .init()) }
        let probed = await withCheckedContinuation { done in
            Thread { done.resume(returning: try? isolation.probe(model, options: .init()).checkStructure) }.start()
        }
        #expect(probed == false)
    }

    @Test func errorsAreOneLineWithNonZeroStatusAndNoOutputFile() async throws {
        let dir = try TestSupport.tempDir()
        let bad = dir + "/notamodel.h5"
        try Data("definitely not HDF5".utf8).write(to: URL(fileURLWithPath: bad))
        let r = try await CLI.run(["convert", bad])
        #expect(r.status == 1)
        #expect(r.stderr == "vggtool: error: \(bad): is not a Keras model file (neither HDF5 nor a .keras zip archive)\n", "\(r.stderr)")
        #expect(TestSupport.files(in: dir) == ["notamodel.h5"])

        let lam = try await CLI.run(["convert", TestSupport.fixture("lambda.tfkeras.full.h5"), "-o", dir + "/l.vggm"])
        #expect(lam.status == 1 && lam.stderr.contains("layer 'double': is a Lambda layer: it carries Python code, which vggtool never runs"), "\(lam.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/l.vggm"))

        let nodir = try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.keras3.keras"), "-o", "/nonexistent-dir/x.vggm"])
        #expect(nodir.status != 0 && nodir.stderr.contains("does not exist"))

        let v = try await CLI.run(["verify", bad])
        #expect(v.status != 0 && v.stderr.contains("header"))

        let shape = try await CLI.run(["summary", TestSupport.fixture("tiny_vgg16.keras3.keras"), "--input-shape", "0,1"])
        #expect(shape.status != 0 && shape.stderr.contains("--input-shape"))
    }

    @Test func helpListsTheCommands() async throws {
        let h = try await CLI.run(["--help"])
        #expect(h.status == 0)
        for c in ["convert", "summary", "inspect", "verify", "export", "demo"] { #expect(h.stdout.contains(c)) }
        let ch = try await CLI.run(["convert", "--help"])
        #expect(ch.stdout.contains("--arch") && ch.stdout.contains("--dtype") && ch.stdout.contains("--config"))
    }
}
