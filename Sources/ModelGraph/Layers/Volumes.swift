/// Keras's 1-D and 3-D window, padding, cropping and upsampling layers (the 2-D ones have files of their
/// own). 3-D inputs are `(batch, depth, height, width, channels)` or, with `channels_first`,
/// `(batch, channels, depth, height, width)`; 1-D inputs `(batch, steps, channels)`.

/// Keras's 3-D pooling layers (`MaxPooling3D`, `AveragePooling3D`): a window of `pool` moved by `strides`.
public protocol Pooling3D: LayerKind {
    /// Window depth, height and width.
    var pool: [Int] { get }
    /// Step between windows along depth, height and width.
    var strides: [Int] { get }
    /// `valid` (windows inside the input) or `same` (TensorFlow's padding).
    var padding: Padding { get }
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    var dataFormat: ChannelOrder { get }
}

extension Pooling3D {
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.split(inputs[0], rank: 3)
        return Inference(output: dataFormat.join(try WindowND.output(spatial, kernel: pool, strides: strides, padding: padding), channels: c))
    }
}

/// Keras `MaxPooling3D`: the largest value of each window.
public struct MaxPooling3D: Pooling3D {
    public static let className = "MaxPooling3D"
    /// Window depth, height and width.
    public var pool: [Int]
    /// Step between windows along depth, height and width (defaults to `pool`).
    public var strides: [Int]
    /// `valid` (windows inside the input) or `same` (TensorFlow's padding).
    public var padding: Padding
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder

    /// `strides` defaults to `pool`, as in Keras.
    public init(pool: [Int] = [2, 2, 2], strides: [Int]? = nil, padding: Padding = .valid, dataFormat: ChannelOrder = .channelsLast) {
        self.pool = pool
        self.strides = strides ?? pool
        self.padding = padding
        self.dataFormat = dataFormat
    }

    public var op: LayerOp { .maxPooling3D(self) }
    enum CodingKeys: String, CodingKey { case pool = "pool_size", strides, padding, dataFormat = "data_format" }
}

/// Keras `AveragePooling3D`: the mean of each window.
public struct AveragePooling3D: Pooling3D {
    public static let className = "AveragePooling3D"
    /// Window depth, height and width.
    public var pool: [Int]
    /// Step between windows along depth, height and width (defaults to `pool`).
    public var strides: [Int]
    /// `valid` (windows inside the input) or `same` (TensorFlow's padding).
    public var padding: Padding
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder

    /// `strides` defaults to `pool`, as in Keras.
    public init(pool: [Int] = [2, 2, 2], strides: [Int]? = nil, padding: Padding = .valid, dataFormat: ChannelOrder = .channelsLast) {
        self.pool = pool
        self.strides = strides ?? pool
        self.padding = padding
        self.dataFormat = dataFormat
    }

    public var op: LayerOp { .averagePooling3D(self) }
    enum CodingKeys: String, CodingKey { case pool = "pool_size", strides, padding, dataFormat = "data_format" }
}

/// Keras's global 3-D pooling layers: one value per channel over depth, height and width; output
/// `(batch, channels)`, or with `keepDims` the input's rank with ones for the pooled axes.
public protocol GlobalPooling3D: LayerKind {
    /// Keep the pooled axes as size 1 instead of dropping them (Keras's `keepdims`).
    var keepDims: Bool { get }
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    var dataFormat: ChannelOrder { get }
}

extension GlobalPooling3D {
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (_, c) = try dataFormat.split(inputs[0], rank: 3)
        return Inference(output: keepDims ? dataFormat.join([1, 1, 1], channels: c) : [nil, c])
    }
}

/// Keras `GlobalMaxPooling3D`: the maximum over depth, height and width.
public struct GlobalMaxPooling3D: GlobalPooling3D {
    public static let className = "GlobalMaxPooling3D"
    /// Keep the pooled axes as size 1 instead of dropping them (Keras's `keepdims`).
    public var keepDims: Bool
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder
    /// Defaults as Keras's.
    public init(keepDims: Bool = false, dataFormat: ChannelOrder = .channelsLast) {
        self.keepDims = keepDims
        self.dataFormat = dataFormat
    }
    public var op: LayerOp { .globalMaxPooling3D(self) }
    enum CodingKeys: String, CodingKey { case keepDims = "keepdims", dataFormat = "data_format" }
}

/// Keras `GlobalAveragePooling3D`: the mean over depth, height and width.
public struct GlobalAveragePooling3D: GlobalPooling3D {
    public static let className = "GlobalAveragePooling3D"
    /// Keep the pooled axes as size 1 instead of dropping them (Keras's `keepdims`).
    public var keepDims: Bool
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder
    /// Defaults as Keras's.
    public init(keepDims: Bool = false, dataFormat: ChannelOrder = .channelsLast) {
        self.keepDims = keepDims
        self.dataFormat = dataFormat
    }
    public var op: LayerOp { .globalAveragePooling3D(self) }
    enum CodingKeys: String, CodingKey { case keepDims = "keepdims", dataFormat = "data_format" }
}

/// Adds `amounts[i] = [before, after]` to spatial axis i (negative: crops).
private func resize(_ spatial: [Int?], by amounts: [[Int]], sign: Int, _ what: String) throws -> [Int?] {
    guard amounts.count == spatial.count, amounts.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0 >= 0 && $0 <= maxDimension } }) else {
        throw LayerShapeError("\(what) must be \(spatial.count) pair(s) of non-negative sizes, got \(amounts)")
    }
    return try zip(spatial, amounts).map { s, a in
        try s.map {
            let n = $0 + sign * (a[0] + a[1])
            guard n >= 1 else { throw LayerShapeError("\(what) \(a) leaves nothing of a size of \($0)") }
            return n
        }
    }
}

/// Keras `ZeroPadding1D`: `padding = [before, after]` zero steps.
public struct ZeroPadding1D: LayerKind {
    public static let className = "ZeroPadding1D"
    /// Zero steps added `[before, after]` the sequence.
    public var padding: [Int]
    /// Keras 3 only: `channels_first` pads the last axis.
    public var dataFormat: ChannelOrder
    /// `[before, after]`.
    public init(padding: [Int] = [1, 1], dataFormat: ChannelOrder = .channelsLast) {
        self.padding = padding
        self.dataFormat = dataFormat
    }
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.split(inputs[0], rank: 1)
        return Inference(output: dataFormat.join(try resize(spatial, by: [padding], sign: 1, "padding"), channels: c))
    }
    public var op: LayerOp { .zeroPadding1D(self) }
    enum CodingKeys: String, CodingKey { case padding, dataFormat = "data_format" }
}

/// Keras `ZeroPadding3D`: `padding = [[before, after]] * 3` zeros on depth, height and width.
public struct ZeroPadding3D: LayerKind {
    public static let className = "ZeroPadding3D"
    /// Zeros added `[before, after]` along depth, height and width, one pair each.
    public var padding: [[Int]]
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder
    /// Three `[before, after]` pairs.
    public init(padding: [[Int]] = [[1, 1], [1, 1], [1, 1]], dataFormat: ChannelOrder = .channelsLast) {
        self.padding = padding
        self.dataFormat = dataFormat
    }
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.split(inputs[0], rank: 3)
        return Inference(output: dataFormat.join(try resize(spatial, by: padding, sign: 1, "padding"), channels: c))
    }
    public var op: LayerOp { .zeroPadding3D(self) }
    enum CodingKeys: String, CodingKey { case padding, dataFormat = "data_format" }
}

/// Keras `Cropping1D`: drops `cropping = [before, after]` steps.
public struct Cropping1D: LayerKind {
    public static let className = "Cropping1D"
    /// Steps dropped `[before, after]` the sequence.
    public var cropping: [Int]
    /// `[before, after]`.
    public init(cropping: [Int] = [1, 1]) { self.cropping = cropping }
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try ChannelOrder.channelsLast.split(inputs[0], rank: 1)
        return Inference(output: [nil] + (try resize(spatial, by: [cropping], sign: -1, "cropping")) + [c])
    }
    public var op: LayerOp { .cropping1D(self) }
}

/// Keras `Cropping3D`: drops `cropping = [[before, after]] * 3` on depth, height and width.
public struct Cropping3D: LayerKind {
    public static let className = "Cropping3D"
    /// Planes dropped `[before, after]` along depth, height and width, one pair each.
    public var cropping: [[Int]]
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder
    /// Three `[before, after]` pairs.
    public init(cropping: [[Int]] = [[1, 1], [1, 1], [1, 1]], dataFormat: ChannelOrder = .channelsLast) {
        self.cropping = cropping
        self.dataFormat = dataFormat
    }
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.split(inputs[0], rank: 3)
        return Inference(output: dataFormat.join(try resize(spatial, by: cropping, sign: -1, "cropping"), channels: c))
    }
    public var op: LayerOp { .cropping3D(self) }
    enum CodingKeys: String, CodingKey { case cropping, dataFormat = "data_format" }
}

/// Keras `UpSampling1D`: each step repeated `size` times.
public struct UpSampling1D: LayerKind {
    public static let className = "UpSampling1D"
    /// Times each step is repeated (>= 1).
    public var size: Int
    /// Repeats each step `size` (>= 1) times.
    public init(size: Int = 2) { self.size = size }
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try ChannelOrder.channelsLast.split(inputs[0], rank: 1)
        try ShapeCheck.positive(size, "size")
        return Inference(output: [nil, spatial[0].map { $0 * size }, c])
    }
    public var op: LayerOp { .upSampling1D(self) }
}

/// Keras `UpSampling3D`: each voxel repeated `size` times along depth, height and width.
public struct UpSampling3D: LayerKind {
    public static let className = "UpSampling3D"
    /// Times each voxel is repeated along depth, height and width.
    public var size: [Int]
    /// Channels last `(batch, depth, height, width, channels)`, Keras's default, or first.
    public var dataFormat: ChannelOrder
    /// Factors for depth, height and width.
    public init(size: [Int] = [2, 2, 2], dataFormat: ChannelOrder = .channelsLast) {
        self.size = size
        self.dataFormat = dataFormat
    }
    public func infer(_ inputs: [Shape]) throws -> Inference {
        let (spatial, c) = try dataFormat.split(inputs[0], rank: 3)
        try WindowND.check(size, rank: 3, "size")
        return Inference(output: dataFormat.join(zip(spatial, size).map { s, f in s.map { $0 * f } }, channels: c))
    }
    public var op: LayerOp { .upSampling3D(self) }
    enum CodingKeys: String, CodingKey { case size, dataFormat = "data_format" }
}
