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
        // Updated block by block from all threads (one process), with a small batch: each block's rows of the
        // input gradient are computed just before the block's update, from the same rows of w, which are then
        // read from memory once for both (the same bits as computing it first: each element is one dot product).
        let fused = inputGradient && n <= VGG_SMALL_BATCH && w.streamsGradient && net.concurrentUpdate != nil
        if inputGradient && !fused {
            var d = [Float](repeating: 0, count: n * inDim)
            g.withUnsafeBufferPointer { gp in w.value.withUnsafeBufferPointer { wp in d.withUnsafeMutableBufferPointer { dxp in
                let gs = UnsafeSendable(gp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!), dxs = UnsafeSendable(dxp.baseAddress!)
                parallelParts(inDim, threads, minChunk: 64) { a, e, _ in
                    if n <= VGG_SMALL_BATCH {
                        vgg_dense_small_input_gradient(gs.value, ws.value, dxs.value, n, inDim, units, a, e)
                    } else {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(e - a), Int32(units), 1,
                                    gs.value, Int32(units), ws.value + a * units, Int32(units), 0, dxs.value + a, Int32(inDim))
                    }
                }
            } } }
            dx = d
        }
        // dW rows [r0, r1) = x[:, r0..<r1]ᵀ g, into `dw` (rows of `units`), split by rows over the threads.
        // (vgg_dense_kernel_gradient rather than sgemm: with n rows of a batch as the inner dimension, sgemm's
        // packing and zeroing of the output cost more than the products; every path uses it, so the streamed,
        // the concurrent and the whole gradients are the same to the bit.)
        func kernelGradient(rows r0: Int, _ r1: Int, into dw: UnsafeMutablePointer<Float>) {
            x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in
                let xs = UnsafeSendable(xp.baseAddress!), gs = UnsafeSendable(gp.baseAddress!), dws = UnsafeSendable(dw)
                parallelParts(r1 - r0, threads, minChunk: 16) { a, e, _ in
                    vgg_dense_kernel_gradient(xs.value, gs.value, dws.value + a * units, n, inDim, units, r0 + a, r0 + e)
                }
            } }
        }
        if w.streamsGradient, let withUpdate = net.concurrentUpdate {
            // Each thread takes a range of rows and applies each small block of their gradient as soon as it is
            // computed, while the block is still in its cache.
            let rowsPerBlock = max(1, net.concurrentBlockBytes / (4 * max(units, 1)))
            let parts = max(1, min(threads, inDim))
            x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in
                let xs = UnsafeSendable(xp.baseAddress!), gs = UnsafeSendable(gp.baseAddress!)
                var d = [Float](repeating: 0, count: fused ? n * inDim : 0)
                net.withGradientScratch(parts * rowsPerBlock * units) { scratch in d.withUnsafeMutableBufferPointer { dxp in
                    let ss = UnsafeSendable(scratch), dxs = UnsafeSendable(dxp.baseAddress)
                    withUpdate(w) { update in
                        parallelParts(inDim, parts) { a, e, part in
                            let buf = ss.value + part * rowsPerBlock * units
                            var r0 = a
                            while r0 < e {
                                let r1 = min(e, r0 + rowsPerBlock)
                                if fused { vgg_dense_small_input_gradient(gs.value, update.values, dxs.value!, n, inDim, units, r0, r1) }
                                vgg_dense_kernel_gradient(xs.value, gs.value, buf, n, inDim, units, r0, r1)
                                update.apply(at: r0 * units, gradient: buf, count: (r1 - r0) * units)
                                r0 = r1
                            }
                        }
                    }
                } }
                if fused { dx = d }
            } }
        } else if w.streamsGradient, let sink = net.gradientSink {
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
