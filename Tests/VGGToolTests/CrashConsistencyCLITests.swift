import Foundation
import ModelFile
import Testing

/// Killed at any moment, nothing left behind (docs/durability.md): the built binary is stopped at each named
/// point of a write by the test-only hook (`VGGTOOL_TEST_PAUSE_AT`), SIGKILLed there, and the folder checked:
/// the destination absent, old or new and verifiable, no other name (but the documented link window's hidden
/// name, which the next write into the folder sweeps), and `finetune --resume` continues.
@Suite(.serialized) struct CrashConsistencyCLITests {
    static let input = TestSupport.fixture("tiny_vgg16.tfkeras.full.h5")

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
        func set() { lock.lock(); value = true; lock.unlock() }
    }

    /// Runs the binary with the hook at `point` (`POINT[,NAME[,N]]`), waits until it stops there and SIGKILLs
    /// it. Returns whether it stopped (false: it ran to the end without reaching the point).
    static func kill(_ args: [String], at point: String, env: [String: String] = [:]) async throws -> Bool {
        let mark = try TestSupport.tempDir() + "/mark"
        var e = env
        e["VGGTOOL_TEST_PAUSE_AT"] = point
        e["VGGTOOL_TEST_PAUSE_MARK"] = mark
        let done = Flag()
        let run = Task { () async throws -> CLI.Result in
            defer { done.set() }
            return try await CLI.run(args, env: e, timeout: 120)
        }
        var pid: Int32?
        // Until the run ends (CLI.run's own timeout bounds it): the run may first wait for a free core while
        // other suites' runs hold them (CLI.slots), so no shorter deadline here.
        let deadline = Date().addingTimeInterval(600)
        while pid == nil && !done.isSet && Date() < deadline {
            if let text = try? String(contentsOfFile: mark, encoding: .utf8), text.hasSuffix("\n"),
               let p = text.split(separator: " ").last.flatMap({ Int32($0.dropLast()) }) {
                pid = p
            } else {
                try await Task.sleep(nanoseconds: 5_000_000)
            }
        }
        if let pid { Glibc.kill(pid, SIGKILL) }
        let r = try await run.value
        if pid != nil { #expect(r.signaled && r.status == SIGKILL, "\(point): \(r.stderr)") }
        return pid != nil
    }

    static func names(_ dir: String) -> Set<String> { Set(TestSupport.files(in: dir)) }
    static func hidden(_ dir: String) -> [String] { TestSupport.files(in: dir).filter { $0.hasPrefix(".") } }

    static func verifies(_ path: String) async throws -> Bool {
        let v = try await CLI.run(["verify", path])
        return v.status == 0
    }

    /// The dtype the `.vggm` at `path` stores: the old file is written as f16, the new one as f32.
    static func dtype(_ path: String) throws -> TensorDType { try VGGMFile(path: path).manifest.tensors[0].dtype }

    @Test func convertKilledAtEveryPointLeavesTheOldFileOrTheNewOne() async throws {
        let dir = try TestSupport.tempDir()
        let dest = dir + "/m.vggm"
        let new = ["convert", Self.input, "-o", dest]
        // A new destination: absent until it is named, then complete.
        for point in ["created", "filling", "filled", "synced", "linked"] {
            try? FileManager.default.removeItem(atPath: dest)
            #expect(try await Self.kill(new, at: point + ",m.vggm"), "\(point)")
            if point == "linked" {
                #expect(Self.names(dir) == ["m.vggm"], "\(point)")
                #expect(try await Self.verifies(dest) && Self.dtype(dest) == .f32, "\(point)")
            } else {
                #expect(Self.names(dir).isEmpty, "\(point): \(Self.names(dir))")
            }
        }
        // Replacing: the old file until the rename, then the new one.
        for point in ["created", "filling", "filled", "synced", "linked", "renamed"] {
            let old = try await CLI.run(["convert", Self.input, "-o", dest, "--dtype", "f16"])
            #expect(old.status == 0, "\(old.stderr)")
            #expect(try await Self.kill(new, at: point + ",m.vggm"), "\(point)")
            #expect(try await Self.verifies(dest), "\(point)")
            #expect(try Self.dtype(dest) == (point == "renamed" ? .f32 : .f16), "\(point)")
            // Between the link and the rename, the hidden name is the one thing left (documented window).
            #expect(Self.hidden(dir).count == (point == "linked" ? 1 : 0), "\(point): \(Self.names(dir))")
            #expect(Self.names(dir).subtracting(Self.hidden(dir)) == ["m.vggm"], "\(point)")
        }
        // The next write into the folder removes it (its writer is gone).
        let next = try await CLI.run(["export", dest, "--to", "safetensors", "-o", dir + "/m.safetensors"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(Self.names(dir) == ["m.vggm", "m.safetensors"])
    }

    @Test func withoutUnnamedFilesTheNextWriteSweepsWhatAKillLeft() async throws {
        let dir = try TestSupport.tempDir()
        let dest = dir + "/m.vggm"
        #expect(try await CLI.run(["convert", Self.input, "-o", dest, "--dtype", "f16"]).status == 0)
        let fallback = ["VGGTOOL_TEST_NO_TMPFILE": "1"]
        #expect(try await Self.kill(["convert", Self.input, "-o", dest], at: "filling,m.vggm", env: fallback))
        #expect(Self.hidden(dir).count == 1 && Self.names(dir).contains("m.vggm"))
        #expect(try await Self.verifies(dest) && Self.dtype(dest) == .f16)
        let next = try await CLI.run(["convert", Self.input, "-o", dest], env: fallback)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try Self.names(dir) == ["m.vggm"] && Self.dtype(dest) == .f32)
    }

    /// Every other writer goes through the same `AtomicFile`: export (both formats) and predict's `.npy`,
    /// killed half-way through replacing a file, leave the old file and no other name.
    @Test func exportAndPredictKilledLeaveTheOldFile() async throws {
        let dir = try TestSupport.tempDir()
        let model = dir + "/m.vggm"
        #expect(try await CLI.run(["convert", Self.input, "-o", model]).status == 0)
        let image = TestSupport.fixture("images/rgb.png")
        for (name, args) in [("m.safetensors", ["export", model, "--to", "safetensors"]), ("m.h5", ["export", model, "--to", "keras-h5"]),
                             ("p.npy", ["predict", model, image])] {
            let dest = dir + "/" + name
            let old = Data("old".utf8)
            try old.write(to: URL(fileURLWithPath: dest))
            for point in ["filling", "synced", "linked"] {
                #expect(try await Self.kill(args + ["-o", dest], at: point + "," + name), "\(name) \(point)")
                #expect(FileManager.default.contents(atPath: dest) == old, "\(name) \(point)")
                #expect(Self.hidden(dir).count == (point == "linked" ? 1 : 0), "\(name) \(point): \(Self.names(dir))")
            }
            let done = try await CLI.run(args + ["-o", dest])
            #expect(done.status == 0 && FileManager.default.contents(atPath: dest) != old, "\(done.stderr)")
            #expect(Self.hidden(dir).isEmpty, "\(Self.names(dir))")
        }
        #expect(Self.names(dir) == ["m.vggm", "m.safetensors", "m.h5", "p.npy"])
    }

    /// Killed while saving the second checkpoint (each step of it: the next state, the model, the state's
    /// promotion), `--resume` continues from the checkpoint that is there with its own state, and ends with
    /// the same weights as a run never killed.
    @Test func finetuneKilledWhileCheckpointingResumes() async throws {
        let dir = try TestSupport.tempDir()
        let base = dir + "/base.vggm"
        #expect(try await CLI.run(["convert", Self.input, "-o", base]).status == 0)
        let out = dir + "/r.vggm"
        let args = ["finetune", base, "--data", TestSupport.fixture("images/eval"), "-o", out, "--seed", "3", "--input-size", "32",
                    "--head", "8", "--batch-size", "4", "--validation-split", "0", "--epochs", "3"]
        let whole = try await CLI.run(args)
        #expect(whole.status == 0, "\(whole.stderr)")
        let expected = try TestSupport.tensorBits(out)
        let normal: Set = ["base.vggm", "r.vggm", "r.vggm.history.csv", "r.vggm.report.json", "r.vggm.state.json", "r.vggm.state.npy"]
        #expect(Self.names(dir) == normal)
        // (point, the epoch whose checkpoint is there after the kill; the first checkpoint is a new file, so
        // the first rename is the second checkpoint's)
        let points = [("filled,r.vggm.state.next.npy,2", 1), ("filling,r.vggm.state.next.json,2", 1), ("created,r.vggm,2", 1),
                      ("synced,r.vggm,2", 1), ("linked,r.vggm,2", 1), ("renamed,r.vggm,1", 2), ("renamed,r.vggm,2", 3),
                      ("moved,r.vggm.state.npy,2", 2), ("moved,r.vggm.state.json,2", 2)]
        for (point, epoch) in points {
            for n in Self.names(dir) where n != "base.vggm" { try FileManager.default.removeItem(atPath: dir + "/" + n) }
            #expect(try await Self.kill(args, at: point), "\(point)")
            #expect(try await Self.verifies(out), "\(point)")
            #expect(Self.hidden(dir).count == (point.hasPrefix("linked") ? 1 : 0), "\(point): \(Self.names(dir))")
            // Resuming with nothing left to train still leaves the files of a finished save.
            let settled = try await CLI.run(args.dropLast(2) + ["--epochs", "\(epoch)", "--resume"])
            #expect(settled.status == 0 && Self.names(dir) == normal, "\(point): \(settled.stderr) \(Self.names(dir))")
            let r = try await CLI.run(args + ["--resume"])
            #expect(r.status == 0 && r.stdout.contains("resuming after epoch \(epoch) "), "\(point): \(r.stdout)\(r.stderr)")
            #expect(Self.names(dir) == normal, "\(point): \(Self.names(dir))")
            #expect(try TestSupport.tensorBits(out) == expected, "\(point)")
        }
    }

    // MARK: Full and read-only filesystems (a small tmpfs; needs root)

    static let canMount: Bool = {
        guard getuid() == 0, let dir = try? TestSupport.tempDir() else { return false }
        defer { _ = sh("umount \(dir)"); try? FileManager.default.removeItem(atPath: dir) }
        return sh("mount -t tmpfs -o size=64k tmpfs \(dir)")
    }()

    @discardableResult
    static func sh(_ command: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " 2>/dev/null"]
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// One line on stderr, naming the file.
    static func oneLineError(_ r: CLI.Result, naming file: String, _ words: String) -> Bool {
        let lines = r.stderr.split(separator: "\n")
        return r.status == 1 && lines.count == 1 && lines[0].contains(file) && lines[0].contains(words)
    }

    @Test(.enabled(if: canMount, "needs root and tmpfs mounts (mount -t tmpfs)"))
    func fullAndReadOnlyFilesystemsFailInOneLineLeavingNothing() async throws {
        let dir = try TestSupport.tempDir()
        let mnt = dir + "/mnt"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: false)
        #expect(Self.sh("mount -t tmpfs -o size=256k tmpfs \(mnt)"))
        defer { Self.sh("umount \(mnt)") }
        let dest = mnt + "/m.vggm"
        #expect(try await CLI.run(["convert", Self.input, "-o", dest, "--dtype", "f16"]).status == 0)
        // Full: a filler leaves 8 KB, less than any of these outputs.
        var fs = statvfs()
        #expect(statvfs(mnt, &fs) == 0)
        let free = Int(fs.f_bavail) * Int(fs.f_frsize)
        #expect(FileManager.default.createFile(atPath: mnt + "/filler", contents: Data(count: free - 8192)))
        let full = try await CLI.run(["convert", Self.input, "-o", dest])
        #expect(Self.oneLineError(full, naming: dest, "No space left on device"), "\(full.stderr)")
        let export = try await CLI.run(["export", dest, "--to", "safetensors", "-o", mnt + "/m.safetensors"])
        #expect(Self.oneLineError(export, naming: mnt + "/m.safetensors", "No space left on device"), "\(export.stderr)")
        let h5 = try await CLI.run(["export", dest, "--to", "keras-h5", "-o", mnt + "/m.h5"])
        #expect(Self.oneLineError(h5, naming: mnt + "/m.h5", "No space left on device"), "\(h5.stderr)")
        #expect(Self.names(mnt) == ["m.vggm", "filler"])
        #expect(try await Self.verifies(dest) && Self.dtype(dest) == .f16)
        // Read-only.
        try FileManager.default.removeItem(atPath: mnt + "/filler")
        #expect(Self.sh("mount -o remount,ro \(mnt)"))
        let ro = try await CLI.run(["convert", Self.input, "-o", dest])
        #expect(Self.oneLineError(ro, naming: dest, "Read-only file system"), "\(ro.stderr)")
        let roExport = try await CLI.run(["export", dest, "--to", "safetensors", "-o", mnt + "/m.safetensors"])
        #expect(Self.oneLineError(roExport, naming: mnt + "/m.safetensors", "Read-only file system"), "\(roExport.stderr)")
        #expect(Self.names(mnt) == ["m.vggm"])
        #expect(try await Self.verifies(dest) && Self.dtype(dest) == .f16)
    }
}
