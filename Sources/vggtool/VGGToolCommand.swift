import ArgumentParser
import CVGGSupport
import Foundation
import KerasImport
import ModelFile
import Training
import VGGTool

/// The root command: its subcommands, one per file in this folder, parse and check their options, call the
/// library (the VGGTool target holds each command's work) and print what it returns or reports.
@main
struct VGGToolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vggtool",
        abstract: "Convert, inspect and verify Keras models (VGG16 and friends) without Python.",
        version: vggtoolVersion,
        subcommands: [Convert.self, Summary.self, Inspect.self, Verify.self, Export.self, Predict.self, Evaluate.self, Bench.self, Quantize.self,
                      Finetune.self, Dataset.self, Demo.self, Graph.self, Report.self, Probe.self,
                      CollectiveBench.self]
    )

    /// Starts the command. First, glibc's allocator is told to serve every allocation of 1 MB or more with its
    /// own mapping, returned to the system when freed: by default the threshold rises to the size of the
    /// largest block freed (up to 32 MB), after which the batches' arrays come from the heap and stay resident
    /// once freed (about 0.1 GB retained in a fine-tuning run; docs/training.md).
    /// With `VGGTOOL_PEAK_RSS_FILE` set, the process's peak resident memory (VmHWM, in kB) is written to that
    /// file at exit: for the tests and benchmarks that check memory stays bounded (no `time` tool needed).
    /// OpenBLAS's worker threads, started when it was loaded, are stopped: the runtime splits its work itself
    /// and runs OpenBLAS on one thread, and until they went to sleep they spun on sched_yield, taking about
    /// 0.1 s of CPU from the command (on two cores, from convert's SHA-256 of the source).
    static func main() {
        _ = vgg_set_mmap_threshold(1 << 20)
        vgg_blas_stop_idle_threads()
        if ProcessInfo.processInfo.environment["VGGTOOL_PEAK_RSS_FILE"] != nil { atexit(writePeakRSS) }
        main(nil)
    }

    /// Untrusted HDF5 files are first parsed by this binary in an isolated child process (see `HDF5Isolation`);
    /// the commands that read Keras files pass this. `VGGTOOL_NO_ISOLATION=1` turns it off;
    /// `VGGTOOL_PROBE_NO_MEMORY_LIMIT=1` drops the probe's address-space limit (sanitizer builds reserve
    /// terabytes of shadow address space).
    static let isolation: HDF5Isolation? = {
        let env = ProcessInfo.processInfo.environment
        guard env["VGGTOOL_NO_ISOLATION"] == nil else { return nil }
        return HDF5Isolation(executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
                             memoryBytes: env["VGGTOOL_PROBE_NO_MEMORY_LIMIT"] == nil ? 4 << 30 : nil)
    }()

    /// Runs a command's body, printing an error as one line on stderr and exiting with status 1. A body
    /// that `writesFiles` runs with the interruption handler installed (see `Interruption`).
    static func guarded(writesFiles: Bool = false, _ body: () throws -> Void) throws {
        if writesFiles { Interruption.install() }
        do { try body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch {
            FileHandle.standardError.write(Data("vggtool: error: \(message(for: error))\n".utf8))
            throw ExitCode(1)
        }
    }

    /// An error's one-line message, with this program's option names where the library names a concept.
    static func message(for error: Error) -> String {
        switch error {
        case let e as UnknownArchitectureError: return e.message(architecture: "--arch NAME", config: "--config model.json")
        case let e as FineTuneError: return e.message(naming: Finetune.flag(e.setting))
        default: return "\(error)"
        }
    }
}

/// Ctrl-C, SIGTERM or SIGHUP while a command writes files: the hidden temporary names of unfinished writes
/// (`TemporaryFiles.process`; unnamed O_TMPFILE files need nothing, the kernel frees them) are removed, one
/// line says so, and the process exits with 128 + the signal (docs/durability.md).
/// Installed by the command, not by the library that writes the files.
enum Interruption {
    /// Set in a rank of an MPI job: the handler cleans up but prints nothing (the launcher stopping the
    /// ranks after one failed has already said why).
    nonisolated(unsafe) static var quiet = false
    nonisolated(unsafe) private static let sources: [DispatchSourceSignal] = {
        let queue = DispatchQueue(label: "vggtool.signals")
        return [SIGINT, SIGTERM, SIGHUP].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                TemporaryFiles.process.removeAll()
                if !quiet { FileHandle.standardError.write(Data("vggtool: interrupted; no output written\n".utf8)) }
                exit(128 + sig)
            }
            source.resume()
            return source
        }
    }()

    /// Installs the handlers (once).
    static func install() { _ = sources }
}

/// Writes VmHWM (kB) to `VGGTOOL_PEAK_RSS_FILE` (see `VGGToolCommand.main()`).
private func writePeakRSS() {
    guard let path = ProcessInfo.processInfo.environment["VGGTOOL_PEAK_RSS_FILE"],
          let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return }
    let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
    try? "\(kb)\n".write(toFile: path, atomically: false, encoding: .utf8)
}
