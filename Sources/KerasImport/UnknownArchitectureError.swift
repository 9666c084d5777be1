/// A weights-only file whose architecture is neither in the file, nor given, nor recognisable from its
/// weights. `description` says what the caller can give (the architecture or the model's config) by concept;
/// a command line names its own options for them with `message(architecture:config:)`.
public struct UnknownArchitectureError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What the file's weights looked like when no built-in architecture matched them.
    public enum Evidence: Sendable, Equatable {
        /// Keras 3 auto-named layers: how many convolution and dense layers hold weights.
        case layerCounts(convolutions: Int, dense: Int)
        /// Named layers: the names of the layers with weights, in the file's order.
        case layerNames([String])
    }

    /// The weights-only file.
    public var file: String
    /// What its weights look like.
    public var evidence: Evidence

    /// The file's weights did not match any `Architecture`; `evidence` says what they look like.
    public init(file: String, evidence: Evidence) {
        self.file = file
        self.evidence = evidence
    }

    /// What the file's weights look like, in words, e.g. "with 14 convolution and 0 dense layers".
    public var weights: String {
        switch evidence {
        case .layerCounts(let convs, let denses): return "with \(convs) convolution and \(denses) dense layers"
        case .layerNames(let names): return "(layers \(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", ..." : ""))"
        }
    }

    /// The message with `architecture` and `config` naming the ways to supply one.
    public func message(architecture: String, config: String) -> String {
        "\(file): weights-only file \(weights) matches no built-in architecture; give \(architecture) (\(Architecture.allCases.map(\.rawValue).joined(separator: ", "))) or \(config)"
    }

    /// The message naming the architecture and the model's config by concept.
    public var description: String { message(architecture: "its architecture", config: "its model config (model.to_json())") }
}
