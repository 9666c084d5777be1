import CImage
import Foundation
import ModelFile
import ModelGraph

/// An 8-bit RGB image, row-major.
public struct RGBImage: Sendable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// `height` x `width` x 3 bytes (R, G, B per pixel), rows top to bottom.
    public var pixels: [UInt8]
    /// An image from its pixels; `pixels.count` must be `width * height * 3` (a precondition).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// An image file (or image folder, or dataset file) that could not be used: the path, what kind of problem
/// it is and why. `description` is `path: reason`.
public struct ImageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on; `reason` says it in words.
    public enum Kind: Sendable, Equatable {
        /// The file or folder does not exist, is not a regular file, or cannot be read.
        case unreadable
        /// The file is empty.
        case empty
        /// A format or variant vggtool does not decode (compressed or 16-bit BMP, an unusual PNG layout,
        /// anything not JPEG, PNG, GIF or BMP).
        case unsupportedFormat
        /// The data is corrupt or truncated (the decoder's reason, a bad palette, a bad IDX or gzip stream).
        case corrupt
        /// The file or the image it declares is over vggtool's limits (`ImageDecoder.maxFileBytes`,
        /// `ImageDecoder.maxPixels`, 1 GB decompressed).
        case tooLarge
        /// A dataset folder has no class subfolders.
        case noClassFolders
        /// An output image cannot be encoded or written.
        case cannotWrite
        /// A library call failed for a reason that is not the file's (out of memory, zlib's set-up).
        case system
    }

    /// The image file, folder or dataset file.
    public var path: String
    /// What kind of problem it is.
    public var kind: Kind
    /// Why, in words.
    public var reason: String
    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
    /// An error of `kind` about `path`, with `reason` saying why.
    public init(_ path: String, _ kind: Kind, _ reason: String) { self.path = path; self.kind = kind; self.reason = reason }

    /// The kind of a failure the C decoders (`vgg_decode_jpeg`, `vgg_decode_png`, `vgg_decode_gif`) report by message.
    static func decoderKind(_ reason: String) -> Kind {
        if reason.contains("over the limit of") { return .tooLarge }
        if reason.hasPrefix("unsupported ") { return .unsupportedFormat }
        if reason == "out of memory" { return .system }
        return .corrupt
    }
}

/// How images are resized to a model's input size.
public enum Interpolation: String, Sendable, CaseIterable {
    /// tf.image.resize bilinear (half-pixel centres, no antialias): `image_dataset_from_directory`'s default.
    case bilinear
    /// Nearest neighbour: `load_img`'s default.
    case nearest
}

/// What image reading does with a JPEG's EXIF orientation tag (0x0112).
///
/// Keras ignores it: `image_dataset_from_directory` decodes with `tf.io.decode_image` and `load_img` with
/// Pillow, neither of which rotates, so a model trained in Keras on phone photos saw them as stored,
/// sideways or upside down. `ignore` (the default) gives vggtool the same pixels; `apply` turns the image
/// upright as the camera intended (what photo viewers show).
public enum ExifOrientation: String, Sendable, CaseIterable {
    /// Pixels as stored, the tag ignored: what Keras sees. The default.
    case ignore
    /// Rotated and flipped upright as the tag says (orientations 2-8).
    case apply
}

/// Decoding (JPEG, PNG, GIF, BMP), JPEG EXIF orientation, resizing and preprocessing of image files.
public enum ImageDecoder {
    /// Largest image decoded: 64 megapixels (8192 x 8192). Larger ones are refused from their header,
    /// before pixel memory is allocated (a PNG declaring 100000 x 100000 pixels is a decompression bomb).
    public static let maxPixels = 64 << 20
    /// Largest image file read.
    public static let maxFileBytes = 256 << 20
    /// Extensions `image_dataset_from_directory` lists.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif"]

    /// Decodes the image file at `path` to 8-bit RGB as TensorFlow's `decode_image(channels=3,
    /// expand_animations=False)` does (a GIF's first frame; CMYK JPEGs converted), turned upright by its EXIF
    /// orientation only with `exifOrientation: .apply`. Throws `ImageError` naming the file when it is missing,
    /// not a regular file, too large, or not a decodable JPEG, PNG, GIF or BMP.
    public static func decode(path: String, exifOrientation: ExifOrientation = .ignore) throws -> RGBImage {
        try decode(data: try read(path), path: path, exifOrientation: exifOrientation)
    }

    /// Decodes the image file at `path` as `decode(path:exifOrientation:)` and resizes it to height x width as
    /// `resize` does (float RGB 0...255, the same values), without keeping a copy of the image at its original
    /// resolution: the decoder's buffer is resized as it is and freed (a 12-megapixel photo's 36 MB are held
    /// only while this runs).
    public static func decodeResized(path: String, height: Int, width: Int, _ method: Interpolation = .bilinear,
                                     exifOrientation: ExifOrientation = .ignore) throws -> [Float] {
        let data = try read(path)
        return try withDecoded(data: data, path: path, exifOrientation: exifOrientation) { src, h, w in
            var out = [Float](repeating: 0, count: height * width * 3)
            out.withUnsafeMutableBufferPointer { dst in
                switch method {
                case .bilinear: vgg_resize_bilinear(src, Int32(h), Int32(w), dst.baseAddress, Int32(height), Int32(width))
                case .nearest: vgg_resize_nearest(src, Int32(h), Int32(w), dst.baseAddress, Int32(height), Int32(width))
                }
            }
            return out
        }
    }

    /// The bytes of the image file at `path`, after the checks every read makes (a regular file, within
    /// `maxFileBytes`).
    static func read(_ path: String) throws -> Data {
        let url = URL(fileURLWithPath: path)
        if let problem = InputFile.notRegular(path) { throw ImageError(path, .unreadable, problem) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw ImageError(path, .unreadable, "no such file")
        }
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attrs?[.size] as? Int, size > maxFileBytes { throw ImageError(path, .tooLarge, "file is over \(maxFileBytes >> 20) MB") }
        do { return try Data(contentsOf: url) } catch { throw ImageError(path, .unreadable, "cannot be read") }
    }

    /// Decodes by content (not by extension): JPEG, PNG, GIF or BMP, as `decode(path:exifOrientation:)`;
    /// `path` names the data in errors.
    public static func decode(data: Data, path: String, exifOrientation: ExifOrientation = .ignore) throws -> RGBImage {
        try withDecoded(data: data, path: path, exifOrientation: exifOrientation) { src, h, w in
            RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: src, count: w * h * 3)))
        }
    }

    /// Decodes `data` and passes the RGB pixels (height x width x 3 bytes, valid during the call only) to `body`.
    static func withDecoded<T>(data: Data, path: String, exifOrientation: ExifOrientation,
                               _ body: (UnsafePointer<UInt8>, _ height: Int, _ width: Int) throws -> T) throws -> T {
        let bytes = [UInt8](data)
        guard !bytes.isEmpty else { throw ImageError(path, .empty, "empty file") }
        var img = vgg_image()
        defer { vgg_image_free(&img) }
        func check(_ status: Int32) throws {
            guard status == 0 else {
                let reason = withUnsafeBytes(of: img.error) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                throw ImageError(path, ImageError.decoderKind(reason), reason)
            }
        }
        func finish(_ status: Int32) throws -> T {
            try check(status)
            return try body(img.rgb, Int(img.height), Int(img.width))
        }
        func whole(_ i: RGBImage) throws -> T { try i.pixels.withUnsafeBufferPointer { try body($0.baseAddress!, i.height, i.width) } }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            let status = vgg_decode_jpeg(bytes, bytes.count, maxPixels, &img)
            let orientation = exifOrientation == .apply ? Int(vgg_jpeg_exif_orientation(bytes, bytes.count)) : 1
            guard orientation >= 2, orientation <= 8 else { return try finish(status) }
            try check(status)
            let w = Int(img.width), h = Int(img.height)
            let decoded = RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: img.rgb, count: w * h * 3)))
            vgg_image_free(&img)
            return try whole(orient(decoded, orientation))
        }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try finish(vgg_decode_png(bytes, bytes.count, maxPixels, &img)) }
        if bytes.starts(with: Array("BM".utf8)) { return try whole(try BMP.decode(bytes, path: path)) }
        if bytes.starts(with: Array("GIF8".utf8)) { return try finish(vgg_decode_gif(bytes, bytes.count, maxPixels, &img)) }
        throw ImageError(path, .unsupportedFormat, "not a JPEG, PNG, GIF or BMP image")
    }

    /// Applies an EXIF orientation (1-8) so the image is upright.
    static func orient(_ img: RGBImage, _ o: Int) -> RGBImage {
        guard o >= 2, o <= 8 else { return img }
        let w = img.width, h = img.height
        let swap = o >= 5
        let ow = swap ? h : w, oh = swap ? w : h
        var out = [UInt8](repeating: 0, count: img.pixels.count)
        img.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        // Source pixel for output (x, y) per orientation (EXIF 2.3, tag 0x0112).
                        let (sx, sy): (Int, Int)
                        switch o {
                        case 2: (sx, sy) = (w - 1 - x, y)
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                        case 4: (sx, sy) = (x, h - 1 - y)
                        case 5: (sx, sy) = (y, x)
                        case 6: (sx, sy) = (y, h - 1 - x)
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                        default: (sx, sy) = (w - 1 - y, x)
                        }
                        let s = (sy * w + sx) * 3, d = (y * ow + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }

    /// Resizes to height x width as float RGB (0...255), the way Keras loads images for a model.
    public static func resize(_ img: RGBImage, height: Int, width: Int, _ method: Interpolation = .bilinear) -> [Float] {
        var out = [Float](repeating: 0, count: height * width * 3)
        img.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                switch method {
                case .bilinear: vgg_resize_bilinear(src.baseAddress, Int32(img.height), Int32(img.width), dst.baseAddress, Int32(height), Int32(width))
                case .nearest: vgg_resize_nearest(src.baseAddress, Int32(img.height), Int32(img.width), dst.baseAddress, Int32(height), Int32(width))
                }
            }
        }
        return out
    }

    /// Applies a model's preprocessing in place to RGB float pixels (0...255), as Keras's
    /// `preprocess_input` does: channel order, then mean and std per channel of the network's order.
    public static func preprocess(_ x: inout [Float], _ p: Preprocessing?) {
        guard let p, p.mode != "none" else { return }
        let bgr = p.channelOrder.uppercased() == "BGR"
        let mean = p.mean.map(Float.init), std = p.std.map(Float.init)
        x.withUnsafeMutableBufferPointer { v in
            var i = 0
            while i + 2 < v.count {
                if bgr { let r = v[i]; v[i] = v[i + 2]; v[i + 2] = r }
                for c in 0..<3 {
                    if mean.count == 3 { v[i + c] -= mean[c] }
                    if std.count == 3, std[c] != 1 { v[i + c] /= std[c] }
                }
                i += 3
            }
        }
    }
}

/// Uncompressed Windows bitmaps (24- and 32-bit, 8-bit; bottom-up or top-down), read as TensorFlow's
/// `decode_bmp` reads them: 32-bit pixels as BGRA whatever the masks say, and an 8-bit bitmap's bytes as gray
/// levels, its palette ignored (a palette BMP's colours are not what a Keras model saw).
enum BMP {
    static func decode(_ b: [UInt8], path: String) throws -> RGBImage {
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard b.count >= 54 else { throw ImageError(path, .corrupt, "truncated BMP header") }
        let dataOffset = u32(10), headerSize = u32(14)
        guard headerSize >= 40, 14 + headerSize <= b.count else { throw ImageError(path, .unsupportedFormat, "unsupported BMP header (size \(headerSize))") }
        let w = Int(Int32(truncatingIfNeeded: UInt32(u32(18)))), hRaw = Int(Int32(truncatingIfNeeded: UInt32(u32(22))))
        let bpp = u16(28), compression = u32(30)
        let h = abs(hRaw), topDown = hRaw < 0
        guard w > 0, h > 0 else { throw ImageError(path, .corrupt, "BMP has no pixels (\(w)x\(hRaw))") }
        guard w * h <= ImageDecoder.maxPixels else { throw ImageError(path, .tooLarge, "declares \(w)x\(h) pixels, over the limit of \(ImageDecoder.maxPixels)") }
        guard compression == 0 || (compression == 3 && bpp == 32) else { throw ImageError(path, .unsupportedFormat, "compressed BMPs are not supported") }
        guard [8, 24, 32].contains(bpp) else { throw ImageError(path, .unsupportedFormat, "\(bpp)-bit BMPs are not supported") }
        let rowBytes = (w * bpp + 31) / 32 * 4
        guard dataOffset >= 14 + headerSize, dataOffset + rowBytes * h <= b.count else { throw ImageError(path, .corrupt, "truncated BMP pixel data") }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let row = dataOffset + (topDown ? y : h - 1 - y) * rowBytes
            for x in 0..<w {
                let d = (y * w + x) * 3
                switch bpp {
                case 8:
                    let v = b[row + x]
                    out[d] = v; out[d + 1] = v; out[d + 2] = v
                default:
                    let s = row + x * (bpp / 8)
                    out[d] = b[s + 2]; out[d + 1] = b[s + 1]; out[d + 2] = b[s]
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

extension ImageDecoder {
    /// A small PNG of the image at `path` (decoded as `decode` does, EXIF orientation ignored unless
    /// `exifOrientation` is `.apply`), resized (bilinear) so that its longer side is at most `maxSide` pixels:
    /// the thumbnails of vggtool's reports. Throws `ImageError` when the file cannot be read or encoded.
    public static func thumbnailPNG(path: String, maxSide: Int = 96, exifOrientation: ExifOrientation = .ignore) throws -> [UInt8] {
        let img = try decode(path: path, exifOrientation: exifOrientation)
        let scale = min(1, Double(maxSide) / Double(max(img.width, img.height, 1)))
        let w = max(1, Int((Double(img.width) * scale).rounded())), h = max(1, Int((Double(img.height) * scale).rounded()))
        let px = resize(img, height: h, width: w).map { UInt8(max(0, min(255, $0.rounded()))) }
        var out: UnsafeMutablePointer<UInt8>?
        var len = 0
        var err = [CChar](repeating: 0, count: 256)
        guard vgg_encode_png(px, Int32(w), Int32(h), 3, &out, &len, &err) == 0, let out else {
            throw ImageError(path, .cannotWrite, "thumbnail: " + String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: len))
    }
}
