/// A layer vggtool does not interpret: a custom class, a class from a module outside Keras, a Lambda (whose
/// Python code is never run) or a Keras class vggtool does not know. Only the inspector makes one (convert
/// and the runtime refuse such a layer, naming it): it shows the layer as Keras names it, with the weights
/// the file stores for it and its output shape when the file records it (Keras 3 configs record the shape
/// of every tensor a layer is called on). Where the shape is not recorded it is unknown (an empty `Shape`,
/// printed `?`), and so are the shapes after it.
public struct OpaqueLayer: LayerKind {
    public static let className = "OpaqueLayer"
    /// The class as Keras names it (`MyBlock`, `Lambda`, `TFOpLambda`, ...).
    public var kerasClass: String
    /// Why vggtool cannot interpret it: the refusal convert gives.
    public var reason: String
    /// How many inbound layers it reads.
    public var inputCount: Int
    /// The output shape the file records, batch first; nil when it does not.
    public var outputShape: Shape?
    /// The weights the file stores for it, in the file's order (trainable unless the layer is frozen).
    public var weights: [WeightSpec]

    /// An opaque layer of class `kerasClass`.
    public init(kerasClass: String, reason: String, inputCount: Int = 1, outputShape: Shape? = nil, weights: [WeightSpec] = []) {
        self.kerasClass = kerasClass
        self.reason = reason
        self.inputCount = inputCount
        self.outputShape = outputShape
        self.weights = weights
    }

    public var className: String { kerasClass }
    public var arity: Arity { inputCount == 0 ? .none : inputCount == 1 ? .one : .many }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        Inference(output: outputShape ?? Shape.unknown, weights: weights)
    }

    public var op: LayerOp { .opaque(self) }

    enum CodingKeys: String, CodingKey { case kerasClass = "keras_class", reason, inputCount = "input_count", outputShape = "output_shape", weights }
}

extension WeightSpec: Codable {
    enum CodingKeys: String, CodingKey { case name, shape, trainable }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), shape: try c.decode([Int].self, forKey: .shape),
                  trainable: try c.decodeIfPresent(Bool.self, forKey: .trainable) ?? true)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(shape, forKey: .shape)
        try c.encode(trainable, forKey: .trainable)
    }
}

extension Array where Element == Int? {
    /// A shape nobody knows, not even its rank (every known shape has at least the batch axis).
    public static var unknown: Shape { [] }
    /// Whether the shape is known (at least its rank).
    public var isKnownShape: Bool { !isEmpty }
}
