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
            FileManager.default.createFile(atPath: p, contents: Data(json.utf8))
            configFile = p
            args += ["--config", p]
        }
        defer { if let configFile { try? FileManager.default.removeItem(atPath: configFile) } }
        // ulimit -v (KB) and -t (CPU seconds), then exec the probe; its output is not needed. (Sanitizer builds
        // reserve terabytes of shadow address space: VGGTOOL_PROBE_NO_MEMORY_LIMIT drops the -v limit there.)
        let memory = ProcessInfo.processInfo.environment["VGGTOOL_PROBE_NO_MEMORY_LIMIT"] == nil ? "ulimit -v \(memoryBytes / 1024); " : ""
        // posix_spawn + waitpid (not Foundation's Process, whose exit monitoring can miss a child's end).
        let argv = ["/bin/sh", "-c", "\(memory)ulimit -t \(cpuSeconds); exec \"$0\" \"$@\" >/dev/null 2>&1", exe] + args
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", nil, nil, &cargs, environ) == 0 else { return }  // cannot isolate: parse in process
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return }
        }
        let signal = status & 0x7F
        if signal != 0 && signal != 0x7F {
            let what = signal == SIGXCPU ? "took over \(cpuSeconds) s of CPU" : signal == SIGKILL ? "was killed (memory or time limit)" : "crashed (signal \(signal))"
            throw ToolError(path, "libhdf5 \(what) while reading the file's structure in an isolated process: the file is malformed or hostile; refused")
        }
        let code = (status >> 8) & 0xFF
        // The shell reports 128 + N when the exec'd probe died of signal N after a failed exec path.
        if code > 128 {
            throw ToolError(path, "libhdf5 failed hard (status \(code)) while reading the file's structure in an isolated process: the file is malformed or hostile; refused")
        }
    }

    /// The probe's work, in the child: everything the import reads except tensor data.
    public static func runProbe(_ path: String, options: KerasFile.Options) throws {
        if ProcessInfo.processInfo.environment["VGGTOOL_PROBE_SIMULATE_CRASH"] != nil { abort() }  // for tests
        _ = try KerasFile(path: path, options: options)
    }
}
