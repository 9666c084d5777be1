/// Keras's global 2-D pooling layers: one value per channel over all of height and width; output
/// `(batch, channels)`, or `(batch, 1, 1, channels)` with `keepDims`.
public protocol GlobalPooling2D: ChannelOrdered {
    /// Whether the output keeps height and width as 1 (`(batch, 1, 1, channels)`).
    var keepDims: Bool { get }
}

extension GlobalPooling2D {
    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (_, _, c) = try ShapeCheck.spatial(inputs[0])
        return Inference(output: keepDims ? [nil, 1, 1, c] : [nil, c])
    }
}

/// Keras `GlobalAveragePooling2D`: the mean over height and width.
public struct GlobalAveragePooling2D: GlobalPooling2D {
    public static let className = "GlobalAveragePooling2D"
    public var keepDims: Bool
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A global pooling layer, output `(batch, channels)` unless `keepDims`.
    public init(keepDims: Bool = false, dataFormat: ChannelOrder = .channelsLast) { self.keepDims = keepDims; self.dataFormat = dataFormat }

    public var op: LayerOp { .globalAveragePooling2D(self) }

    enum CodingKeys: String, CodingKey { case keepDims = "keepdims", dataFormat = "data_format" }
}

/// Keras `GlobalMaxPooling2D`: the maximum over height and width.
public struct GlobalMaxPooling2D: GlobalPooling2D {
    public static let className = "GlobalMaxPooling2D"
    public var keepDims: Bool
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A global pooling layer, output `(batch, channels)` unless `keepDims`.
    public init(keepDims: Bool = false, dataFormat: ChannelOrder = .channelsLast) { self.keepDims = keepDims; self.dataFormat = dataFormat }

    public var op: LayerOp { .globalMaxPooling2D(self) }

    enum CodingKeys: String, CodingKey { case keepDims = "keepdims", dataFormat = "data_format" }
}
