import Foundation
import ModelFile
import ModelGraph
import Runtime
import Testing

/// TensorFlow's 'same' padding, checked on its own terms rather than through a fixture's sizes: the
/// geometry against hand-worked numbers, and convolutions and pooling against a direct computation in the
/// test on sizes where the padding is asymmetric (the odd pixel after) and symmetric.
@Suite struct PaddingTests {
    /// (input, window, stride, dilation) -> (output, padding before) as TensorFlow computes them.
    @Test(arguments: [
        (224, 3, 2, 1, 112, 0),  // total (112-1)*2+3-224 = 1: nothing before, one after
        (225, 3, 2, 1, 113, 1),  // total 2: one each side
        (8, 2, 1, 1, 8, 0),      // an even window: total 1, after
        (7, 3, 1, 2, 7, 2),      // dilated window of 5: total 4
        (5, 7, 3, 1, 2, 2),      // window larger than the input: total (2-1)*3+7-5 = 5, the smaller half before
        (1, 3, 1, 1, 1, 1),
    ])
    func sameGeometryIsTensorFlows(size: Int, window: Int, stride: Int, dilation: Int, out: Int, before: Int) throws {
        let w = Window2D(size: Size2D(window, window), strides: Size2D(stride, stride), dilation: Size2D(dilation, dilation), padding: .same)
        let (oh, ow) = try w.output(height: size, width: size)
        #expect(oh == out && ow == out)
        let pad = w.padBefore(inHeight: size, inWidth: size, outHeight: out, outWidth: out)
        #expect(pad.top == before && pad.left == before)
        #expect(Window2D(size: Size2D(window, window), strides: Size2D(stride, stride), dilation: Size2D(dilation, dilation), padding: .valid)
            .padBefore(inHeight: size, inWidth: size, outHeight: out, outWidth: out) == (0, 0))
    }

    /// A direct NHWC convolution with HWIO kernel and TensorFlow's 'same' padding.
    static func directConv(_ x: [Float], n: Int, h: Int, w: Int, c: Int, kernel: [Float], kh: Int, kw: Int, filters: Int,
                           stride: Int, dilation: Int, bias: [Float]) -> (out: [Float], oh: Int, ow: Int) {
        // TensorFlow's rule, worked out here rather than taken from the code under test.
        let oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride
        let pad = (top: max((oh - 1) * stride + (kh - 1) * dilation + 1 - h, 0) / 2,
                   left: max((ow - 1) * stride + (kw - 1) * dilation + 1 - w, 0) / 2)
        var out = [Float](repeating: 0, count: n * oh * ow * filters)
        for b in 0..<n { for y in 0..<oh { for xo in 0..<ow { for f in 0..<filters {
            var s = Double(bias[f])
            for i in 0..<kh { for j in 0..<kw {
                let yy = y * stride + i * dilation - pad.top, xx = xo * stride + j * dilation - pad.left
                guard yy >= 0, yy < h, xx >= 0, xx < w else { continue }
                for ch in 0..<c { s += Double(x[((b * h + yy) * w + xx) * c + ch]) * Double(kernel[((i * kw + j) * c + ch) * filters + f]) }
            } }
            out[((b * oh + y) * ow + xo) * filters + f] = Float(s)
        } } } }
        return (out, oh, ow)
    }

    /// Convolutions with 'same' padding on sizes that pad asymmetrically and symmetrically, through both
    /// convolution paths (Winograd for the 3x3 stride-1 ones), against the direct computation.
    @Test(arguments: [(8, 3, 2, 1), (7, 3, 2, 1), (8, 2, 1, 1), (9, 3, 1, 2), (6, 5, 3, 1), (7, 3, 1, 1)], [true, false])
    func sameConvolutionMatchesDirect(geometry: (size: Int, kernel: Int, stride: Int, dilation: Int), winograd: Bool) throws {
        let (size, kernel, stride, dilation) = geometry
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = 3, filters = 4
        let graph = ModelGraph(name: "pad", layers: [
            Layer(name: "x", InputLayer(shape: [size, size + 1, c]), inbound: []),
            Layer(name: "conv", Conv2D(filters: filters, kernel: Size2D(kernel, kernel), strides: Size2D(stride, stride), padding: .same,
                                       dilation: Size2D(dilation, dilation)), inbound: ["x"]),
        ], inputs: ["x"], outputs: ["conv"], isSequential: false)
        try TestSupport.writeKeras(dir + "/pad.h5", graph: graph, seed: 9)
        let model = try TestSupport.convertAndOpen(dir + "/pad.h5")
        let engine = try Engine(model: model, options: .init(winograd: winograd, winogradMinChannels: 1))
        let n = 2, w = size + 1
        let x = (0..<(n * size * w * c)).map { Float(($0 * 7919) % 97) / 48 - 1 }
        let y = try engine.run(Tensor(shape: [n, size, w, c], values: x))[0]
        let ref = Self.directConv(x, n: n, h: size, w: w, c: c, kernel: model.floats("conv/kernel")!, kh: kernel, kw: kernel, filters: filters,
                                  stride: stride, dilation: dilation, bias: model.floats("conv/bias")!)
        #expect(y.shape == [n, ref.oh, ref.ow, filters])
        try #require(y.count == ref.out.count)
        #expect(TestSupport.relativeError(y.values[...], ref.out[...]) < 1e-5, "size \(size) kernel \(kernel) stride \(stride) dilation \(dilation)")
    }

    /// 'same' average pooling divides by the values inside the input (TensorFlow), max pooling ignores the
    /// padding, on a size where the odd pixel falls after.
    @Test func samePoolingCountsOnlyTheInput() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let graph = ModelGraph(name: "pool", layers: [
            Layer(name: "x", InputLayer(shape: [4, 4, 1]), inbound: []),
            Layer(name: "avg", AveragePooling2D(pool: 3, strides: 2, padding: .same), inbound: ["x"]),
            Layer(name: "max", MaxPooling2D(pool: 3, strides: 2, padding: .same), inbound: ["x"]),
        ], inputs: ["x"], outputs: ["avg", "max"], isSequential: false)
        try TestSupport.writeKeras(dir + "/pool.h5", graph: graph)
        let engine = try Engine(model: try TestSupport.convertAndOpen(dir + "/pool.h5"))
        // 4x4 -> 2x2; total padding (2-1)*2+3-4 = 1: none before, one row and column after.
        let x: [Float] = (1...16).map { -Float($0) }
        let out = try engine.run(Tensor(shape: [1, 4, 4, 1], values: x), outputs: ["avg", "max"])
        // Windows: rows 0-2 / 2-3 (padded), columns likewise.
        func avg(_ rows: ClosedRange<Int>, _ cols: ClosedRange<Int>) -> Float {
            let v = rows.flatMap { r in cols.map { x[r * 4 + $0] } }
            return v.reduce(0, +) / Float(v.count)
        }
        #expect(out[0].values == [avg(0...2, 0...2), avg(0...2, 2...3), avg(2...3, 0...2), avg(2...3, 2...3)])
        #expect(out[1].values == [-1, -3, -9, -11])
    }
}
