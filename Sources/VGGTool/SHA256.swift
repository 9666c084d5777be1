import CCrypto
import Foundation

/// SHA-256 of a file (OpenSSL's libcrypto, which uses the CPU's SHA extensions when present), read in
/// 4 MB chunks.
public func sha256Hex(ofFile path: String, cancelled: () -> Bool = { false }) throws -> String {
    guard let fh = FileHandle(forReadingAtPath: path) else { throw ToolError(path, "cannot be opened for reading") }
    defer { try? fh.close() }
    guard let ctx = EVP_MD_CTX_new() else { throw ToolError(path, "cannot start SHA-256") }
    defer { EVP_MD_CTX_free(ctx) }
    EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
    while true {
        let chunk = try fh.read(upToCount: 4 << 20) ?? Data()
        if chunk.isEmpty { break }
        if cancelled() { throw ToolError(path, "hashing cancelled") }
        chunk.withUnsafeBytes { _ = EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
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
