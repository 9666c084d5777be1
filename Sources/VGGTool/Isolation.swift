import CVGGSupport
import Foundation
import KerasImport

/// Runs libhdf5's parsing of an untrusted Keras file in a child process first, under memory and CPU
/// limits, so that a crash or runaway inside libhdf5 on a malformed file becomes a one-line error instead of
/// taking vggtool down. The child (`vggtool _probe`) walks everything the import reads except tensor data:
/// the file's structure, attributes, config and every weight dataset's header. Only when it exits cleanly
/// does the parent parse the file itself. Enabled by the `vggtool` executable (which sets `executable`);
/// library callers parse in process. `VGGTOOL_NO_ISOLATION=1` turns it off.
public enum HDF5Isolation {
    /// The vggtool binary to run as the probe; nil = no isolation.
    nonisolated(unsafe) public static var executable: String?
    /// Limits for the probe.
    public static let memoryBytes: UInt64 = 4 << 30
    public static let cpuSeconds: UInt64 = 30

    /// Probes `path` in a child process when isolation is on. Throws a one-line error when the child dies by
    /// a signal or exceeds its limits; returns normally when it exits with any status (an ordinary import
    /// error is then reported by the in-process parse, with the same message).
    public static func probe(_ path: String, options: KerasFile.Options) throws {
        guard let exe = executable, ProcessInfo.processInfo.environment["VGGTOOL_NO_ISOLATION"] == nil else { return }
        var args = ["_probe", path]
        if let a = options.architecture { args += ["--arch", a.rawValue] }
        var configFile: String?
        if let json = options.configJSON {
            let p = NSTemporaryDirectory() + "/vggtool-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json"
            _ = FileManager.default.createFile(atPath: p, contents: Data(json.utf8))  // if it fails, the probe reports it as the parse would
            configFile = p
            args += ["--config", p]
        }
        defer { if let configFile { try? FileManager.default.removeItem(atPath: configFile) } }
        // ulimit -v (KB) and -t (CPU seconds), then exec the probe; its output is not needed. (Sanitizer builds
        // reserve terabytes of shadow address space: VGGTOOL_PROBE_NO_MEMORY_LIMIT drops the -v limit there.)
        let memory = ProcessInfo.processInfo.environment["VGGTOOL_PROBE_NO_MEMORY_LIMIT"] == nil ? "ulimit -v \(memoryBytes / 1024); " : ""
        let argv = ["/bin/sh", "-c", "\(memory)ulimit -t \(cpuSeconds); exec \"$0\" \"$@\" >/dev/null 2>&1", exe] + args
        // The Swift runtime's crash backtracer is of no use in the probe (its output is discarded), slow, and
        // itself crashes under AddressSanitizer (which then turns the probe's signal into exit status 1).
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        guard let status = try? ChildProcess.run(argv, environment: environment) else { return }  // cannot isolate: parse in process
        if let signal = status.signal {
            let what = signal == SIGXCPU ? "took over \(cpuSeconds) s of CPU" : signal == SIGKILL ? "was killed (memory or time limit)" : "crashed (signal \(signal))"
            throw ToolError(path, "libhdf5 \(what) while reading the file's structure in an isolated process: the file is malformed or hostile; refused")
        }
        // The shell reports 128 + N when the exec'd probe died of signal N after a failed exec path.
        if let code = status.code, code > 128 {
            throw ToolError(path, "libhdf5 failed hard (status \(code)) while reading the file's structure in an isolated process: the file is malformed or hostile; refused")
        }
    }

    /// The probe's work, in the child: everything the import reads except tensor data.
    public static func runProbe(_ path: String, options: KerasFile.Options) throws {
        if ProcessInfo.processInfo.environment["VGGTOOL_PROBE_SIMULATE_CRASH"] != nil { abort() }  // for tests
        _ = try KerasFile(path: path, options: options)
    }
}

/// A child process run to its end: posix_spawn + waitpid, not Foundation's Process (whose exit monitoring can
/// miss a child's end, e.g. under AddressSanitizer). The child inherits no descriptors besides 0, 1 and 2.
public enum ChildProcess {
    public struct Status: Sendable, Equatable {
        /// The exit code, when the child exited.
        public var code: Int32?
        /// The signal that ended the child, when one did.
        public var signal: Int32?
        public init(code: Int32?, signal: Int32?) { self.code = code; self.signal = signal }
    }

    /// Runs `argv[0]` (an absolute path) with `argv` and `environment`, and waits for it to end.
    public static func run(_ argv: [String], environment: [String: String]) throws -> Status {
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cenv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cargs + cenv { free(p) } }
        var pid: Int32 = 0
        let rc = vgg_spawn(&pid, argv[0], &cargs, &cenv)
        guard rc == 0 else { throw ToolError(argv[0], "cannot start a child process: \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw ToolError(argv[0], "cannot wait for a child process: \(String(cString: strerror(errno)))") }
        }
        let signal = status & 0x7F
        return signal == 0 ? Status(code: (status >> 8) & 0xFF, signal: nil) : Status(code: nil, signal: signal)
    }
}
