import Foundation
import ImageData
import Runtime
import Testing
import VGGTool

/// EXIF orientation is ignored wherever images are read (predict, evaluate, finetune, the library), as Keras
/// ignores it, so a model sees the pixels it would see in Keras; `--exif-orientation apply` turns photos
/// upright. The same photos with and without the tag give the same results by default.
@Suite(.serialized) struct ExifOrientationTests {
    static func image(_ name: String) -> String { TestSupport.fixture("images/\(name)") }

    /// A JPEG's bytes with its EXIF segments removed and, when `orientation` is given, a minimal EXIF segment
    /// (one IFD entry, tag 0x0112) inserted after the start of image.
    static func jpeg(_ bytes: [UInt8], orientation: Int?) -> [UInt8] {
        var out: [UInt8] = [0xFF, 0xD8]
        if let o = orientation {
            let tiff: [UInt8] = Array("II".utf8) + [42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, UInt8(o), 0, 0, 0, 0, 0, 0, 0]
            let payload = Array("Exif".utf8) + [0, 0] + tiff
            out += [0xFF, 0xE1, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload
        }
        var p = 2
        while p + 4 <= bytes.count, bytes[p] == 0xFF, bytes[p + 1] != 0xDA {
            let length = Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
            let isExif = bytes[p + 1] == 0xE1 && Array(bytes[(p + 4)..<min(p + 8, bytes.count)]) == Array("Exif".utf8)
            if !isExif { out += bytes[p..<(p + 2 + length)] }
            p += 2 + length
        }
        return out + bytes[p...]
    }

    /// Two class folders of JPEGs, tagged with orientations 3, 6 and 8 or not tagged at all.
    static func photos(tagged: Bool) throws -> String {
        let dir = try TestSupport.tempDir()
        let sources = [["exif3.jpg", "exif6.jpg", "exif8.jpg", "rgb.jpg"], ["progressive.jpg", "cmyk_adobe.jpg", "exif6.jpg", "gray.jpg"]]
        for (c, files) in sources.enumerated() {
            try FileManager.default.createDirectory(atPath: dir + "/class\(c)", withIntermediateDirectories: true)
            for (i, f) in files.enumerated() {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: image(f))))
                try Data(jpeg(bytes, orientation: tagged ? [3, 6, 8, 6][i] : nil)).write(to: URL(fileURLWithPath: dir + "/class\(c)/\(i).jpg"))
            }
        }
        return dir
    }

    @Test func taggedAndUntaggedPhotosAreTheSameByDefault() throws {
        let tagged = try Self.photos(tagged: true), plain = try Self.photos(tagged: false)
        let t = tagged + "/class0/1.jpg", u = plain + "/class0/1.jpg"
        #expect(try ImageDecoder.decode(path: t).pixels == ImageDecoder.decode(path: u).pixels)
        let upright = try ImageDecoder.decode(path: t, exifOrientation: .apply), stored = try ImageDecoder.decode(path: u)
        #expect((upright.width, upright.height) == (stored.height, stored.width))
    }

    /// finetune, then evaluate and predict with its output: the tag changes nothing by default, and
    /// everything with `--exif-orientation apply`.
    @Test func finetuneEvaluateAndPredictIgnoreTheTagByDefault() async throws {
        let tagged = try Self.photos(tagged: true), plain = try Self.photos(tagged: false)
        let dir = try TestSupport.tempDir()
        let base = dir + "/base.vggm"
        #expect(try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", base]).status == 0)
        let small = ["--input-size", "32", "--head", "8", "--epochs", "2", "--batch-size", "4", "--validation-split", "0", "--seed", "3"]
        func tune(_ data: String, _ out: String, _ extra: [String] = []) async throws -> [String: [UInt32]] {
            let r = try await CLI.run(["finetune", base, "--data", data, "-o", dir + "/" + out] + small + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try TestSupport.tensorBits(dir + "/" + out)
        }
        let fromTagged = try await tune(tagged, "t.vggm"), fromPlain = try await tune(plain, "p.vggm")
        let applied = try await tune(tagged, "a.vggm", ["--exif-orientation", "apply"])
        #expect(fromTagged == fromPlain)
        #expect(applied != fromTagged)
        // evaluate: the same figures for tagged and plain photos by default, others when applied.
        let model = dir + "/t.vggm"
        let et = try evaluate(modelPath: model, dataDir: tagged), ep = try evaluate(modelPath: model, dataDir: plain)
        let ea = try evaluate(modelPath: model, dataDir: tagged, exifOrientation: .apply)
        #expect(et.loss == ep.loss && et.confusion == ep.confusion && et.skipped.isEmpty)
        #expect(ea.loss != et.loss)
        let cli = try await CLI.run(["evaluate", model, "--data", tagged, "--json", "--exif-orientation", "apply"])
        #expect(cli.status == 0, "\(cli.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as! [String: Any]
        #expect(abs((json["loss"] as! Double) - ea.loss) < 1e-9)
    }

    /// EXIF orientation: ignored by default (Keras's pixels) in predict and evaluate, applied on request.
    @Test func exifOrientationIsAChoice() async throws {
        let (dir, model) = try await PredictRowsTests.tinyModel()
        let photo = Self.image("exif6.jpg")
        let a = try await CLI.run(["predict", model, photo, "-o", dir + "/a.npy"])
        let b = try await CLI.run(["predict", model, photo, "--exif-orientation", "apply", "-o", dir + "/b.npy"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        let ya = try NumPy.read(path: dir + "/a.npy"), yb = try NumPy.read(path: dir + "/b.npy")
        #expect(ya.values != yb.values)
        // The default is the loader's Keras view (ImageTests checks it against Keras's pixels).
        let p = try Predictor(modelPath: model)
        let x = try p.loader.load(photo)
        #expect(try p.run(Tensor(shape: [1, p.height, p.width, 3], values: x)).values == ya.values)
        // Predictor and Model take the choice too.
        let upright = try Predictor(modelPath: model, exifOrientation: .apply)
        #expect(upright.loader.exifOrientation == .apply && p.loader.exifOrientation == .ignore)
        let m = try Model(contentsOf: URL(fileURLWithPath: model))
        let ignored = try m.classify(imageAt: URL(fileURLWithPath: photo)), applied = try m.classify(imageAt: URL(fileURLWithPath: photo), exifOrientation: .apply)
        #expect(ignored.map(\.probability) == Array(ya.values.enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }.prefix(5).map(\.element)))
        #expect(ignored.map(\.probability) != applied.map(\.probability))
    }
}
