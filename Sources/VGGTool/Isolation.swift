import Foundation
import ModelFile
import HDF5
import KerasImport
import ModelGraph
import Subprocess
import SystemPackage

/// How to parse an untrusted Keras file's HDF5 structure in a child process first, under memory and CPU
/// limits, so that a crash or runaway inside libhdf5 on a malformed file becomes a one-line error instead of
/// taking vggtool down. The child (`vggtool _probe`) walks everything the import reads except tensor data:
/// the file's structure, attributes, config and every weight dataset's header. Only when it exits cleanly
/// does the parent parse the file itself.
///
/// The `vggtool` executable builds one for itself and passes it to `convert`, `loadAnalysis` and
/// `Inspector.inspect`; library callers pass none (the default) and parse in process.
public struct HDF5Isolation: Sendable {
    /// The vggtool binary to run as the probe (`executable _probe FILE`).
    public var executable: String
    /// Address-space limit of the probe, in bytes (`ulimit -v`); nil for none (sanitizer builds reserve
    /// terabytes of shadow address space).
    public var memoryBytes: UInt64?
    /// CPU limit of the probe, in seconds. The probe walks metadata only: full VGG16 with top takes about
    /// 30 ms (release build), so 10 s is generous; SIGXCPU comes at this soft limit, SIGKILL 2 s later.
    public var cpuSeconds: UInt64
    /// Wall-clock limit, in seconds: a probe blocked rather than spinning (a stalled file system) is killed
    /// after this.
    public var wallSeconds: Double

    /// A probe configuration: `executable` is the vggtool binary; the defaults are 4 GiB of address space,
    /// 10 CPU seconds and 60 wall-clock seconds.
    public init(executable: String, memoryBytes: UInt64? = 4 << 30, cpuSeconds: UInt64 = 10, wallSeconds: Double = 60) {
        self.executable = executable
        self.memoryBytes = memoryBytes
        self.cpuSeconds = cpuSeconds
        self.wallSeconds = wallSeconds
    }

    /// Probes `path` in a child process, blocking the calling thread meanwhile: call it from a thread of your
    /// own (as the `vggtool` commands, on the main thread), not from Swift's cooperative pool, where it throws
    /// (`ChildProcess.runBlocking`). Throws a one-line error when the child dies by a signal or exceeds
    /// its limits; returns normally when it exits with any status (an ordinary import error is then reported
    /// by the in-process parse, with the same message). Returns the options for that parse: after a clean
    /// probe, the structural check that ran beside it is not repeated.
    public func probe(_ path: String, options: KerasFile.Options) throws -> KerasFile.Options {
        if InputFile.notRegular(path) != nil { return options }  // nothing for libhdf5 to parse; the import refuses it
        guard ChildProcess.canBlock else {
            throw ToolError(path, .cannotRunChild, "cannot isolate libhdf5's parse while blocking a thread of Swift's cooperative pool: call from a thread of your own, or without isolation")
        }
        var args = ["_probe", path]
        if let a = options.architecture { args += ["--arch", a.rawValue] }
        // The config goes to the probe in a file that only ever has a hidden temporary name (AtomicFile's,
        // never committed): removed when done, and swept by a later probe's if this process is killed. If it
        // cannot be made, the probe reports the missing file as the parse would.
        var configFile: AtomicFile?
        if let json = options.configJSON {
            let f = try? AtomicFile(destination: NSTemporaryDirectory() + "/vggtool-probe-config.json", unnamed: false)
            try? f?.write(Array(json.utf8), at: 0)
            configFile = f
            args += ["--config", f?.writablePath ?? NSTemporaryDirectory() + "/vggtool-probe-config.json"]
        }
        defer { configFile?.discard() }
        // ulimit -v (KB) and -t (CPU seconds, soft then hard), then exec the probe; its output is not needed.
        let memory = memoryBytes.map { "ulimit -v \($0 / 1024); " } ?? ""
        let argv = ["/bin/sh", "-c", "exec >/dev/null 2>&1; \(memory)ulimit -S -t \(cpuSeconds); ulimit -H -t \(cpuSeconds + 2); exec \"$0\" \"$@\"", executable] + args
        // The Swift runtime's crash backtracer is of no use in the probe (its output is discarded), slow, and
        // itself crashes under AddressSanitizer (which then turns the probe's signal into exit status 1).
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        // The probe does no linear algebra: no OpenBLAS worker threads spinning beside the parent's work.
        environment["OPENBLAS_NUM_THREADS"] = "1"
        // Meanwhile this process runs the structural checks libhdf5 lacks (HDF5File.checkStructure, our own
        // code): when they find the file corrupt, the probe is stopped and their message reported at once,
        // instead of after libhdf5 spins to the CPU limit or crashes. When the probe ends first and cleanly,
        // the scan is cancelled: libhdf5 got through the file, and the parse that follows skips the scan.
        let scan = StructureScan(path)
        defer { scan.cancel() }
        guard let status = try? ChildProcess.runBlocking(argv, environment: environment, timeout: wallSeconds, stop: { scan.failure != nil }) else {
            return options  // cannot isolate: parse in process (with the structural checks)
        }
        // (Only a failed probe consults the scan, so a file libhdf5 parses cleanly is accepted every time.)
        if status.signal != nil || (status.code ?? 0) > 128, let failure = scan.finish() { throw ToolError(path, .refusedByProbe(.corrupt), failure) }
        if let signal = status.signal {
            let what = status.timedOut ? "did not finish within \(Int(wallSeconds)) s"
                : signal == SIGXCPU ? "took over \(cpuSeconds) s of CPU" : signal == SIGKILL ? "was killed (memory or time limit)" : "crashed (signal \(signal))"
            let failure: ToolError.ProbeFailure = status.timedOut ? .timedOut
                : signal == SIGXCPU ? .cpuLimit : signal == SIGKILL ? .killed : .crashed(signal: signal)
            throw ToolError(path, .refusedByProbe(failure), "the isolated HDF5 parser \(what) while reading the file's structure: the file is malformed or hostile; refused")
        }
        // The shell reports 128 + N when the exec'd probe died of signal N after a failed exec path.
        if let code = status.code, code > 128 {
            throw ToolError(path, .refusedByProbe(.failedHard(status: code)), "the isolated HDF5 parser failed hard (status \(code)) while reading the file's structure: the file is malformed or hostile; refused")
        }
        var parse = options
        if status.code == 0 { parse.checkStructure = false }
        return parse
    }

    /// The probe's work, in the child: everything the import reads except tensor data. The parent runs the
    /// structural checks alongside, so the child skips them.
    public static func runProbe(_ path: String, options: KerasFile.Options) throws {
        if ProcessInfo.processInfo.environment["VGGTOOL_PROBE_SIMULATE_CRASH"] != nil { abort() }  // for tests
        var options = options
        options.checkStructure = false
        _ = try KerasFile(path: path, options: options)
    }
}

/// A child process run to its end, through swift-subprocess (posix_spawn, exit monitored with a pidfd), not
/// Foundation's Process (whose exit monitoring can miss a child's end, e.g. under AddressSanitizer). The
/// child inherits descriptors 0, 1 and 2 and no others, its signal dispositions reset and mask cleared.
package enum ChildProcess {
    package struct Status: Sendable, Equatable {
        /// The exit code, when the child exited.
        package var code: Int32?
        /// The signal that ended the child, when one did.
        package var signal: Int32?
        /// True when the child was killed for running past its wall-clock timeout.
        package var timedOut: Bool
        package init(code: Int32?, signal: Int32?, timedOut: Bool = false) { self.code = code; self.signal = signal; self.timedOut = timedOut }
    }

    /// Runs `argv[0]` (an absolute path) with `argv` and `environment`, and waits for it to end; after
    /// `timeout` seconds of wall-clock time, or as soon as `stop` returns true (polled every 2 ms), kills it
    /// (SIGKILL, reported as its signal). Cancelling the calling task kills it too.
    package static func run(_ argv: [String], environment: [String: String], timeout: Double? = nil,
                           stop: (@Sendable () -> Bool)? = nil) async throws -> Status {
        enum Outcome: Sendable { case ended(TerminationStatus), late, stopped }
        let inherited = (input: FileDescriptor.standardInput, output: FileDescriptor.standardOutput, error: FileDescriptor.standardError)
        let outcome: (TerminationStatus, timedOut: Bool)
        do {
            outcome = try await withThrowingTaskGroup(of: Outcome.self) { group in
                group.addTask {
                    .ended(try await Subprocess.run(
                        .path(FilePath(argv[0])), arguments: Arguments(Array(argv.dropFirst())),
                        // NUL-terminated: swift-subprocess 1.0.2 strdup()s each raw entry as it is, so without
                        // the terminator it reads past the bytes (children saw other variables' tails).
                        environment: .custom(environment.map { Array("\($0.key)=\($0.value)".utf8) + [0] }),
                        input: .fileDescriptor(inherited.input, closeAfterSpawningProcess: false),
                        output: .fileDescriptor(inherited.output, closeAfterSpawningProcess: false),
                        error: .fileDescriptor(inherited.error, closeAfterSpawningProcess: false)).terminationStatus)
                }
                if timeout != nil || stop != nil {
                    // The watchdog: when it returns first, cancelling the run kills the child (SIGKILL).
                    group.addTask {
                        let deadline = timeout.map { ContinuousClock.now + .nanoseconds(Int64($0 * 1e9)) }
                        while true {
                            if let deadline, ContinuousClock.now >= deadline { return .late }
                            if stop?() == true { return .stopped }
                            if stop == nil, let deadline { try await Task.sleep(until: deadline) } else { try await Task.sleep(for: .milliseconds(2)) }
                        }
                    }
                }
                var timedOut = false
                while let next = try await group.next() {
                    switch next {
                    case .ended(let status):
                        group.cancelAll()
                        return (status, timedOut)
                    case .late:
                        timedOut = true
                        group.cancelAll()
                    case .stopped:
                        group.cancelAll()
                    }
                }
                throw CancellationError()  // unreachable: the run always ends the group
            }
        } catch let error as SubprocessError {
            throw ToolError(argv[0], .cannotRunChild, "cannot run a child process: \(error)")
        }
        switch outcome.0 {
        case .exited(let code): return Status(code: code, signal: nil)
        case .signaled(let signal): return Status(code: nil, signal: signal, timedOut: outcome.timedOut)
        }
    }

    /// False on a thread of Swift's cooperative pool (inside a task, off the main thread), where `runBlocking`
    /// refuses to wait.
    package static var canBlock: Bool { Thread.isMainThread || withUnsafeCurrentTask(body: { $0 == nil }) }

    /// `run`, blocking the calling thread until the child ends. For synchronous callers on a thread of their
    /// own (the `vggtool` executable's main thread): the child is run and watched by tasks on Swift's
    /// cooperative pool, so a caller blocking a thread of that pool could starve them. Such a caller (one
    /// inside a task, off the main thread) gets an error instead of a hang; it should `await run`.
    package static func runBlocking(_ argv: [String], environment: [String: String], timeout: Double? = nil,
                                   stop: (@Sendable () -> Bool)? = nil) throws -> Status {
        guard canBlock else {
            throw ToolError(argv[0], .cannotRunChild, "cannot wait for a child process by blocking a thread of Swift's cooperative pool (call the async ChildProcess.run)")
        }
        let completion = Completion<Status>()
        Task.detached {
            do { completion.finish(.success(try await run(argv, environment: environment, timeout: timeout, stop: stop))) } catch {
                completion.finish(.failure(error))
            }
        }
        return try completion.wait()
    }
}

/// A result handed from a task to a thread waiting for it.
private final class Completion<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Value, any Error>?
    private let done = DispatchSemaphore(value: 0)

    func finish(_ result: Result<Value, any Error>) {
        lock.withLock { self.result = result }
        done.signal()
    }

    func wait() throws -> Value {
        done.wait()
        return try lock.withLock { result! }.get()
    }
}

/// HDF5File.checkStructure on a thread of its own (not Dispatch's pool, which Swift's cooperative pool shares
/// threads with on Linux: the probe's run waits for it), cancellable, its failure readable from any thread.
final class StructureScan: @unchecked Sendable {
    private let lock = NSLock()
    private var _failure: String?
    private var cancelled = false
    private let done = DispatchSemaphore(value: 0)

    init(_ path: String) {
        Thread {
            do { try HDF5File.checkStructure(path: path, cancelled: { self.lock.withLock { self.cancelled } }) } catch let e as HDF5Error {
                self.lock.withLock { self._failure = e.message }
            } catch {}
            self.done.signal()
        }.start()
    }

    /// The scan's message once it has found the file corrupt.
    var failure: String? { lock.withLock { _failure } }
    /// Waits for the scan to end; its message, if the file is corrupt.
    func finish() -> String? { done.wait(); done.signal(); return failure }
    func cancel() { lock.withLock { cancelled = true } }
}
