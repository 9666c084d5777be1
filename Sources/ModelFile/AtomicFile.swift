import CVGGSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one way vggtool writes a file: the destination is always either the complete old file or the
/// complete new one, and a process killed at any moment (SIGKILL, the OOM killer) leaves no other name
/// behind. docs/durability.md states the guarantees; in short:
///
/// - On Linux the data goes into an unnamed file in the destination's folder (`open(dir, O_TMPFILE)`).
///   `commit()` fsyncs it, gives it its name with `linkat` (through `/proc/self/fd/N`, else `AT_EMPTY_PATH`)
///   and fsyncs the folder. A destination that exists is replaced by linking a hidden temporary name
///   (`.NAME.tmp-PID-RANDOM`) and renaming it over the destination: a kill between the two leaves that
///   name, the one window where a name can be left.
/// - Where the filesystem lacks O_TMPFILE (or /proc is missing), the data goes into the hidden temporary
///   name from the start, as before: fsync, rename, fsync of the folder.
/// - Every hidden temporary name is write-locked (an open-file-description lock, released by the kernel when
///   the process dies) and carries its writer's PID. The first write into a folder in a process removes the
///   folder's temporary names whose lock is free and whose process is gone (`sweepStale(in:)`).
/// - While a hidden name exists it is listed in a `TemporaryFiles` registry (`.process` by default), so a
///   program that catches SIGINT/SIGTERM can remove it (`TemporaryFiles.removeAll()`).
///
/// Libraries and commands use it for every file they write: `AtomicFile.write(_:to:)` for bytes in memory;
/// `init`, `write(_:at:)` (or `fd` inside this package, or `writablePath` for a C library that writes by path)
/// and `commit()` for files produced piece by piece. `discard()` (or deinit) drops an uncommitted file.
public final class AtomicFile: @unchecked Sendable {
    /// How much a completed write survives.
    public enum Durability: Sendable {
        /// fsync of the file before it is named and of the folder after: survives a power cut (the default).
        case powerLoss
        /// No fsync: survives the process being killed, not necessarily a power cut or a crash of the
        /// machine (for caches, whose entries are checked when read).
        case processDeath
    }

    /// The path the file gets on `commit()`.
    public let destination: String
    /// The open descriptor (read-write), owned by this object and closed by `commit()` or `discard()`.
    package let fd: Int32
    /// Whether the data sits in an unnamed (O_TMPFILE) file, false when a hidden temporary name is used.
    public let isUnnamed: Bool
    /// A path through which a library that writes by path (libhdf5) reaches this file: `/proc/self/fd/N`
    /// for an unnamed file, else the hidden temporary name. Open it without O_EXCL; valid until `commit()`.
    public let writablePath: String

    private let directory: String
    private let name: String
    private let dirFD: Int32
    private let registry: TemporaryFiles
    private let durability: Durability
    /// The hidden temporary name while it exists (from creation in the fallback, from the link when
    /// replacing an existing destination).
    private var temporaryName: String?
    private var finished = false

    /// Creates the file that will become `destination` (unnamed where possible; `unnamed: false` uses the
    /// hidden temporary name, the fallback). Throws `ModelFileError` (`.cannotWrite`) naming the destination
    /// when its folder does not exist or no file can be made in it.
    public init(destination: String, registry: TemporaryFiles = .process, durability: Durability = .powerLoss, unnamed: Bool = true) throws {
        let url = URL(fileURLWithPath: destination)
        self.destination = destination
        self.directory = url.deletingLastPathComponent().path
        self.name = url.lastPathComponent
        self.registry = registry
        self.durability = durability
        let dir = directory
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else {
            let what = errno == ENOENT || errno == ENOTDIR ? "output folder '\(dir)' does not exist" : "cannot open the output folder '\(dir)': \(String(cString: strerror(errno)))"
            throw ModelFileError(file: destination, .cannotWrite, what)
        }
        self.dirFD = dirFD
        Self.sweepOnce(dir)
        var fd: Int32 = -1
        var failure = EOPNOTSUPP  // why there is no unnamed file
        if unnamed && !TestPause.noUnnamedFiles {
            fd = vgg_open_tmpfile(dir, 0o644)
            if fd < 0 { failure = errno }
        }
        if fd >= 0, access("/proc/self/fd/\(fd)", F_OK) != 0 {
            close(fd)  // no /proc: linkat would need privileges
            fd = -1
        }
        if fd >= 0 {
            isUnnamed = true
            writablePath = "/proc/self/fd/\(fd)"
        } else {
            // No O_TMPFILE here (old kernel: EISDIR; filesystem: EOPNOTSUPP or EINVAL): the fallback.
            guard failure == EOPNOTSUPP || failure == EISDIR || failure == EINVAL else {
                let e = String(cString: strerror(failure))
                close(dirFD)
                throw ModelFileError(file: destination, .cannotWrite, "cannot create a file in '\(dir)': \(e)")
            }
            let temp = Self.temporaryName(for: name)
            registry.register(dir + "/" + temp)
            fd = openat(dirFD, temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                let e = String(cString: strerror(errno))
                registry.unregister(dir + "/" + temp)
                close(dirFD)
                throw ModelFileError(file: destination, .cannotWrite, "cannot create a file in '\(dir)': \(e)")
            }
            isUnnamed = false
            temporaryName = temp
            writablePath = dir + "/" + temp
        }
        self.fd = fd
        _ = vgg_lock_fd(fd)  // advisory: tells sweepStale the writer is alive (also through a later link)
        reached(.created)
    }

    /// An unnamed read-write scratch file in `directory` (created if missing), never given a name: O_TMPFILE,
    /// else (a filesystem without it) a hidden `mkstemp` name unlinked at once. The kernel frees it when its
    /// descriptor closes, so no kill leaves it behind. The caller owns and closes the descriptor. Throws
    /// `ModelFileError` (`.cannotWrite`) naming the folder when no file can be made in it.
    package static func scratchFile(in directory: String) throws -> Int32 {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw ModelFileError(file: directory, .cannotWrite, "cannot create the folder for scratch files")
        }
        if !TestPause.noUnnamedFiles {
            let fd = vgg_open_tmpfile(directory, 0o600)
            if fd >= 0 { return fd }
            guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
                throw ModelFileError(file: directory, .cannotWrite, "cannot create a scratch file: \(String(cString: strerror(errno)))")
            }
        }
        var template = Array((directory + "/.vggtool-scratch-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw ModelFileError(file: directory, .cannotWrite, "cannot create a scratch file: \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Fails early (before long work) when no file can be created at `destination`: its folder is missing or
    /// not writable. Sweeps the folder's stale hidden names (as the first write into it would).
    public static func checkWritable(_ destination: String) throws {
        let dir = URL(fileURLWithPath: destination).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ModelFileError(file: destination, .cannotWrite, "output folder '\(dir)' does not exist")
        }
        guard access(dir, W_OK) == 0 else {
            throw ModelFileError(file: destination, .cannotWrite, "output folder '\(dir)' is not writable: \(String(cString: strerror(errno)))")
        }
        sweepOnce(dir)
    }

    /// Writes `bytes` to `destination` as one atomic write (see the type's documentation).
    public static func write(_ bytes: [UInt8], to destination: String, registry: TemporaryFiles = .process,
                             durability: Durability = .powerLoss) throws {
        let f = try AtomicFile(destination: destination, registry: registry, durability: durability)
        defer { f.discard() }
        try bytes.withUnsafeBytes { b in
            let half = b.count / 2
            try f.write(UnsafeRawBufferPointer(rebasing: b[0..<half]), at: 0)
            f.reached(.filling)
            try f.write(UnsafeRawBufferPointer(rebasing: b[half...]), at: half)
        }
        try f.commit()
    }

    /// Renames the file at `source` to `destination` (replacing it atomically; both in one folder), then
    /// fsyncs the folder: for files written through `AtomicFile` under a staging name and given their final
    /// name later. Throws `ModelFileError` (`.cannotWrite`) naming the destination.
    public static func move(_ source: String, to destination: String) throws {
        guard rename(source, destination) == 0 else {
            throw ModelFileError(file: destination, .cannotWrite, "cannot rename '\(source)' to it: \(String(cString: strerror(errno)))")
        }
        let dir = open(URL(fileURLWithPath: destination).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        TestPause.reached(.moved, destination: URL(fileURLWithPath: destination).lastPathComponent)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    /// Writes `bytes` at byte `offset` of the file (all of them, retrying short writes). Throws
    /// `ModelFileError` (`.cannotWrite`) with the system's reason (a full disk: "No space left on device").
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelFileError(file: destination, .cannotWrite, "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Sets the file's length to `count` bytes and lets `body` write them in place, through a shared mapping
    /// of the file (no copy in memory). The bytes are reserved on disk first (fallocate), so a full disk is an
    /// error here rather than a SIGBUS in `body`; where the filesystem cannot reserve, `body` fills a buffer
    /// that is then written. Throws `ModelFileError` (`.cannotWrite`); `body`'s errors are passed on.
    public func fill(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard count > 0 else { return try body(UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        let r = posix_fallocate(fd, 0, off_t(count))
        if r == EOPNOTSUPP || r == EINVAL {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
            defer { buffer.deallocate() }
            try body(buffer)
            reached(.filling)
            return try write(UnsafeRawBufferPointer(buffer), at: 0)
        }
        guard r == 0 else { throw ModelFileError(file: destination, .cannotWrite, "allocating \(count) bytes failed: \(String(cString: strerror(r)))") }
        guard ftruncate(fd, off_t(count)) == 0 else {
            throw ModelFileError(file: destination, .cannotWrite, "allocating \(count) bytes failed: \(String(cString: strerror(errno)))")
        }
        guard let m = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), m != MAP_FAILED else {
            throw ModelFileError(file: destination, .cannotWrite, "mapping \(count) bytes failed: \(String(cString: strerror(errno)))")
        }
        defer { munmap(m, count) }
        try body(UnsafeMutableRawBufferPointer(start: m, count: count))
        reached(.filling)
    }

    /// Writes `bytes` at byte `offset` of the file (see `write(_:at:)` above).
    public func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Makes the file the destination: fsync (with `.powerLoss`), link (or rename) into place, fsync of
    /// the folder. After it returns the destination is the new file; before, it is the old one (or absent).
    /// Throws `ModelFileError` (`.cannotWrite`); the destination is then untouched and nothing is left.
    public func commit() throws {
        precondition(!finished, "commit() after commit() or discard()")
        reached(.filled)
        func fail(_ what: String) -> ModelFileError {
            ModelFileError(file: destination, .cannotWrite, "\(what): \(String(cString: strerror(errno)))")
        }
        if durability == .powerLoss {
            guard fsync(fd) == 0 else { throw fail("fsync failed") }
        }
        reached(.synced)
        if isUnnamed {
            if vgg_link_fd(fd, dirFD, name) == 0 {
                reached(.linked)
            } else {
                guard errno == EEXIST else { throw fail("cannot name the file") }
                // Replacing: link a hidden name, rename it over the destination.
                let temp = Self.temporaryName(for: name)
                registry.register(directory + "/" + temp)
                temporaryName = temp
                guard vgg_link_fd(fd, dirFD, temp) == 0 else {
                    let e = fail("cannot name the file")
                    registry.unregister(directory + "/" + temp)
                    temporaryName = nil
                    throw e
                }
                reached(.linked)
            }
        }
        if let temp = temporaryName {
            guard renameat(dirFD, temp, dirFD, name) == 0 else { throw fail("cannot replace the file") }
            registry.unregister(directory + "/" + temp)
            temporaryName = nil
            reached(.renamed)
        }
        finished = true
        close(fd)
        if durability == .powerLoss { fsync(dirFD) }  // the name's durability; the file's own data is already synced
        close(dirFD)
    }

    /// Closes and removes the file (unless committed); safe to call more than once.
    public func discard() {
        guard !finished else { return }
        finished = true
        if let temp = temporaryName {
            unlinkat(dirFD, temp, 0)
            registry.unregister(directory + "/" + temp)
            temporaryName = nil
        }
        close(fd)
        close(dirFD)
    }

    deinit { discard() }

    // MARK: Stale temporary names

    /// A hidden temporary name beside `name`: `.NAME.tmp-PID-RANDOM`.
    static func temporaryName(for name: String) -> String {
        ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// The PID in a hidden temporary name (`.NAME.tmp-PID-RANDOM`), nil for any other name.
    static func writerPID(ofTemporaryName n: String) -> Int32? {
        guard n.hasPrefix("."), let r = n.range(of: ".tmp-", options: .backwards) else { return nil }
        let parts = n[r.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              UInt32(parts[1]) != nil, let pid = Int32(parts[0]), pid > 0 else { return nil }
        return pid
    }

    /// Removes the hidden temporary names (`.NAME.tmp-PID-RANDOM`, regular files) in `directory` left by
    /// writers that died: those whose write lock is free and whose PID names no live process. Returns the
    /// names removed. Errors (an unreadable folder, a name that vanished) are ignored.
    @discardableResult
    public static func sweepStale(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for n in names {
            guard let pid = writerPID(ofTemporaryName: n) else { continue }
            let path = directory + "/" + n
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var st = stat()
            let regular = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            let locked = vgg_lock_held(fd) == 1
            close(fd)
            guard regular, !locked else { continue }
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            if unlink(path) == 0 { removed.append(n) }
        }
        return removed
    }

    nonisolated(unsafe) private static var swept = Set<String>()
    private static let sweptLock = NSLock()

    /// `sweepStale(in:)` on the first write into `directory` in this process.
    private static func sweepOnce(_ directory: String) {
        sweptLock.lock()
        let first = swept.insert(directory).inserted
        sweptLock.unlock()
        if first { sweepStale(in: directory) }
    }

    // MARK: Test hook

    /// The named points of a write, where the test-only hook can stop the process (see `TestPause`).
    package enum Point: String, Sendable {
        /// The file exists (unnamed, or under its temporary name), empty.
        case created
        /// About half the data is written (`fill(count:_:)`: all of it, in the mapping).
        case filling
        /// All data is written, not yet fsynced.
        case filled
        /// The file's data is fsynced, the file not yet named.
        case synced
        /// The file has a name: the destination (new destination) or the hidden temporary name (replacing).
        case linked
        /// The hidden temporary name was renamed over the destination; the folder is not yet fsynced.
        case renamed
        /// `AtomicFile.move` renamed a file to its destination; the folder is not yet fsynced.
        case moved
    }

    /// Calls the test-only hook at `point` of this write.
    package func reached(_ point: Point) { TestPause.reached(point, destination: name) }
}

/// Hooks for the crash tests, inert unless their environment variables are set (test-only; docs/durability.md):
/// - `VGGTOOL_TEST_PAUSE_AT=POINT[,NAME[,N]]` stops the process at `POINT` (an `AtomicFile.Point`) of the
///   `N`th write (default 1st) whose destination's file name is `NAME` (default: any). There it writes
///   "POINT PID" to the file named by `VGGTOOL_TEST_PAUSE_MARK` (when set) and sleeps forever, for the test
///   to SIGKILL it.
/// - `VGGTOOL_TEST_NO_TMPFILE=1` makes every write use the fallback (hidden temporary names), as on a
///   filesystem without O_TMPFILE.
package enum TestPause {
    static let noUnnamedFiles = ProcessInfo.processInfo.environment["VGGTOOL_TEST_NO_TMPFILE"] == "1"
    static let spec: (point: String, name: String?, nth: Int)? = {
        guard let s = ProcessInfo.processInfo.environment["VGGTOOL_TEST_PAUSE_AT"], !s.isEmpty else { return nil }
        let p = s.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return (p[0], p.count > 1 && !p[1].isEmpty ? p[1] : nil, p.count > 2 ? Int(p[2]) ?? 1 : 1)
    }()
    nonisolated(unsafe) static var seen = 0
    static let lock = NSLock()

    static func reached(_ point: AtomicFile.Point, destination name: String) {
        guard let spec, spec.point == point.rawValue, spec.name == nil || spec.name == name else { return }
        lock.lock()
        seen += 1
        let hit = seen == spec.nth
        lock.unlock()
        guard hit else { return }
        if let mark = ProcessInfo.processInfo.environment["VGGTOOL_TEST_PAUSE_MARK"] {
            let fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 {
                let text = Array("\(point.rawValue) \(getpid())\n".utf8)
                _ = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
        while true { sleep(1000) }
    }
}

/// The writer's former name (before it became crash-consistent), kept for callers written against it.
@available(*, deprecated, renamed: "AtomicFile")
public typealias TemporaryFile = AtomicFile

extension AtomicFile {
    /// The former name of `writablePath`.
    @available(*, deprecated, renamed: "writablePath")
    public var path: String { writablePath }
}

/// The hidden temporary names that exist right now, for the caller's interruption handling. The library
/// never installs signal handlers or exits: a program that wants an interrupted write to leave nothing
/// behind handles the signal itself and calls `removeAll()` on the registry its writers use (`.process`,
/// the default of every writer in this library, unless it passed its own). Unnamed (O_TMPFILE) files need
/// no handling: the kernel frees them when the process ends.
public final class TemporaryFiles: @unchecked Sendable {
    /// The registry every writer uses unless given another.
    public static let process = TemporaryFiles()
    private let lock = NSLock()
    private var paths = Set<String>()

    /// An empty registry (for callers that want their own instead of `.process`).
    public init() {}

    /// The paths currently registered.
    public var current: [String] { lock.lock(); defer { lock.unlock() }; return Array(paths) }

    /// Unlinks every registered file (as an interruption handler would) and forgets them; returns how many.
    @discardableResult
    public func removeAll() -> Int {
        lock.lock(); defer { lock.unlock() }
        for p in paths { unlink(p) }
        defer { paths.removeAll() }
        return paths.count
    }

    func register(_ path: String) { lock.lock(); paths.insert(path); lock.unlock() }
    func unregister(_ path: String) { lock.lock(); paths.remove(path); lock.unlock() }
}
