import ModelGraph

extension LeakyReLU: Differentiable {
    /// x >= 0: x; x < 0: slope * x.
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        let slope = Float(negativeSlope)
        return (x.map { $0 >= 0 ? $0 : slope * $0 }, [])
    }

    /// d out / d x: 1 where x >= 0, the slope elsewhere.
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        let slope = Float(negativeSlope)
        var dx = g
        for j in dx.indices where x[j] < 0 { dx[j] *= slope }
        return dx
    }
}
