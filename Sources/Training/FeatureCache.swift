import Foundation
import ImageData
import ModelFile

/// The frozen layers' output per image, kept in memory or, when it would not fit (or a cache folder is
/// given), on disk: one file per image named by a SHA-256 over the model key (the frozen tensors' checksums,
/// the graph up to the cut, preprocessing, input size) and the image file's content, so an entry is only
/// ever found for the same weights, preprocessing, size and pixels. Disk entries are memory-mapped when read
/// and survive between runs.
final class FeatureStore {
    let featureSize: Int
    let directory: String?
    let modelKey: String
    private var memory: [Float] = []
    private var mapped: [Data] = []
    private(set) var hits = 0, misses = 0
    var count: Int { directory == nil ? memory.count / featureSize : mapped.count }

    init(featureSize: Int, directory: String?, modelKey: String) throws {
        self.featureSize = featureSize
        self.directory = directory
        self.modelKey = modelKey
        if let directory {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw TrainingError(.cannotWrite, file: directory, "cannot create the feature cache folder")
            }
        }
    }

    /// The model key: what the frozen part's output depends on. Version 2: images are decoded with their EXIF
    /// orientation applied only when asked (version 1's entries of EXIF-tagged JPEGs were upright).
    static func modelKey(base: VGGMFile, frozen: [String], preprocessing: Preprocessing?, size: Int, cut: String,
                         exifOrientation: ExifOrientation) -> String {
        var text = "vggtool-features-2|size=\(size)|cut=\(cut)|exif=\(exifOrientation.rawValue)|"
        if let p = preprocessing { text += "pre=\(p.mode),\(p.channelOrder),\(p.mean),\(p.std)|" }
        let frozenSet = Set(frozen)
        // Frozen layers by their flattened names (`vgg16/block1_conv1` inside a nested model); a tensor
        // belongs to the layer named by all but its last path component.
        for l in base.graph.flattened().layers where frozenSet.contains(l.name) { text += "\(l.name):\(l.op)|" }
        for t in base.manifest.tensors where frozenSet.contains(String(t.name[..<(t.name.lastIndex(of: "/") ?? t.name.startIndex)])) {
            text += "\(t.name):\(t.dtype.rawValue):\(t.shape):\(t.crc32c)|"
        }
        return Array(text.utf8).withUnsafeBytes { sha256Hex($0) }
    }

    func entryPath(imageKey: String) -> String {
        let name = Array((modelKey + imageKey).utf8).withUnsafeBytes { sha256Hex($0) }
        return directory! + "/" + name + ".f32"
    }

    /// A cached entry for an image (disk mode), or nil.
    func lookup(imageKey: String) -> Data? {
        guard directory != nil else { return nil }
        let path = entryPath(imageKey: imageKey)
        guard let d = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped), d.count == featureSize * 4 else { return nil }
        return d
    }

    func appendCached(_ d: Data) { mapped.append(d); hits += 1 }

    func append(_ f: ArraySlice<Float>, imageKey: String) throws {
        precondition(f.count == featureSize)
        guard directory != nil else { memory += f; return }
        let path = entryPath(imageKey: imageKey)
        let data = f.withUnsafeBytes { Data($0) }
        // A cache entry survives a kill (never partial), not necessarily a power cut: its size is checked when read.
        do { try AtomicFile.write([UInt8](data), to: path, durability: .processDeath) } catch let e as ModelFileError {
            throw TrainingError(.cannotWrite, file: path, "cannot write to the feature cache (\(e.message))")
        }
        mapped.append(try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped))
        misses += 1
    }

    /// Features of entries `idx`, concatenated.
    func gather(_ idx: [Int]) -> [Float] {
        var out = [Float](); out.reserveCapacity(idx.count * featureSize)
        if directory == nil {
            for i in idx { out += memory[(i * featureSize)..<((i + 1) * featureSize)] }
        } else {
            for i in idx { mapped[i].withUnsafeBytes { out += $0.bindMemory(to: Float.self) } }
        }
        return out
    }

    func all() -> [Float] { gather(Array(0..<count)) }
}

/// SHA-256 of an image file's bytes (the cache's image key).
func imageKey(_ path: String) -> String? {
    guard let d = FileManager.default.contents(atPath: path) else { return nil }
    return d.withUnsafeBytes { sha256Hex($0) }
}
