/// Keras `Flatten` (channels_last): all dimensions after the batch into one, in row-major (H, W, C) order.
public struct Flatten: LayerKind {
    public static let className = "Flatten"

    /// A flatten layer (it has no configuration).
    public init() {}

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        guard input.count >= 2 else { throw LayerShapeError("expects at least a 2-D input") }
        let rest = input.dropFirst()
        return Inference(output: [nil, rest.contains { $0 == nil } ? nil : rest.reduce(1) { $0 * $1! }])
    }

    public var op: LayerOp { .flatten(self) }
}
