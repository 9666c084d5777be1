import CVGGSupport
import Foundation
import ModelGraph

#if canImport(Glibc)
import Glibc
#endif

/// A tensor to write: its name (`layer/weight`), shape, and a closure that fills float32 values.
public struct TensorPayload {
    /// `layer/weight`, the tensor's name in the manifest.
    public var name: String
    /// Shape as Keras holds it (HWIO convolution kernels, (in, units) dense kernels), row-major.
    public var shape: [Int]
    /// Writes the tensor's `elementCount` float32 values, row-major, into the buffer it is given.
    public let fill: (UnsafeMutableBufferPointer<Float>) throws -> Void
    /// Little-endian float32 bytes of this tensor in another file (path, offset): read from that file with
    /// pread when the output is float32, instead of calling `fill`.
    public var rawLocation: (path: String, offset: Int)?
    /// The values already in memory: written from the array itself when the output is float32 (no scratch
    /// copy), through `fill` otherwise.
    public var values: [Float]?
    /// Int8 values (format 1.3, a quantized kernel): written as `i8` whatever the file's dtype, instead of `fill`.
    public var int8: [Int8]?
    /// Written as float32 whatever the file's dtype (scales of int8 kernels).
    public var keepsFloat32 = false

    /// A tensor to write; `fill` is called once, unless `rawLocation` lets the bytes be copied.
    public init(name: String, shape: [Int], rawLocation: (path: String, offset: Int)? = nil, fill: @escaping (UnsafeMutableBufferPointer<Float>) throws -> Void) {
        self.name = name
        self.shape = shape
        self.rawLocation = rawLocation
        self.fill = fill
    }

    /// A tensor whose values are in memory (`elementCount` floats, row-major).
    public init(name: String, shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(name): \(values.count) values for shape \(shape)")
        self.init(name: name, shape: shape) { dst in _ = dst.update(from: values) }
        self.values = values
    }

    /// A quantized kernel's int8 values (`elementCount` of them, row-major), stored as `i8`.
    public init(name: String, shape: [Int], int8: [Int8]) {
        precondition(int8.count == shape.reduce(1, *), "\(name): \(int8.count) values for shape \(shape)")
        self.init(name: name, shape: shape) { _ in }
        self.int8 = int8
    }

    /// Number of elements (not bytes): the product of `shape`.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// What a write produced.
public struct WriteStats: Sendable {
    /// Bytes in the written file (header, data section and manifest).
    public var bytes: Int
    /// Number of tensors written.
    public var tensors: Int
}

/// Writes `.vggm` files through `AtomicFile`: the tensors go into an unnamed file in the destination's
/// folder (a hidden temporary one where the filesystem lacks O_TMPFILE), which is fsync'd and named only when
/// complete, so the destination is always the complete old file or the complete new one, and an error or a
/// kill leaves nothing behind (docs/durability.md). Float32 tensors from a raw source are read at their offset and written in 1 MB steps.
public enum VGGMWriter {
    /// Writes a `.vggm` file at `path` (atomically): `graph` with `tensors`, stored as `dtype` (float16 and
    /// bfloat16 round to nearest even); tensor names must be unique, and `VGGMFile` refuses a file that
    /// lacks a weight the graph implies. `inputShape` is (H, W, C), nil for a free size. Throws
    /// `ModelFileError` naming the file when the destination cannot be written or a raw source is short; a
    /// `fill` closure's error is passed on. Nothing is left at `path` on failure.
    public static func write(to path: String, graph: ModelGraph, inputShape: [Int?], preprocessing: Preprocessing?,
                             classNames: [String]?, provenance: Provenance, tensors: [TensorPayload],
                             dtype: TensorDType = .f32) throws -> WriteStats {
        try write(to: path, graph: graph, inputShape: inputShape, preprocessing: preprocessing, classNames: classNames,
                  provenance: { provenance }, tensors: tensors, dtype: dtype)
    }

    /// As above, with the provenance produced after the tensors are written (so a source hash computed
    /// concurrently need not be waited for first). `progress`, when given, is called on the calling thread with
    /// the tensor bytes written so far and their total, after each tensor (and each 8 MB slice of a large one).
    public static func write(to path: String, graph: ModelGraph, inputShape: [Int?], preprocessing: Preprocessing?,
                             classNames: [String]?, provenance makeProvenance: () throws -> Provenance, tensors: [TensorPayload],
                             dtype: TensorDType = .f32, progress: ((_ bytesDone: Int, _ bytesTotal: Int) -> Void)? = nil) throws -> WriteStats {
        let prepared = try prepare(to: path, graph: graph, inputShape: inputShape, preprocessing: preprocessing, classNames: classNames,
                                   provenance: makeProvenance, tensors: tensors, dtype: dtype, progress: progress)
        return try prepared.commit()
    }

    /// A `.vggm` file whose bytes are all written but which is not yet durable nor named: `commit()` makes it
    /// the destination (fsync, then the name), `discard()` (or deinit) drops it. It holds no reference to the
    /// tensors it was written from.
    public final class Prepared: @unchecked Sendable {
        let file: AtomicFile
        /// What `commit()` returns.
        public let stats: WriteStats

        init(file: AtomicFile, stats: WriteStats) {
            self.file = file
            self.stats = stats
        }

        /// Makes the file the destination (`AtomicFile.commit()`). Throws `ModelFileError` naming it.
        @discardableResult
        public func commit() throws -> WriteStats {
            try file.commit()
            return stats
        }

        /// Drops the file; the destination is untouched.
        public func discard() { file.discard() }
    }

    /// The first half of `write`: every byte written (in the page cache), nothing made durable or named yet.
    /// Once it returns the tensors' arrays may change; `commit()` on the result does the rest. A writer that
    /// has other files to write before this one is named (a checkpoint and its state) releases its in-memory
    /// data this way before the fsyncs, which take much longer than the copies.
    public static func prepare(to path: String, graph: ModelGraph, inputShape: [Int?], preprocessing: Preprocessing?,
                               classNames: [String]?, provenance makeProvenance: () throws -> Provenance, tensors: [TensorPayload],
                               dtype: TensorDType = .f32, progress: ((_ bytesDone: Int, _ bytesTotal: Int) -> Void)? = nil) throws -> Prepared {
        // Layout.
        var entries: [TensorEntry] = []
        var offset = 0
        var names = Set<String>()
        for t in tensors {
            precondition(names.insert(t.name).inserted, "duplicate tensor \(t.name)")
            precondition(dtype != .i8, "int8 tensors are written one by one (TensorPayload.int8)")
            let stored: TensorDType = t.int8 != nil ? .i8 : t.keepsFloat32 ? .f32 : dtype
            let length = t.elementCount * stored.size
            entries.append(TensorEntry(name: t.name, dtype: stored, shape: t.shape, offset: offset, length: length, crc32c: 0))
            offset = VGGMFormat.alignUp(offset + length)
        }
        let dataLength = offset
        let dataOffset = VGGMFormat.headerSize

        let temp = try AtomicFile(destination: path)
        var handedOver = false
        defer { if !handedOver { temp.discard() } }
        let fd = temp.fd
        let fail = { (what: String) -> ModelFileError in ModelFileError(file: path, .cannotWrite, "\(what) failed: \(String(cString: strerror(errno)))") }
        guard ftruncate(fd, off_t(dataOffset + dataLength)) == 0 else { throw fail("allocating \(dataOffset + dataLength) bytes") }

        var scratch: [Float] = []
        var writeback = Writeback(fd: fd)
        var sources = RawSources()
        var stepBuffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        defer { sources.closeAll(); stepBuffer.deallocate() }
        for (i, t) in tensors.enumerated() {
            if i == tensors.count / 2 { temp.reached(.filling) }
            let e = entries[i]
            let at = dataOffset + e.offset
            if e.dtype == .f32, let raw = t.rawLocation, let src = sources.open(raw.path) {
                // Same bytes as decoding would give: read from the source file at their offset.
                guard raw.offset >= 0, raw.offset <= src.length, e.length <= src.length - raw.offset else {
                    throw ModelFileError(file: path, object: "tensor '\(t.name)'", .cannotReadSource, "source bytes lie outside '\(raw.path)'")
                }
                // In slices, each in steps through one buffer: read a step (pread), checksum it and write it
                // while it is still in the CPU's cache, then start the slice's writeback so the disk works
                // while the next slice is copied (the final fsync is short). copy_file_range cost about twice
                // the CPU: the source and destination offsets differ within a page, so the kernel's splice wrote
                // every destination page in two pieces. (Writing from a mapping of the source saves one more
                // copy, under 0.02 s for VGG16, but a source truncated meanwhile would be a SIGBUS, not an error.)
                if stepBuffer.count == 0 { stepBuffer = .allocate(byteCount: Self.stepBytes, alignment: 4096) }
                var crc: UInt32 = 0
                var done = 0
                while done < e.length {
                    let n = min(Self.sliceBytes, e.length - done)
                    var step = 0
                    while step < n {
                        let bytes = UnsafeMutableRawBufferPointer(rebasing: stepBuffer[0..<min(Self.stepBytes, n - step)])
                        try src.read(into: bytes, at: raw.offset + done + step, tensor: t.name, destination: path)
                        crc = VGGMFormat.crc32c(UnsafeRawBufferPointer(bytes), seed: crc)
                        try pwriteAll(fd, UnsafeRawBufferPointer(bytes), at: at + done + step, path: path)
                        step += bytes.count
                    }
                    writeback.wrote(upTo: at + done + n)
                    done += n
                    progress?(e.offset + done, dataLength)
                }
                entries[i].crc32c = crc
                continue
            }
            // Bytes already in memory as stored (int8 kernels; float32 values into a float32 file): written from
            // the array itself, without the scratch copy.
            func writeStored(_ b: UnsafeRawBufferPointer) throws {
                entries[i].crc32c = VGGMFormat.crc32c(b)
                try pwriteAll(fd, b, at: at, path: path)
                writeback.wrote(upTo: at + e.length)
                progress?(e.offset + e.length, dataLength)
            }
            if let ints = t.int8 {
                try ints.withUnsafeBytes(writeStored)
                continue
            }
            if e.dtype == .f32, let values = t.values {
                try values.withUnsafeBytes(writeStored)
                continue
            }
            if scratch.count < t.elementCount { scratch = [Float](repeating: 0, count: t.elementCount) }
            try scratch.withUnsafeMutableBufferPointer { s in
                let view = UnsafeMutableBufferPointer(rebasing: s[0..<t.elementCount])
                try t.fill(view)
                let bytes: UnsafeRawBufferPointer
                switch e.dtype {
                case .f32:
                    bytes = UnsafeRawBufferPointer(view)
                case .i8:
                    preconditionFailure("int8 tensors are written from TensorPayload.int8")
                case .f16, .bf16:
                    // Convert in place into the front half of the scratch buffer: element i (2 bytes at 2i)
                    // overwrites only floats already read (4 bytes at 4j, j <= i).
                    let out = UnsafeMutableRawPointer(view.baseAddress!).assumingMemoryBound(to: UInt16.self)
                    if e.dtype == .f16 { vgg_f32_to_f16(view.baseAddress, out, t.elementCount) } else { vgg_f32_to_bf16(view.baseAddress, out, t.elementCount) }
                    bytes = UnsafeRawBufferPointer(start: out, count: e.length)
                }
                entries[i].crc32c = VGGMFormat.crc32c(bytes)
                try pwriteAll(fd, bytes, at: at, path: path)
                writeback.wrote(upTo: at + e.length)
            }
            progress?(e.offset + e.length, dataLength)
        }
        progress?(dataLength, dataLength)  // the padding after the last tensor
        // The last (under 32 MB) of the data goes to disk now, not in the commit's fsync: the provenance may
        // wait for a source hash still running on the other core, and meanwhile the disk has work.
        writeback.wrote(upTo: dataOffset + dataLength, final: true)

        // Manifest after the data, then the header.
        let manifest = ModelManifest(graph: graph, inputShape: inputShape, preprocessing: preprocessing, classNames: classNames,
                                     provenance: try makeProvenance(), tensors: entries)
        let manifestBytes = try ManifestCodec.encode(manifest)
        let manifestOffset = dataOffset + dataLength
        let fileLength = manifestOffset + manifestBytes.count
        try pwriteAll(fd, manifestBytes, at: manifestOffset, path: path)
        let header = makeHeader(minor: VGGMFormat.minor(for: graph, dtypes: entries.map(\.dtype)), dataOffset: dataOffset, dataLength: dataLength, manifestOffset: manifestOffset,
                                manifestLength: manifestBytes.count, fileLength: fileLength,
                                manifestCRC: manifestBytes.withUnsafeBytes { VGGMFormat.crc32c($0) })
        try pwriteAll(fd, header, at: 0, path: path)
        handedOver = true
        return Prepared(file: temp, stats: WriteStats(bytes: fileLength, tensors: tensors.count))
    }

    /// Raw copies go in slices of this size (written back as they complete)...
    static let sliceBytes = 8 << 20
    /// ...each read, checksummed and written in steps of this size, small enough to stay in the CPU's cache
    /// between the three.
    static let stepBytes = 1 << 20

    static func makeHeader(minor: UInt16 = 0, dataOffset: Int, dataLength: Int, manifestOffset: Int, manifestLength: Int, fileLength: Int, manifestCRC: UInt32) -> [UInt8] {
        var h = VGGMFormat.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { h += $0 } }
        put(VGGMFormat.major); put(minor); put(UInt32(VGGMFormat.headerSize))
        put(UInt64(dataOffset)); put(UInt64(dataLength))
        put(UInt64(manifestOffset)); put(UInt64(manifestLength))
        put(UInt64(fileLength)); put(manifestCRC)
        let crc = h.withUnsafeBytes { VGGMFormat.crc32c($0) }
        put(crc)
        precondition(h.count == VGGMFormat.headerSize)
        return h
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        try bytes.withUnsafeBytes { try pwriteAll(fd, $0, at: offset, path: path) }
    }

    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelFileError(file: path, .cannotWrite, "write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }
}

/// Starts the kernel's writeback of everything written so far in steps of 32 MB (sync_file_range), so
/// the disk works while later tensors are produced and the commit's fsync has little left to do.
struct Writeback {
    let fd: Int32
    var started = 0
    static let step = 32 << 20

    /// Records that everything before `end` is written; starts its writeback once 32 MB are pending, or now
    /// with `final`.
    mutating func wrote(upTo end: Int, final: Bool = false) {
        guard end - started >= Self.step || (final && end > started) else { return }
        _ = vgg_start_writeback(fd, Int64(started), Int64(end - started))  // advisory; fsync still decides
        started = end
    }
}

/// Source files opened for raw copies (kept open for the whole write).
struct RawSources {
    struct Source {
        var path: String; var fd: Int32; var length: Int

        /// Fills `buffer` with the source's bytes from `offset`. Throws `ModelFileError` (`.cannotReadSource`)
        /// naming the tensor when the read fails or the file ends first (truncated since it was opened).
        func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, tensor: String, destination: String) throws {
            var done = 0
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                let why = n == 0 ? "'\(path)' ended early (truncated while being read?)" : "reading '\(path)' failed: \(String(cString: strerror(errno)))"
                throw ModelFileError(file: destination, object: "tensor '\(tensor)'", .cannotReadSource, why)
            }
        }
    }
    var open_: [String: Source] = [:]

    /// The source at `path`, opened once; nil when it cannot be opened (the tensor is then decoded instead).
    mutating func open(_ path: String) -> Source? {
        if let s = open_[path] { return s }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else {
            close(fd)
            return nil
        }
        let s = Source(path: path, fd: fd, length: Int(st.st_size))
        open_[path] = s
        return s
    }

    func closeAll() {
        for s in open_.values { Glibc.close(s.fd) }
    }
}
