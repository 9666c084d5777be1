/// Keras's 2-D pooling layers (`MaxPooling2D`, `AveragePooling2D`): a window of `pool` moved by `strides`
/// over each channel. Average pooling with 'same' padding divides by the number of input values inside
/// the window (padding excluded), as TensorFlow does.
public protocol Pooling2D: ChannelOrdered {
    /// Window height and width.
    var pool: Size2D { get }
    /// Step between windows, vertical and horizontal.
    var strides: Size2D { get }
    /// `valid` (windows inside the input) or `same` (TensorFlow's padding).
    var padding: Padding { get }
}

extension Pooling2D {
    /// The sliding window (pool size, strides, padding; no dilation).
    public var window: Window2D { Window2D(size: pool, strides: strides, padding: padding) }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (h, w, c) = try ShapeCheck.spatial(inputs[0])
        let (oh, ow) = try window.output(height: h, width: w)
        return Inference(output: [nil, oh, ow, c])
    }
}

/// Keras `MaxPooling2D`: the largest value of each window.
public struct MaxPooling2D: Pooling2D {
    public static let className = "MaxPooling2D"
    public var pool: Size2D
    public var strides: Size2D
    public var padding: Padding
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// `strides` defaults to `pool`, as in Keras.
    public init(pool: Size2D = 2, strides: Size2D? = nil, padding: Padding = .valid, dataFormat: ChannelOrder = .channelsLast) {
        self.pool = pool
        self.strides = strides ?? pool
        self.padding = padding
        self.dataFormat = dataFormat
    }

    public var op: LayerOp { .maxPooling2D(self) }

    enum CodingKeys: String, CodingKey { case pool = "pool_size", strides, padding, dataFormat = "data_format" }
}

/// Keras `AveragePooling2D`: the mean of each window.
public struct AveragePooling2D: Pooling2D {
    public static let className = "AveragePooling2D"
    public var pool: Size2D
    public var strides: Size2D
    public var padding: Padding
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// `strides` defaults to `pool`, as in Keras.
    public init(pool: Size2D = 2, strides: Size2D? = nil, padding: Padding = .valid, dataFormat: ChannelOrder = .channelsLast) {
        self.pool = pool
        self.strides = strides ?? pool
        self.padding = padding
        self.dataFormat = dataFormat
    }

    public var op: LayerOp { .averagePooling2D(self) }

    enum CodingKeys: String, CodingKey { case pool = "pool_size", strides, padding, dataFormat = "data_format" }
}
