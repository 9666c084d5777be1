import CCrypto
import Foundation

/// SHA-256 of a file (OpenSSL's libcrypto, which uses the CPU's SHA extensions when present), over a
/// read-only mapping in 16 MB steps; `cancelled` is polled between steps.
public func sha256Hex(ofFile path: String, cancelled: () -> Bool = { false }) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ToolError(path, "cannot be opened for reading") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw ToolError(path, "cannot stat") }
    let size = Int(st.st_size)
    guard let ctx = EVP_MD_CTX_new() else { throw ToolError(path, "cannot start SHA-256") }
    defer { EVP_MD_CTX_free(ctx) }
    EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    if size > 0 {
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { throw ToolError(path, "cannot be mapped") }
        defer { munmap(map, size) }
        madvise(map, size, MADV_SEQUENTIAL)
        var offset = 0
        while offset < size {
            if cancelled() { throw ToolError(path, "hashing cancelled") }
            let n = min(16 << 20, size - offset)
            EVP_DigestUpdate(ctx, map + offset, n)
            madvise(map + offset, n, MADV_DONTNEED)  // drop the pages from this process (not from the page cache)
            offset += n
        }
    }
    var digest = [UInt8](repeating: 0, count: 32)
    var len: UInt32 = 0
    EVP_DigestFinal_ex(ctx, &digest, &len)
    return digest.map { String(format: "%02x", $0) }.joined()
}

/// A one-line error about a file (or object in it).
public struct ToolError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ file: String, _ message: String) { self.message = "\(file): \(message)" }
    public init(message: String) { self.message = message }
    public var description: String { message }
}
