import CBLAS
import CKernels
import ModelGraph
import Runtime

extension Dense: Differentiable {
    /// x (n x in) · kernel (in x units) + bias, split by output columns across threads.
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        let inDim = node.inShape[0], units = units, threads = net.threads
        var out = [Float](repeating: 0, count: n * units)
        let w = node.params[0].value, b = node.params.count > 1 ? node.params[1].value : nil
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
            let xs = UnsafeSendable(xp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!), os = UnsafeSendable(op.baseAddress!)
            let run = { (bp: UnsafePointer<Float>?) in
                let bs = UnsafeSendable(bp)
                parallelParts(units, threads, minChunk: 64) { a, e, _ in
                    vgg_dense(xs.value, ws.value, bs.value, os.value, n, inDim, units, 0, n, a, e)
                }
            }
            if let b { b.withUnsafeBufferPointer { run($0.baseAddress) } } else { run(nil) }
        } } }
        return (out, [])
    }

    /// dW = xᵀ g (in x units), split by output columns; db = column sums of g; dx = g Wᵀ, split by input
    /// columns (skipped when not needed). A kernel that streams its gradient (`Parameter.streamsGradient`)
    /// gets dW in blocks of rows handed to the network's sink after dx is computed (the sink may then change
    /// the kernel in place): `Network.gradientBlockBytes` (8 MB) of scratch instead of the whole gradient.
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        let inDim = node.inShape[0], units = units, threads = net.threads
        let w = node.params[0]
        if node.params.count > 1 {
            let bgrad = node.params[1]
            for j in 0..<units { var s: Float = 0; for b in 0..<n { s += g[b * units + j] }; bgrad.grad[j] = s }
        }
        var dx: [Float]? = nil
        if inputGradient {
            var d = [Float](repeating: 0, count: n * inDim)
            g.withUnsafeBufferPointer { gp in w.value.withUnsafeBufferPointer { wp in d.withUnsafeMutableBufferPointer { dxp in
                let gs = UnsafeSendable(gp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!), dxs = UnsafeSendable(dxp.baseAddress!)
                parallelParts(inDim, threads, minChunk: 64) { a, e, _ in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(e - a), Int32(units), 1,
                                gs.value, Int32(units), ws.value + a * units, Int32(units), 0, dxs.value + a, Int32(inDim))
                }
            } } }
            dx = d
        }
        // dW rows [r0, r1) = x[:, r0..<r1]ᵀ g, into `dw` (rows of `units`).
        func kernelGradient(rows r0: Int, _ r1: Int, into dw: UnsafeMutablePointer<Float>) {
            x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in
                let xs = UnsafeSendable(xp.baseAddress! + r0), gs = UnsafeSendable(gp.baseAddress!), dws = UnsafeSendable(dw)
                parallelParts(units, threads, minChunk: 64) { a, e, _ in
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(r1 - r0), Int32(e - a), Int32(n), 1,
                                xs.value, Int32(inDim), gs.value + a, Int32(units), 0, dws.value + a, Int32(units))
                }
            } }
        }
        if w.streamsGradient, let sink = net.gradientSink {
            let blockRows = max(1, min(inDim, net.gradientBlockBytes / (4 * max(units, 1))))
            net.withGradientScratch(blockRows * units) { b in
                for r0 in stride(from: 0, to: inDim, by: blockRows) {
                    let r1 = min(inDim, r0 + blockRows)
                    kernelGradient(rows: r0, r1, into: b)
                    sink(w, r0 * units, UnsafeBufferPointer(start: b, count: (r1 - r0) * units))
                }
            }
        } else {
            w.grad.withUnsafeMutableBufferPointer { kernelGradient(rows: 0, inDim, into: $0.baseAddress!) }
        }
        return dx
    }
}
