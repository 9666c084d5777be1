import CVGGSupport
import Foundation
import ModelGraph

#if canImport(Glibc)
import Glibc
#endif

/// A tensor to write: its name (`layer/weight`), shape, and a closure that fills float32 values.
public struct TensorPayload {
    public var name: String
    public var shape: [Int]
    public let fill: (UnsafeMutableBufferPointer<Float>) throws -> Void

    public init(name: String, shape: [Int], fill: @escaping (UnsafeMutableBufferPointer<Float>) throws -> Void) {
        self.name = name
        self.shape = shape
        self.fill = fill
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// What a write produced.
public struct WriteStats: Sendable {
    public var bytes: Int
    public var tensors: Int
}

/// Writes `.vggm` files atomically: everything goes to a temporary file beside the destination, which is
/// fsync'd and renamed over it only when complete. An error, Ctrl-C or SIGTERM removes the temporary file,
/// so a failed write never leaves a partial file. Tensor bytes are produced directly into the mapped file
/// (no intermediate copy for float32).
public enum VGGMWriter {
    public static func write(to path: String, graph: ModelGraph, inputShape: [Int?], preprocessing: Preprocessing?,
                             classNames: [String]?, provenance: Provenance, tensors: [TensorPayload],
                             dtype: TensorDType = .f32) throws -> WriteStats {
        // Layout.
        var entries: [TensorEntry] = []
        var offset = 0
        var names = Set<String>()
        for t in tensors {
            precondition(names.insert(t.name).inserted, "duplicate tensor \(t.name)")
            let length = t.elementCount * dtype.size
            entries.append(TensorEntry(name: t.name, dtype: dtype, shape: t.shape, offset: offset, length: length, crc32c: 0))
            offset = VGGMFormat.alignUp(offset + length)
        }
        let dataLength = offset
        let dataOffset = VGGMFormat.headerSize

        let temp = try TemporaryFile(destination: path)
        defer { temp.discard() }
        let fd = temp.fd
        let fail = { (what: String) -> ModelFileError in ModelFileError(file: path, "\(what) failed: \(String(cString: strerror(errno)))") }
        guard ftruncate(fd, off_t(dataOffset + dataLength)) == 0 else { throw fail("allocating \(dataOffset + dataLength) bytes") }

        if dataLength > 0 {
            // Map from 0 (offsets must be page-aligned); tensors start at dataOffset.
            let mapped = dataOffset + dataLength
            guard let map = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
                throw fail("mapping the output")
            }
            defer { munmap(map, mapped) }
            let base = map + dataOffset
            var scratch: [Float] = []
            for (i, t) in tensors.enumerated() {
                let e = entries[i]
                let dst = base + e.offset
                switch dtype {
                case .f32:
                    let buf = UnsafeMutableBufferPointer(start: dst.bindMemory(to: Float.self, capacity: t.elementCount), count: t.elementCount)
                    try t.fill(buf)
                case .f16, .bf16:
                    if scratch.count < t.elementCount { scratch = [Float](repeating: 0, count: t.elementCount) }
                    try scratch.withUnsafeMutableBufferPointer { s in
                        let view = UnsafeMutableBufferPointer(rebasing: s[0..<t.elementCount])
                        try t.fill(view)
                        let out = dst.bindMemory(to: UInt16.self, capacity: t.elementCount)
                        if dtype == .f16 { vgg_f32_to_f16(view.baseAddress, out, t.elementCount) } else { vgg_f32_to_bf16(view.baseAddress, out, t.elementCount) }
                    }
                }
                entries[i].crc32c = VGGMFormat.crc32c(UnsafeRawBufferPointer(start: dst, count: e.length))
            }
        }

        // Manifest after the data, then the header.
        let manifest = ModelManifest(graph: graph, inputShape: inputShape, preprocessing: preprocessing, classNames: classNames,
                                     provenance: provenance, tensors: entries)
        let manifestBytes = try ManifestCodec.encode(manifest)
        let manifestOffset = dataOffset + dataLength
        let fileLength = manifestOffset + manifestBytes.count
        try pwriteAll(fd, manifestBytes, at: manifestOffset, path: path)
        let header = makeHeader(dataOffset: dataOffset, dataLength: dataLength, manifestOffset: manifestOffset,
                                manifestLength: manifestBytes.count, fileLength: fileLength,
                                manifestCRC: manifestBytes.withUnsafeBytes { VGGMFormat.crc32c($0) })
        try pwriteAll(fd, header, at: 0, path: path)
        try temp.commit()
        return WriteStats(bytes: fileLength, tensors: tensors.count)
    }

    static func makeHeader(dataOffset: Int, dataLength: Int, manifestOffset: Int, manifestLength: Int, fileLength: Int, manifestCRC: UInt32) -> [UInt8] {
        var h = VGGMFormat.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { h += $0 } }
        put(VGGMFormat.major); put(VGGMFormat.minor); put(UInt32(VGGMFormat.headerSize))
        put(UInt64(dataOffset)); put(UInt64(dataLength))
        put(UInt64(manifestOffset)); put(UInt64(manifestLength))
        put(UInt64(fileLength)); put(manifestCRC)
        let crc = h.withUnsafeBytes { VGGMFormat.crc32c($0) }
        put(crc)
        precondition(h.count == VGGMFormat.headerSize)
        return h
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelFileError(file: path, "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}

/// A temporary file beside a destination, renamed over it by `commit()`, removed by `discard()` or when
/// the process is interrupted (SIGINT, SIGTERM, SIGHUP) while it exists.
public final class TemporaryFile: @unchecked Sendable {
    public let path: String
    public let destination: String
    public let fd: Int32
    private var committed = false

    public init(destination: String) throws {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ModelFileError(file: destination, "output directory '\(dir)' does not exist")
        }
        let candidate = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        InterruptCleanup.shared.register(candidate)
        let fd = open(candidate, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            InterruptCleanup.shared.unregister(candidate)
            throw ModelFileError(file: destination, "cannot create a file in '\(dir)': \(String(cString: strerror(errno)))")
        }
        self.path = candidate
        self.fd = fd
    }

    /// fsync, close, rename over the destination, fsync the directory.
    public func commit() throws {
        guard fsync(fd) == 0 else { throw ModelFileError(file: destination, "fsync failed: \(String(cString: strerror(errno)))") }
        guard rename(path, destination) == 0 else {
            throw ModelFileError(file: destination, "cannot replace the file: \(String(cString: strerror(errno)))")
        }
        committed = true
        InterruptCleanup.shared.unregister(path)
        let dir = open(URL(fileURLWithPath: destination).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
        if dir >= 0 { fsync(dir); close(dir) }
    }

    public func discard() {
        close(fd)
        if !committed {
            unlink(path)
            InterruptCleanup.shared.unregister(path)
        }
        committed = true
    }

    deinit { if !committed { discard() } }
}

/// Removes registered temporary files when the process is interrupted, then exits with 128 + signal.
public final class InterruptCleanup: @unchecked Sendable {
    public static let shared = InterruptCleanup()
    private let lock = NSLock()
    private var paths = Set<String>()
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "vggtool.signals")

    private init() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            src.setEventHandler { [unowned self] in
                self.lock.lock()
                for p in self.paths { unlink(p) }
                self.lock.unlock()
                FileHandle.standardError.write(Data("vggtool: interrupted; no output written\n".utf8))
                exit(128 + sig)
            }
            src.resume()
            sources.append(src)
        }
    }

    func register(_ path: String) { lock.lock(); paths.insert(path); lock.unlock() }
    func unregister(_ path: String) { lock.lock(); paths.remove(path); lock.unlock() }
}
