import Foundation
import ModelGraph

/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0) holding little-endian float32 arrays in C order:
/// what `predict --input` reads and `predict --output` writes. Anything else is refused with a reason.
public enum NumPy {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Largest array read (elements): 1 G floats.
    public static let maxElements = 1 << 30

    /// A `.npy` file that cannot be used: the file, what kind of problem it is and why. `description` is
    /// `path: reason`.
    public struct FormatError: Error, CustomStringConvertible, Sendable, Equatable {
        /// What went wrong, in terms a caller can switch on; `reason` says it in words.
        public enum Kind: Sendable, Equatable {
            /// The file does not exist, is not a regular file, or cannot be read.
            case unreadable
            /// The file does not start with NumPy's magic.
            case notNumPy
            /// A format version other than 1.0, 2.0 and 3.0 (major, minor).
            case unsupportedVersion(major: Int, minor: Int)
            /// The header is cut short.
            case truncated
            /// The header lacks a field or holds an invalid dimension.
            case malformedHeader
            /// The array's dtype (its `descr`, e.g. `<f8`) is not little-endian float32.
            case unsupportedDType(String)
            /// The array is Fortran-ordered.
            case fortranOrder
            /// The shape holds more elements than `NumPy.maxElements`.
            case tooLarge
            /// The data holds `actual` bytes where the shape needs `expected`.
            case dataSizeMismatch(expected: Int, actual: Int)
        }

        /// The `.npy` file.
        public var path: String
        /// What kind of problem it is.
        public var kind: Kind
        /// Why, in words.
        public var reason: String

        init(_ path: String, _ kind: Kind, _ why: String) {
            self.path = path
            self.kind = kind
            self.reason = why
        }

        /// `path: reason`.
        public var description: String { "\(path): \(reason)" }
    }

    /// Reads a float32 array; `path` names the file in errors.
    public static func read(path: String) throws -> Tensor {
        if let problem = InputFile.notRegular(path) { throw FormatError(path, .unreadable, problem) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FormatError(path, .unreadable, "cannot be read (\((error as NSError).localizedDescription))")
        }
        return try parse(data, path: path)
    }

    /// Parses the bytes of a `.npy` file (float32, little-endian, C order, any rank); `path` names it in
    /// errors. Throws `FormatError` for anything else: bad magic or header, other dtypes or byte orders,
    /// Fortran order, a size that disagrees with the shape or exceeds `maxElements`.
    public static func parse(_ data: Data, path: String) throws -> Tensor {
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw FormatError(path, .notNumPy, "not a NumPy .npy file (bad magic)") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw FormatError(path, .truncated, "truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw FormatError(path, .unsupportedVersion(major: Int(major), minor: Int(bytes[7])), ".npy format version \(major).\(bytes[7]) is not supported")
        }
        guard headerLength <= 1 << 20, data.count >= headerStart + headerLength else { throw FormatError(path, headerLength > 1 << 20 ? .malformedHeader : .truncated, "truncated .npy header") }
        let header = String(decoding: data[(data.startIndex + headerStart)..<(data.startIndex + headerStart + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header), let fortran = field("fortran_order", in: header),
              let shapeText = field("shape", in: header) else {
            throw FormatError(path, .malformedHeader, "the .npy header lacks 'descr', 'fortran_order' or 'shape': \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let dtype = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        guard dtype == "<f4" else {
            throw FormatError(path, .unsupportedDType(dtype), "dtype is \(dtype), expected float32 little-endian ('<f4'); convert with x.astype('<f4')")
        }
        guard fortran == "False" else { throw FormatError(path, .fortranOrder, "Fortran-ordered arrays are not supported (save a C-ordered array)") }
        let inner = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let d = Int(t), d >= 0 else { throw FormatError(path, .malformedHeader, "bad dimension '\(t)' in shape \(shapeText)") }
            shape.append(d)
        }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o, p <= maxElements else { throw FormatError(path, .tooLarge, "shape \(shapeText) is too large (over \(maxElements) elements)") }
            count = p
        }
        let start = headerStart + headerLength
        let available = data.count - start
        guard available == count * 4 else {
            throw FormatError(path, .dataSizeMismatch(expected: count * 4, actual: available), "shape \(shapeText) needs \(count * 4) bytes of data, the file has \(available)")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + count * 4)])) }
        }
        return Tensor(shape: shape, values: values)
    }

    /// The value text of `'key': value` in a header dict (a tuple value is returned with its parentheses).
    static func field(_ key: String, in header: String) -> String? {
        guard let r = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[r.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return rest[..<end].trimmingCharacters(in: .whitespaces)
    }

    /// The bytes of a version 1.0 `.npy` file holding `tensor` as little-endian float32.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        var out = header(shape: tensor.shape)
        tensor.values.withUnsafeBytes { out += $0 }
        return out
    }

    /// The header of a version 1.0 `.npy` file of little-endian float32 values of `shape` (the bytes before
    /// the data), padded with spaces to a multiple of 64 bytes and to at least `length` bytes (so a file
    /// written before its row count is known can reserve the header of the largest count). Lengths over
    /// 65,535 bytes of header text are a precondition failure.
    public static func header(shape: [Int], length: Int = 0) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        var padded = total + (64 - total % 64) % 64
        if padded < length { padded = length + (64 - length % 64) % 64 }
        header += String(repeating: " ", count: padded - total) + "\n"
        precondition(header.utf8.count <= 0xFFFF)
        return magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
    }
}

extension NumPy {
    /// An `.npz` archive as `numpy.savez` writes it: a zip of stored (uncompressed) entries `<name>.npy`, in
    /// the order given. `np.load` reads it as a mapping from each name to its array.
    public static func encodeArchive(_ arrays: [(name: String, tensor: Tensor)]) -> [UInt8] {
        encodeArchive(entries: arrays.map { (name: $0.name, npy: encode($0.tensor)) })
    }

    /// The bytes of a version 1.0 `.npy` file holding `strings` as a 1-D NumPy unicode array (`<U<n>`: each
    /// string as UTF-32LE code points, zero-padded to the longest, n at least 1), as `np.array(strings)` has.
    public static func encode(strings: [String]) -> [UInt8] {
        let scalars = strings.map { Array($0.unicodeScalars) }
        let width = max(1, scalars.map(\.count).max() ?? 0)
        var header = "{'descr': '<U\(width)', 'fortran_order': False, 'shape': (\(strings.count),), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + strings.count * width * 4)
        for s in scalars {
            for i in 0..<width {
                let v = i < s.count ? s[i].value : 0
                out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
            }
        }
        return out
    }

    /// An `.npz` archive of `.npy` files already encoded (`encode(_:)`, `encode(strings:)`), each stored as
    /// `<name>.npy`, in the order given.
    public static func encodeArchive(entries: [(name: String, npy: [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func u16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: UInt32, _ into: inout [UInt8]) { for i in 0..<4 { into.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
        for (name, data) in entries {
            let file = Array((name + ".npy").utf8)
            let crc = crc32(data)
            let offset = UInt32(out.count)
            // Local file header: version 2.0, no flags, stored, no time.
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0x21, &out)
            u32(crc, &out); u32(UInt32(data.count), &out); u32(UInt32(data.count), &out); u16(file.count, &out); u16(0, &out)
            out += file
            out += data
            // Central directory entry.
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central); u16(0, &central); u16(0x21, &central)
            u32(crc, &central); u32(UInt32(data.count), &central); u32(UInt32(data.count), &central); u16(file.count, &central)
            u16(0, &central); u16(0, &central); u16(0, &central); u16(0, &central); u32(0, &central); u32(offset, &central)
            central += file
        }
        let centralOffset = out.count
        out += central
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(entries.count, &out); u16(entries.count, &out)
        u32(UInt32(central.count), &out); u32(UInt32(centralOffset), &out); u16(0, &out)
        return out
    }

    /// CRC-32 (IEEE 802.3, reflected 0xEDB88320), as zip archives use (bit by bit: for small entries).
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}
