/// Keras `Reshape`: the same values (row-major) in a new shape; `targetShape` excludes the batch and may
/// hold one -1, inferred from the size.
public struct Reshape: LayerKind {
    public static let className = "Reshape"
    /// The output shape without the batch; one entry may be -1.
    public var targetShape: [Int]

    /// A reshape to `targetShape` (batch excluded).
    public init(targetShape: [Int]) { self.targetShape = targetShape }

    public func infer(_ inputs: [Shape]) throws -> Inference {
        let input = inputs[0]
        let known = input.dropFirst()
        guard known.allSatisfy({ $0 != nil }) else { throw LayerShapeError("cannot reshape an input of unknown size") }
        let total = known.reduce(1) { $0 * $1! }
        let target = targetShape
        let unknown = target.filter { $0 == -1 }.count
        guard unknown <= 1, target.count <= 8, target.allSatisfy({ $0 == -1 || ($0 >= 1 && $0 <= maxDimension) }) else {
            throw LayerShapeError("invalid target shape \(target)")
        }
        var product = 1
        for d in target where d != -1 {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow, p <= Int(Int32.max) * Int(Int32.max) else { throw LayerShapeError("target shape \(target) is too large") }
            product = p
        }
        var resolved = target
        if unknown == 1 {
            guard product > 0, total % product == 0 else { throw LayerShapeError("cannot reshape \(ShapeFormat.tuple(input)) to \(target)") }
            resolved = target.map { $0 == -1 ? total / product : $0 }
        } else {
            guard product == total else { throw LayerShapeError("total size of new array must be unchanged: \(ShapeFormat.tuple(input)) to \(target)") }
        }
        return Inference(output: [nil] + resolved.map { Optional($0) })
    }

    public var op: LayerOp { .reshape(self) }

    enum CodingKeys: String, CodingKey { case targetShape = "target_shape" }
}
