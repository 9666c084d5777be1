/// Keras's normalization layers other than BatchNormalization.

/// Keras `LayerNormalization` over the last axis: (x - mean) / sqrt(variance + epsilon) * gamma + beta, the
/// statistics of each sample's last axis; gamma (when `scale`) and beta (when `center`) are `(channels)`.
public struct LayerNormalization: LayerKind {
    public static let className = "LayerNormalization"
    /// Added to the variance before its square root.
    public var epsilon: Double
    /// Add the learned offset `beta`.
    public var center: Bool
    /// Multiply by the learned scale `gamma`.
    public var scale: Bool
    /// Keras's `axis` when it wrote a positive one (tf-keras always does: 2 for sequences, 3 for images);
    /// nil: the last. The runtime runs the last axis only.
    public var axis: Int?

    /// A layer normalization with Keras's defaults.
    public init(epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true, axis: Int? = nil) {
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.axis = axis
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let c = try normalizedAxisSize(inputs[0], axis: axis)
        var weights: [WeightSpec] = []
        if scale { weights.append(WeightSpec(name: "gamma", shape: [c])) }
        if center { weights.append(WeightSpec(name: "beta", shape: [c])) }
        return Inference(output: inputs[0], weights: weights)
    }

    public var op: LayerOp { .layerNormalization(self) }
}

/// The size of the axis a normalization works over: `axis` (counted with the batch as 0) or the last.
func normalizedAxisSize(_ s: Shape, axis: Int?) throws -> Int {
    let k = axis ?? (s.count - 1)
    guard k >= 1, k < s.count else { throw LayerShapeError("axis \(k) is not an axis of \(ShapeFormat.tuple(s))") }
    guard let c = s[k] else { throw LayerShapeError("axis \(k) has an unknown size") }
    return c
}

/// Keras's preprocessing `Normalization` over the last axis: (x - mean) / max(sqrt(variance), 1e-7), or with
/// `invert` x * sqrt(variance) + mean. Its statistics are weights (`mean`, `variance` of `(channels)` and
/// `count`, a scalar in tf-keras), none of them trainable.
public struct Normalization: LayerKind {
    public static let className = "Normalization"
    /// Undo the normalization instead: x * sqrt(variance) + mean.
    public var invert: Bool
    /// Keras's `axis` when it wrote a positive one; nil: the last. The runtime runs the last axis only.
    public var axis: Int?

    /// A normalization (its statistics are weights).
    public init(invert: Bool = false, axis: Int? = nil) {
        self.invert = invert
        self.axis = axis
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let c = try normalizedAxisSize(inputs[0], axis: axis)
        return Inference(output: inputs[0], weights: [WeightSpec(name: "mean", shape: [c], trainable: false),
                                                      WeightSpec(name: "variance", shape: [c], trainable: false),
                                                      WeightSpec(name: "count", shape: [], trainable: false, bytesPerElement: 8)])
    }

    public var op: LayerOp { .normalization(self) }
}

/// Keras `PReLU`: x >= 0: x; x < 0: alpha * x, with a learned alpha per position of the input (without the
/// batch), shared along `sharedAxes` (1-based, as Keras counts them).
public struct PReLU: LayerKind {
    public static let className = "PReLU"
    /// Axes (1-based, after the batch) along which one alpha is shared.
    public var sharedAxes: [Int]

    /// A PReLU with one alpha per position, except along `sharedAxes`.
    public init(sharedAxes: [Int] = []) { self.sharedAxes = sharedAxes }

    /// alpha's shape for an input shape (batch first).
    public func alphaShape(_ input: Shape) throws -> [Int] {
        var shape: [Int] = []
        for (i, d) in input.enumerated().dropFirst() {
            if sharedAxes.contains(i) { shape.append(1); continue }
            guard let d else { throw LayerShapeError("PReLU needs known dimensions where alpha is not shared") }
            shape.append(d)
        }
        return shape
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard sharedAxes.allSatisfy({ $0 >= 1 && $0 < inputs[0].count }) else { throw LayerShapeError("shared axes \(sharedAxes) are out of range") }
        return Inference(output: inputs[0], weights: [WeightSpec(name: "alpha", shape: try alphaShape(inputs[0]))])
    }

    public var op: LayerOp { .pReLU(self) }

    enum CodingKeys: String, CodingKey { case sharedAxes = "shared_axes" }
}
