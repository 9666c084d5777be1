/// Keras's upsampling and cropping layers for images (channels last, or first with `dataFormat`).

/// How `UpSampling2D` fills the new pixels.
public enum UpsamplingInterpolation: String, Sendable, Hashable, Codable, CaseIterable {
    /// Each pixel repeated (the runtime runs it).
    case nearest
    /// Linear in both directions, half-pixel centres (the runtime runs it).
    case bilinear
    /// Keras 3's cubic interpolation (inspected, not run).
    case bicubic
    /// Area averaging (inspected, not run).
    case area
    /// Lanczos with a radius of 3 (inspected, not run).
    case lanczos3
    /// Lanczos with a radius of 5 (inspected, not run).
    case lanczos5
    /// A Gaussian kernel (inspected, not run).
    case gaussian
    /// Mitchell-Netravali cubic (inspected, not run).
    case mitchellCubic = "mitchellcubic"
}

/// Keras `UpSampling2D`: each image enlarged by integer factors; 'nearest' repeats pixels, 'bilinear'
/// interpolates as `tf.image.resize` (half-pixel centres, no antialiasing).
public struct UpSampling2D: ChannelOrdered {
    public static let className = "UpSampling2D"
    /// The factor per axis (height, width).
    public var size: Size2D
    /// How new pixels are filled.
    public var interpolation: UpsamplingInterpolation
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// An upsampling by `size`, nearest-neighbour by default as in Keras.
    public init(size: Size2D = 2, interpolation: UpsamplingInterpolation = .nearest, dataFormat: ChannelOrder = .channelsLast) {
        self.size = size
        self.interpolation = interpolation
        self.dataFormat = dataFormat
    }

    public func infer(_ inputs: [Shape]) throws -> Inference { try dataFormat.inferring(inputs, inferChannelsLast) }

    func inferChannelsLast(_ inputs: [Shape]) throws -> Inference {
        let (h, w, c) = try ShapeCheck.spatial(inputs[0])
        guard size.height >= 1, size.width >= 1, size.height <= 1 << 16, size.width <= 1 << 16 else {
            throw LayerShapeError("upsampling size \(size) must be positive")
        }
        return Inference(output: [nil, h.map { $0 * size.height }, w.map { $0 * size.width }, c])
    }

    public var op: LayerOp { .upSampling2D(self) }

    enum CodingKeys: String, CodingKey { case size, interpolation, dataFormat = "data_format" }
}

/// Keras `Cropping2D`: rows and columns removed at each edge.
public struct Cropping2D: ChannelOrdered {
    public static let className = "Cropping2D"
    /// Rows removed at the top.
    public var top: Int
    /// Rows removed at the bottom.
    public var bottom: Int
    /// Columns removed on the left.
    public var left: Int
    /// Columns removed on the right.
    public var right: Int
    /// Where the channels axis is.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A cropping of each edge.
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
        guard all.allSatisfy({ $0 >= 0 && $0 <= maxDimension }) else { throw LayerShapeError("cropping \(all) must not be negative") }
        if let h, h - top - bottom < 1 { throw LayerShapeError("cropping \(top)+\(bottom) rows leaves nothing of \(h)") }
        if let w, w - left - right < 1 { throw LayerShapeError("cropping \(left)+\(right) columns leaves nothing of \(w)") }
        return Inference(output: [nil, h.map { $0 - top - bottom }, w.map { $0 - left - right }, c])
    }

    public var op: LayerOp { .cropping2D(self) }

    enum CodingKeys: String, CodingKey { case cropping, dataFormat = "data_format" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let p = try c.decode([Int].self, forKey: .cropping)
        guard p.count == 4 else { throw DecodingError.dataCorruptedError(forKey: .cropping, in: c, debugDescription: "expected [top, bottom, left, right]") }
        self.init(top: p[0], bottom: p[1], left: p[2], right: p[3], dataFormat: try c.decode(ChannelsLastByDefault.self, forKey: .dataFormat).wrappedValue)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode([top, bottom, left, right], forKey: .cropping)
        try c.encode(_dataFormat, forKey: .dataFormat)
    }
}

/// Keras `Permute`: the non-batch axes reordered; `dims` is a permutation of 1...rank-1.
public struct Permute: LayerKind {
    public static let className = "Permute"
    /// For each output axis after the batch, the input axis (1-based) it takes.
    public var dims: [Int]

    /// A permutation of the non-batch axes.
    public init(dims: [Int]) { self.dims = dims }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        guard dims.sorted() == Array(1..<input.count) else {
            throw LayerShapeError("dims \(dims) are not a permutation of the input's axes 1...\(input.count - 1)")
        }
        return Inference(output: [nil] + dims.map { input[$0] })
    }

    public var op: LayerOp { .permute(self) }
}
