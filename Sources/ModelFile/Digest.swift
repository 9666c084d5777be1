import CCrypto
import Foundation

/// SHA-256 of a file (OpenSSL's libcrypto, which uses the CPU's SHA extensions when present), over a
/// read-only mapping in 16 MB steps; `cancelled` is polled between steps.
public func sha256Hex(ofFile path: String, cancelled: () -> Bool = { false }) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // a FIFO must not block the open
    guard fd >= 0 else { throw ModelFileError(file: path, .unreadable, "cannot be opened for reading") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw ModelFileError(file: path, .unreadable, "cannot stat") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelFileError(file: path, .unreadable, "is not a regular file: refused") }
    let size = Int(st.st_size)
    guard let ctx = EVP_MD_CTX_new() else { throw ModelFileError(file: path, .system, "cannot start SHA-256") }
    defer { EVP_MD_CTX_free(ctx) }
    EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    if size > 0 {
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { throw ModelFileError(file: path, .unreadable, "cannot be mapped") }
        defer { munmap(map, size) }
        madvise(map, size, MADV_SEQUENTIAL)
        var offset = 0
        while offset < size {
            if cancelled() { throw ModelFileError(file: path, .cancelled, "hashing cancelled") }
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


/// SHA-256 of bytes in memory, as 64 hex digits.
public func sha256Hex(_ bytes: UnsafeRawBufferPointer) -> String {
    var digest = [UInt8](repeating: 0, count: 32)
    var len: UInt32 = 0
    guard let ctx = EVP_MD_CTX_new() else { return "" }
    defer { EVP_MD_CTX_free(ctx) }
    EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    EVP_DigestFinal_ex(ctx, &digest, &len)
    return digest.map { String(format: "%02x", $0) }.joined()
}
