/// Keras `Softmax` over one axis (`-1`: the last; counted with the batch as axis 0).
public struct Softmax: LayerKind {
    public static let className = "Softmax"
    /// The axis normalized over, batch counted as 0; negative counts from the end.
    public var axis: Int

    /// A softmax over `axis` (the last unless given).
    public init(axis: Int = -1) { self.axis = axis }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let rank = inputs[0].count
        let ax = axis < 0 ? rank + axis : axis
        guard ax >= 1, ax < rank else { throw LayerShapeError("softmax axis \(axis) is out of range for rank \(rank)") }
        return Inference(output: inputs[0])
    }

    public var op: LayerOp { .softmax(self) }
}
