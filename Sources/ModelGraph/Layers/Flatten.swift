/// Keras `Flatten`: all dimensions after the batch into one, in row-major order of the input; with
/// `dataFormat` channels first, the channels axis is moved last first (Keras's `(H, W, C)` order for NCHW
/// input). A file without `data_format` (Keras 2.0) flattens NCHW input as it is.
public struct Flatten: ChannelOrdered {
    public static let className = "Flatten"
    /// Channels first: the input's axis 1 is moved last before flattening.
    @ChannelsLastByDefault public var dataFormat: ChannelOrder

    /// A flatten layer.
    public init(dataFormat: ChannelOrder = .channelsLast) { self.dataFormat = dataFormat }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        guard input.count >= 2 else { throw LayerShapeError("expects at least a 2-D input") }
        let rest = input.dropFirst()
        return Inference(output: [nil, rest.contains { $0 == nil } ? nil : rest.reduce(1) { $0 * $1! }])
    }

    public var op: LayerOp { .flatten(self) }

    enum CodingKeys: String, CodingKey { case dataFormat = "data_format" }
}
