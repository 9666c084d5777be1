import Foundation
import ImageData
import Runtime
import Testing
import VGGTool

/// `predict` keeps no outputs when given a per-batch callback and writes `-o Y.npy` batch by batch: the file
/// is byte for byte the one the in-memory path writes, whatever the batch size, and the header reserved for
/// every input still reads when fewer rows were written.
@Suite(.serialized) struct PredictStreamingTests {
    @Test func npyWrittenBatchByBatchEqualsTheWholeArray() async throws {
        let (dir, model) = try await PredictRowsTests.tinyModel()
        let images = ["rgb.jpg", "anim.gif", "cmyk_adobe.jpg", "rgb.png", "gray.bmp"].map(PredictRowsTests.image)
        for batch in [1, 2, 8] {
            // The in-memory path at the same batch size (a batch's composition may change the last bits).
            let whole = try predict(modelPath: model, images: images, npyInputs: [], inputSize: nil, batchSize: batch)
            let expected = NumPy.encode(whole.outputs!)
            let r = try await CLI.run(["predict", model] + images + ["-o", dir + "/y\(batch).npy", "--batch-size", "\(batch)"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("wrote \(dir)/y\(batch).npy (shape [5, 5])") && r.stdout.hasPrefix(images[0] + ": a "), "\(r.stdout)")
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/y\(batch).npy"))) == expected, "batch \(batch)")
            // The library with a callback: every row reaches it, none is kept.
            var rows = 0
            let streamed = try predict(modelPath: model, images: images, npyInputs: [], inputSize: nil, batchSize: batch,
                                       outputPath: dir + "/s.npy") { names, outputs in
                #expect(names.count == outputs[0].shape[0])
                rows += names.count
            }
            #expect(rows == 5 && streamed.outputs == nil && streamed.allOutputs.isEmpty && streamed.rowShapes.map(\.shape) == [[5]])
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/s.npy"))) == expected, "batch \(batch)")
        }
    }

    @Test func reservedHeaderReadsWithFewerRows() throws {
        let reserved = NumPy.header(shape: [10_000_000, 1000]).count
        let header = NumPy.header(shape: [3, 2], length: reserved)
        #expect(header.count == reserved && header.count % 64 == 0)
        let bytes = header + [Float](repeating: 1.5, count: 6).withUnsafeBytes { [UInt8]($0) }
        let t = try NumPy.parse(Data(bytes), path: "x.npy")
        #expect(t.shape == [3, 2] && t.values == [Float](repeating: 1.5, count: 6))
    }
}
