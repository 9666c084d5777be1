/// A problem with a Keras file: which file, which object in it (layer, dataset, attribute, zip entry), and
/// what is wrong. `description` is the one-line message the CLI prints.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var object: String
    public var message: String

    public init(file: String, object: String = "", _ message: String) {
        self.file = file
        self.object = object
        self.message = message
    }

    public var description: String {
        object.isEmpty ? "\(file): \(message)" : "\(file): \(object): \(message)"
    }
}
