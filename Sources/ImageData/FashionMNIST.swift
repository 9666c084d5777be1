import CImage
import CZlib
import Foundation
import ModelFile

/// Fashion-MNIST as Debian's dataset-fashion-mnist package installs it (IDX files, gzip'd), and a writer
/// that lays chosen classes out as a user's image folder would be (one subfolder of PNG files per class).
public struct FashionMNIST: Sendable {
    /// Where Debian's dataset-fashion-mnist package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// The ten class names, by label (0-9), as folder-safe words.
    public static let classNames = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]

    /// Grayscale pixels as stored (one byte each, 0-255), `count` x `rows` x `cols`, row-major.
    public let images: [UInt8]  // count x 28 x 28
    /// The label (0-9, an index into `classNames`) of each image.
    public let labels: [UInt8]
    /// Height and width of every image in pixels (28 x 28).
    public let rows: Int, cols: Int
    /// Number of images.
    public var count: Int { labels.count }

    /// Reads `train` or `t10k` from `directory`.
    public init(directory: String = FashionMNIST.defaultDirectory, split: String = "train") throws {
        let imgPath = "\(directory)/\(split)-images-idx3-ubyte.gz", lblPath = "\(directory)/\(split)-labels-idx1-ubyte.gz"
        let img = try Self.gunzip(imgPath), lbl = try Self.gunzip(lblPath)
        func be32(_ d: [UInt8], _ o: Int) -> Int { Int(d[o]) << 24 | Int(d[o + 1]) << 16 | Int(d[o + 2]) << 8 | Int(d[o + 3]) }
        guard img.count >= 16, be32(img, 0) == 0x0803 else { throw ImageError(imgPath, .corrupt, "not an IDX image file (magic 0x00000803)") }
        guard lbl.count >= 8, be32(lbl, 0) == 0x0801 else { throw ImageError(lblPath, .corrupt, "not an IDX label file (magic 0x00000801)") }
        let n = be32(img, 4), r = be32(img, 8), c = be32(img, 12)
        guard r > 0, c > 0, r <= 4096, c <= 4096, n >= 0, img.count == 16 + n * r * c else { throw ImageError(imgPath, .corrupt, "IDX header disagrees with the data size") }
        guard be32(lbl, 4) == n, lbl.count == 8 + n else { throw ImageError(lblPath, .corrupt, "label count disagrees with \(imgPath)") }
        images = Array(img[16...])
        labels = Array(lbl[8...])
        rows = r
        cols = c
    }

    static func gunzip(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError(path, .unreadable, "cannot be read (is the Debian package dataset-fashion-mnist installed?)")
        }
        var out = [UInt8]()
        var stream = z_stream()
        guard vgg_inflate_init_gzip(&stream) == Z_OK else { throw ImageError(path, .system, "cannot start gunzip") }
        defer { inflateEnd(&stream) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        try data.withUnsafeBytes { src in
            stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: Bytef.self).baseAddress)
            stream.avail_in = uInt(src.count)
            repeat {
                status = chunk.withUnsafeMutableBytes { dst in
                    stream.next_out = dst.bindMemory(to: Bytef.self).baseAddress
                    stream.avail_out = uInt(dst.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                guard status == Z_OK || status == Z_STREAM_END else { throw ImageError(path, .corrupt, "corrupt gzip data") }
                out += chunk[0..<(chunk.count - Int(stream.avail_out))]
                guard out.count <= 1 << 30 else { throw ImageError(path, .tooLarge, "decompresses to over 1 GB") }
            } while status != Z_STREAM_END && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        guard status == Z_STREAM_END else { throw ImageError(path, .corrupt, "truncated gzip data") }
        return out
    }

    /// Writes the first `perClass` images of each of `classes` (indices into `classNames`) as PNG files in
    /// `root/<class name>/<index>.png`. Returns the number written.
    @discardableResult
    public func writeClassFolders(root: String, classes: [Int], perClass: Int, skipping: Int = 0) throws -> Int {
        var written = 0
        for c in classes {
            let dir = root + "/" + Self.classNames[c]
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var seen = 0, taken = 0
            for i in 0..<count where Int(labels[i]) == c {
                seen += 1
                if seen <= skipping { continue }
                if taken == perClass { break }
                let px = Array(images[(i * rows * cols)..<((i + 1) * rows * cols)])
                var out: UnsafeMutablePointer<UInt8>?
                var len = 0
                var err = [CChar](repeating: 0, count: 256)
                guard vgg_encode_png(px, Int32(cols), Int32(rows), 1, &out, &len, &err) == 0, let out else {
                    throw ImageError(dir, .cannotWrite, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
                defer { free(out) }
                let file = dir + String(format: "/%05d.png", i)
                do { try AtomicFile.write(Array(UnsafeBufferPointer(start: out, count: len)), to: file) } catch let e as ModelFileError {
                    throw ImageError(file, .cannotWrite, "cannot be written (\(e.message))")
                }
                taken += 1
                written += 1
            }
        }
        return written
    }
}
