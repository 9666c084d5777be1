import CVGGSupport
import Foundation
import ModelGraph

#if canImport(Glibc)
import Glibc
#endif

/// A `.vggm` file opened for reading: memory-mapped, header and manifest validated on open. Tensor bytes
/// are used in place from the mapping (no copy); their checksums are checked by `verifyTensors()`.
public final class VGGMFile: @unchecked Sendable {
    /// The path the file was opened from, as errors name it.
    public let path: String
    /// The decoded manifest: graph, tensors, input shape, preprocessing, class names, provenance.
    public let manifest: ModelManifest
    /// Shapes, weights and costs of the graph (checked against the tensors on open).
    public let analysis: GraphAnalysis
    /// The file's size in bytes (the length of the mapping).
    public let fileLength: Int
    /// Byte offset of the data section from the start of the file (tensor offsets are relative to it).
    public let dataOffset: Int
    private let base: UnsafeRawPointer
    private let index: [String: Int]

    /// The layer graph (the manifest's).
    public var graph: ModelGraph { manifest.graph }

    /// Opens and validates: magic, version, header checksum, every offset and size (overflow-checked,
    /// inside the file, aligned, non-overlapping, length = shape x dtype size), manifest checksum and
    /// JSON, unique tensor names, the graph (acyclic, shapes inferable) and that every layer's weights are
    /// present with the shapes the graph implies and no tensor is unused.
    public init(path: String) throws {
        self.path = path
        func bad(_ object: String, _ kind: ModelFileError.Kind, _ m: String) -> ModelFileError { ModelFileError(file: path, object: object, kind, m) }
        if let problem = InputFile.notRegular(path) { throw ModelFileError(file: path, .unreadable, problem) }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // O_NONBLOCK: a FIFO swapped in after the check cannot block the open
        guard fd >= 0 else {
            throw ModelFileError(file: path, .unreadable, errno == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelFileError(file: path, .unreadable, "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelFileError(file: path, .unreadable, "is not a regular file") }
        let size = Int(st.st_size)
        guard size >= VGGMFormat.headerSize else { throw bad("header", .truncated, "file is \(size) bytes, shorter than the \(VGGMFormat.headerSize)-byte header") }
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw ModelFileError(file: path, .unreadable, "cannot map: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(map)
        var ok = false
        defer { if !ok { munmap(map, size) } }

        // Header.
        let header = UnsafeRawBufferPointer(start: base, count: VGGMFormat.headerSize)
        guard Array(header[0..<8]) == VGGMFormat.magic else { throw bad("header", .notVGGM, "bad magic: not a .vggm file") }
        func u16(_ o: Int) -> UInt16 { UInt16(header[o]) | UInt16(header[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(header[o + $1]) << (8 * UInt32($1)) } }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(header[o + $1]) << (8 * UInt64($1)) } }
        let storedCRC = u32(60)
        let crc = VGGMFormat.crc32c(UnsafeRawBufferPointer(rebasing: header[0..<60]))
        guard crc == storedCRC else { throw bad("header", .checksumMismatch(stored: storedCRC, computed: crc), String(format: "checksum mismatch (stored %08x, computed %08x)", storedCRC, crc)) }
        let major = u16(8), minor = u16(10)
        guard major == VGGMFormat.major else { throw bad("header", .unsupportedVersion(major: Int(major), minor: Int(minor)), "format version \(major).\(minor) is not supported (this vggtool reads \(VGGMFormat.major).x)") }
        guard minor <= VGGMFormat.minor else { throw bad("header", .newerVersion(major: Int(major), minor: Int(minor)), "format version \(major).\(minor) is newer than this vggtool (\(VGGMFormat.major).\(VGGMFormat.minor))") }
        guard u32(12) == UInt32(VGGMFormat.headerSize) else { throw bad("header", .malformedHeader, "header size \(u32(12)), expected \(VGGMFormat.headerSize)") }
        let limit = UInt64(size)
        let dOff = u64(16), dLen = u64(24), mOff = u64(32), mLen = u64(40), fLen = u64(48)
        guard fLen == limit else { throw bad("header", fLen < limit ? .malformedHeader : .truncated, "file length field says \(fLen) bytes, the file has \(size)" + (fLen < limit ? " (trailing data)" : " (truncated)")) }
        guard dOff == UInt64(VGGMFormat.headerSize) else { throw bad("header", .malformedHeader, "data offset \(dOff), expected \(VGGMFormat.headerSize)") }
        guard dLen <= limit, dOff + dLen <= limit, dLen % UInt64(VGGMFormat.alignment) == 0 else { throw bad("header", .outOfBounds, "data section (offset \(dOff), \(dLen) bytes) does not fit the file") }
        guard mOff == dOff + dLen else { throw bad("header", .malformedHeader, "manifest offset \(mOff) does not follow the data section (\(dOff + dLen))") }
        guard mLen <= UInt64(VGGMFormat.maxManifestBytes), mLen <= limit, mOff <= limit - mLen, mOff + mLen == fLen else {
            throw bad("header", mLen > UInt64(VGGMFormat.maxManifestBytes) ? .tooLarge : .outOfBounds, "manifest (offset \(mOff), \(mLen) bytes) does not fit the file or exceeds the \(VGGMFormat.maxManifestBytes >> 20) MB cap")
        }
        let manifestBytes = UnsafeRawBufferPointer(start: base + Int(mOff), count: Int(mLen))
        let mCRC = VGGMFormat.crc32c(manifestBytes)
        guard mCRC == u32(56) else { throw bad("manifest", .checksumMismatch(stored: u32(56), computed: mCRC), String(format: "checksum mismatch (stored %08x, computed %08x)", u32(56), mCRC)) }
        let manifest = try ManifestCodec.decode(manifestBytes, file: path)

        // Tensors: sizes, bounds, alignment, overlaps, names.
        var index: [String: Int] = [:]
        for (i, t) in manifest.tensors.enumerated() {
            let obj = "tensor '\(t.name)'"
            guard !t.name.isEmpty, index.updateValue(i, forKey: t.name) == nil else { throw bad(obj, .malformedManifest, "name is empty or repeated") }
            var count = 1
            for d in t.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw bad(obj, .malformedManifest, "shape \(t.shape) overflows") }
                count = p
            }
            let (bytes, o) = count.multipliedReportingOverflow(by: t.dtype.size)
            guard !o, bytes == t.length else { throw bad(obj, .malformedManifest, "length \(t.length) does not equal shape \(t.shape) x \(t.dtype.size) bytes") }
            guard t.offset % VGGMFormat.alignment == 0 else { throw bad(obj, .malformedManifest, "offset \(t.offset) is not \(VGGMFormat.alignment)-byte aligned") }
            let (end, o2) = t.offset.addingReportingOverflow(t.length)
            guard !o2, end <= Int(dLen) else { throw bad(obj, .outOfBounds, "bytes [\(t.offset), \(t.offset &+ t.length)) lie outside the data section (\(dLen) bytes)") }
        }
        let sorted = manifest.tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.length > b.offset {
            throw bad("tensor '\(b.name)'", .overlap(with: a.name), "overlaps tensor '\(a.name)'")
        }

        // Graph and weights agree.
        let analysis: GraphAnalysis
        do { analysis = try manifest.graph.analyze() } catch let e as GraphError { throw bad("model", .invalidGraph(e), e.description) }
        var used = Set<String>()
        for info in analysis.layers {
            for w in info.weights {
                let name = "\(info.layer.name)/\(w.name)"
                guard let i = index[name] else { throw bad("layer '\(info.layer.name)'", .missingTensor(layer: info.layer.name, weight: w.name), "weight '\(w.name)' \(ShapeFormat.tuple(w.shape.map { Optional($0) })) has no tensor") }
                let t = manifest.tensors[i]
                guard t.shape == w.shape else {
                    throw bad("tensor '\(name)'", .tensorShapeMismatch(tensor: name, expected: w.shape, actual: t.shape), "shape \(ShapeFormat.tuple(t.shape.map { Optional($0) })) does not match the layer's \(ShapeFormat.tuple(w.shape.map { Optional($0) }))")
                }
                used.insert(name)
            }
        }
        used.formUnion(try Self.checkQuantized(manifest, index: index, data: base + Int(dOff), minor: minor, bad: bad))
        if let extra = manifest.tensors.first(where: { !used.contains($0.name) }) {
            throw bad("tensor '\(extra.name)'", .unusedTensor(extra.name), "belongs to no layer of the model")
        }
        let inputs = manifest.graph.layers.compactMap(\.op.inputShape)
        guard inputs.first == manifest.inputShape else { throw bad("manifest", .malformedManifest, "input_shape does not match the graph's input") }

        self.manifest = manifest
        self.analysis = analysis
        self.base = base
        self.fileLength = size
        self.dataOffset = Int(dOff)
        self.index = index
        ok = true
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), fileLength) }

    /// Drops the mapping's pages from this process's resident memory (`madvise(MADV_DONTNEED)`): for a caller
    /// done with the tensors for a while (a fine-tuning run after its frozen pass). Nothing is lost: the file is
    /// mapped read-only, and a later read brings the pages back from the page cache (or the disk).
    public func releaseResidentPages() {
        madvise(UnsafeMutableRawPointer(mutating: base), fileLength, MADV_DONTNEED)
    }

    /// The manifest entry of the tensor called `name` (`layer/weight`), if the file has one.
    public func entry(_ name: String) -> TensorEntry? { index[name].map { manifest.tensors[$0] } }

    /// The stored bytes of a tensor, in place in the mapping.
    public func bytes(of entry: TensorEntry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + dataOffset + entry.offset, count: entry.length)
    }

    /// A tensor as float32 values (converted from f16/bf16 when stored so; an int8 kernel dequantized with its
    /// per-output-channel scales).
    public func floats(_ name: String) -> [Float]? {
        guard let e = entry(name) else { return nil }
        let raw = bytes(of: e)
        let count = e.shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dst in
            switch e.dtype {
            case .f32: _ = memcpy(dst.baseAddress!, raw.baseAddress!, e.length)
            case .f16: vgg_f16_to_f32(raw.baseAddress!.assumingMemoryBound(to: UInt16.self), dst.baseAddress, count)
            case .bf16: vgg_bf16_to_f32(raw.baseAddress!.assumingMemoryBound(to: UInt16.self), dst.baseAddress, count)
            case .i8:
                // Dequantized: value x its output channel's scale (the last dimension).
                let scales = entry(name + VGGMFormat.scaleSuffix).map { Array(bytes(of: $0).bindMemory(to: Float.self)) } ?? []
                let ints = raw.bindMemory(to: Int8.self)
                let units = max(1, scales.count)
                for i in 0..<count { dst[i] = Float(ints[i]) * (scales.isEmpty ? 1 : scales[i % units]) }
            }
        }
        return out
    }

    /// Checks every tensor's CRC-32C; returns the names that fail (empty when all pass). Zero padding between
    /// tensors must be zero too: a flipped byte there is reported as "(padding)".
    public func verifyTensors() -> [String] {
        var bad: [String] = []
        for t in manifest.tensors where VGGMFormat.crc32c(bytes(of: t)) != t.crc32c { bad.append(t.name) }
        // Padding bytes between and after tensors are part of the file too: they must be zero.
        var covered = 0
        for t in manifest.tensors.sorted(by: { $0.offset < $1.offset }) {
            if !isZero(from: covered, to: t.offset) { bad.append("(padding before '\(t.name)')") }
            covered = t.offset + t.length
        }
        if !isZero(from: covered, to: dataSectionLength) { bad.append("(padding at the end of the data section)") }
        return bad
    }

    private var dataSectionLength: Int {
        let h = UnsafeRawBufferPointer(start: base, count: VGGMFormat.headerSize)
        return (0..<8).reduce(0) { $0 | Int(h[24 + $1]) << (8 * $1) }
    }

    private func isZero(from: Int, to: Int) -> Bool {
        guard to > from else { return true }
        let p = UnsafeRawBufferPointer(start: base + dataOffset + from, count: to - from)
        return !p.contains { $0 != 0 }
    }
}
