import Foundation

/// A one-line error about a file (or object in it).
public struct ToolError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ file: String, _ message: String) { self.message = "\(file): \(message)" }
    public init(message: String) { self.message = message }
    public var description: String { message }
}
