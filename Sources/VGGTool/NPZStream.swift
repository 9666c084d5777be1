import CZlib
import Foundation
import ModelFile
import Runtime

/// An `.npz` archive (a zip of stored `<name>.npy` entries, as `numpy.savez` writes it) whose arrays grow by
/// rows as batches come, in bounded memory: each array's rows go to an unnamed scratch file beside the output
/// (`AtomicFile.scratchFile`); `commit` writes the archive through an `AtomicFile`: each entry's local header,
/// its `.npy` header and its rows copied from the scratch file in 4 MB pieces with the zip CRC-32 computed on
/// the way, then the central directory. ZIP64 records are used where a size or an offset passes 4 GiB - 1
/// (`zip64Limit`), as Python's zipfile (and so `np.load`) reads them. Nothing is named unless `commit` returns.
final class NPZStream {
    private let file: AtomicFile
    private let arrays: [(name: String, rowShape: [Int])]
    private var scratch: [Int32] = []
    private var rows: [Int]
    private let directory: String
    /// Sizes and offsets from this value on are written as ZIP64: 4 GiB - 1, or `VGGTOOL_TEST_ZIP64_LIMIT`
    /// (the tests write ZIP64 records without writing 4 GiB).
    static let zip64Limit = ProcessInfo.processInfo.environment["VGGTOOL_TEST_ZIP64_LIMIT"].flatMap { Int($0) } ?? 0xFFFF_FFFF

    init(path: String, arrays: [(name: String, rowShape: [Int])]) throws {
        file = try AtomicFile(destination: path)
        self.arrays = arrays
        rows = arrays.map { _ in 0 }
        directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        for _ in arrays { scratch.append(try AtomicFile.scratchFile(in: directory)) }
    }

    deinit { for fd in scratch { close(fd) } }

    /// Appends the rows of `t` (shape `[n] + rowShape` of array `i`).
    func append(_ i: Int, _ t: Tensor) throws {
        precondition(Array(t.shape.dropFirst()) == arrays[i].rowShape)
        let rowBytes = arrays[i].rowShape.reduce(1, *) * 4
        try t.values.withUnsafeBytes { try Self.pwriteAll(scratch[i], $0, at: rows[i] * rowBytes, file: directory) }
        rows[i] += t.shape[0]
    }

    /// Writes the archive: the arrays appended to, then `extra` entries (already encoded `.npy` files), and
    /// names it.
    func commit(extra: [(name: String, npy: [UInt8])] = []) throws {
        var at = 0
        var central: [UInt8] = []
        var count = 0
        func entry(name: String, header: [UInt8], dataBytes: Int, copy: (_ crc: inout UInt32, _ at: Int) throws -> Void) throws {
            let size = header.count + dataBytes
            let nameBytes = Array((name + ".npy").utf8)
            let zip64 = size >= Self.zip64Limit || at >= Self.zip64Limit
            var crc = UInt32(truncatingIfNeeded: crc32(0, nil, 0))
            crc = header.withUnsafeBytes { UInt32(truncatingIfNeeded: crc32(UInt(crc), $0.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32($0.count))) }
            let local = 30 + nameBytes.count + (zip64 ? 20 : 0)
            try copy(&crc, at + local + header.count)
            var h: [UInt8] = []
            Self.u32(0x0403_4B50, &h); Self.u16(zip64 ? 45 : 20, &h); Self.u16(0, &h); Self.u16(0, &h); Self.u16(0, &h); Self.u16(0x21, &h)
            Self.u32(crc, &h)
            Self.u32(zip64 ? 0xFFFF_FFFF : UInt32(size), &h); Self.u32(zip64 ? 0xFFFF_FFFF : UInt32(size), &h)
            Self.u16(nameBytes.count, &h); Self.u16(zip64 ? 20 : 0, &h)
            h += nameBytes
            if zip64 { Self.u16(1, &h); Self.u16(16, &h); Self.u64(size, &h); Self.u64(size, &h) }
            try file.write(h + header, at: at)
            // Central directory entry (ZIP64 extra: sizes, then the local header's offset).
            Self.u32(0x0201_4B50, &central); Self.u16(zip64 ? 45 : 20, &central); Self.u16(zip64 ? 45 : 20, &central)
            Self.u16(0, &central); Self.u16(0, &central); Self.u16(0, &central); Self.u16(0x21, &central)
            Self.u32(crc, &central)
            Self.u32(zip64 ? 0xFFFF_FFFF : UInt32(size), &central); Self.u32(zip64 ? 0xFFFF_FFFF : UInt32(size), &central)
            Self.u16(nameBytes.count, &central); Self.u16(zip64 ? 28 : 0, &central)
            Self.u16(0, &central); Self.u16(0, &central); Self.u16(0, &central); Self.u32(0, &central)
            Self.u32(zip64 ? 0xFFFF_FFFF : UInt32(at), &central)
            central += nameBytes
            if zip64 { Self.u16(1, &central); Self.u16(24, &central); Self.u64(size, &central); Self.u64(size, &central); Self.u64(at, &central) }
            at += local + size
            count += 1
        }
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        for (i, a) in arrays.enumerated() {
            let dataBytes = rows[i] * a.rowShape.reduce(1, *) * 4
            try entry(name: a.name, header: NumPy.header(shape: [rows[i]] + a.rowShape), dataBytes: dataBytes) { crc, dst in
                var done = 0
                while done < dataBytes {
                    let n = min(buffer.count, dataBytes - done)
                    try buffer.withUnsafeMutableBytes { b in
                        try Self.preadAll(scratch[i], UnsafeMutableRawBufferPointer(rebasing: b[0..<n]), at: done, file: directory)
                        crc = UInt32(truncatingIfNeeded: crc32(UInt(crc), b.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32(n)))
                        try file.write(UnsafeRawBufferPointer(rebasing: b[0..<n]), at: dst + done)
                    }
                    done += n
                    if i == 0 && done == n { file.reached(.filling) }
                }
            }
        }
        for (name, npy) in extra {
            try entry(name: name, header: npy, dataBytes: 0) { _, _ in }
        }
        // End of central directory, with the ZIP64 record and locator before it when needed.
        var end: [UInt8] = []
        let centralAt = at
        let zip64End = centralAt >= Self.zip64Limit || central.count >= Self.zip64Limit || count >= 0xFFFF
        if zip64End {
            Self.u32(0x0606_4B50, &end); Self.u64(44, &end); Self.u16(45, &end); Self.u16(45, &end); Self.u32(0, &end); Self.u32(0, &end)
            Self.u64(count, &end); Self.u64(count, &end); Self.u64(central.count, &end); Self.u64(centralAt, &end)
            Self.u32(0x0706_4B50, &end); Self.u32(0, &end); Self.u64(centralAt + central.count, &end); Self.u32(1, &end)
        }
        Self.u32(0x0605_4B50, &end); Self.u16(0, &end); Self.u16(0, &end)
        Self.u16(min(count, 0xFFFF), &end); Self.u16(min(count, 0xFFFF), &end)
        Self.u32(zip64End ? 0xFFFF_FFFF : UInt32(central.count), &end); Self.u32(zip64End ? 0xFFFF_FFFF : UInt32(centralAt), &end); Self.u16(0, &end)
        try file.write(central + end, at: centralAt)
        try file.commit()
    }

    /// Drops the archive (nothing named) and the scratch files.
    func discard() { file.discard() }

    static func u16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    static func u32(_ v: UInt32, _ into: inout [UInt8]) { for i in 0..<4 { into.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
    static func u32(_ v: Int, _ into: inout [UInt8]) { u32(UInt32(truncatingIfNeeded: v), &into) }
    static func u64(_ v: Int, _ into: inout [UInt8]) { for i in 0..<8 { into.append(UInt8((v >> (8 * i)) & 0xFF)) } }

    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, file: String) throws {
        try whole(bytes.count, file: file, "write") { done in pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
    }

    static func preadAll(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer, at offset: Int, file: String) throws {
        try whole(bytes.count, file: file, "read back") { done in pread(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
    }

    /// Repeats `call` (given the bytes done so far, returning the bytes it moved or -1) until `count` bytes are
    /// done, retrying on EINTR; fails on an error or no progress.
    private static func whole(_ count: Int, file: String, _ what: String, _ call: (Int) -> Int) throws {
        var done = 0
        while done < count {
            let n = call(done)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw ToolError(file, .cannotWrite, "cannot \(what) the scratch file of the outputs: \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}
