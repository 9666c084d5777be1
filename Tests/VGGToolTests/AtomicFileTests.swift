import Foundation
import ModelFile
import Testing

/// `AtomicFile` in process: the destination is the old file or the new one and no other name exists until
/// `commit()`; stale hidden names of dead writers are swept, live ones kept. (The kills: CrashConsistencyCLITests.)
@Suite struct AtomicFileTests {
    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func theDestinationIsTheOldFileUntilCommitAndNothingElseIsNamed() throws {
        let dir = try TestSupport.tempDir()
        let dest = dir + "/out.txt"
        try AtomicFile.write(Array("old".utf8), to: dest)
        #expect(Self.contents(dest) == "old" && TestSupport.files(in: dir) == ["out.txt"])
        for unnamed in [true, false] {
            let f = try AtomicFile(destination: dest, unnamed: unnamed)
            #expect(f.isUnnamed == unnamed)
            try f.write(Array("new, longer".utf8), at: 0)
            // Unnamed: the folder shows only the old file; the fallback shows its hidden name too.
            #expect(TestSupport.files(in: dir).filter { !$0.hasPrefix(".") } == ["out.txt"] && Self.contents(dest) == "old")
            #expect(TestSupport.files(in: dir).count == (unnamed ? 1 : 2))
            f.discard()
            #expect(TestSupport.files(in: dir) == ["out.txt"] && Self.contents(dest) == "old")
        }
        for unnamed in [true, false] {
            let f = try AtomicFile(destination: dest, unnamed: unnamed)
            try f.write(Array("new \(unnamed)".utf8), at: 0)
            try f.commit()
            #expect(TestSupport.files(in: dir) == ["out.txt"] && Self.contents(dest) == "new \(unnamed)")
        }
        // A fresh destination, and libhdf5-style access by path (the fallback's hidden name, or /proc/self/fd/N).
        let g = try AtomicFile(destination: dir + "/fresh.bin")
        let h = try #require(FileHandle(forWritingAtPath: g.writablePath))
        h.write(Data("via path".utf8))
        try h.close()
        try g.commit()
        #expect(Self.contents(dir + "/fresh.bin") == "via path" && TestSupport.files(in: dir).sorted() == ["fresh.bin", "out.txt"])
    }

    @Test func fillWritesInPlaceThroughAMapping() throws {
        let dir = try TestSupport.tempDir()
        let f = try AtomicFile(destination: dir + "/mapped.bin")
        try f.fill(count: 10_000) { b in for i in 0..<b.count { b[i] = UInt8(truncatingIfNeeded: i &* 7) } }
        try f.commit()
        let data = try #require(FileManager.default.contents(atPath: dir + "/mapped.bin"))
        #expect(data.count == 10_000 && data.enumerated().allSatisfy { $0.element == UInt8(truncatingIfNeeded: $0.offset &* 7) })
        #expect(TestSupport.files(in: dir) == ["mapped.bin"])
    }

    @Test func errorsNameTheDestinationAndLeaveNothing() throws {
        let dir = try TestSupport.tempDir()
        #expect(throws: ModelFileError.self) { try AtomicFile.write([1], to: dir + "/missing/x.bin") }
        do { try AtomicFile.write([1], to: dir + "/missing/x.bin") } catch let e as ModelFileError {
            #expect(e.kind == .cannotWrite && e.description.hasPrefix(dir + "/missing/x.bin: ") && e.description.contains("does not exist"))
        }
        // A destination that is a folder cannot be replaced: the error names it and nothing is left.
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: false)
        #expect(throws: ModelFileError.self) { try AtomicFile.write([1], to: dir + "/sub") }
        #expect(TestSupport.files(in: dir) == ["sub"])
    }

    @Test func staleHiddenNamesOfDeadWritersAreSwept() throws {
        let dir = try TestSupport.tempDir()
        let dead: Int32 = 99_999_999  // above any pid_max: no such process
        let me = getpid()
        // A writer that is alive holds its lock: its hidden name stays even under a dead PID. (Its creation
        // swept the empty folder: the first write into a folder in a process does.)
        let writer = try AtomicFile(destination: dir + "/w.bin", unnamed: false)
        let stale = ".m.vggm.tmp-\(dead)-12345", live = ".m.vggm.tmp-\(me)-1"
        let notOurs = [".m.vggm.tmp-x-1", "m.vggm.tmp-\(dead)-1", ".m.vggm.tmp-\(dead)-1-2", "keep.txt"]
        for n in [stale, live] + notOurs { #expect(FileManager.default.createFile(atPath: dir + "/" + n, contents: Data("x".utf8))) }
        let locked = ".w.bin.tmp-\(dead)-7"
        #expect(rename(writer.writablePath, dir + "/" + locked) == 0)
        #expect(AtomicFile.sweepStale(in: dir) == [stale])
        #expect(Set(TestSupport.files(in: dir)) == Set([live, locked] + notOurs))
        writer.discard()  // closes: the lock goes with it
        #expect(AtomicFile.sweepStale(in: dir) == [locked])
        #expect(Set(TestSupport.files(in: dir)) == Set([live] + notOurs))
    }
}
