/// Why a model cannot be exported to ONNX: what kind it is, the file and the layer at fault, and why.
/// `description` is one line: `file: layer 'name': message`.
public struct ONNXExportError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on.
    public enum Kind: Sendable, Equatable {
        /// The layer's class has no ONNX form in vggtool (its Keras class name).
        case unsupportedLayer(className: String)
        /// The layer's class exports, but not with this setting (in Keras's words).
        case unsupportedSetting(String)
        /// The model's input size is not known, and the export needs it (padding of strided windows).
        case unknownInputSize
        /// An ONNX opset outside 13 ... 21 (the one asked for).
        case unsupportedOpset(Int)
        /// The model is larger than protobuf's 2 GB limit (its size in bytes) and external data was not asked for.
        case tooLarge(bytes: Int)
        /// A weight the layer needs is missing from the model file.
        case missingWeight(String)
    }

    /// The model file.
    public var file: String
    /// The layer at fault, when there is one.
    public var layer: String?
    /// What kind of failure it is.
    public var kind: Kind
    /// Why, in words.
    public var message: String

    /// A failure of `kind` exporting `file` (at `layer`, when given), with `message` saying why.
    public init(file: String, layer: String? = nil, _ kind: Kind, _ message: String) {
        self.file = file
        self.layer = layer
        self.kind = kind
        self.message = message
    }

    /// `file: layer 'name': message` (without the layer when there is none).
    public var description: String { "\(file): " + (layer.map { "layer '\($0)': " } ?? "") + message }
}
