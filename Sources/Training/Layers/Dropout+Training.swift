import ModelGraph

extension Dropout: Differentiable {
    /// Keras: keep with probability 1 - rate, scale kept values by 1 / (1 - rate); the mask (0 or the
    /// scale) is saved for the backward pass. The identity outside training.
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        guard training && rate > 0 else { return (x, []) }
        let r = Float(rate)
        let scale = 1 / (1 - r)
        var mask = [Float](repeating: 0, count: x.count)
        let row = x.count / max(n, 1)
        net.rng.skip(net.rowsBefore * row)  // other ranks' rows of the batch (data-parallel training)
        for i in 0..<x.count { mask[i] = net.rng.nextFloat() >= r ? scale : 0 }
        net.rng.skip(net.rowsAfter * row)
        var out = x
        for i in 0..<x.count { out[i] = x[i] * mask[i] }
        return (out, mask)
    }

    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        guard !saved.isEmpty else { return g }
        var dx = g
        for j in dx.indices { dx[j] = g[j] * saved[j] }
        return dx
    }
}
