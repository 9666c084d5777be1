import CHDF5
import Synchronization

/// An HDF5 failure: the operation, the object path it concerned (the file's path for `open`), what kind of
/// failure it was and libhdf5's innermost message. `description` is one line naming the object.
public struct HDF5Error: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on.
    public enum Kind: Sendable, Equatable {
        /// The file does not exist.
        case noSuchFile
        /// The file has no HDF5 signature.
        case notHDF5
        /// A path component does not exist in its group.
        case noSuchObject
        /// A path that vggtool never resolves (empty, or with a `.` or `..` component).
        case invalidPath
        /// The object exists but is of another kind (a dataset where a group was expected, ...).
        case wrongObjectType(expected: HDF5ObjectKind, found: HDF5ObjectKind)
        /// A soft, external or user-defined link, refused: links are never followed.
        case linkRefused(HDF5LinkTarget)
        /// An attribute holds another type than the one asked for (numbers where strings were expected, ...).
        case unexpectedType
        /// A size over vggtool's caps (rank, element count, string bytes).
        case tooLarge
        /// The file's structure is corrupt in a way vggtool checks before libhdf5 reads it (global heap).
        case corrupt
        /// libhdf5 itself reported the failure (its message is `message`).
        case library
    }

    /// What went wrong.
    public var kind: Kind
    /// The operation that failed (`open`, `read attribute`, ...).
    public var operation: String
    /// The HDF5 object path (or the file's path, or an in-memory image's label) it concerned.
    public var object: String
    /// libhdf5's innermost message, or vggtool's own reason.
    public var message: String

    /// An error of `kind` from `operation` on `object`; `message` says why.
    public init(_ operation: String, object: String, kind: Kind, message: String) {
        self.kind = kind
        self.operation = operation
        self.object = object
        self.message = message
    }

    /// `'object': operation failed (message)`.
    public var description: String {
        let what = object.isEmpty ? "" : "'\(object)': "
        return "\(what)\(operation) failed" + (message.isEmpty ? "" : " (\(message))")
    }
}

/// Process-wide libhdf5 set-up: run once before the first call. Turns automatic error printing off (errors
/// become `HDF5Error`s) and refuses dynamically loaded filter plugins: nothing in a file can make
/// libhdf5 load code.
enum HDF5Library {
    static let initialized: Bool = {
        H5open()
        H5PLset_loading_state(0)
        return true
    }()

    /// Initializes the library once and silences HDF5's automatic error printing on the calling thread
    /// (a per-thread setting in thread-safe builds).
    @inline(__always) static func ensure() {
        _ = initialized
        vgg_H5_silence_errors_on_this_thread()
    }

    /// Unique names for in-memory file images (HDF5's core driver identifies open files by name).
    private static let imageCounter = Mutex(0)
    static func nextImageName() -> String {
        let n = imageCounter.withLock { value -> Int in value += 1; return value }
        return "vggtool-in-memory-image-\(n)"
    }

    /// The innermost message of libhdf5's error stack (and clears the stack).
    static func lastMessage() -> String {
        var buf = [CChar](repeating: 0, count: 512)
        vgg_H5E_describe(&buf)
        return String(cBuffer: buf)
    }

    /// Checks an `herr_t` / `hid_t` style status: negative means failure.
    @discardableResult
    static func check<T: BinaryInteger>(_ status: T, _ operation: @autoclosure () -> String, object: @autoclosure () -> String) throws -> T {
        if status < 0 { throw HDF5Error(operation(), object: object(), kind: .library, message: lastMessage()) }
        return status
    }
}

extension String {
    /// Decodes a NUL-terminated C character buffer as UTF-8 (invalid bytes replaced).
    init(cBuffer buf: [CChar]) {
        let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
