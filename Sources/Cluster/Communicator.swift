import CMPI
import Foundation

/// A failure of the distributed layer: Open MPI could not be loaded or started, a collective call failed or
/// timed out, or (`failed`) a rank's work failed and every rank was told so.
public struct ClusterError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// libmpi could not be loaded (the message says why).
        case cannotLoad
        /// An MPI call returned this error code.
        case mpi(code: Int32)
        /// A collective call did not complete within the timeout (seconds): some rank stopped taking part.
        case timeout(seconds: Double)
        /// Data too large for one MPI call (more than 2^31 - 1 bytes per rank or in all).
        case tooLarge
        /// Work failed on `rank` (nil: on every rank, the same way, or as rank 0 decided for all).
        case failed(rank: Int?)
    }

    /// What went wrong.
    public var kind: Kind
    /// The operation (`MPI_Iallreduce of 4 floats`) or, for `failed`, the failure's one-line message.
    public var message: String

    /// An error of `kind` with `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// One line: `rank R: message` for a failure on one rank, else the message.
    public var description: String {
        if case .failed(let rank?) = kind { return "rank \(rank): \(message)" }
        return message
    }
}

/// The processes of an MPI job (MPI_COMM_WORLD) as seen from one of them: rank, size, and the collective
/// calls vggtool's distributed commands need. Open MPI is loaded with dlopen by `start` (never linked), so a
/// process that never makes a `Communicator` does not touch MPI at all.
///
/// Every collective is started nonblocking and polled until it completes or `timeout` seconds pass; then it
/// throws `ClusterError.Kind.timeout`, and the caller ends the job with `abort` (a rank that died or hangs
/// can never make the others wait for ever). Sums are MPI_SUM over the ranks: Open MPI's algorithm for a given
/// number of ranks and message size is fixed, so the same job gives the same sums. Calls are made from one
/// thread at a time (MPI_THREAD_SERIALIZED). There is one communicator per process: `start` once, `finish` once.
public final class Communicator: @unchecked Sendable {
    /// This process's rank, 0 ..< size.
    public let rank: Int
    /// Processes in the job.
    public let size: Int
    /// Seconds a collective call may wait for the other ranks before it fails.
    public let timeout: Double
    /// How `agree` words a rank's failure for the others (a program sets its own, e.g. with its flag names;
    /// set it before the first collective).
    public var describeError: @Sendable (Error) -> String = { "\($0)" }
    private var finished = false
    private let trace = ProcessInfo.processInfo.environment["VGGTOOL_MPI_TRACE"] != nil

    /// Loads Open MPI (`library`, default libmpi.so.40), initialises it and joins MPI_COMM_WORLD. Throws
    /// `ClusterError` (`cannotLoad`, `mpi`).
    public static func start(library: String? = nil, timeout: Double = 300) throws -> Communicator {
        var err = [CChar](repeating: 0, count: 512)
        guard vgg_mpi_load(library, &err, err.count) == 0 else {
            throw ClusterError(.cannotLoad, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        var rank: Int32 = 0, size: Int32 = 0
        let rc = vgg_mpi_init(&rank, &size)
        guard rc == 0 else { throw ClusterError(.mpi(code: rc), "MPI_Init_thread: \(errorString(rc))") }
        return Communicator(rank: Int(rank), size: Int(size), timeout: timeout)
    }

    private init(rank: Int, size: Int, timeout: Double) {
        self.rank = rank
        self.size = size
        self.timeout = timeout
    }

    /// MPI_Finalize, after the last collective (once; later calls do nothing).
    public func finish() {
        guard !finished else { return }
        finished = true
        _ = vgg_mpi_finalize()
    }

    /// Ends every rank of the job with `code` (MPI_Abort); the launcher kills the others.
    public func abort(code: Int32 = 1) -> Never {
        vgg_mpi_abort(code)
        exit(code)
    }

    static func errorString(_ code: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 512)
        vgg_mpi_error_string(code, &buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Starts a nonblocking call with `start` and polls it until it completes or the timeout passes.
    private func run(_ what: @autoclosure () -> String, _ start: (UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int32) throws {
        var request: UnsafeMutableRawPointer? = nil
        if trace { FileHandle.standardError.write(Data("[rank \(rank)] \(what())\n".utf8)) }
        let rc = start(&request)
        guard rc == 0 else { throw ClusterError(.mpi(code: rc), "\(what()): \(Self.errorString(rc))") }
        let deadline = Date().addingTimeInterval(timeout)
        var done: Int32 = 0, polls = 0
        while true {
            let t = vgg_mpi_test(&request, &done)
            guard t == 0 else { throw ClusterError(.mpi(code: t), "\(what()): \(Self.errorString(t))") }
            if done != 0 { return }
            polls += 1
            if polls > 64 {
                if Date() > deadline {
                    throw ClusterError(.timeout(seconds: timeout), "\(what()): no answer from every rank within \(Int(timeout)) s (a rank stopped or hangs)")
                }
                usleep(UInt32(min(1000, polls)))
            }
        }
    }

    /// Replaces `values` on every rank by their element-wise sum over the ranks (MPI_Iallreduce, MPI_SUM).
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        guard size > 1, !values.isEmpty else { return }
        guard values.count <= Int(Int32.max) else { throw ClusterError(.tooLarge, "MPI_Iallreduce of \(values.count) floats") }
        try run("MPI_Iallreduce of \(values.count) floats") { vgg_mpi_iallreduce_sum_f32(values.baseAddress, Int32(values.count), $0) }
    }

    /// The element-wise sum of `values` over the ranks, on every rank.
    public func allreduceSum(_ values: [Double]) throws -> [Double] {
        var v = values
        guard size > 1, !v.isEmpty else { return v }
        try v.withUnsafeMutableBufferPointer { b in
            try run("MPI_Iallreduce of \(b.count) doubles") { vgg_mpi_iallreduce_sum_f64(b.baseAddress, Int32(b.count), $0) }
        }
        return v
    }

    /// Every rank's `value`, indexed by rank, on every rank.
    public func allgather(_ value: Int) throws -> [Int] {
        var send = Int64(value)
        var recv = [Int64](repeating: 0, count: size)
        guard size > 1 else { return [value] }
        try recv.withUnsafeMutableBufferPointer { r in
            try run("MPI_Iallgather") { vgg_mpi_iallgather_i64(&send, r.baseAddress, $0) }
        }
        return recv.map { Int($0) }
    }

    /// Every rank's bytes, indexed by rank, on every rank (sizes exchanged first, then MPI_Iallgatherv).
    public func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard size > 1 else { return [bytes] }
        let bytes = [0] + bytes  // never a zero count (see `alltoall`)
        let counts = try allgather(bytes.count)
        let (c32, d32, total) = try layout(counts, "MPI_Iallgatherv")
        var recv = [UInt8](repeating: 0, count: total)
        try bytes.withUnsafeBytes { s in
            try recv.withUnsafeMutableBytes { r in
                try run("MPI_Iallgatherv of \(total) bytes") { vgg_mpi_iallgatherv_bytes(s.baseAddress, Int32(bytes.count), r.baseAddress, c32, d32, $0) }
            }
        }
        return split(recv, counts).map { Array($0.dropFirst()) }
    }

    /// Every rank's bytes, indexed by rank, on rank 0 (nil on the others): sizes, then MPI_Igatherv.
    public func gather(_ bytes: [UInt8]) throws -> [[UInt8]]? {
        guard size > 1 else { return [bytes] }
        let bytes = [0] + bytes  // never a zero count (see `alltoall`)
        let counts = try allgather(bytes.count)
        let (c32, d32, total) = try layout(counts, "MPI_Igatherv")
        var recv = [UInt8](repeating: 0, count: rank == 0 ? total : 0)
        try bytes.withUnsafeBytes { s in
            try recv.withUnsafeMutableBytes { r in
                try run("MPI_Igatherv of \(total) bytes") { vgg_mpi_igatherv_bytes(s.baseAddress, Int32(bytes.count), r.baseAddress, c32, d32, 0, $0) }
            }
        }
        return rank == 0 ? split(recv, counts).map { Array($0.dropFirst()) } : nil
    }

    /// Personalised exchange: `parts[r]` goes to rank r; returns what each rank sent to this one, by rank
    /// (sizes first, then MPI_Ialltoallv).
    public func alltoall(_ parts: [[UInt8]]) throws -> [[UInt8]] {
        precondition(parts.count == size, "one part per rank")
        guard size > 1 else { return parts }
        // Every part starts with one byte: with zero counts, Open MPI 4.1's nonblocking alltoallv can leave a
        // rank with nothing to do out of step with the others, and the next collective never completes (seen:
        // a rank with no images in a batch).
        let parts = parts.map { [0] + $0 }
        // Sizes: every rank's row of send sizes, so each learns what it receives.
        let rows = try allgather(parts.flatMap { withUnsafeBytes(of: Int64($0.count).littleEndian, Array.init) })
        let recvCounts = rows.map { row in row.withUnsafeBytes { Int(Int64(littleEndian: $0.loadUnaligned(fromByteOffset: rank * 8, as: Int64.self))) } }
        let (sc, sd, sendTotal) = try layout(parts.map(\.count), "MPI_Ialltoallv")
        let (rc, rd, recvTotal) = try layout(recvCounts, "MPI_Ialltoallv")
        let send = parts.flatMap { $0 }
        precondition(send.count == sendTotal)
        var recv = [UInt8](repeating: 0, count: recvTotal)
        try send.withUnsafeBytes { s in
            try recv.withUnsafeMutableBytes { r in
                try run("MPI_Ialltoallv of \(sendTotal) bytes") { vgg_mpi_ialltoallv_bytes(s.baseAddress, sc, sd, r.baseAddress, rc, rd, $0) }
            }
        }
        return split(recv, recvCounts).map { Array($0.dropFirst()) }
    }

    /// Waits until every rank has called it (MPI_Ibarrier).
    public func barrier() throws {
        guard size > 1 else { return }
        try run("MPI_Ibarrier") { vgg_mpi_ibarrier($0) }
    }

    /// Runs `body` on every rank and makes its outcome everyone's: when it failed on some rank, every rank
    /// throws `ClusterError.Kind.failed` naming the first such rank and its message (`describeError`; no rank
    /// when every rank failed with the same message). With `decidedBy` set, only that rank's outcome counts
    /// (work only it does, such as writing the output): its failure is thrown on every rank, unnamed. The
    /// error thrown is always `ClusterError` (`failed`), on the failing ranks too: every rank knows the outcome.
    /// Use it around steps where ranks may fail independently, before work that needs all of them.
    public func agree<T>(decidedBy root: Int? = nil, _ body: () throws -> T) throws -> T {
        let result = Result { try body() }
        var message = ""
        if case .failure(let e) = result, root == nil || root == rank { message = describeError(e) }
        let all = try allgather(Array(message.utf8)).map { String(decoding: $0, as: UTF8.self) }
        if let root {
            if !all[root].isEmpty { throw ClusterError(.failed(rank: nil), all[root]) }
        } else if let first = all.firstIndex(where: { !$0.isEmpty }) {
            let same = all.allSatisfy { $0 == all[first] }
            throw ClusterError(.failed(rank: same ? nil : first), all[first])
        }
        return try result.get()
    }

    private func layout(_ counts: [Int], _ what: String) throws -> (counts: [Int32], displs: [Int32], total: Int) {
        var displs: [Int32] = [], at = 0
        for c in counts {
            displs.append(Int32(clamping: at))
            at += c
        }
        guard at <= Int(Int32.max) else { throw ClusterError(.tooLarge, "\(what) of \(at) bytes: more than one MPI call can carry") }
        return (counts.map { Int32($0) }, displs, at)
    }

    private func split(_ bytes: [UInt8], _ counts: [Int]) -> [[UInt8]] {
        var out: [[UInt8]] = [], at = 0
        for c in counts {
            out.append(Array(bytes[at..<(at + c)]))
            at += c
        }
        return out
    }
}
