/// Keras's `data_format` for the layers this type serves: where the channels axis is in an input with
/// spatial (or temporal) axes. The 1-D and 3-D layers honour both; their JSON key is `data_format`.
public enum ChannelOrder: String, Sendable, Hashable, Codable {
    /// `(batch, spatial..., channels)`, Keras's default.
    case channelsLast = "channels_last"
    /// `(batch, channels, spatial...)`.
    case channelsFirst = "channels_first"

    /// Splits a batch-first shape with `rank` spatial axes into the spatial sizes and the channel count
    /// (nil when unknown). Throws when the rank does not fit.
    public func split(_ s: Shape, rank: Int) throws -> (spatial: [Int?], channels: Int?) {
        guard s.count == rank + 2 else {
            let axes = self == .channelsLast ? "batch, \(rank) spatial axes, channels" : "batch, channels, \(rank) spatial axes"
            throw LayerShapeError("expects a \(rank + 2)-D input (\(axes)), got \(ShapeFormat.tuple(s))")
        }
        return self == .channelsLast ? (Array(s[1...rank]), s[rank + 1]) : (Array(s[2...]), s[1])
    }

    /// `split` with the channel count required to be known.
    public func splitKnown(_ s: Shape, rank: Int) throws -> (spatial: [Int?], channels: Int) {
        let (spatial, c) = try split(s, rank: rank)
        guard let c else { throw LayerShapeError("expects a known channel dimension, got \(ShapeFormat.tuple(s))") }
        return (spatial, c)
    }

    /// A batch-first shape from spatial sizes and a channel count.
    public func join(_ spatial: [Int?], channels: Int?) -> Shape {
        self == .channelsLast ? [nil] + spatial + [channels] : [nil, channels] + spatial
    }
}

/// N-dimensional window arithmetic for the 1-D and 3-D layers (the 2-D layers use `Window2D`).
enum WindowND {
    /// Checks that `values` has `rank` entries, each in 1 ... `maxDimension`.
    static func check(_ values: [Int], rank: Int, _ what: String) throws {
        guard values.count == rank else { throw LayerShapeError("\(what) must have \(rank) value(s), got \(values)") }
        guard values.allSatisfy({ $0 >= 1 && $0 <= maxDimension }) else { throw LayerShapeError("\(what) \(values) must be positive") }
    }

    /// Output sizes of a window moved over `sizes` (nil stays nil), TensorFlow's rule per axis.
    static func output(_ sizes: [Int?], kernel: [Int], strides: [Int], dilation: [Int]? = nil, padding: Padding) throws -> [Int?] {
        let rank = sizes.count
        let dilation = dilation ?? Array(repeating: 1, count: rank)
        try check(kernel, rank: rank, "kernel")
        try check(strides, rank: rank, "strides")
        try check(dilation, rank: rank, "dilation")
        return try sizes.indices.map { i in
            try sizes[i].map { try padding.outputLength($0, window: (kernel[i] - 1) * dilation[i] + 1, stride: strides[i], axis: "axis \(i + 1)") }
        }
    }

    /// Keras's `deconv_output_length`: the output length of a transposed convolution along one axis.
    static func transposed(_ size: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding, outputPadding: Int?) -> Int {
        let k = (kernel - 1) * dilation + 1
        guard let op = outputPadding else {
            return padding == .same ? size * stride : size * stride + max(k - stride, 0)
        }
        let pad = padding == .same ? k / 2 : 0
        return (size - 1) * stride + k - 2 * pad + op
    }

    /// Product of known sizes (0 when any is unknown), for MAC counts.
    static func volume(_ sizes: [Int?]) -> Int { sizes.reduce(1) { $0 * ($1 ?? 0) } }
}

extension ChannelOrder {
    /// Shape inference of a layer written for channels last, applied in this order: a channels-first input
    /// `(batch, channels, spatial...)` is seen as `(batch, spatial..., channels)` and an output of rank 3 or
    /// more is turned back (`(batch, channels)` outputs, and inputs of rank 2 where the two orders agree,
    /// pass as they are). Weights and MACs do not depend on the order.
    public func inferring(_ inputs: [Shape], _ channelsLast: ([Shape]) throws -> Inference) throws -> Inference {
        guard self == .channelsFirst else { return try channelsLast(inputs) }
        var inference = try channelsLast(inputs.map(Self.toChannelsLast))
        inference.output = Self.toChannelsFirst(inference.output)
        return inference
    }

    /// `(batch, channels, spatial...)` as `(batch, spatial..., channels)`; shapes of rank 2 or less as given.
    public static func toChannelsLast(_ s: Shape) -> Shape {
        s.count < 3 ? s : [s[0]] + s[2...] + [s[1]]
    }

    /// `(batch, spatial..., channels)` as `(batch, channels, spatial...)`; shapes of rank 2 or less as given.
    public static func toChannelsFirst(_ s: Shape) -> Shape {
        s.count < 3 ? s : [s[0], s[s.count - 1]] + s[1..<(s.count - 1)]
    }
}

/// A layer type with Keras's `data_format` (BatchNormalization: `axis` 1 or -1). Its shape inference and
/// runtime step are written for channels last; a channels-first layer is the channels-last one between two
/// transpositions (`ChannelOrder.inferring`, and the runtime's plan).
public protocol ChannelOrdered: LayerKind {
    /// Where the channels axis is.
    var dataFormat: ChannelOrder { get set }
}

extension ChannelOrdered {
    /// The same layer with channels last.
    public var channelsLastVariant: Self {
        var copy = self
        copy.dataFormat = .channelsLast
        return copy
    }
}

extension LayerOp {
    /// Whether the layer works on channels-first data (a `ChannelOrdered` type with `channels_first`).
    public var isChannelsFirst: Bool { (kind as? any ChannelOrdered)?.dataFormat == .channelsFirst }
}

/// A layer's `dataFormat` as its JSON holds it: `"data_format"` is written only for channels first and read
/// as channels last when absent, so graphs written before the key existed read as they did.
@propertyWrapper
public struct ChannelsLastByDefault: Sendable, Hashable, Codable {
    /// The order.
    public var wrappedValue: ChannelOrder

    /// Wraps `wrappedValue`.
    public init(wrappedValue: ChannelOrder) { self.wrappedValue = wrappedValue }

    public init(from decoder: Decoder) throws { wrappedValue = try decoder.singleValueContainer().decode(ChannelOrder.self) }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(wrappedValue)
    }
}

extension KeyedDecodingContainer {
    /// A missing `data_format` is channels last.
    public func decode(_ type: ChannelsLastByDefault.Type, forKey key: Key) throws -> ChannelsLastByDefault {
        try decodeIfPresent(type, forKey: key) ?? ChannelsLastByDefault(wrappedValue: .channelsLast)
    }
}

extension KeyedEncodingContainer {
    /// Channels last is not written.
    public mutating func encode(_ value: ChannelsLastByDefault, forKey key: Key) throws {
        if value.wrappedValue != .channelsLast { try encode(value.wrappedValue, forKey: key) }
    }
}
