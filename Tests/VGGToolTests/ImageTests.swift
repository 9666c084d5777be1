import Foundation
import ImageData
import ModelFile
import Runtime
import Testing
import VGGTool

/// The image pipeline against Keras's (tf.io.decode_image -> tf.image.resize -> preprocess_input), on real
/// JPEG, PNG, GIF and BMP files (Fixtures/images, made by scripts/fixtures/gen_images.py and
/// gen_image_formats.py).
@Suite struct ImageTests {
    static let caffe = Preprocessing(mode: "caffe", channelOrder: "BGR", mean: [103.939, 116.779, 123.68], std: [1, 1, 1])

    static func image(_ name: String) -> String { TestSupport.fixture("images/\(name)") }

    static func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    /// PNG and BMP decode losslessly, so the pipeline equals Keras's to float rounding; JPEG decoders may
    /// differ by a level or two per pixel (TensorFlow's and libjpeg-turbo's IDCT are the same here: fast
    /// integer), hence a small tolerance.
    /// Every format and mode, bilinear and nearest: GIFs (animated: the first frame; transparent, offset,
    /// clipped to the largest frame, local colour table, interlaced or not, gray; broken after the first frame,
    /// read up to the break as TensorFlow reads them; control blocks TensorFlow ignores), CMYK JPEGs
    /// (Adobe-inverted, plain, YCCK, progressive), JPEGs with EXIF orientations, which Keras does not apply, so
    /// neither does the default; 1-bit, gray+alpha, palette+transparency and 16-bit RGB PNG; 32-bit, gray and
    /// palette BMP (whose indices TensorFlow reads as gray levels); 4:4:4 and 4:2:2 JPEG.
    @Test(arguments: [("rgb.png", Float(1e-3)), ("rgba.png", 1e-3), ("gray.png", 1e-3), ("gray16.png", 1e-3), ("palette.png", 1e-3),
                      ("rgb.bmp", 1e-3), ("rgb.jpg", 1e-3), ("progressive.jpg", 1e-3), ("gray.jpg", 1e-3),
                      ("anim.gif", 1e-3), ("noninterlaced.gif", 1e-3), ("gray.gif", 1e-3), ("transparent.gif", 1e-3), ("offset.gif", 1e-3),
                      ("offset_clipped.gif", 1e-3), ("local.gif", 1e-3), ("broken_second.gif", 1e-3), ("empty_second.gif", 1e-3),
                      ("no_trailer.gif", 1e-3), ("gce5.gif", 1e-3), ("gce_twice.gif", 1e-3),
                      ("cmyk.jpg", 1e-3), ("cmyk_adobe.jpg", 1e-3), ("cmyk_plain.jpg", 1e-3), ("ycck.jpg", 1e-3),
                      ("exif3.jpg", 1e-3), ("exif6.jpg", 1e-3), ("exif8.jpg", 1e-3), ("cmyk_progressive.jpg", 1e-3),
                      ("gray1.png", 1e-3), ("gray_alpha.png", 1e-3), ("palette_trns.png", 1e-3), ("rgb16.png", 1e-3),
                      ("rgba.bmp", 1e-3), ("gray.bmp", 1e-3), ("palette.bmp", 1e-3), ("s444.jpg", 1e-3), ("s422.jpg", 1e-3)])
    func pipelineMatchesKeras(file: String, tolerance: Float) throws {
        let loader = ImageLoader(height: 24, width: 20, preprocessing: Self.caffe)
        let x = try loader.load(Self.image(file))
        let expected = try NumPy.read(path: Self.image("keras/\(file).npy"))
        #expect(expected.shape == [24, 20, 3])
        #expect(Self.maxDiff(x, expected.values) <= tolerance, "\(file): max difference \(Self.maxDiff(x, expected.values))")
        let nearest = ImageLoader(height: 24, width: 20, interpolation: .nearest, preprocessing: Self.caffe)
        let n = try nearest.load(Self.image(file))
        let e = try NumPy.read(path: Self.image("keras/\(file).nearest.npy"))
        #expect(Self.maxDiff(n, e.values) <= tolerance, "\(file) nearest: max difference \(Self.maxDiff(n, e.values))")
    }

    /// `exifOrientation: .apply` turns the image upright (orientations 3, 6 and 8: Keras's view of the image
    /// rotated as the tag says); the default leaves it as stored, as Keras does.
    @Test(arguments: ["exif3.jpg", "exif6.jpg", "exif8.jpg"])
    func exifOrientationApplyTurnsUpright(file: String) throws {
        let loader = ImageLoader(height: 24, width: 20, preprocessing: Self.caffe, exifOrientation: .apply)
        let x = try loader.load(Self.image(file))
        let upright = try NumPy.read(path: Self.image("keras/\(file).upright.npy"))
        #expect(Self.maxDiff(x, upright.values) <= 1e-3, "\(file): max difference \(Self.maxDiff(x, upright.values))")
        let stored = try ImageDecoder.decode(path: Self.image(file)), turned = try ImageDecoder.decode(path: Self.image(file), exifOrientation: .apply)
        #expect(file == "exif3.jpg" ? (turned.width, turned.height) == (stored.width, stored.height) : (turned.width, turned.height) == (stored.height, stored.width))
        #expect(stored.pixels != turned.pixels)
    }

    /// A GIF's size is TensorFlow's: the largest frame's, not the logical screen's (offset_clipped.gif: a
    /// 24x18 frame at (9, 7) of a 40x30 screen gives 24x18 pixels, the frame clipped at its offset).
    @Test func gifCanvasIsTheLargestFrame() throws {
        let clipped = try ImageDecoder.decode(path: Self.image("offset_clipped.gif"))
        #expect((clipped.width, clipped.height) == (24, 18))
        #expect(clipped.pixels[0..<(7 * 24 * 3)].allSatisfy { $0 == 0 })
        let full = try ImageDecoder.decode(path: Self.image("offset.gif"))
        #expect((full.width, full.height) == (40, 30))
        let anim = try ImageDecoder.decode(path: Self.image("anim.gif"))
        #expect((anim.width, anim.height) == (40, 30))
        // Broken inside the 40x30 second frame: that frame is dropped, from the canvas too.
        let broken = try ImageDecoder.decode(path: Self.image("broken_second.gif"))
        #expect((broken.width, broken.height) == (24, 18) && broken.pixels == clipped.pixels)
    }

    @Test(arguments: [("truncated.jpg", "JPEG"), ("truncated.png", "PNG"), ("text.jpg", "not a JPEG"),
                      ("empty.png", "empty"), ("bomb.png", "100000x100000"), ("truncated.gif", "corrupt GIF"),
                      ("badindex.gif", "colour index"), ("empty_extension.gif", "corrupt GIF"), ("no_terminator.gif", "first frame"),
                      ("wide_tall.gif", "20000x20000")])
    func badImagesAreRefusedClearly(file: String, words: String) throws {
        do {
            _ = try ImageDecoder.decode(path: Self.image(file))
            Issue.record("\(file) was accepted")
        } catch let e as ImageError {
            #expect(e.description.hasPrefix(Self.image(file)) && e.description.contains(words), "\(e)")
            #expect(!e.description.contains("\n"))
        }
    }

    /// tiny_vgg16 on a class-folder set: loss and accuracy equal tf-keras's model.evaluate on the same
    /// folder through image_dataset_from_directory.
    @Test func evaluateMatchesKeras() throws {
        let model = try TestSupport.tempDir() + "/tiny.vggm"
        _ = try convert(input: TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), output: model, options: .init())
        let e = try evaluate(modelPath: model, dataDir: Self.image("eval"), batchSize: 4)
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.image("eval.keras.json")))) as! [String: Any]
        #expect(e.images == 15 && e.classes == ["class_0", "class_1", "class_2", "class_3", "class_4"])
        #expect(abs(e.loss - (golden["loss"] as! Double)) < 1e-3, "loss \(e.loss) vs \(golden["loss"]!)")
        #expect(abs(e.accuracy - (golden["accuracy"] as! Double)) < 1e-6)
        #expect(e.confusion.flatMap { $0 }.reduce(0, +) == 15)
        let json = try JSONSerialization.jsonObject(with: Data(e.json().utf8)) as! [String: Any]
        for key in ["loss", "accuracy", "top_k_accuracy", "confusion_matrix", "classes", "per_class"] { #expect(json[key] != nil, "\(key)") }
    }

    /// Fashion-MNIST (Debian's dataset-fashion-mnist) written as class folders of PNG files reads back
    /// pixel for pixel.
    @Test func fashionMNISTClassFoldersRoundTrip() throws {
        let data = try FashionMNIST(split: "t10k")
        #expect(data.count == 10_000 && data.rows == 28 && data.cols == 28)
        let dir = try TestSupport.tempDir()
        let n = try data.writeClassFolders(root: dir, classes: [0, 9], perClass: 3)
        #expect(n == 6)
        let folder = try ImageFolder(root: dir)
        #expect(folder.classNames == ["Ankle_boot", "T-shirt_top"] && folder.counts == [3, 3])
        let first = folder.items.first { $0.label == 1 }!
        let index = Int((first.path as NSString).lastPathComponent.dropLast(4))!
        let img = try ImageDecoder.decode(path: first.path)
        #expect(img.width == 28 && img.height == 28)
        let gray = Array(data.images[(index * 784)..<((index + 1) * 784)])
        #expect(stride(from: 0, to: img.pixels.count, by: 3).map { img.pixels[$0] } == gray)
        #expect(Int(data.labels[index]) == 0)
    }

    @Test func folderListingFollowsKeras() throws {
        let dir = try TestSupport.tempDir()
        let fm = FileManager.default
        for c in ["b", "a", ".hidden", "C"] { try fm.createDirectory(atPath: dir + "/" + c, withIntermediateDirectories: true) }
        for f in ["a/x.JPG", "a/y.txt", "a/sub/z.png", "b/1.gif", "b/.secret.png", "C/q.jpeg"] {
            try fm.createDirectory(atPath: (dir + "/" + f as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            _ = fm.createFile(atPath: dir + "/" + f, contents: Data([0]))
        }
        let folder = try ImageFolder(root: dir)
        #expect(folder.classNames == ["C", "a", "b"])  // sorted by code point, as Python sorts
        #expect(folder.items.map { ($0.path as NSString).lastPathComponent } == ["q.jpeg", "z.png", "x.JPG", "1.gif"])
        #expect(folder.counts == [1, 2, 1])
        // Every file here is unreadable: skipped with reasons, not thrown.
        let loader = ImageLoader(height: 8, width: 8, preprocessing: nil)
        let (values, skipped) = loader.loadBatch(folder.items.map(\.path))
        #expect(values.allSatisfy { $0 == nil } && skipped.count == 4)
    }
}
