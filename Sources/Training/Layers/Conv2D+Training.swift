import CBLAS
import CKernels
import ModelGraph
import Runtime

extension Conv2D: Differentiable {
    func geometry(_ node: TrainingNode, n: Int) -> vgg_conv_shape {
        window.kernelShape(input: [n] + node.inShape, output: [n] + node.outShape)
    }

    /// im2col + GEMM over output rows split across threads (2 MB of im2col scratch per thread).
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) {
        let threads = net.threads
        var out = [Float](repeating: 0, count: n * node.outShape.reduce(1, *))
        let g = geometry(node, n: n)
        let kk = Int(g.kh * g.kw * g.c)
        let rows = out.count / Int(g.k)
        let blockRows = max(1, (2 << 20) / (kk * 4))
        let w = node.params[0].value, b = node.params.count > 1 ? node.params[1].value : nil
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: threads * blockRows * kk)
            defer { scratch.deallocate() }
            let xs = UnsafeSendable(xp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!), os = UnsafeSendable(op.baseAddress!), ss = UnsafeSendable(scratch)
            let bias = b
            parallelParts(rows, threads) { a, e, part in
                var gg = g
                if let bias {
                    bias.withUnsafeBufferPointer { bp in
                        vgg_conv2d_gemm_rows(&gg, xs.value, ws.value, bp.baseAddress, os.value, a, e, ss.value + part * blockRows * kk, blockRows)
                    }
                } else {
                    vgg_conv2d_gemm_rows(&gg, xs.value, ws.value, nil, os.value, a, e, ss.value + part * blockRows * kk, blockRows)
                }
            }
        } } }
        return (out, [])
    }

    /// Kernel gradient colᵀ · g and input gradient col2im(g · Wᵀ) per block of output rows; each thread
    /// accumulates its own partial kernel and input gradients (windows of neighbouring rows overlap in the
    /// input), summed after.
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? {
        let threads = net.threads
        let geo = geometry(node, n: n)
        let kk = Int(geo.kh * geo.kw * geo.c), k = Int(geo.k)
        let rows = n * node.outShape[0] * node.outShape[1]
        let blockRows = max(1, (2 << 20) / (kk * 4))
        let w = node.params[0]
        let parts = min(threads, max(1, rows / 64))
        let dxCount = n * node.inShape.reduce(1, *)
        var dx = [Float](repeating: 0, count: dxCount)
        var dwParts = [[Float]](repeating: [], count: parts)
        var dxParts = [[Float]](repeating: [], count: parts)
        x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in w.value.withUnsafeBufferPointer { wp in
            let xs = UnsafeSendable(xp.baseAddress!), gs = UnsafeSendable(gp.baseAddress!), ws = UnsafeSendable(wp.baseAddress!)
            let results = UnsafeMutableBufferPointer<([Float], [Float])>.allocate(capacity: parts)
            results.initialize(repeating: ([], []))
            defer { _ = results.deinitialize(); results.deallocate() }  // deinitialized: the parts' arrays are freed
            let rs = UnsafeSendable(results)
            parallelParts(parts, parts) { p0, p1, _ in
                for p in p0..<p1 {
                    var gg = geo
                    let a = rows * p / parts, e = rows * (p + 1) / parts
                    var dw = [Float](repeating: 0, count: kk * k)
                    var dxl = [Float](repeating: 0, count: dxCount)
                    var col = [Float](repeating: 0, count: blockRows * kk)
                    var t = a
                    while t < e {
                        let te = min(t + blockRows, e)
                        let m = te - t
                        col.withUnsafeMutableBufferPointer { cp in
                            vgg_im2col(&gg, xs.value, t, te, cp.baseAddress)
                            dw.withUnsafeMutableBufferPointer { dwp in
                                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(kk), Int32(k), Int32(m), 1,
                                            cp.baseAddress, Int32(kk), gs.value + t * k, Int32(k), 1, dwp.baseAddress, Int32(k))
                            }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(kk), Int32(k), 1,
                                        gs.value + t * k, Int32(k), ws.value, Int32(k), 0, cp.baseAddress, Int32(kk))
                            dxl.withUnsafeMutableBufferPointer { dp in vgg_col2im_add(&gg, cp.baseAddress, t, te, dp.baseAddress) }
                        }
                        t = te
                    }
                    rs.value[p] = (dw, dxl)
                }
            }
            for p in 0..<parts { dwParts[p] = results[p].0; dxParts[p] = results[p].1 }
        } } }
        w.grad.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        for p in 0..<parts {
            for i in 0..<(kk * k) { w.grad[i] += dwParts[p][i] }
            for i in 0..<dx.count { dx[i] += dxParts[p][i] }
        }
        if node.params.count > 1 {
            let b = node.params[1]
            b.grad.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            for r in 0..<rows { for j in 0..<k { b.grad[j] += g[r * k + j] } }
        }
        return dx
    }
}
