/// Keras's merge layers: two or more inputs into one.

/// Merges of equal-shaped inputs, elementwise.
public protocol ElementwiseMerge: LayerKind {}

extension ElementwiseMerge {
    public static var arity: Arity { .many }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard inputs.allSatisfy({ $0 == inputs[0] }) else {
            throw LayerShapeError("inputs must have equal shapes, got \(inputs.map(ShapeFormat.tuple).joined(separator: ", "))")
        }
        return Inference(output: inputs[0])
    }
}

/// Keras `Add`: the elementwise sum.
public struct Add: ElementwiseMerge {
    public static let className = "Add"
    /// An add layer (it has no configuration).
    public init() {}
    public var op: LayerOp { .add(self) }
}

/// Keras `Multiply`: the elementwise product.
public struct Multiply: ElementwiseMerge {
    public static let className = "Multiply"
    /// A multiply layer (it has no configuration).
    public init() {}
    public var op: LayerOp { .multiply(self) }
}

/// Keras `Subtract`: the first input minus the second (exactly two inputs).
public struct Subtract: ElementwiseMerge {
    public static let className = "Subtract"
    /// A subtract layer (it has no configuration).
    public init() {}
    public func infer(_ inputs: [Shape]) throws -> Inference {
        guard inputs.count == 2 else { throw LayerShapeError("Subtract takes exactly 2 inputs, it is given \(inputs.count)") }
        guard inputs[0] == inputs[1] else {
            throw LayerShapeError("inputs must have equal shapes, got \(inputs.map(ShapeFormat.tuple).joined(separator: ", "))")
        }
        return Inference(output: inputs[0])
    }
    public var op: LayerOp { .subtract(self) }
}

/// Keras `Average`: the elementwise mean.
public struct Average: ElementwiseMerge {
    public static let className = "Average"
    /// An average layer (it has no configuration).
    public init() {}
    public var op: LayerOp { .average(self) }
}

/// Keras `Maximum`: the elementwise maximum.
public struct Maximum: ElementwiseMerge {
    public static let className = "Maximum"
    /// A maximum layer (it has no configuration).
    public init() {}
    public var op: LayerOp { .maximum(self) }
}

/// Keras `Minimum`: the elementwise minimum.
public struct Minimum: ElementwiseMerge {
    public static let className = "Minimum"
    /// A minimum layer (it has no configuration).
    public init() {}
    public var op: LayerOp { .minimum(self) }
}

/// Keras `Concatenate` along `axis` (counted with the batch as axis 0; -1 = last).
public struct Concatenate: LayerKind {
    public static let className = "Concatenate"
    public static let arity = Arity.many
    /// The axis joined along, batch counted as 0; negative counts from the end.
    public var axis: Int

    /// A concatenation along `axis` (the last, channels, unless given).
    public init(axis: Int = -1) { self.axis = axis }

    /// The axis as a non-negative index for inputs of `rank`.
    public func resolvedAxis(rank: Int) -> Int { axis < 0 ? rank + axis : axis }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        let rank = input.count
        let ax = resolvedAxis(rank: rank)
        guard ax >= 1, ax < rank else { throw LayerShapeError("concatenation axis \(axis) is out of range for rank \(rank)") }
        var sum = 0
        for s in inputs {
            guard s.count == rank else { throw LayerShapeError("inputs must have equal ranks") }
            for d in 1..<rank where d != ax && s[d] != input[d] {
                throw LayerShapeError("inputs must match except on axis \(axis), got \(inputs.map(ShapeFormat.tuple).joined(separator: ", "))")
            }
            guard let n = s[ax] else { throw LayerShapeError("concatenation axis has unknown size") }
            sum += n
        }
        var out = input
        out[ax] = sum
        return Inference(output: out)
    }

    public var op: LayerOp { .concatenate(self) }
}
