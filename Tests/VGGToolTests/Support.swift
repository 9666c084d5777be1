import Foundation
import HDF5
import KerasImport
import ModelFile
import ModelGraph
import Runtime
import VGGTool

/// Paths and helpers shared by the tests.
enum TestSupport {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Fixtures")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static func golden(_ name: String) throws -> String {
        try String(contentsOfFile: fixtures.appendingPathComponent("summaries/\(name)").path, encoding: .utf8)
    }

    /// A fresh temporary directory.
    static func tempDir() throws -> String {
        let dir = scratchRoot + "/\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The folder every `tempDir()` of this test process is made in (`vggtool-tests-pid<PID>` in the temporary
    /// directory), removed when the process exits, so that tests need not clean up after themselves (full-size
    /// VGG16 files are 0.5 GB each); folders of test processes that died are removed by the next run.
    static let scratchRoot: String = {
        let tmp = FileManager.default.temporaryDirectory.path, prefix = "vggtool-tests-pid"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: tmp + "/" + name)
            }
        }
        let root = tmp + "/" + prefix + "\(getpid())"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestSupport.scratchRoot) }
        return root
    }()

    /// Converts a Keras file and opens the result.
    static func convertAndOpen(_ input: String, options: KerasFile.Options = .init(), dtype: TensorDType = .f32) throws -> VGGMFile {
        let out = try tempDir() + "/model.vggm"
        _ = try convert(input: input, output: out, options: options, dtype: dtype)
        return try VGGMFile(path: out)
    }

    static func config(_ name: String) throws -> String {
        try String(contentsOfFile: fixture(name), encoding: .utf8)
    }

    /// A NumPy array from Fixtures/goldens (inputs, and what Keras or ONNX Runtime computed).
    static func tensor(_ name: String) throws -> Tensor { try NumPy.read(path: fixture("goldens/\(name)")) }

    /// Largest |a - b| relative to the largest |b| (outputs near zero do not make the check meaningless).
    /// The arrays must have the same length.
    static func relativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        precondition(a.count == b.count, "comparing \(a.count) values with \(b.count)")
        let scale = max(b.map { abs($0) }.max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    /// Every tensor of a `.vggm` by name, as float32 bit patterns, for bit-for-bit comparisons.
    static func tensorBits(_ file: VGGMFile) -> [String: [UInt32]] {
        var d: [String: [UInt32]] = [:]
        for t in file.manifest.tensors { d[t.name] = file.floats(t.name)!.map(\.bitPattern) }
        return d
    }

    /// `tensorBits` of the `.vggm` at `path`.
    static func tensorBits(_ path: String) throws -> [String: [UInt32]] { tensorBits(try VGGMFile(path: path)) }

    static func files(in dir: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    }

    /// Writes a Keras HDF5 model with the project's writer.
    static func writeKeras(_ path: String, graph: ModelGraph, layout: KerasH5Writer.Layout = .fullModel, fixed: Bool = false,
                           split: Int = 64_512, seed: UInt64 = 1) throws {
        try KerasH5Writer.write(path: path, graph: graph, layout: layout, fixedLengthNames: fixed, splitAttributesOver: split) { layer, spec in
            seededWeights(layer: layer, spec: spec, seed: seed)
        }
    }
}

/// Runs the built `vggtool` binary.
enum CLI {
    /// The `vggtool` of the same build as the tests: beside the test bundle in the build directory
    /// (`.build/<triple>/debug/`), never another configuration's or a stale copy; `VGGTOOL_TEST_BINARY`
    /// overrides it (the sanitizer runs).
    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["VGGTOOL_TEST_BINARY"] { return b }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // The test executable sits in the build directory, or inside a bundle there (…/X.xctest/Contents/MacOS).
        while dir.path != "/" && !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("vggtool").path) {
            if dir.lastPathComponent.hasSuffix(".build") || dir.path == TestSupport.root.path { break }
            dir.deleteLastPathComponent()
        }
        let path = dir.appendingPathComponent("vggtool").path
        precondition(FileManager.default.isExecutableFile(atPath: path),
                     "no vggtool binary beside the tests (\(CommandLine.arguments[0])): build it with `swift build --build-tests`")
        return path
    }()

    /// `seconds`: the child's own time, from just before the binary is exec'd to its last write to stdout or
    /// stderr, taken from file times. Not the time until this process sees the exit: that is late whenever
    /// the cooperative pool, where swift-subprocess delivers it, is busy with other (synchronous) tests,
    /// by 12 s under AddressSanitizer.
    struct Result { var status: Int32; var stdout: String; var stderr: String; var signaled = false; var timedOut = false; var seconds = 0.0 }

    /// At most one run of the binary per core at a time: the tests are async, so nothing else bounds how many
    /// start together (the hostile corpus alone would start 151), and a run's time should be its own, as the
    /// corpus's time bounds assume.
    static let slots = Slots(ProcessInfo.processInfo.activeProcessorCount)

    actor Slots {
        private var free: Int
        private var waiting: [CheckedContinuation<Void, Never>] = []
        init(_ count: Int) { free = max(1, count) }

        func acquire() async {
            if free > 0 { free -= 1; return }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
        }
    }

    /// Runs the binary; with `memoryKB`, under that address-space limit (ulimit -v). Spawned through /bin/sh by
    /// ChildProcess (swift-subprocess; Foundation's Process can miss a child's exit under AddressSanitizer and
    /// hang). The child's stdout and stderr go to temporary files (no pipe to fill up). A run past `timeout`
    /// seconds is killed, so a hang fails its test instead of stalling the suite.
    /// `launcher`, when given, runs the binary through it (`["mpirun", "-n", "2"]`: the launcher, then the
    /// binary and `args`).
    static func run(_ args: [String], cwd: String? = nil, memoryKB: Int? = nil, env: [String: String] = [:], timeout: Double = 600,
                    launcher: [String] = []) async throws -> Result {
        let scratch = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let outPath = scratch + "/stdout", errPath = scratch + "/stderr", startPath = scratch + "/start"
        // $0 = the binary; with a working directory, $1 = that directory (shifted away before exec).
        var script = cwd == nil ? "" : "cd \"$1\" || exit 125; shift; "
        if let memoryKB { script += "ulimit -v \(memoryKB); " }
        script += ": >\"$VGGTOOL_TEST_START\"; exec \"$0\" \"$@\" >\"$VGGTOOL_TEST_OUT\" 2>\"$VGGTOOL_TEST_ERR\""
        let command = launcher.isEmpty ? [binary] + args : launcher + [binary] + args
        let argv = ["/bin/sh", "-c", script, command[0]] + (cwd.map { [$0] } ?? []) + command.dropFirst()
        var environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        // The binary's measured convolution choices go to this test process's scratch, not the user's cache.
        if env["XDG_CACHE_HOME"] == nil { environment["XDG_CACHE_HOME"] = TestSupport.scratchRoot + "/cache" }
        environment["VGGTOOL_TEST_OUT"] = outPath
        environment["VGGTOOL_TEST_ERR"] = errPath
        environment["VGGTOOL_TEST_START"] = startPath
        await slots.acquire()
        let status: ChildProcess.Status
        do { status = try await ChildProcess.run(argv, environment: environment, timeout: timeout) } catch {
            await slots.release()
            throw error
        }
        await slots.release()
        func modified(_ path: String) -> Date? { (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date }
        var seconds = 0.0
        if let start = modified(startPath), let end = [modified(outPath), modified(errPath)].compactMap({ $0 }).max() {
            seconds = max(0, end.timeIntervalSince(start))
        }
        let o = FileManager.default.contents(atPath: outPath) ?? Data()
        let e = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(status: status.signal ?? status.code ?? -1, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self),
                      signaled: status.signal != nil, timedOut: status.timedOut, seconds: seconds)
    }
}
