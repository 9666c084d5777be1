/// Keras `ZeroPadding2D`: zero rows and columns around each image. Its JSON form is
/// `"padding": [top, bottom, left, right]`.
public struct ZeroPadding2D: ChannelOrdered {
    public static let className = "ZeroPadding2D"
    /// Zero rows added above.
    public var top: Int
    /// Zero rows added below.
    public var bottom: Int
    /// Zero columns added on the left.
    public var left: Int
    /// Zero columns added on the right.
    public var right: Int
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// Padding by the given numbers of rows and columns.
    public init(top: Int, bottom: Int, left: Int, right: Int, dataFormat: ChannelOrder = .channelsLast) {
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (h, w, c) = try ShapeCheck.spatial(inputs[0])
        let all = [top, bottom, left, right]
        guard all.allSatisfy({ $0 >= 0 }) else { throw LayerShapeError("padding must not be negative") }
        guard all.allSatisfy({ $0 <= maxDimension }) else { throw LayerShapeError("padding \(all) is too large") }
        return Inference(output: [nil, h.map { $0 + top + bottom }, w.map { $0 + left + right }, c])
    }

    public var op: LayerOp { .zeroPadding2D(self) }

    enum CodingKeys: String, CodingKey { case padding, dataFormat = "data_format" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let p = try c.decode([Int].self, forKey: .padding)
        guard p.count == 4 else {
            throw DecodingError.dataCorruptedError(forKey: .padding, in: c, debugDescription: "expected [top, bottom, left, right]")
        }
        self.init(top: p[0], bottom: p[1], left: p[2], right: p[3], dataFormat: try c.decode(ChannelsLastByDefault.self, forKey: .dataFormat).wrappedValue)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode([top, bottom, left, right], forKey: .padding)
        try c.encode(_dataFormat, forKey: .dataFormat)
    }
}
