/// A Keras activation function, as layers name it in their `activation` config (and the `Activation`
/// layer). The raw value is the name vggtool's JSON stores.
///
/// Keras renamed and redefined a few over time; the differences are settled when a file is imported, so
/// the graph always says exactly what is computed:
/// - `hard_sigmoid` is `clip(0.2 x + 0.5, 0, 1)` in Keras 1/2 (`.hardSigmoid`) but `relu6(x + 3) / 6` in
///   Keras 3 (`.hardSigmoidKeras3`, stored as `hard_sigmoid_keras3`);
/// - `swish`/`silu` and `hard_silu`/`hard_swish` are the same functions under two names, kept apart so a
///   file exported back to Keras carries the name it came with.
public enum Activation: String, Sendable, Hashable, CaseIterable, Codable {
    case linear, relu, softmax, sigmoid, tanh, elu, selu, softplus, softsign, swish, silu, gelu, exponential, relu6, mish
    case hardSigmoid = "hard_sigmoid"
    case hardSigmoidKeras3 = "hard_sigmoid_keras3"
    case leakyRelu = "leaky_relu"
    case logSoftmax = "log_softmax"
    case hardSilu = "hard_silu"
    case hardSwish = "hard_swish"

    /// The activation Keras `kerasMajor` means by `name` (`hard_sigmoid` depends on the version); nil for a
    /// name that is not a standard Keras activation.
    public init?(keras name: String, kerasMajor: Int) {
        if name == "hard_sigmoid" {
            self = kerasMajor >= 3 ? .hardSigmoidKeras3 : .hardSigmoid
            return
        }
        guard name != Activation.hardSigmoidKeras3.rawValue, let a = Activation(rawValue: name) else { return nil }
        self = a
    }

    /// The name Keras uses in configs.
    public var kerasName: String { self == .hardSigmoidKeras3 ? "hard_sigmoid" : rawValue }

    /// The Keras major versions that define this activation under `kerasName` (Keras 3's `hard_sigmoid`
    /// has no equivalent in Keras 2, and Keras 2's none in Keras 3).
    public var kerasMajors: ClosedRange<Int> {
        switch self {
        case .hardSigmoid: 1...2
        case .hardSigmoidKeras3: 3...3
        default: 1...3
        }
    }

    /// `userInfo` key of the JSON decoder: the Keras major version of the file's source (`Int`). Files
    /// written before `hard_sigmoid_keras3` existed stored Keras 3's as `hard_sigmoid`.
    public static let sourceKerasMajorKey = CodingUserInfoKey(rawValue: "vggtool.sourceKerasMajor")!

    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        if name == "hard_sigmoid", let major = decoder.userInfo[Self.sourceKerasMajorKey] as? Int, major >= 3 {
            self = .hardSigmoidKeras3
            return
        }
        guard let a = Activation(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown activation '\(name)'"))
        }
        self = a
    }
}
