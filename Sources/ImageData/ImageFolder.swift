import Foundation
import ModelFile

/// A folder laid out as `image_dataset_from_directory` expects: one subfolder per class (class names = the
/// subfolder names, sorted), image files inside with the extensions jpg, jpeg, png, bmp or gif (any case),
/// searched recursively within each class folder. Hidden files and folders are ignored.
public struct ImageFolder: Sendable {
    /// One image file and its class.
    public struct Item: Sendable, Equatable {
        /// The image file's path (`root`/class/relative path).
        public var path: String
        /// The class's index in `classNames`.
        public var label: Int

        /// An image of class `label`.
        public init(path: String, label: Int) { self.path = path; self.label = label }
    }

    /// The folder that was listed.
    public let root: String
    /// Class names: the subfolder names, sorted by Unicode scalar values (as Python sorts them).
    public let classNames: [String]
    /// Every image file, class by class, each class's files sorted by relative path.
    public let items: [Item]

    /// Lists the folder at `root`. Throws `ImageError` when it is not a folder or has no class subfolders;
    /// files are not opened here.
    public init(root: String) throws {
        self.root = root
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw ImageError(root, .unreadable, "no such folder")
        }
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: root)) ?? []
        let classes = entries.filter { name in
            var d: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: root + "/" + name, isDirectory: &d) && d.boolValue
        }.sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
        guard !classes.isEmpty else { throw ImageError(root, .noClassFolders, "has no class subfolders (expected one folder of images per class)") }
        var items: [Item] = []
        for (label, name) in classes.enumerated() {
            let dir = root + "/" + name
            var files: [String] = []
            if let e = fm.enumerator(atPath: dir) {
                while let rel = e.nextObject() as? String {
                    if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                    let ext = (rel as NSString).pathExtension.lowercased()
                    if ImageDecoder.extensions.contains(ext) { files.append(rel) }
                }
            }
            files.sort()
            items += files.map { Item(path: dir + "/" + $0, label: label) }
        }
        self.classNames = classes
        self.items = items
    }

    /// Images per class.
    public var counts: [Int] {
        var c = [Int](repeating: 0, count: classNames.count)
        for i in items { c[i.label] += 1 }
        return c
    }
}

/// A file that could not be used, and why.
public struct SkippedFile: Sendable {
    /// The file's path.
    public var path: String
    /// Why it was skipped (the decoder's message, without the path).
    public var reason: String
    /// The image error's kind, when the file failed with an `ImageError`.
    public var kind: ImageError.Kind?
    /// A file skipped for `reason` (of `kind`, when it is an `ImageError`).
    public init(path: String, reason: String, kind: ImageError.Kind? = nil) { self.path = path; self.reason = reason; self.kind = kind }
}

/// Loads images as a preprocessed NHWC float batch for a model.
public struct ImageLoader: Sendable {
    /// Output height in pixels.
    public var height: Int
    /// Output width in pixels.
    public var width: Int
    /// How images are resized to `height` x `width`.
    public var interpolation: Interpolation
    /// What is applied to the resized 0-255 RGB values (nil: none).
    public var preprocessing: Preprocessing?
    /// Whether a JPEG's EXIF orientation is applied (`ignore`, the default, sees what Keras sees).
    public var exifOrientation: ExifOrientation

    /// A loader producing `height` x `width` x 3 float images, decoded (EXIF orientation per
    /// `exifOrientation`), resized with `interpolation` and then preprocessed.
    public init(height: Int, width: Int, interpolation: Interpolation = .bilinear, preprocessing: Preprocessing?,
                exifOrientation: ExifOrientation = .ignore) {
        self.height = height
        self.width = width
        self.interpolation = interpolation
        self.preprocessing = preprocessing
        self.exifOrientation = exifOrientation
    }

    /// One image: decoded, resized, preprocessed (height * width * 3 floats).
    /// The original-resolution pixels are held only while this runs (`ImageDecoder.decodeResized`).
    public func load(_ path: String) throws -> [Float] {
        var x = try ImageDecoder.decodeResized(path: path, height: height, width: width, interpolation, exifOrientation: exifOrientation)
        ImageDecoder.preprocess(&x, preprocessing)
        return x
    }

    /// Several images decoded in parallel; files that fail are returned as skipped, never thrown.
    public func loadBatch(_ paths: [String], threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> (values: [[Float]?], skipped: [SkippedFile]) {
        let results = UnsafeMutableBufferPointer<Result<[Float], Error>?>.allocate(capacity: paths.count)
        results.initialize(repeating: nil)
        // Deinitialized before it is freed: the results hold the images' arrays (freeing alone leaked every
        // image loaded, 750 KB each at 250x250, in finetune, evaluate and predict).
        defer { _ = results.deinitialize(); results.deallocate() }
        let box = UnsafeSendable(results)
        let parts = max(1, min(threads, paths.count))
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            for i in stride(from: p, to: paths.count, by: parts) {
                box.value[i] = Result { try self.load(paths[i]) }
            }
        }
        var values: [[Float]?] = []
        var skipped: [SkippedFile] = []
        for (i, r) in results.enumerated() {
            switch r! {
            case .success(let v): values.append(v)
            case .failure(let e):
                values.append(nil)
                skipped.append(SkippedFile(path: paths[i], reason: (e as? ImageError)?.reason ?? "\(e)", kind: (e as? ImageError)?.kind))
            }
        }
        return (values, skipped)
    }
}

/// Shares a buffer whose elements are written by disjoint workers.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
