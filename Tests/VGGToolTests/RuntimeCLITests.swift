import Foundation
import ModelGraph
import Runtime
import Testing

/// predict, evaluate and bench on the built binary, and their bad inputs.
@Suite(.serialized) struct RuntimeCLITests {
    static func tinyModel() async throws -> (dir: String, model: String) {
        let dir = try TestSupport.tempDir()
        let model = dir + "/tiny.vggm"
        let c = try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", model, "--class-names", "a,b,c,d,e"])
        #expect(c.status == 0, "\(c.stderr)")
        return (dir, model)
    }

    @Test func predictImagesAndNpy() async throws {
        let (dir, model) = try await Self.tinyModel()
        let img = TestSupport.fixture("images/rgb.jpg")
        let p = try await CLI.run(["predict", model, img, TestSupport.fixture("images/rgb.png"), "--top-k", "2", "-o", dir + "/y.npy"])
        #expect(p.status == 0, "\(p.stderr)")
        let lines = p.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("\(img): ") == true && lines.first!.split(separator: ",").count == 2, "\(p.stdout)")
        let y = try NumPy.read(path: dir + "/y.npy")
        #expect(y.shape == [2, 5])
        // The same images through --input give the same outputs.
        let x = try NumPy.read(path: TestSupport.fixture("goldens/tiny_vgg16.input.npy"))
        let q = try await CLI.run(["predict", model, "--input", TestSupport.fixture("goldens/tiny_vgg16.input.npy"), "-o", dir + "/z.npy"])
        #expect(q.status == 0, "\(q.stderr)")
        let z = try NumPy.read(path: dir + "/z.npy")
        let golden = try NumPy.read(path: TestSupport.fixture("goldens/tiny_vgg16.tfkeras.output.npy"))
        #expect(z.shape == [x.shape[0], 5])
        #expect(zip(z.values, golden.values).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func predictBadInputs() async throws {
        let (dir, model) = try await Self.tinyModel()
        func fails(_ args: [String], _ words: String) async throws {
            let r = try await CLI.run(args)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(words) && r.stderr.hasSuffix("\n"), "\(args): \(r.stderr)")
        }
        // .npy of the wrong dtype, a header that lies about the shape, a corrupt header, wrong channels.
        var f64 = NumPy.encode(Tensor(shape: [1, 32, 32, 3], values: [Float](repeating: 0, count: 3072)))
        let at = (0..<100).first { f64[$0] == UInt8(ascii: "<") && f64[$0 + 1] == UInt8(ascii: "f") && f64[$0 + 2] == UInt8(ascii: "4") }!
        f64[at + 2] = UInt8(ascii: "8")
        try Data(f64).write(to: URL(fileURLWithPath: dir + "/f64.npy"))
        try await fails(["predict", model, "--input", dir + "/f64.npy"], "dtype is <f8")
        var lie = NumPy.encode(Tensor(shape: [2, 32, 32, 3], values: [Float](repeating: 0, count: 6144)))
        lie.removeLast(100)
        try Data(lie).write(to: URL(fileURLWithPath: dir + "/lie.npy"))
        try await fails(["predict", model, "--input", dir + "/lie.npy"], "needs 24576 bytes of data, the file has 24476")
        try Data("\u{93}NUMPY garbage".utf8).write(to: URL(fileURLWithPath: dir + "/bad.npy"))
        try await fails(["predict", model, "--input", dir + "/bad.npy"], "bad.npy")
        let four = NumPy.encode(Tensor(shape: [1, 32, 32, 4], values: [Float](repeating: 0, count: 4096)))
        try Data(four).write(to: URL(fileURLWithPath: dir + "/four.npy"))
        try await fails(["predict", model, "--input", dir + "/four.npy"], "has 4 channels, the model takes 3")
        // Too small for the network, a corrupt image, an output folder that does not exist.
        try await fails(["predict", model, TestSupport.fixture("images/rgb.jpg"), "--input-size", "4"], "too small")
        try await fails(["predict", model, TestSupport.fixture("images/truncated.jpg")], "truncated.jpg: corrupt or truncated JPEG")
        try await fails(["predict", model, TestSupport.fixture("images/rgb.jpg"), "-o", dir + "/missing/y.npy"], "does not exist")
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing"))
    }

    @Test func evaluateAndBench() async throws {
        let (dir, model) = try await Self.tinyModel()
        // Class names recorded a..e, the folders are class_0..: refused by name.
        let wrong = try await CLI.run(["evaluate", model, "--data", TestSupport.fixture("images/eval")])
        #expect(wrong.status != 0 && wrong.stderr.contains("class folder 'class_0' is not one of the model's classes"))
        let plain = dir + "/plain.vggm"
        #expect(try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", plain]).status == 0)
        let e = try await CLI.run(["evaluate", plain, "--data", TestSupport.fixture("images/eval"), "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        #expect((obj["confusion_matrix"] as? [[Int]])?.count == 5)
        let t = try await CLI.run(["evaluate", plain, "--data", TestSupport.fixture("images/eval")])
        #expect(t.stdout.contains("confusion matrix") && t.stdout.contains("precision"))
        // Empty folder; a class without readable images.
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let r = try await CLI.run(["evaluate", plain, "--data", empty])
        #expect(r.status != 0 && r.stderr.contains("no class subfolders"))

        // Five class folders, one of which holds only unreadable files: named, with the skip count.
        let partial = dir + "/partial"
        for c in 0..<5 {
            try FileManager.default.createDirectory(atPath: partial + "/k\(c)", withIntermediateDirectories: true)
            let src = c == 3 ? "images/text.jpg" : "images/rgb.png"
            try FileManager.default.copyItem(atPath: TestSupport.fixture(src), toPath: partial + "/k\(c)/" + (src as NSString).lastPathComponent)
        }
        let p = try await CLI.run(["evaluate", plain, "--data", partial])
        #expect(p.status != 0 && p.stderr.contains("k3: no image in this class folder could be read (1 file(s) skipped)"), "\(p.stderr)")

        let b = try await CLI.run(["bench", plain, "--batch", "2", "--json"])
        #expect(b.status == 0, "\(b.stderr)")
        let bench = try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as! [String: Any]
        #expect((bench["images_per_second"] as? Double ?? 0) > 0 && (bench["peak_rss_bytes"] as? Int ?? 0) > 0)
        #expect(bench["gflops_per_second"] != nil)
        let l = try await CLI.run(["bench", plain, "--layers"])
        #expect(l.stdout.contains("block1_conv1") && l.stdout.contains("images/s"))
        #expect(l.stdout.contains("GFLOP/s  algorithm"), "\(l.stdout)")
        // Each convolution's algorithm, fixed: a 3x3 convolution from 16 channels uses it, the first (3 channels) im2col.
        let graph = ModelGraph(name: "convs", layers: [
            Layer(name: "x", InputLayer(shape: [12, 12, 3]), inbound: []),
            Layer(name: "block1_conv1", Conv2D(filters: 16, kernel: Size2D(3, 3), padding: .same, activation: .relu), inbound: ["x"]),
            Layer(name: "block2_conv1", Conv2D(filters: 16, kernel: Size2D(3, 3), padding: .same, activation: .relu), inbound: ["block1_conv1"]),
        ], inputs: ["x"], outputs: ["block2_conv1"], isSequential: false)
        try TestSupport.writeKeras(dir + "/convs.h5", graph: graph)
        let convs = dir + "/convs.vggm"
        #expect(try await CLI.run(["convert", dir + "/convs.h5", "-o", convs]).status == 0)
        for algorithm in ["winograd-4x4", "winograd-6x6", "im2col"] {
            let f = try await CLI.run(["bench", convs, "--layers", "--algorithm", algorithm, "--json"])
            #expect(f.status == 0, "\(f.stderr)")
            let layers = (try JSONSerialization.jsonObject(with: Data(f.stdout.utf8)) as! [String: Any])["layers"] as! [[String: Any]]
            let algorithms = Dictionary(uniqueKeysWithValues: layers.compactMap { l in (l["algorithm"] as? String).map { (l["layer"] as! String, $0) } })
            #expect(algorithms["block1_conv1"] == "im2col")
            #expect(algorithms["block2_conv1"] == algorithm, "\(algorithms)")
            #expect(layers.contains { ($0["gflops_per_second"] as? Double ?? 0) > 0 })
        }
        let bad = try await CLI.run(["bench", plain, "--algorithm", "winograd-8x8"])
        #expect(bad.status == 64 && bad.stderr.contains("--algorithm"), "\(bad.stderr)")
    }
}
