import Foundation
import ModelFile
#if canImport(Glibc)
import Glibc
#endif

/// How many bytes of a run's per-image data (frozen-layer features, decoded training images) stay in
/// process memory; the rest spills to a scratch file (`SpillStore`).
public enum MemoryBudget {
    /// The default budget: a sixty-fourth of the memory the kernel reports available (`MemAvailable` in
    /// /proc/meminfo; the physical memory where that cannot be read), at most 16 MB and at least 4 MB.
    /// Data beyond it is read back from the page cache (or the disk) a batch at a time, which costs little
    /// next to the frozen layers' compute (measured: bench/memory_bench.sh), so a small budget keeps a run's
    /// peak memory flat at any dataset size: 16 MB is 160 images' features at 250x250, or 340 resized images
    /// at 64x64 with augmentation, kept without a scratch file.
    public static var `default`: Int {
        let available = availableBytes() ?? Int(ProcessInfo.processInfo.physicalMemory)
        return min(16 << 20, max(4 << 20, available / 64))
    }

    /// `MemAvailable` from /proc/meminfo, in bytes (nil where it cannot be read).
    public static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    /// Where scratch files go when no folder is given: `$TMPDIR`, else /var/tmp (on disk, where /tmp may be
    /// a RAM-backed tmpfs).
    public static var scratchDirectory: String {
        if let t = ProcessInfo.processInfo.environment["TMPDIR"], !t.isEmpty { return t }
        return "/var/tmp"
    }
}

/// Fixed-size records of `Float`s, appended in order and read back by index in any order: the first
/// `memoryRecords` in memory, the rest in an unnamed scratch file (package-only: the feature cache and the
/// decoded-image store of `FineTuneSession`).
///
/// The scratch file is created unnamed (`open(dir, O_TMPFILE)`, else a `mkstemp` name unlinked at once), so
/// nothing is left behind when the process ends, however it ends. Records are written with `pwrite` and read
/// with `pread`, exactly as stored (bit for bit what was appended), one batch at a time: file pages stay in
/// the kernel's page cache (reclaimable, written back under pressure) instead of counting as the process's
/// resident memory, as a mapping's touched pages would.
package final class SpillStore {
    /// Floats per record.
    package let recordFloats: Int
    /// Records kept in memory (the budget divided by the record's size).
    package let memoryRecords: Int
    /// Folder of the scratch file.
    package let directory: String
    /// Records appended so far.
    package private(set) var count = 0
    /// Records in memory, `chunkRecords` per chunk.
    private var memory: [[Float]] = []
    private let chunkRecords: Int
    private var fd: Int32 = -1

    /// A store keeping at most `budgetBytes` of records in memory; records beyond go to a scratch file in
    /// `directory` (created when first needed).
    package init(recordFloats: Int, budgetBytes: Int, directory: String = MemoryBudget.scratchDirectory) {
        precondition(recordFloats > 0)
        self.recordFloats = recordFloats
        self.memoryRecords = max(0, budgetBytes) / (recordFloats * 4)
        self.chunkRecords = max(1, (4 << 20) / (recordFloats * 4))
        self.directory = directory
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Records in the scratch file.
    package var spilledRecords: Int { max(0, count - memoryRecords) }

    /// Appends one record (`record.count == recordFloats`). Throws `TrainingError(.cannotWrite)` naming the
    /// folder when the scratch file cannot be made or written (a full disk).
    package func append(_ record: UnsafeBufferPointer<Float>) throws {
        precondition(record.count == recordFloats)
        if count < memoryRecords {
            // In chunks of fixed size, each allocated whole: a growing array would copy itself into one twice
            // its size, holding both (3x the data) for a moment.
            if count % chunkRecords == 0 { memory.append([]); memory[memory.count - 1].reserveCapacity(chunkRecords * recordFloats) }
            memory[memory.count - 1].append(contentsOf: record)
        } else {
            if fd < 0 { fd = try Self.scratchFile(in: directory) }
            let bytes = recordFloats * 4
            var offset = (count - memoryRecords) * bytes, done = 0
            let raw = UnsafeRawBufferPointer(record)
            while done < bytes {
                let n = pwrite(fd, raw.baseAddress! + done, bytes - done, off_t(offset))
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    let reason = String(cString: strerror(errno))
                    throw TrainingError(.cannotWrite, file: directory, "cannot write the scratch file of data over the memory budget (\(reason))")
                }
                done += n; offset += n
            }
        }
        count += 1
    }

    /// Appends one record from an array slice.
    package func append(_ record: ArraySlice<Float>) throws {
        try record.withUnsafeBufferPointer { try append($0) }
    }

    /// Copies record `i` into `out` (`recordFloats` floats).
    package func read(_ i: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(i >= 0 && i < count)
        if i < memoryRecords {
            memory[i / chunkRecords].withUnsafeBufferPointer { m in out.update(from: m.baseAddress! + (i % chunkRecords) * recordFloats, count: recordFloats) }
            return
        }
        let bytes = recordFloats * 4
        var offset = (i - memoryRecords) * bytes, done = 0
        let dst = UnsafeMutableRawPointer(out)
        while done < bytes {
            let n = pread(fd, dst + done, bytes - done, off_t(offset))
            if n < 0, errno == EINTR { continue }
            // The file is this process's own, unnamed, written above: a short read is the program's mistake.
            precondition(n > 0, "scratch file read failed: \(String(cString: strerror(errno)))")
            done += n; offset += n
        }
    }

    /// Records `idx`, concatenated in that order.
    package func gather(_ idx: [Int]) -> [Float] {
        [Float](unsafeUninitializedCapacity: idx.count * recordFloats) { buf, n in
            for (j, i) in idx.enumerated() { read(i, into: buf.baseAddress! + j * recordFloats) }
            n = idx.count * recordFloats
        }
    }

    /// An unnamed read-write file in `dir` (`AtomicFile.scratchFile`).
    static func scratchFile(in dir: String) throws -> Int32 {
        do { return try AtomicFile.scratchFile(in: dir) } catch let e as ModelFileError {
            throw TrainingError(.cannotWrite, file: dir, "cannot keep data over the memory budget here (\(e.message))")
        }
    }
}
