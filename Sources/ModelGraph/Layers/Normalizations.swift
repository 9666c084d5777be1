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

    /// A layer normalization with Keras's defaults.
    public init(epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true) {
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
    }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard let c = inputs[0].last ?? nil else { throw LayerShapeError("expects a known last dimension") }
        var weights: [WeightSpec] = []
        if scale { weights.append(WeightSpec(name: "gamma", shape: [c])) }
        if center { weights.append(WeightSpec(name: "beta", shape: [c])) }
        return Inference(output: inputs[0], weights: weights)
    }

    public var op: LayerOp { .layerNormalization(self) }
}

/// Keras's preprocessing `Normalization` over the last axis: (x - mean) / max(sqrt(variance), 1e-7), or with
/// `invert` x * sqrt(variance) + mean. Its statistics are weights (`mean`, `variance` of `(channels)` and
/// `count`, a scalar in tf-keras), none of them trainable.
public struct Normalization: LayerKind {
    public static let className = "Normalization"
    /// Undo the normalization instead: x * sqrt(variance) + mean.
    public var invert: Bool

    /// A normalization (its statistics are weights).
    public init(invert: Bool = false) { self.invert = invert }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard let c = inputs[0].last ?? nil else { throw LayerShapeError("expects a known last dimension") }
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
