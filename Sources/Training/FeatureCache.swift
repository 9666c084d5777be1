import Foundation
import ImageData
import ModelFile

/// The frozen layers' output per image, in the run's order: kept in a `SpillStore` (in memory up to the
/// memory budget, beyond it in an unnamed scratch file). With a cache folder, each image's output is also an
/// entry on disk, one file per image named by a SHA-256 over the model key (the frozen tensors' checksums,
/// the graph up to the cut, preprocessing, input size) and the image file's content, so an entry is only
/// ever found for the same weights, preprocessing, size and pixels; entries survive between runs and a found
/// one is copied into the store instead of being computed.
final class FeatureStore {
    let featureSize: Int
    let directory: String?
    let modelKey: String
    let records: SpillStore
    private(set) var hits = 0, misses = 0
    var count: Int { records.count }

    /// A store of `featureSize`-float records keeping `budgetBytes` of them in memory; the scratch file goes
    /// into `directory` (the cache folder) when given, else `MemoryBudget.scratchDirectory`.
    init(featureSize: Int, directory: String?, modelKey: String, budgetBytes: Int) throws {
        self.featureSize = featureSize
        self.directory = directory
        self.modelKey = modelKey
        if let directory {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw TrainingError(.cannotWrite, file: directory, "cannot create the feature cache folder")
            }
        }
        records = SpillStore(recordFloats: featureSize, budgetBytes: budgetBytes, directory: directory ?? MemoryBudget.scratchDirectory)
    }

    /// The model key: what the frozen part's output depends on. Version 2: images are decoded with their EXIF
    /// orientation applied only when asked (version 1's entries of EXIF-tagged JPEGs were upright).
    static func modelKey(base: VGGMFile, frozen: [String], preprocessing: Preprocessing?, size: Int, cut: String,
                         exifOrientation: ExifOrientation, precision: String = "fp32") -> String {
        var text = "vggtool-features-2|size=\(size)|cut=\(cut)|exif=\(exifOrientation.rawValue)|"
        if precision != "fp32" { text += "precision=\(precision)|" }  // fp32 keys as before, so old caches stay valid
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

    static func entryPath(directory: String, modelKey: String, imageKey: String) -> String {
        let name = Array((modelKey + imageKey).utf8).withUnsafeBytes { sha256Hex($0) }
        return directory + "/" + name + ".f32"
    }

    /// A cached entry for an image in cache folder `directory` (nil: none), read whole, or nil.
    static func lookup(directory: String?, modelKey: String, featureSize: Int, imageKey: String) -> [Float]? {
        guard let directory else { return nil }
        let path = entryPath(directory: directory, modelKey: modelKey, imageKey: imageKey)
        guard let d = FileManager.default.contents(atPath: path), d.count == featureSize * 4 else { return nil }
        return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func appendCached(_ f: [Float]) throws { try records.append(f[...]); hits += 1 }

    func append(_ f: ArraySlice<Float>, imageKey: String) throws {
        precondition(f.count == featureSize)
        try records.append(f)
        guard directory != nil else { return }
        let path = Self.entryPath(directory: directory!, modelKey: modelKey, imageKey: imageKey)
        let bytes = f.withUnsafeBytes { [UInt8]($0) }
        // A cache entry survives a kill (never partial), not necessarily a power cut: its size is checked when read.
        do { try AtomicFile.write(bytes, to: path, durability: .processDeath) } catch let e as ModelFileError {
            throw TrainingError(.cannotWrite, file: path, "cannot write to the feature cache (\(e.message))")
        }
        misses += 1
    }

    /// Features of entries `idx`, concatenated.
    func gather(_ idx: [Int]) -> [Float] { records.gather(idx) }
}

/// SHA-256 of an image file's bytes (the cache's image key).
func imageKey(_ path: String) -> String? {
    guard let d = FileManager.default.contents(atPath: path) else { return nil }
    return d.withUnsafeBytes { sha256Hex($0) }
}
