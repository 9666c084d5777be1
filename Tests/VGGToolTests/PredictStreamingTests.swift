import Foundation
import ImageData
import KerasImport
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

    /// `-o Y.npz` is written through scratch files as the batches come: its array holds the rows of `-o Y.npy`,
    /// byte for byte, and with every size and offset written as ZIP64 (as past 4 GiB) the archive holds the
    /// same entries.
    @Test func npzWrittenBatchByBatchHoldsTheRows() async throws {
        let (dir, model) = try await PredictRowsTests.tinyModel()
        let images = ["rgb.jpg", "anim.gif", "cmyk_adobe.jpg", "rgb.png", "gray.bmp"].map(PredictRowsTests.image)
        let args = ["predict", model] + images + ["--batch-size", "2", "--skip-unreadable"]
        let npy = try await CLI.run(args + ["-o", dir + "/y.npy"])
        let npz = try await CLI.run(args + ["-o", dir + "/y.npz"])
        let z64 = try await CLI.run(args + ["-o", dir + "/z.npz"], env: ["VGGTOOL_TEST_ZIP64_LIMIT": "0"])
        #expect(npy.status == 0 && npz.status == 0 && z64.status == 0, "\(npy.stderr)\(npz.stderr)\(z64.stderr)")
        let rows = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/y.npy")))
        let archive = try ZipArchive(path: dir + "/y.npz")
        #expect(try archive.read("predictions.npy") == rows)
        let entries = try Self.zip64Entries(dir + "/z.npz")
        #expect(entries.map(\.name) == ["predictions.npy", "inputs.npy"])
        #expect(entries[0].bytes == rows)
        #expect(try entries[1].bytes == archive.read("inputs.npy"))
        #expect(Set(TestSupport.files(in: dir)) == ["tiny.vggm", "y.npy", "y.txt", "y.npz", "z.npz"])
    }

    /// The entries of a ZIP64 archive of stored entries (every size and offset in ZIP64 records, as
    /// `VGGTOOL_TEST_ZIP64_LIMIT=0` writes them), checked against their local headers and CRC-32s.
    static func zip64Entries(_ path: String) throws -> [(name: String, bytes: [UInt8])] {
        let d = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u(_ o: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(d[o + $1]) << (8 * $1) } }
        let eocd = d.count - 22
        #expect(u(eocd, 4) == 0x0605_4B50 && u(eocd + 12, 4) == 0xFFFF_FFFF && u(eocd + 16, 4) == 0xFFFF_FFFF)
        let locator = eocd - 20
        #expect(u(locator, 4) == 0x0706_4B50)
        let record = u(locator + 8, 8)
        #expect(u(record, 4) == 0x0606_4B50 && u(record + 4, 8) == 44)
        let count = u(record + 32, 8), cdSize = u(record + 40, 8), cdAt = u(record + 48, 8)
        #expect(cdAt + cdSize == record)
        var out: [(String, [UInt8])] = []
        var at = cdAt
        for _ in 0..<count {
            #expect(u(at, 4) == 0x0201_4B50 && u(at + 20, 4) == 0xFFFF_FFFF && u(at + 42, 4) == 0xFFFF_FFFF)
            let nameLength = u(at + 28, 2), extraLength = u(at + 30, 2), crc = UInt32(u(at + 16, 4))
            let name = String(decoding: d[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            let extra = at + 46 + nameLength
            #expect(u(extra, 2) == 1 && u(extra + 2, 2) == 24 && extraLength == 28)
            let size = u(extra + 4, 8), local = u(extra + 20, 8)
            #expect(u(local, 4) == 0x0403_4B50 && u(local + 18, 4) == 0xFFFF_FFFF && u(local + 30 + nameLength + 4, 8) == size)
            let start = local + 30 + nameLength + u(local + 28, 2)
            let bytes = Array(d[start..<(start + size)])
            #expect(NumPy.crc32(bytes) == crc, "\(name)")
            out.append((name, bytes))
            at = extra + extraLength
        }
        return out
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
