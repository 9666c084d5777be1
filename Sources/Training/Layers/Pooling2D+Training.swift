import CKernels
import ModelGraph

extension Pooling2D {
    func geometry(_ node: TrainingNode, n: Int) -> vgg_conv_shape {
        window.kernelShape(input: [n] + node.inShape, output: [n] + node.outShape)
    }

    /// `kind`: 0 max, 1 average.
    func poolForward(_ x: [Float], node: TrainingNode, n: Int, kind: Int32) -> (out: [Float], saved: [Float]) {
        var out = [Float](repeating: 0, count: n * node.outShape.reduce(1, *))
        var g = geometry(node, n: n)
        vgg_pool_rows(&g, kind, x, &out, 0, n * node.outShape[0])
        return (out, [])
    }
}

extension MaxPooling2D: Differentiable {
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        poolForward(x, node: node, n: n, kind: 0)
    }

    /// The gradient goes to the first maximum of each window.
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        var dx = [Float](repeating: 0, count: n * node.inShape.reduce(1, *))
        var geo = geometry(node, n: n)
        vgg_maxpool_backward(&geo, x, g, &dx)
        return dx
    }
}

extension AveragePooling2D: Differentiable {
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        poolForward(x, node: node, n: n, kind: 1)
    }

    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        var dx = [Float](repeating: 0, count: n * node.inShape.reduce(1, *))
        var geo = geometry(node, n: n)
        vgg_avgpool_backward(&geo, g, &dx)
        return dx
    }
}

extension GlobalPooling2D {
    /// `kind`: 0 max, 1 average.
    func globalForward(_ x: [Float], node: TrainingNode, n: Int, kind: Int32) -> (out: [Float], saved: [Float]) {
        var out = [Float](repeating: 0, count: n * node.outShape.reduce(1, *))
        vgg_global_pool(x, &out, n, node.inShape[0] * node.inShape[1], node.inShape[2], kind)
        return (out, [])
    }
}

extension GlobalAveragePooling2D: Differentiable {
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        globalForward(x, node: node, n: n, kind: 1)
    }

    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        let hw = node.inShape[0] * node.inShape[1], c = node.inShape[2]
        var dx = [Float](repeating: 0, count: n * hw * c)
        for b in 0..<n { for p in 0..<hw { for k in 0..<c { dx[(b * hw + p) * c + k] = g[b * c + k] / Float(hw) } } }
        return dx
    }
}

extension GlobalMaxPooling2D: Differentiable {
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        globalForward(x, node: node, n: n, kind: 0)
    }

    /// The gradient goes to the first maximum of each channel.
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        let hw = node.inShape[0] * node.inShape[1], c = node.inShape[2]
        var dx = [Float](repeating: 0, count: n * hw * c)
        for b in 0..<n {
            for k in 0..<c {
                var best = -Float.infinity, at = 0
                for p in 0..<hw where x[(b * hw + p) * c + k] > best { best = x[(b * hw + p) * c + k]; at = p }
                dx[(b * hw + at) * c + k] = g[b * c + k]
            }
        }
        return dx
    }
}
