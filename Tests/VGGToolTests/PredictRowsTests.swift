import Foundation
import ImageData
import Runtime
import Testing
import VGGTool

/// `predict -o` never shifts rows: row i is input i. An unreadable image means nothing is written and the
/// error names it; with --skip-unreadable the others are written and the output lists them in row order
/// (Y.txt beside Y.npy, the array `inputs` in Y.npz).
@Suite(.serialized) struct PredictRowsTests {
    static func image(_ name: String) -> String { TestSupport.fixture("images/\(name)") }

    static func tinyModel() async throws -> (dir: String, model: String) {
        let dir = try TestSupport.tempDir()
        let model = dir + "/tiny.vggm"
        let c = try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", model, "--class-names", "a,b,c,d,e"])
        #expect(c.status == 0, "\(c.stderr)")
        return (dir, model)
    }

    /// The strings of a NumPy unicode array (`<Un`) stored as `name.npy` in an `.npz` written by vggtool.
    static func npzStrings(_ path: String, _ name: String) throws -> [String]? {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let entry = Array((name + ".npy").utf8)
        guard let at = (0..<(bytes.count - entry.count)).first(where: { Array(bytes[$0..<($0 + entry.count)]) == entry }) else { return nil }
        let npy = at + entry.count
        guard Array(bytes[npy..<(npy + 6)]) == [0x93] + Array("NUMPY".utf8) else { return nil }
        let headerLength = Int(bytes[npy + 8]) | Int(bytes[npy + 9]) << 8
        let header = String(decoding: bytes[(npy + 10)..<(npy + 10 + headerLength)], as: UTF8.self)
        guard let u = header.range(of: "'<U"), let comma = header[u.upperBound...].firstIndex(of: "'"),
              let width = Int(header[u.upperBound..<comma]),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ",") ,
              let count = Int(header[open.upperBound..<close]) else { return nil }
        var strings: [String] = []
        var p = npy + 10 + headerLength
        for _ in 0..<count {
            var scalars = String.UnicodeScalarView()
            for i in 0..<width {
                let q = p + 4 * i
                let v = UInt32(bytes[q]) | UInt32(bytes[q + 1]) << 8 | UInt32(bytes[q + 2]) << 16 | UInt32(bytes[q + 3]) << 24
                if v != 0, let s = Unicode.Scalar(v) { scalars.append(s) }
            }
            strings.append(String(scalars))
            p += 4 * width
        }
        return strings
    }

    @Test func anUnreadableImageMeansNothingIsWritten() async throws {
        let (dir, model) = try await Self.tinyModel()
        let bad = Self.image("truncated.jpg"), bad2 = Self.image("badindex.gif")
        for out in ["y.npy", "y.npz"] {
            let r = try await CLI.run(["predict", model, Self.image("rgb.jpg"), bad, Self.image("rgb.png"), bad2, "-o", dir + "/" + out])
            #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.hasPrefix("vggtool: error: \(bad): corrupt or truncated JPEG") && r.stderr.contains("1 more could not be read either (\(bad2))")
                    && r.stderr.contains("\(dir)/\(out) not written") && r.stderr.contains("--skip-unreadable"), "\(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
        }
        #expect(TestSupport.files(in: dir) == ["tiny.vggm"])
        // The library says the same with a kind, and writes nothing either.
        do {
            _ = try predict(modelPath: model, images: [Self.image("rgb.jpg"), bad], npyInputs: [], inputSize: nil, outputPath: dir + "/z.npy")
            Issue.record("predict wrote around an unreadable image")
        } catch let e as ToolError {
            #expect(e.kind == .unreadableImages(skipped: 1, total: 2) && e.file == bad, "\(e)")
        }
        #expect(TestSupport.files(in: dir) == ["tiny.vggm"])
        // Without an output, the readable images are still predicted and the unreadable one reported (exit 1).
        let p = try await CLI.run(["predict", model, Self.image("rgb.jpg"), bad])
        #expect(p.status == 1 && p.stdout.hasPrefix(Self.image("rgb.jpg") + ": ") && p.stderr.contains("skipped \(bad)"), "\(p.stdout) \(p.stderr)")
    }

    @Test func skipUnreadableListsTheRowsInOrder() async throws {
        let (dir, model) = try await Self.tinyModel()
        let good = [Self.image("rgb.jpg"), Self.image("anim.gif"), Self.image("cmyk_adobe.jpg")]
        let bad = Self.image("truncated.png")
        let r = try await CLI.run(["predict", model, good[0], bad, good[1], good[2], "--skip-unreadable", "-o", dir + "/y.npy"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "vggtool: skipped \(bad): corrupt PNG (truncated PNG)\n", "\(r.stderr)")
        #expect(r.stdout.contains("wrote \(dir)/y.txt (the 3 input(s) in row order)"), "\(r.stdout)")
        let y = try NumPy.read(path: dir + "/y.npy")
        #expect(y.shape == [3, 5])
        #expect(try String(contentsOfFile: dir + "/y.txt", encoding: .utf8) == good.map { $0 + "\n" }.joined())
        // Each row is its image's: the same as predicting that image alone.
        for (i, path) in good.enumerated() {
            let one = try predict(modelPath: model, images: [path], npyInputs: [], inputSize: nil)
            #expect(zip(one.outputs!.values, y.values[(i * 5)..<((i + 1) * 5)]).allSatisfy { abs($0 - $1) < 1e-6 }, "\(path)")
        }
        // An .npz carries the names as its `inputs` array.
        let z = try await CLI.run(["predict", model, good[0], bad, good[1], "--skip-unreadable", "-o", dir + "/y.npz"])
        #expect(z.status == 0, "\(z.stderr)")
        #expect(try Self.npzStrings(dir + "/y.npz", "inputs") == [good[0], good[1]])
        #expect(!FileManager.default.fileExists(atPath: dir + "/y.npz.txt") && Set(TestSupport.files(in: dir)) == ["tiny.vggm", "y.npy", "y.txt", "y.npz"])
        // Without an output, --skip-unreadable reports the skip and succeeds.
        let quiet = try await CLI.run(["predict", model, good[0], bad, "--skip-unreadable"])
        #expect(quiet.status == 0 && quiet.stderr == "vggtool: skipped \(bad): corrupt PNG (truncated PNG)\n" && quiet.stdout.hasPrefix(good[0] + ": "), "\(quiet.stderr)")
        // A path with a line break cannot go in a one-path-per-line list.
        let odd = dir + "/two\nlines.jpg"
        try FileManager.default.copyItem(atPath: good[0], toPath: odd)
        let nl = try await CLI.run(["predict", model, odd, "--skip-unreadable", "-o", dir + "/nl.npy"])
        #expect(nl.status == 1 && nl.stderr.contains("line break") && !FileManager.default.fileExists(atPath: dir + "/nl.npy"), "\(nl.stderr)")
        try FileManager.default.removeItem(atPath: odd)
        // Every image unreadable: an error, nothing written.
        let none = try await CLI.run(["predict", model, bad, "--skip-unreadable", "-o", dir + "/n.npy"])
        #expect(none.status == 1 && !FileManager.default.fileExists(atPath: dir + "/n.npy") && !FileManager.default.fileExists(atPath: dir + "/n.txt"))
    }

    @Test func inputListPathIsBesideTheOutput() {
        #expect(inputListPath(forOutput: "out/y.npy") == "out/y.txt")
        #expect(inputListPath(forOutput: "y.bin") == "y.bin.txt")
        let bytes = NumPy.encode(strings: ["a", "\u{e9}t\u{e9}", ""])
        let header = String(decoding: bytes[10..<(10 + Int(bytes[8]))], as: UTF8.self)
        #expect(header.contains("'descr': '<U3'") && header.contains("'shape': (3,)") && (bytes.count - 10 - Int(bytes[8])) == 3 * 3 * 4)
        #expect((10 + Int(bytes[8])) % 64 == 0)
    }
}
