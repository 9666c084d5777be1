/// Keras `InputLayer`: a model input.
public struct InputLayer: LayerKind {
    public static let className = "InputLayer"
    public static let arity = Arity.none
    /// The input's shape without the batch dimension (H, W, C for images); `nil` = any size
    /// (keras.applications builds VGG16 without top as (None, None, 3)).
    public var shape: [Int?]

    /// An input of `shape` (without the batch dimension).
    public init(shape: [Int?]) { self.shape = shape }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard shape.allSatisfy({ $0 == nil || ($0! >= 1 && $0! <= maxDimension) }) else {
            throw LayerShapeError("input dimensions must be positive, got \(ShapeFormat.tuple(shape))")
        }
        return Inference(output: [nil] + shape)
    }

    public var op: LayerOp { .input(self) }
}
