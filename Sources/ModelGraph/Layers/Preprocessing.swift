/// Keras's image preprocessing and augmentation layers, and CategoryEncoding.

/// A JSON value kept as a layer's setting where vggtool does not interpret it (an augmentation's factors,
/// ranges and modes), so that the JSON and the exports write it back as it was read.
public enum ConfigValue: Sendable, Hashable, Codable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number.
    case number(Double)
    /// A string.
    case string(String)
    /// A list.
    case array([ConfigValue])
    /// An object.
    case object([String: ConfigValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) { self = .string(s) } else if let a = try? c.decode([ConfigValue].self) { self = .array(a) } else {
            self = .object(try c.decode([String: ConfigValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The string, when it is one.
    public var string: String? { if case .string(let s) = self { s } else { nil } }
}

/// Keras's random augmentation layers (`RandomFlip`, `RandomRotation`, `RandomZoom`, `RandomContrast`, ...,
/// Keras 3's `RandomGrayscale`, `RandAugment`, `MixUp`, ...): they change images in training only and are the
/// identity at inference, so one type stands for all of them; each keeps its class and its settings as read.
/// Two are not the identity in shape: tf-keras's `RandomHeight` and `RandomWidth` leave that axis unknown
/// (and are not run), and `RandomCrop` outputs `(height, width)` (summarized, not run: tf-keras crops and
/// resizes at inference, Keras 3 does not).
public struct RandomAugmentation: LayerKind {
    public static let className = "RandomFlip"
    /// Every class this type stands for.
    public static let classes = [
        "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
        "RandomHeight", "RandomWidth", "RandomCrop", "RandomGrayscale", "RandomHue", "RandomSaturation",
        "RandomColorJitter", "RandomColorDegeneration", "RandomSharpness", "RandomShear", "RandomPerspective",
        "RandomPosterization", "RandomInvert", "RandomErasing", "RandomGaussianBlur", "RandomElasticTransform",
        "AugMix", "RandAugment", "CutMix", "MixUp", "Solarization",
    ]
    public static let aliases = Array(classes.dropFirst())
    /// The Keras class (one of `classes`).
    public var augmentation: String
    /// Its Keras settings other than name, dtype and trainable, as read.
    public var settings: [String: ConfigValue]

    /// An augmentation layer of class `augmentation`.
    public init(augmentation: String, settings: [String: ConfigValue] = [:]) {
        self.augmentation = augmentation
        self.settings = settings
    }

    public var className: String { augmentation }

    /// Whether the layer is the identity at inference, shape included (all but RandomHeight, RandomWidth
    /// and RandomCrop).
    public var isIdentityAtInference: Bool { !["RandomHeight", "RandomWidth", "RandomCrop"].contains(augmentation) }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        var s = inputs[0]
        let order = ChannelOrder(rawValue: settings["data_format"]?.string ?? "channels_last") ?? .channelsLast
        let (h, w) = order == .channelsLast ? (s.count - 3, s.count - 2) : (s.count - 2, s.count - 1)
        switch augmentation {
        case "RandomHeight", "RandomWidth", "RandomCrop":
            guard s.count >= 4 else { throw LayerShapeError("expects images (batch, height, width, channels), got \(ShapeFormat.tuple(s))") }
            if augmentation == "RandomHeight" { s[h] = nil }
            if augmentation == "RandomWidth" { s[w] = nil }
            if augmentation == "RandomCrop" {
                guard case .number(let th)? = settings["height"], case .number(let tw)? = settings["width"], th >= 1, tw >= 1,
                      th <= Double(maxDimension), tw <= Double(maxDimension), th.rounded() == th, tw.rounded() == tw else {
                    throw LayerShapeError("RandomCrop needs a positive integer height and width")
                }
                s[h] = Int(th)
                s[w] = Int(tw)
            }
        default: break
        }
        return Inference(output: s)
    }

    public var op: LayerOp { .randomAugmentation(self) }

    enum CodingKeys: String, CodingKey { case augmentation = "class_name", settings }
}

/// Keras `Resizing`: images resized to `(height, width)` as `tf.image.resize` does (half-pixel centres, no
/// antialiasing unless asked), optionally cropping or padding to the target's aspect ratio first.
public struct Resizing: ChannelOrdered {
    public static let className = "Resizing"
    /// Output height.
    public var height: Int
    /// Output width.
    public var width: Int
    /// The resampling (the runtime runs nearest and bilinear).
    public var interpolation: UpsamplingInterpolation
    /// Crop the largest centred window of the target's aspect ratio first (not run).
    public var cropToAspectRatio: Bool
    /// Pad to the target's aspect ratio first (Keras 3; not run).
    public var padToAspectRatio: Bool
    /// Keras 3's antialiasing when downsampling (not run).
    public var antialias: Bool
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A resizing to `height` x `width`, bilinear by default as in Keras.
    public init(height: Int, width: Int, interpolation: UpsamplingInterpolation = .bilinear, cropToAspectRatio: Bool = false,
                padToAspectRatio: Bool = false, antialias: Bool = false, dataFormat: ChannelOrder = .channelsLast) {
        self.height = height
        self.width = width
        self.interpolation = interpolation
        self.cropToAspectRatio = cropToAspectRatio
        self.padToAspectRatio = padToAspectRatio
        self.antialias = antialias
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference { try fixedSizeImages(inputs[0], height: height, width: width) }

    public var op: LayerOp { .resizing(self) }

    enum CodingKeys: String, CodingKey {
        case height, width, interpolation, cropToAspectRatio = "crop_to_aspect_ratio", padToAspectRatio = "pad_to_aspect_ratio", antialias,
             dataFormat = "data_format"
    }
}

/// Images of `height` x `width` with the input's channels (Resizing's and CenterCrop's output).
func fixedSizeImages(_ input: Shape, height: Int, width: Int) throws -> Inference {
    let (_, _, c) = try ShapeCheck.spatial(input)
    try ShapeCheck.positive(height, "height")
    try ShapeCheck.positive(width, "width")
    guard height <= maxDimension, width <= maxDimension else { throw LayerShapeError("target size \(height)x\(width) is too large") }
    return Inference(output: [nil, height, width, c])
}

/// Keras `CenterCrop`: the centred `(height, width)` window of each image (an image smaller than that is
/// resized by Keras instead; the runtime runs the crop).
public struct CenterCrop: ChannelOrdered {
    public static let className = "CenterCrop"
    /// Output height.
    public var height: Int
    /// Output width.
    public var width: Int
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A centred crop to `height` x `width`.
    public init(height: Int, width: Int, dataFormat: ChannelOrder = .channelsLast) {
        self.height = height
        self.width = width
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference { try fixedSizeImages(inputs[0], height: height, width: width) }

    public var op: LayerOp { .centerCrop(self) }

    enum CodingKeys: String, CodingKey { case height, width, dataFormat = "data_format" }
}

/// How `CategoryEncoding` encodes integer category ids.
public enum CategoryEncodingMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// One vector per id.
    case oneHot = "one_hot"
    /// One vector per sample, 1 where an id occurs.
    case multiHot = "multi_hot"
    /// One vector per sample, counting each id.
    case count
}

/// Keras `CategoryEncoding`: integer ids as one-hot, multi-hot or count vectors of `numTokens` (inspected,
/// not run).
public struct CategoryEncoding: LayerKind {
    public static let className = "CategoryEncoding"
    /// The vectors' length (ids are in 0 ..< numTokens).
    public var numTokens: Int
    /// The encoding.
    public var outputMode: CategoryEncodingMode

    /// An encoding of ids below `numTokens`, multi-hot by default as in Keras.
    public init(numTokens: Int, outputMode: CategoryEncodingMode = .multiHot) {
        self.numTokens = numTokens
        self.outputMode = outputMode
    }

    /// Keras's shapes: one-hot adds an axis of `numTokens` (a last axis of 1 is replaced); multi-hot and
    /// count replace the last axis (inputs of rank 1 gain one).
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let s = inputs[0]
        try ShapeCheck.positive(numTokens, "num_tokens")
        guard numTokens <= maxDimension else { throw LayerShapeError("num_tokens \(numTokens) is too large") }
        guard s.count >= 1, s.count <= 3 else { throw LayerShapeError("expects ids of rank 1 to 3 with the batch, got \(ShapeFormat.tuple(s))") }
        switch outputMode {
        case .oneHot:
            return Inference(output: (s.count >= 2 && s.last == 1 ? Array(s.dropLast()) : s) + [numTokens])
        case .multiHot, .count:
            return Inference(output: (s.count == 1 ? s : Array(s.dropLast())) + [numTokens])
        }
    }

    public var op: LayerOp { .categoryEncoding(self) }

    enum CodingKeys: String, CodingKey { case numTokens = "num_tokens", outputMode = "output_mode" }
}
