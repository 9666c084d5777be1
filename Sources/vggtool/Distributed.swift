import ArgumentParser
import Cluster
import Foundation

/// `--distributed`, shared by the commands that can run as an MPI job (evaluate, predict, finetune).
struct DistributedOptions: ParsableArguments {
    @Flag(help: ArgumentHelp("Run as one rank of an MPI job even when no launcher is detected (mpirun and srun are detected by their environment; see docs/distributed.md).",
                             discussion: "No progress bars are drawn (a rank's output is the launcher's pseudo-terminal). Each rank uses its share of the machine's cores (cores / ranks on the machine). VGGTOOL_MPI_TIMEOUT (seconds, default 300) bounds how long a rank waits for the others in a collective call before the job is ended."))
    var distributed = false
}

extension VGGToolCommand {
    /// The MPI job this process is a rank of: launched by mpirun or srun (their environment says so) or
    /// `force`d; nil otherwise, and then MPI is neither loaded nor initialised.
    static func cluster(force: Bool) throws -> (Communicator, Launch)? {
        let env = ProcessInfo.processInfo.environment
        guard let launch = Launch.detect(environment: env) ?? (force ? Launch(rank: 0, size: 1, localSize: 1, source: "--distributed") : nil) else {
            return nil
        }
        let timeout = env["VGGTOOL_MPI_TIMEOUT"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 300
        do {
            let comm = try Communicator.start(library: env["VGGTOOL_LIBMPI"], timeout: timeout)
            comm.describeError = { message(for: $0) }
            return (comm, launch)
        } catch {
            FileHandle.standardError.write(Data("vggtool: error: rank \(launch.rank) of \(launch.size): \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Runs a command's body as `guarded` does, or, as a rank of an MPI job (`cluster`), with the
    /// communicator and the rank's share of the cores (worker threads). A failure every rank knows of
    /// (`ClusterError` `failed`, from `Communicator.agree`) is printed once, by rank 0, and every rank ends with
    /// status 1 after MPI_Finalize; any other failure is this rank's own while the others may be waiting for
    /// it: it is printed as one line naming the rank, and MPI_Abort ends the job (the launcher stops the other
    /// ranks within seconds).
    static func guardedDistributed(force: Bool, writesFiles: Bool = false, _ body: (_ comm: Communicator?, _ threads: Int?) throws -> Void) throws {
        guard let (comm, launch) = try cluster(force: force) else {
            return try guarded(writesFiles: writesFiles) { try body(nil, nil) }
        }
        Interruption.quiet = true  // a rank stopped by the launcher (another rank failed) says nothing more
        if writesFiles { Interruption.install() }
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, launch.localSize))
        do {
            try injectFault(comm)
            try body(comm, threads)
            comm.finish()
        } catch let e as ClusterError where e.isAgreedFailure {
            if comm.rank == 0 { FileHandle.standardError.write(Data("vggtool: error: \(e)\n".utf8)) }
            comm.finish()
            throw ExitCode(1)
        } catch {
            // Ranks other than 0 report a moment later: a failure every rank meets at once is reported once.
            if comm.rank != 0 { usleep(300_000) }
            FileHandle.standardError.write(Data("vggtool: error: rank \(comm.rank) of \(comm.size): \(message(for: error))\n".utf8))
            comm.abort(code: 1)
        }
    }

    /// Runs what rank 0 alone does (print, write) and makes its failure every rank's; in a single process, the
    /// body.
    static func onRankZero(_ comm: Communicator?, _ body: () throws -> Void) throws {
        guard let comm else { return try body() }
        try comm.agree(decidedBy: 0) { if comm.rank == 0 { try body() } }
    }

    /// Tests' fault injection: `VGGTOOL_MPI_FAULT=RANK:error|hang|kill` makes that rank fail with an error,
    /// stop answering (sleep) or die by SIGKILL before its work starts.
    static func injectFault(_ comm: Communicator) throws {
        guard let spec = ProcessInfo.processInfo.environment["VGGTOOL_MPI_FAULT"] else { return }
        let parts = spec.split(separator: ":")
        guard parts.count == 2, Int(parts[0]) == comm.rank else { return }
        switch parts[1] {
        case "error": throw InjectedFault(message: "injected fault (VGGTOOL_MPI_FAULT)")
        case "hang": while true { sleep(60) }
        case "kill": kill(getpid(), SIGKILL)
        default: return
        }
    }

    struct InjectedFault: Error, CustomStringConvertible { var message: String; var description: String { message } }
}

extension ClusterError {
    /// A failure `Communicator.agree` made every rank's.
    var isAgreedFailure: Bool { if case .failed = kind { return true } else { return false } }
}

extension VGGToolCommand {
    /// bench/distributed_bench.sh's probe of the interconnect: the time of the collectives a data-parallel
    /// step makes, for a gradient of `--floats` float32 values (the head's size) and `--bytes` exchanged.
    struct CollectiveBench: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "_collective-bench",
                                                        abstract: "(internal) time MPI_Iallreduce and MPI_Ialltoallv as finetune makes them.",
                                                        shouldDisplay: false)
        @Option(help: "Gradient size in float32 values.") var floats: Int = 31_000_000
        @Option(help: "Bytes each rank sends to every other rank per step (the features it holds of their parts of a batch).") var bytes: Int = 1 << 20
        @Option(help: "Repetitions (the median is printed).") var repeats: Int = 10

        func run() throws {
            try VGGToolCommand.guardedDistributed(force: true) { comm, _ in
                guard let comm else { return }
                var grad = [Float](repeating: 1, count: floats)
                func median(_ body: () throws -> Void) throws -> Double {
                    var times: [Double] = []
                    for _ in 0..<max(1, repeats) {
                        try comm.barrier()
                        let t0 = Date()
                        try body()
                        times.append(Date().timeIntervalSince(t0))
                    }
                    let all = try comm.allreduceSum([times.sorted()[times.count / 2]])
                    return all[0] / Double(comm.size)
                }
                let allreduce = try median { try grad.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) } }
                let parts = (0..<comm.size).map { $0 == comm.rank ? [UInt8]() : [UInt8](repeating: 7, count: bytes) }
                let alltoall = try median { _ = try comm.alltoall(parts) }
                try VGGToolCommand.onRankZero(comm) {
                    print(String(format: "ranks %d  allreduce %d floats (%.1f MB): %.4f s  alltoall %d bytes per pair: %.4f s",
                                 comm.size, floats, Double(floats) * 4 / 1e6, allreduce, bytes, alltoall))
                }
            }
        }
    }
}
