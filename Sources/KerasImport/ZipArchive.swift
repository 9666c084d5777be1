import CZlib
import Foundation

/// A minimal, strict reader for `.keras` archives (zip): the central directory is parsed and checked
/// (entry names without `..` or absolute paths, no duplicates, every entry inside the file), and entries
/// are extracted in memory, stored or deflated, with size caps (a compression bomb is refused, not
/// inflated). Package-only: `KerasFile` reads `.keras` archives through it, and `Inspector` lists them.
package struct ZipArchive {
    /// One entry of the central directory.
    package struct Entry: Sendable {
        /// The entry's name (a relative path inside the archive).
        package var name: String
        /// Compression method: 0 stored, 8 deflated (others are refused on reading).
        package var method: UInt16
        /// Bytes of (compressed) data in the archive.
        package var compressedSize: Int
        /// Declared size in bytes after extraction.
        package var size: Int
        /// Offset of the entry's data (after its local header).
        package var dataOffset: Int
    }

    /// Largest entry we extract.
    package static let maxEntrySize = 8 << 30
    /// Largest JSON entry (config.json, metadata.json) we extract: real ones are kilobytes.
    package static let maxJSONEntrySize = 64 << 20
    /// Deflate cannot expand data by more than about 1032:1 (258-byte matches in 1-2 bit codes), so an
    /// entry declaring more than this times its compressed size (plus slack for tiny entries) is a lie or a
    /// bomb, and is refused before anything is allocated.
    static let maxDeflateRatio = 1032

    /// The archive's path, as errors name it.
    package let path: String
    /// The central directory's entries, in stored order.
    package let entries: [Entry]
    let data: Data

    /// Maps the archive at `path` and reads its central directory; throws `ImportError` when the file cannot
    /// be read or the directory is malformed, names a path outside the archive, or repeats a name.
    package init(path: String) throws {
        self.path = path
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw ImportError(file: path, .unreadable, "cannot be read (\(error.localizedDescription))")
        }
        entries = try ZipArchive.parse(data, path: path)
    }

    static func u16(_ d: Data, _ o: Int) -> Int { Int(d[d.startIndex + o]) | Int(d[d.startIndex + o + 1]) << 8 }
    static func u32(_ d: Data, _ o: Int) -> Int { u16(d, o) | u16(d, o + 2) << 16 }

    static func parse(_ d: Data, path: String) throws -> [Entry] {
        func bad(_ kind: ImportError.Kind, _ what: String) -> ImportError { ImportError(file: path, object: "zip", kind, what) }
        func bad(_ what: String) -> ImportError { bad(.malformed, what) }
        let n = d.count
        guard n >= 22 else { throw bad("file too small for a zip archive") }
        // End of central directory: scan back over at most the 64 KB comment.
        var eocd = -1
        var i = n - 22
        let lowest = max(0, n - 22 - 65535)
        while i >= lowest {
            if u32(d, i) == 0x06054b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw bad("no end-of-central-directory record (not a zip archive, or truncated)") }
        let count = u16(d, eocd + 10)
        let cdSize = u32(d, eocd + 12)
        let cdOffset = u32(d, eocd + 16)
        guard count != 0xFFFF, cdOffset != 0xFFFF_FFFF else { throw bad(.unsupported, "zip64 archives are not supported") }
        guard cdOffset + cdSize <= eocd else { throw bad("central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the file") }
        var entries: [Entry] = []
        var names = Set<String>()
        var p = cdOffset
        for _ in 0..<count {
            guard p + 46 <= cdOffset + cdSize, u32(d, p) == 0x02014b50 else { throw bad("central directory entry at offset \(p) is corrupt") }
            let flags = u16(d, p + 8)
            let method = UInt16(u16(d, p + 10))
            let csize = u32(d, p + 20), usize = u32(d, p + 24)
            let nameLen = u16(d, p + 28), extraLen = u16(d, p + 30), commentLen = u16(d, p + 32)
            let localOffset = u32(d, p + 42)
            guard p + 46 + nameLen <= cdOffset + cdSize else { throw bad("central directory entry at offset \(p) is corrupt") }
            let name = String(decoding: d[(d.startIndex + p + 46)..<(d.startIndex + p + 46 + nameLen)], as: UTF8.self)
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            if name.hasPrefix("/") || name.hasPrefix("\\") || parts.contains("..") || name.contains("\\") || name.contains(":") {
                throw ImportError(file: path, object: "zip entry '\(name)'", .refused(.unsafePath), "unsafe path (absolute or with '..')")
            }
            guard names.insert(name).inserted else { throw ImportError(file: path, object: "zip entry '\(name)'", .malformed, "appears twice") }
            if flags & 1 != 0 { throw ImportError(file: path, object: "zip entry '\(name)'", .unsupported, "is encrypted") }
            guard localOffset + 30 <= n, u32(d, localOffset) == 0x04034b50 else {
                throw ImportError(file: path, object: "zip entry '\(name)'", .malformed, "local header at offset \(localOffset) is missing or corrupt")
            }
            let dataOffset = localOffset + 30 + u16(d, localOffset + 26) + u16(d, localOffset + 28)
            guard dataOffset + csize <= n else {
                throw ImportError(file: path, object: "zip entry '\(name)'", .malformed, "data (\(csize) bytes at offset \(dataOffset)) extends past the end of the file")
            }
            entries.append(Entry(name: name, method: method, compressedSize: csize, size: usize, dataOffset: dataOffset))
            p += 46 + nameLen + extraLen + commentLen
        }
        return entries
    }

    /// The entry called `name`, if any.
    package func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// The entry's bytes. Stored entries are copied out; deflated ones inflated, refusing output beyond the
    /// declared size (or `maxEntrySize`).
    package func read(_ name: String, maxSize: Int = ZipArchive.maxEntrySize) throws -> [UInt8] {
        guard let e = entry(name) else { throw ImportError(file: path, object: "zip entry '\(name)'", .malformed, "is missing from the archive") }
        let obj = "zip entry '\(name)'"
        guard e.size <= maxSize else { throw ImportError(file: path, object: obj, .tooLarge, "declares \(e.size) bytes, over the cap of \(maxSize) bytes") }
        if e.method == 8, e.size > e.compressedSize * ZipArchive.maxDeflateRatio + 4096 {
            throw ImportError(file: path, object: obj, .tooLarge, "declares \(e.size) bytes from \(e.compressedSize) compressed, more than deflate can produce (a compression bomb?)")
        }
        let src = data[(data.startIndex + e.dataOffset)..<(data.startIndex + e.dataOffset + e.compressedSize)]
        switch e.method {
        case 0:
            guard e.compressedSize == e.size else { throw ImportError(file: path, object: obj, .malformed, "stored entry sizes disagree") }
            return [UInt8](src)
        case 8:
            var out = [UInt8](repeating: 0, count: e.size)
            var stream = z_stream()
            guard vgg_inflate_init_raw(&stream) == Z_OK else { throw ImportError(file: path, object: obj, .malformed, "cannot start inflating") }
            defer { inflateEnd(&stream) }
            let status: Int32 = src.withUnsafeBytes { inBuf in
                out.withUnsafeMutableBytes { outBuf in
                    stream.next_in = UnsafeMutablePointer(mutating: inBuf.bindMemory(to: Bytef.self).baseAddress)
                    stream.avail_in = uInt(inBuf.count)
                    stream.next_out = outBuf.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    return inflate(&stream, Z_FINISH)
                }
            }
            guard status == Z_STREAM_END, Int(stream.total_out) == e.size else {
                throw ImportError(file: path, object: obj, status == Z_BUF_ERROR ? .tooLarge : .malformed, status == Z_BUF_ERROR ? "inflates to more than its declared \(e.size) bytes" : "deflate data is corrupt")
            }
            return out
        default:
            throw ImportError(file: path, object: obj, .unsupported, "compression method \(e.method) is not supported (stored or deflate)")
        }
    }
}
