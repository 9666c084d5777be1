import CHDF5
import Synchronization
import Foundation

// Safe wrapper over libhdf5 1.10 (serial build). Every identifier has exactly one Swift owner that closes
// it in `deinit`. These classes are deliberately not `Sendable`: the compiler keeps each file on the task
// that opened it. Debian's libhdf5 is built thread-safe (one global lock), so different files may be used
// on different threads at once; but its error-printing switch is per thread, and in-memory images are
// identified by name, which HDF5Library takes care of.

/// The kind of object a hard link points to.
public enum HDF5ObjectKind: String, Sendable {
    /// A group (HDF5's directory); the raw value is the word error messages use.
    case group
    /// A dataset (an n-dimensional array of elements).
    case dataset
    /// A datatype committed to the file under a name.
    case namedDatatype = "datatype"
    /// Any other object type libhdf5 reports.
    case unknown
}

/// A link inside a group, as stored (never followed to find out what it is, except for hard links).
public enum HDF5LinkTarget: Sendable, Equatable {
    /// A hard link to an object of the given kind (the only links vggtool follows).
    case hard(HDF5ObjectKind)
    /// A soft link to an absolute or relative path in the same file.
    case soft(String)
    /// An external link to the object at `path` in another file.
    case external(file: String, path: String)
    /// A user-defined link type, with libhdf5's numeric link class.
    case other(Int)
}

/// One link of a group: its name (a single path component) and what it points to.
public struct HDF5Link: Sendable {
    /// The link's name inside its group.
    public var name: String
    /// What the link points to, as stored.
    public var target: HDF5LinkTarget
}

/// Element type of a dataset or attribute.
public struct HDF5TypeInfo: Sendable, Equatable, CustomStringConvertible {
    /// HDF5's datatype class, reduced to those vggtool tells apart.
    public enum Class: String, Sendable {
        /// Integers of any size and signedness.
        case integer
        /// IEEE floating point (including float16).
        case float
        /// Fixed- or variable-length strings.
        case string
        /// Compound (struct) types.
        case compound
        /// Every other class (enums, arrays, opaque, references, ...).
        case other
    }
    /// The datatype's class.
    public var typeClass: Class
    /// Bytes per element (for variable-length strings: the size of the in-memory pointer).
    public var size: Int
    /// True when the stored byte order is big-endian.
    public var bigEndian: Bool
    /// True for signed integers (always true for other classes).
    public var signed: Bool
    /// True for variable-length strings.
    public var variableLength: Bool

    public var description: String {
        switch typeClass {
        case .float: return "float\(size * 8)" + (bigEndian ? " (big-endian)" : "")
        case .integer: return (signed ? "int" : "uint") + "\(size * 8)" + (bigEndian ? " (big-endian)" : "")
        case .string: return variableLength ? "string (variable length)" : "string (\(size) bytes)"
        case .compound: return "compound (\(size) bytes)"
        case .other: return "other (\(size) bytes)"
        }
    }

    init(type tid: hid_t) {
        let cls = H5Tget_class(tid)
        size = Int(H5Tget_size(tid))
        bigEndian = H5Tget_order(tid) == H5T_ORDER_BE
        signed = cls == H5T_INTEGER ? H5Tget_sign(tid) == H5T_SGN_2 : true
        variableLength = cls == H5T_STRING ? H5Tis_variable_str(tid) > 0 : false
        switch cls {
        case H5T_INTEGER: typeClass = .integer
        case H5T_FLOAT: typeClass = .float
        case H5T_STRING: typeClass = .string
        case H5T_COMPOUND: typeClass = .compound
        default: typeClass = .other
        }
    }
}

/// An open HDF5 file (read-only or newly created).
public final class HDF5File {
    let id: hid_t
    /// The path given at open (or a label for in-memory images); used in error messages.
    public let path: String
    private let image: [UInt8]?

    private init(id: hid_t, path: String, image: [UInt8]? = nil) {
        self.id = id
        self.path = path
        self.image = image
    }

    deinit { H5Fclose(id) }

    /// Opens an existing file read-only. Checks the HDF5 signature first, so a non-HDF5 file gives a
    /// plain message rather than libhdf5's, then runs `checkStructure` unless `checkStructure` is false (the
    /// caller has run it: vggtool runs it beside its isolated parse).
    public static func open(path: String, checkStructure: Bool = true) throws -> HDF5File {
        HDF5Library.ensure()
        guard FileManager.default.fileExists(atPath: path) else {
            throw HDF5Error("open", object: path, kind: .noSuchFile, message: "no such file")
        }
        let isHDF5 = H5Fis_hdf5(path)
        if isHDF5 <= 0 {
            _ = HDF5Library.lastMessage()
            throw HDF5Error("open", object: path, kind: .notHDF5, message: "not an HDF5 file (no HDF5 signature)")
        }
        if checkStructure { try HDF5File.checkStructure(path: path) }
        let fid = vgg_H5_open_readonly(path)
        try HDF5Library.check(fid, "open", object: path)
        return HDF5File(id: fid, path: path)
    }

    /// Opens an HDF5 file image held in memory (e.g. `model.weights.h5` inside a `.keras` zip) without
    /// writing it to disk. `label` names it in errors.
    public static func open(image: [UInt8], label: String) throws -> HDF5File {
        HDF5Library.ensure()
        try image.withUnsafeBytes { bytes in
            try GlobalHeapCheck.check(size: bytes.count, label: label, cancelled: { false }) { offset, buffer in
                let n = max(0, min(buffer.count, bytes.count - offset))
                if n > 0 { buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: n) }
                return n
            }
        }
        let name = HDF5Library.nextImageName()
        let fid = image.withUnsafeBytes { vgg_H5_open_image($0.baseAddress, $0.count, name) }
        try HDF5Library.check(fid, "open", object: label)
        return HDF5File(id: fid, path: label, image: image)
    }

    /// Structural checks libhdf5 lacks, run by `open(path:)` before libhdf5 reads anything beyond the
    /// superblock: for now, every global heap collection (see GlobalHeapCheck). Reads the whole file in 4 MB
    /// steps; `cancelled` is polled between steps (returns without error when it says so).
    public static func checkStructure(path: String, cancelled: () -> Bool = { false }) throws {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return }  // libhdf5 reports it
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else { return }
        func read(_ offset: Int, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
            var done = 0
            while done < buffer.count {
                let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                done += n
            }
            return done
        }
        try GlobalHeapCheck.check(size: Int(st.st_size), label: path, cancelled: cancelled, read: read)
    }

    /// Creates (truncates) a file for writing.
    public static func create(path: String) throws -> HDF5File {
        HDF5Library.ensure()
        let fid = vgg_H5_create_truncate(path)
        try HDF5Library.check(fid, "create", object: path)
        return HDF5File(id: fid, path: path)
    }

    /// Creates a file held in memory only (libhdf5's core driver without a backing store: nothing touches
    /// the filesystem); `label` names it in errors. Its bytes come out through `fileImage()`, for a caller that
    /// writes them through its own crash-safe writer.
    public static func createInMemory(label: String) throws -> HDF5File {
        HDF5Library.ensure()
        let fapl = H5Pcreate(vgg_H5P_FILE_ACCESS())
        try HDF5Library.check(fapl, "create file access properties", object: label)
        defer { H5Pclose(fapl) }
        try HDF5Library.check(H5Pset_fapl_core(fapl, 16 << 20, false), "select the in-memory driver", object: label)
        let fid = H5Fcreate(label, vgg_H5F_ACC_TRUNC(), vgg_H5P_DEFAULT(), fapl)
        try HDF5Library.check(fid, "create", object: label)
        return HDF5File(id: fid, path: label)
    }

    /// The file's bytes as they would be on disk (after a flush): for a file made by `createInMemory`.
    public func fileImage() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: try imageSize())
        try bytes.withUnsafeMutableBytes { try copyImage(into: $0) }
        return bytes
    }

    /// Flushes the file and returns the size in bytes of its image (`copyImage(into:)`).
    public func imageSize() throws -> Int {
        try flush()
        let n = H5Fget_file_image(id, nil, 0)
        try HDF5Library.check(Int64(n), "get the file image", object: path)
        return Int(n)
    }

    /// Copies the file's image into `buffer`, which holds exactly `imageSize()` bytes (a mapping of the
    /// destination file, so the image is not held twice in memory).
    public func copyImage(into buffer: UnsafeMutableRawBufferPointer) throws {
        let got = H5Fget_file_image(id, buffer.baseAddress, buffer.count)
        try HDF5Library.check(Int64(got), "get the file image", object: path)
        guard got == buffer.count else {
            throw HDF5Error("get the file image", object: path, kind: .library, message: "the image has \(got) bytes, not \(buffer.count)")
        }
    }

    /// The root group.
    public func root() throws -> HDF5Group { try HDF5Group(file: self, parentID: id, name: "/", fullPath: "/") }

    /// Flushes buffered data to the file.
    public func flush() throws { try HDF5Library.check(H5Fflush(id, H5F_SCOPE_GLOBAL), "flush", object: path) }
}

/// Shared attribute access for groups and datasets. Package-only because its requirement is libhdf5's
/// `hid_t` handle, which stays out of the public API.
package protocol HDF5AttributeHolder: AnyObject {
    /// The open libhdf5 identifier of the group or dataset (owned by the conforming object).
    var objectID: hid_t { get }
    /// The object's absolute path in its file, as error messages name it.
    var fullPath: String { get }
}

extension HDF5AttributeHolder {
    /// The names of the object's attributes, in creation order when the file tracks it, else in name order.
    package func attributeNames() throws -> [String] {
        var info = H5O_info_t()
        try HDF5Library.check(H5Oget_info1(objectID, &info), "read object info", object: fullPath)
        var names: [String] = []
        for i in 0..<info.num_attrs {
            let len = H5Aget_name_by_idx(objectID, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i, nil, 0, vgg_H5P_DEFAULT())
            let n = len >= 0 ? len : H5Aget_name_by_idx(objectID, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, vgg_H5P_DEFAULT())
            if n < 0 {
                // Creation order not tracked: fall back to name order.
                _ = HDF5Library.lastMessage()
                var buf = [CChar](repeating: 0, count: 1024)
                let m = H5Aget_name_by_idx(objectID, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, 1024, vgg_H5P_DEFAULT())
                try HDF5Library.check(m, "list attributes", object: fullPath)
                names.append(String(cBuffer: buf))
                continue
            }
            var buf = [CChar](repeating: 0, count: Int(n) + 1)
            let order = len >= 0 ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME
            try HDF5Library.check(H5Aget_name_by_idx(objectID, ".", order, H5_ITER_INC, i, &buf, Int(n) + 1, vgg_H5P_DEFAULT()), "list attributes", object: fullPath)
            names.append(String(cBuffer: buf))
        }
        return names
    }

    /// True when the object has an attribute called `name` (false on any libhdf5 error).
    package func hasAttribute(_ name: String) -> Bool {
        let r = H5Aexists(objectID, name)
        if r < 0 { _ = HDF5Library.lastMessage() }
        return r > 0
    }

    /// Opens the attribute `name`; throws `HDF5Error` when it does not exist or cannot be opened.
    package func attribute(_ name: String) throws -> HDF5Attribute {
        let aid = H5Aopen(objectID, name, vgg_H5P_DEFAULT())
        try HDF5Library.check(aid, "open attribute '\(name)'", object: fullPath)
        return HDF5Attribute(id: aid, name: name, ownerPath: fullPath)
    }

    /// Writes a string attribute: `fixedLength` stores NUL-padded byte strings of the longest length (what
    /// NumPy `S` arrays give), otherwise variable-length UTF-8 strings. `scalar` stores one string without
    /// a dataspace dimension.
    package func setAttribute(_ name: String, strings: [String], fixedLength: Bool, scalar: Bool = false) throws {
        precondition(!scalar || strings.count == 1)
        let tid = H5Tcopy(vgg_H5T_C_S1())
        defer { H5Tclose(tid) }
        var dims = [hsize_t(strings.count)]
        let sid = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(sid) }
        if H5Aexists(objectID, name) > 0 { H5Adelete(objectID, name) }
        if fixedLength {
            let width = max(1, strings.map { $0.utf8.count }.max() ?? 1)
            H5Tset_size(tid, width)
            H5Tset_strpad(tid, H5T_STR_NULLPAD)
            var bytes = [UInt8](repeating: 0, count: width * strings.count)
            for (i, s) in strings.enumerated() { for (j, b) in s.utf8.enumerated() { bytes[i * width + j] = b } }
            let aid = H5Acreate2(objectID, name, tid, sid, vgg_H5P_DEFAULT(), vgg_H5P_DEFAULT())
            try HDF5Library.check(aid, "create attribute '\(name)'", object: fullPath)
            defer { H5Aclose(aid) }
            try HDF5Library.check(H5Awrite(aid, tid, bytes), "write attribute '\(name)'", object: fullPath)
        } else {
            H5Tset_size(tid, vgg_H5T_VARIABLE())
            H5Tset_cset(tid, H5T_CSET_UTF8)
            let aid = H5Acreate2(objectID, name, tid, sid, vgg_H5P_DEFAULT(), vgg_H5P_DEFAULT())
            try HDF5Library.check(aid, "create attribute '\(name)'", object: fullPath)
            defer { H5Aclose(aid) }
            let cstrings = strings.map { strdup($0) }
            defer { cstrings.forEach { free($0) } }
            let status = cstrings.withUnsafeBufferPointer { H5Awrite(aid, tid, $0.baseAddress) }
            try HDF5Library.check(status, "write attribute '\(name)'", object: fullPath)
        }
    }
}

/// An open group.
public final class HDF5Group: HDF5AttributeHolder {
    package let objectID: hid_t
    /// The group's absolute path in its file ("/" for the root group).
    public let fullPath: String
    /// The file the group belongs to (kept open as long as the group is).
    public let file: HDF5File

    init(file: HDF5File, parentID: hid_t, name: String, fullPath: String) throws {
        HDF5Library.ensure()
        let gid = H5Gopen2(parentID, name, vgg_H5P_DEFAULT())
        try HDF5Library.check(gid, "open group", object: fullPath)
        self.objectID = gid
        self.fullPath = fullPath
        self.file = file
    }

    deinit { H5Gclose(objectID) }

    func childPath(_ name: String) -> String { fullPath == "/" ? "/" + name : fullPath + "/" + name }

    /// The links in this group, in name order, with what each points to (links are not followed; hard
    /// links are inspected only to tell groups from datasets).
    public func links() throws -> [HDF5Link] {
        var info = H5G_info_t()
        try HDF5Library.check(H5Gget_info(objectID, &info), "list group", object: fullPath)
        var result: [HDF5Link] = []
        result.reserveCapacity(Int(info.nlinks))
        for i in 0..<info.nlinks {
            let n = H5Lget_name_by_idx(objectID, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, vgg_H5P_DEFAULT())
            try HDF5Library.check(n, "list group", object: fullPath)
            var buf = [CChar](repeating: 0, count: Int(n) + 1)
            try HDF5Library.check(H5Lget_name_by_idx(objectID, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(n) + 1, vgg_H5P_DEFAULT()), "list group", object: fullPath)
            let name = String(cBuffer: buf)
            result.append(HDF5Link(name: name, target: try linkTarget(name)))
        }
        return result
    }

    /// What the link `name` (a single component) in this group points to, without following soft or
    /// external links.
    public func linkTarget(_ name: String) throws -> HDF5LinkTarget {
        var linfo = H5L_info_t()
        try HDF5Library.check(H5Lget_info(objectID, name, &linfo, vgg_H5P_DEFAULT()), "read link", object: childPath(name))
        switch linfo.type {
        case H5L_TYPE_HARD:
            let oid = H5Oopen(objectID, name, vgg_H5P_DEFAULT())
            try HDF5Library.check(oid, "open object", object: childPath(name))
            defer { H5Oclose(oid) }
            switch H5Iget_type(oid) {
            case H5I_GROUP: return .hard(.group)
            case H5I_DATASET: return .hard(.dataset)
            case H5I_DATATYPE: return .hard(.namedDatatype)
            default: return .hard(.unknown)
            }
        case H5L_TYPE_SOFT, H5L_TYPE_EXTERNAL:
            var buf = [UInt8](repeating: 0, count: Int(linfo.u.val_size) + 1)
            try HDF5Library.check(H5Lget_val(objectID, name, &buf, buf.count, vgg_H5P_DEFAULT()), "read link", object: childPath(name))
            if linfo.type == H5L_TYPE_SOFT {
                return .soft(String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self))
            }
            var flags: UInt32 = 0
            var filePtr: UnsafePointer<CChar>? = nil
            var objPtr: UnsafePointer<CChar>? = nil
            let status = buf.withUnsafeBytes { H5Lunpack_elink_val($0.baseAddress, $0.count, &flags, &filePtr, &objPtr) }
            try HDF5Library.check(status, "read external link", object: childPath(name))
            return .external(file: filePtr.map { String(cString: $0) } ?? "", path: objPtr.map { String(cString: $0) } ?? "")
        default:
            return .other(Int(linfo.type.rawValue))
        }
    }

    /// Resolves a relative path one component at a time, refusing anything but hard links (soft and
    /// external links are never followed) and refusing `.`/`..` components.
    private func checkedHardPath(_ path: String, expect: HDF5ObjectKind) throws -> (parent: HDF5Group, leaf: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty else { throw HDF5Error("open", object: childPath(path), kind: .invalidPath, message: "empty path") }
        var group: HDF5Group = self
        for (i, part) in parts.enumerated() {
            if part == "." || part == ".." {
                throw HDF5Error("open", object: childPath(path), kind: .invalidPath, message: "path component '\(part)' is not allowed")
            }
            let exists = H5Lexists(group.objectID, part, vgg_H5P_DEFAULT())
            if exists <= 0 {
                _ = HDF5Library.lastMessage()
                throw HDF5Error("open", object: group.childPath(part), kind: .noSuchObject, message: "no such object")
            }
            let target = try group.linkTarget(part)
            let isLast = i == parts.count - 1
            let want: HDF5ObjectKind = isLast ? expect : .group
            switch target {
            case .hard(let kind) where kind == want:
                if isLast { return (group, part) }
                group = try HDF5Group(file: file, parentID: group.objectID, name: part, fullPath: group.childPath(part))
            case .hard(let kind):
                throw HDF5Error("open", object: group.childPath(part), kind: .wrongObjectType(expected: want, found: kind), message: "is a \(kind.rawValue), expected a \(want.rawValue)")
            case .soft(let to):
                throw HDF5Error("open", object: group.childPath(part), kind: .linkRefused(target), message: "soft link to '\(to)' refused (links are not followed)")
            case .external(let f, let p):
                throw HDF5Error("open", object: group.childPath(part), kind: .linkRefused(target), message: "external link to '\(f):\(p)' refused")
            case .other(let t):
                throw HDF5Error("open", object: group.childPath(part), kind: .linkRefused(target), message: "user-defined link type \(t) refused")
            }
        }
        fatalError("unreachable")
    }

    /// True when `path` names a hard-linked object (any kind) below this group.
    public func contains(_ path: String) -> Bool {
        let parts = path.split(separator: "/").map(String.init)
        var current = ""
        for part in parts {
            current = current.isEmpty ? part : current + "/" + part
            let r = H5Lexists(objectID, current, vgg_H5P_DEFAULT())
            if r <= 0 { _ = HDF5Library.lastMessage(); return false }
        }
        return !parts.isEmpty
    }

    /// Opens a sub-group by relative path (hard links only).
    public func group(_ path: String) throws -> HDF5Group {
        let (parent, leaf) = try checkedHardPath(path, expect: .group)
        return try HDF5Group(file: file, parentID: parent.objectID, name: leaf, fullPath: parent.childPath(leaf))
    }

    /// Opens a dataset by relative path (hard links only).
    public func dataset(_ path: String) throws -> HDF5Dataset {
        let (parent, leaf) = try checkedHardPath(path, expect: .dataset)
        return try HDF5Dataset(parentID: parent.objectID, name: leaf, fullPath: parent.childPath(leaf))
    }

    /// Creates the group `name` (a single component) in this group and opens it.
    public func createGroup(_ name: String) throws -> HDF5Group {
        let gid = H5Gcreate2(objectID, name, vgg_H5P_DEFAULT(), vgg_H5P_DEFAULT(), vgg_H5P_DEFAULT())
        try HDF5Library.check(gid, "create group", object: childPath(name))
        H5Gclose(gid)
        return try HDF5Group(file: file, parentID: objectID, name: name, fullPath: childPath(name))
    }

    /// Creates an external link `name` -> `file`:`path` (for tests of hostile files; not public API).
    package func createExternalLink(_ name: String, file: String, path: String) throws {
        try HDF5Library.check(H5Lcreate_external(file, path, objectID, name, vgg_H5P_DEFAULT(), vgg_H5P_DEFAULT()), "create external link", object: childPath(name))
    }

    /// Creates a contiguous little-endian float32 dataset and writes `data` (row-major, `shape`).
    @discardableResult
    public func createDataset(_ name: String, shape: [Int], data: UnsafeBufferPointer<Float>) throws -> HDF5Dataset {
        precondition(shape.reduce(1, *) == data.count, "shape does not match data")
        var dims = shape.map { hsize_t($0) }
        let sid = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), &dims, nil)
        defer { H5Sclose(sid) }
        let did = H5Dcreate2(objectID, name, vgg_H5T_IEEE_F32LE(), sid, vgg_H5P_DEFAULT(), vgg_H5P_DEFAULT(), vgg_H5P_DEFAULT())
        try HDF5Library.check(did, "create dataset", object: childPath(name))
        defer { H5Dclose(did) }
        if !data.isEmpty {
            try HDF5Library.check(H5Dwrite(did, vgg_H5T_NATIVE_FLOAT(), vgg_H5S_ALL(), vgg_H5S_ALL(), vgg_H5P_DEFAULT(), data.baseAddress), "write dataset", object: childPath(name))
        }
        return try HDF5Dataset(parentID: objectID, name: name, fullPath: childPath(name))
    }
}

/// Storage layout of a dataset.
public enum HDF5Layout: String, Sendable {
    /// Stored inside the object header (small datasets).
    case compact
    /// One contiguous block of bytes in the file (readable in place).
    case contiguous
    /// Split into chunks, possibly filtered (compressed).
    case chunked
    /// A virtual dataset mapping other datasets (never read by vggtool).
    case virtual
    /// A layout libhdf5 did not report.
    case unknown
}

/// An open dataset.
public final class HDF5Dataset: HDF5AttributeHolder {
    package let objectID: hid_t
    /// The dataset's absolute path in its file.
    public let fullPath: String

    init(parentID: hid_t, name: String, fullPath: String) throws {
        HDF5Library.ensure()
        let did = H5Dopen2(parentID, name, vgg_H5P_DEFAULT())
        try HDF5Library.check(did, "open dataset", object: fullPath)
        self.objectID = did
        self.fullPath = fullPath
    }

    deinit { H5Dclose(objectID) }

    /// Dimensions (row-major, as NumPy shows them). Empty for a scalar.
    public func shape() throws -> [UInt64] {
        let sid = H5Dget_space(objectID)
        try HDF5Library.check(sid, "read dataspace", object: fullPath)
        defer { H5Sclose(sid) }
        let rank = H5Sget_simple_extent_ndims(sid)
        try HDF5Library.check(rank, "read dataspace", object: fullPath)
        if rank > 32 { throw HDF5Error("read dataspace", object: fullPath, kind: .tooLarge, message: "rank \(rank) exceeds 32") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        try HDF5Library.check(H5Sget_simple_extent_dims(sid, &dims, nil), "read dataspace", object: fullPath)
        return dims.map { UInt64($0) }
    }

    /// The stored element type.
    public func typeInfo() throws -> HDF5TypeInfo {
        let tid = H5Dget_type(objectID)
        try HDF5Library.check(tid, "read datatype", object: fullPath)
        defer { H5Tclose(tid) }
        return HDF5TypeInfo(type: tid)
    }

    /// Layout, filter names and the count of external storage files, from the creation property list.
    public func storage() throws -> (layout: HDF5Layout, filters: [(id: Int, name: String)], externalFiles: Int) {
        let pid = H5Dget_create_plist(objectID)
        try HDF5Library.check(pid, "read creation properties", object: fullPath)
        defer { H5Pclose(pid) }
        let layout: HDF5Layout
        switch H5Pget_layout(pid) {
        case H5D_COMPACT: layout = .compact
        case H5D_CONTIGUOUS: layout = .contiguous
        case H5D_CHUNKED: layout = .chunked
        case H5D_VIRTUAL: layout = .virtual
        default: layout = .unknown
        }
        var filters: [(Int, String)] = []
        let n = H5Pget_nfilters(pid)
        if n > 0 {
            for i in 0..<n {
                var flags: UInt32 = 0
                var nelmts = 0
                var name = [CChar](repeating: 0, count: 256)
                var config: UInt32 = 0
                let f = H5Pget_filter2(pid, UInt32(i), &flags, &nelmts, nil, 256, &name, &config)
                filters.append((Int(f), String(cBuffer: name)))
            }
        }
        let ext = H5Pget_external_count(pid)
        return (layout, filters, Int(max(0, ext)))
    }

    /// File offset of a contiguous dataset's bytes (`nil` when chunked, compact, or not allocated).
    public func contiguousOffset() -> UInt64? {
        let off = H5Dget_offset(objectID)
        if off == UInt64.max { _ = HDF5Library.lastMessage(); return nil }
        return UInt64(off)
    }

    /// Bytes the dataset occupies in the file.
    public func storageSize() -> UInt64 { UInt64(H5Dget_storage_size(objectID)) }

    /// Reads the whole dataset converted to native float32 (from any integer or float type libhdf5 can
    /// convert, including float16 and big-endian) into `buffer`, which must hold exactly the element count.
    public func readFloat32(into buffer: UnsafeMutableRawBufferPointer) throws {
        try read(into: buffer, memType: vgg_H5T_NATIVE_FLOAT())
    }

    /// Reads the whole dataset converted to native float64.
    public func readFloat64(into buffer: UnsafeMutableRawBufferPointer) throws {
        try read(into: buffer, memType: vgg_H5T_NATIVE_DOUBLE())
    }

    /// Reads the stored bytes without conversion (the dataset's own type; `buffer.count` = storage size).
    public func readRaw(into buffer: UnsafeMutableRawBufferPointer) throws {
        let tid = H5Dget_type(objectID)
        try HDF5Library.check(tid, "read datatype", object: fullPath)
        defer { H5Tclose(tid) }
        try read(into: buffer, memType: tid)
    }

    private func read(into buffer: UnsafeMutableRawBufferPointer, memType: hid_t) throws {
        guard buffer.count > 0 else { return }
        try HDF5Library.check(H5Dread(objectID, memType, vgg_H5S_ALL(), vgg_H5S_ALL(), vgg_H5P_DEFAULT(), buffer.baseAddress), "read data", object: fullPath)
    }
}

/// An open attribute.
public final class HDF5Attribute {
    let id: hid_t
    /// The attribute's name on its object.
    public let name: String
    let ownerPath: String

    init(id: hid_t, name: String, ownerPath: String) {
        self.id = id
        self.name = name
        self.ownerPath = ownerPath
    }

    deinit { H5Aclose(id) }

    var where_: String { "\(ownerPath)@\(name)" }

    /// The stored element type.
    public func typeInfo() throws -> HDF5TypeInfo {
        let tid = H5Aget_type(id)
        try HDF5Library.check(tid, "read attribute type", object: where_)
        defer { H5Tclose(tid) }
        return HDF5TypeInfo(type: tid)
    }

    /// Number of elements (1 for a scalar).
    public func elementCount() throws -> Int {
        let sid = H5Aget_space(id)
        try HDF5Library.check(sid, "read attribute dataspace", object: where_)
        defer { H5Sclose(sid) }
        let n = H5Sget_simple_extent_npoints(sid)
        try HDF5Library.check(n, "read attribute dataspace", object: where_)
        return Int(n)
    }

    /// Reads a string or array of strings, fixed-length (NUL-padded or -terminated) or variable-length.
    /// Size cap: 256 MB of string data.
    public func readStrings() throws -> [String] {
        let tid = H5Aget_type(id)
        try HDF5Library.check(tid, "read attribute type", object: where_)
        defer { H5Tclose(tid) }
        // An empty list is stored by h5py as a float64 array of length 0.
        if try elementCount() == 0 { return [] }
        guard H5Tget_class(tid) == H5T_STRING else {
            throw HDF5Error("read attribute", object: where_, kind: .unexpectedType, message: "expected strings, found \(HDF5TypeInfo(type: tid))")
        }
        let count = try elementCount()
        if H5Tis_variable_str(tid) > 0 {
            let mem = H5Tcopy(vgg_H5T_C_S1())
            defer { H5Tclose(mem) }
            H5Tset_size(mem, vgg_H5T_VARIABLE())
            H5Tset_cset(mem, H5Tget_cset(tid))
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try HDF5Library.check(H5Aread(id, mem, &ptrs), "read attribute", object: where_)
            defer {
                let sid = H5Aget_space(id)
                H5Dvlen_reclaim(mem, sid, vgg_H5P_DEFAULT(), &ptrs)
                H5Sclose(sid)
            }
            return ptrs.map { $0.map { String(cString: $0) } ?? "" }
        }
        let width = H5Tget_size(tid)
        let total = width.multipliedReportingOverflow(by: count)
        guard !total.overflow, total.partialValue <= 256 << 20 else {
            throw HDF5Error("read attribute", object: where_, kind: .tooLarge, message: "string data too large (\(count) x \(width) bytes)")
        }
        var bytes = [UInt8](repeating: 0, count: max(1, total.partialValue))
        try HDF5Library.check(H5Aread(id, tid, &bytes), "read attribute", object: where_)
        return (0..<count).map { i in
            let slice = bytes[(i * width)..<((i + 1) * width)]
            let end = slice.firstIndex(of: 0) ?? slice.endIndex
            return String(decoding: slice[slice.startIndex..<end], as: UTF8.self).trimmingCharacters(in: .init(charactersIn: " "))
        }
    }

    /// Reads numeric values converted to Double (integers or floats).
    public func readDoubles() throws -> [Double] {
        let info = try typeInfo()
        guard info.typeClass == .float || info.typeClass == .integer else {
            throw HDF5Error("read attribute", object: where_, kind: .unexpectedType, message: "expected numbers, found \(info)")
        }
        let count = try elementCount()
        guard count <= 1 << 24 else { throw HDF5Error("read attribute", object: where_, kind: .tooLarge, message: "too many elements (\(count))") }
        var values = [Double](repeating: 0, count: count)
        try HDF5Library.check(H5Aread(id, vgg_H5T_NATIVE_DOUBLE(), &values), "read attribute", object: where_)
        return values
    }
}
