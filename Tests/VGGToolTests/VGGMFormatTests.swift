import Foundation
import ModelFile
import ModelGraph
import Testing
import VGGTool

/// The .vggm reader validates everything on open; `verify` catches any flipped byte.
@Suite struct VGGMFormatTests {
    func makeFile() throws -> (String, Data) {
        let dir = try TestSupport.tempDir()
        let out = dir + "/m.vggm"
        _ = try convert(input: TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), output: out, options: .init())
        return (out, try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    func write(_ data: Data) throws -> String {
        let p = try TestSupport.tempDir() + "/bad.vggm"
        try data.write(to: URL(fileURLWithPath: p))
        return p
    }

    func openError(_ data: Data) throws -> String? {
        do { _ = try VGGMFile(path: try write(data)); return nil } catch let e as ModelFileError { return e.description }
    }

    @Test func headerLayoutAndAlignment() throws {
        let (path, data) = try makeFile()
        #expect(Array(data.prefix(8)) == VGGMFormat.magic)
        let f = try VGGMFile(path: path)
        #expect(f.dataOffset == 64)
        #expect(f.manifest.tensors.allSatisfy { $0.offset % 64 == 0 })
        #expect(f.manifest.inputShape == [32, 32, 3])
    }

    @Test func everyHeaderByteFlipIsCaught() throws {
        let (_, data) = try makeFile()
        for i in 0..<64 {
            var d = data
            d[i] ^= 0x5A
            #expect(try openError(d) != nil, "byte \(i)")
        }
    }

    @Test func manifestCorruptionIsCaught() throws {
        let (path, data) = try makeFile()
        let f = try VGGMFile(path: path)
        let manifestStart = f.dataOffset + (f.manifest.tensors.map { $0.offset + $0.length }.max()! + 63) / 64 * 64
        for i in stride(from: manifestStart, to: data.count, by: max(1, (data.count - manifestStart) / 50)) {
            var d = data
            d[i] ^= 0x01
            #expect(try openError(d)?.contains("manifest") == true)
        }
    }

    @Test func tensorByteFlipsAreCaughtByVerify() throws {
        let (path, data) = try makeFile()
        let f = try VGGMFile(path: path)
        for t in f.manifest.tensors {
            var d = data
            d[f.dataOffset + t.offset + t.length / 2] ^= 0x80
            let g = try VGGMFile(path: try write(d))
            #expect(g.verifyTensors() == [t.name])
        }
        // A padding byte between tensors too.
        let first = f.manifest.tensors.min { $0.offset < $1.offset }!
        if first.length % 64 != 0 {
            var d = data
            d[f.dataOffset + first.offset + first.length] = 1
            #expect(try VGGMFile(path: try write(d)).verifyTensors().first?.contains("padding") == true)
        }
    }

    @Test func truncationAndTrailingDataAreRefused() throws {
        let (_, data) = try makeFile()
        for cut in [0, 8, 63, 64, 200, data.count / 2, data.count - 1] {
            #expect(try openError(data.prefix(cut)) != nil, "cut at \(cut)")
        }
        #expect(try openError(data + Data([0]))?.contains("trailing") == true)
    }

    @Test func unsupportedVersionIsNamed() throws {
        let (_, data) = try makeFile()
        var d = data
        d[8] = 2  // major 2, then fix the header CRC so only the version is wrong
        let crc = d.prefix(60).withUnsafeBytes { VGGMFormat.crc32c($0) }
        withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { d[60 + i] = b } }
        #expect(try openError(d)?.contains("version 2.0") == true)
    }

    @Test func crc32cKnownValue() {
        // RFC 3720 test vector: 32 bytes of zeros -> 0x8A9136AA; "123456789" -> 0xE3069283.
        #expect([UInt8](repeating: 0, count: 32).withUnsafeBytes { VGGMFormat.crc32c($0) } == 0x8A91_36AA)
        #expect(Array("123456789".utf8).withUnsafeBytes { VGGMFormat.crc32c($0) } == 0xE306_9283)
    }

    @Test func crc32cOfLargeBuffersMatchesPiecewise() {
        // Buffers of 12 KB and more are checksummed as three interleaved streams joined by polynomial
        // arithmetic; fed in 4 KB pieces they take the one-stream path the known values check.
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<(1 << 20) + 13).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes.withUnsafeBytes { all in
            for (start, count) in [(0, all.count), (5, 12_288), (3, 12_299), (1, 1 << 19), (7, all.count - 7)] {
                let whole = VGGMFormat.crc32c(UnsafeRawBufferPointer(rebasing: all[start..<start + count]), seed: 0x1234_5678)
                var piecewise: UInt32 = 0x1234_5678
                for at in stride(from: start, to: start + count, by: 4096) {
                    piecewise = VGGMFormat.crc32c(UnsafeRawBufferPointer(rebasing: all[at..<min(at + 4096, start + count)]), seed: piecewise)
                }
                #expect(whole == piecewise, "\(count) bytes at \(start)")
            }
        }
    }

    @Test func failedWriteLeavesNoFile() throws {
        let dir = try TestSupport.tempDir()
        let out = dir + "/out.vggm"
        // The first tensor's fill throws mid-write.
        struct Boom: Error {}
        let graph = try Architecture_tiny()
        #expect(throws: Boom.self) {
            _ = try VGGMWriter.write(to: out, graph: graph, inputShape: [4], preprocessing: nil, classNames: nil,
                                     provenance: Provenance(sourceFile: "x", sourceSHA256: "", sourceLayout: "", kerasVersion: nil, converter: "", created: ""),
                                     tensors: [TensorPayload(name: "d/kernel", shape: [4, 2]) { _ in throw Boom() },
                                               TensorPayload(name: "d/bias", shape: [2]) { _ in }])
        }
        #expect(TestSupport.files(in: dir).isEmpty)
    }

    func Architecture_tiny() throws -> ModelGraph {
        ModelGraph(name: "t", layers: [Layer(name: "x", InputLayer(shape: [4]), inbound: []),
                                       Layer(name: "d", Dense(units: 2), inbound: ["x"])],
                   inputs: ["x"], outputs: ["d"], isSequential: false)
    }
}
