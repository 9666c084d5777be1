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
    /// The identity, `x` (Keras's default: no activation).
    case linear
    /// `max(x, 0)`.
    case relu
    /// `exp(x) / sum(exp(x))` over the last axis (channels).
    case softmax
    /// `1 / (1 + exp(-x))`.
    case sigmoid
    /// Hyperbolic tangent.
    case tanh
    /// `x` for x > 0, else `exp(x) - 1` (alpha 1).
    case elu
    /// Scaled ELU: `1.0507 * elu(x)` with alpha 1.67326.
    case selu
    /// `log(1 + exp(x))`.
    case softplus
    /// `x / (1 + |x|)`.
    case softsign
    /// `x * sigmoid(x)` (tf-keras's name).
    case swish
    /// `x * sigmoid(x)` (Keras 3's name).
    case silu
    /// Exact GELU, `0.5 x (1 + erf(x / sqrt(2)))`.
    case gelu
    /// `exp(x)`.
    case exponential
    /// `min(max(x, 0), 6)`.
    case relu6
    /// `x * tanh(softplus(x))`.
    case mish
    /// Keras 1/2's `hard_sigmoid`: `clip(0.2 x + 0.5, 0, 1)`.
    case hardSigmoid = "hard_sigmoid"
    /// Keras 3's `hard_sigmoid`: `relu6(x + 3) / 6`.
    case hardSigmoidKeras3 = "hard_sigmoid_keras3"
    /// `x` for x >= 0, else `0.2 x` (Keras 3's `leaky_relu` activation function).
    case leakyRelu = "leaky_relu"
    /// `x - log(sum(exp(x)))` over the last axis.
    case logSoftmax = "log_softmax"
    /// `x * relu6(x + 3) / 6` (Keras 3's name).
    case hardSilu = "hard_silu"
    /// `x * relu6(x + 3) / 6` (the alias Keras 3 also accepts).
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
