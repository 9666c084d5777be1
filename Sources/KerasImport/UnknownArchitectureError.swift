/// A weights-only file whose architecture is neither in the file, nor given, nor recognisable from its
/// weights. `description` says what the caller can give (the architecture or the model's config) by concept;
/// a command line names its own options for them with `message(architecture:config:)`.
public struct UnknownArchitectureError: Error, CustomStringConvertible, Sendable {
    public var file: String
    /// What the file's weights look like, e.g. "with 14 convolution and 0 dense layers".
    public var weights: String

    public init(file: String, weights: String) {
        self.file = file
        self.weights = weights
    }

    /// The message with `architecture` and `config` naming the ways to supply one.
    public func message(architecture: String, config: String) -> String {
        "\(file): weights-only file \(weights) matches no built-in architecture; give \(architecture) (\(Architecture.allCases.map(\.rawValue).joined(separator: ", "))) or \(config)"
    }

    public var description: String { message(architecture: "its architecture", config: "its model config (model.to_json())") }
}
