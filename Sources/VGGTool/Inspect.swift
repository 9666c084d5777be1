import Foundation
import HDF5
import KerasImport
import ModelFile
import ModelGraph

/// Statistics of a tensor's values.
public struct TensorStats: Sendable {
    /// Number of values (NaNs and infinities included).
    public var count = 0
    /// Smallest finite value (NaN when there is none).
    public var min = Double.infinity
    /// Largest finite value (NaN when there is none).
    public var max = -Double.infinity
    /// Mean of the finite values.
    public var mean = 0.0
    /// Population standard deviation of the finite values.
    public var std = 0.0
    /// Number of NaNs.
    public var nan = 0
    /// Number of infinities.
    public var inf = 0
    /// Number of exact zeros.
    public var zeros = 0

    /// The statistics of `values`, computed in double precision in one pass.
    public init(_ values: UnsafeBufferPointer<Float>) {
        var sum = 0.0, sumSq = 0.0, finite = 0
        for v in values {
            if v.isNaN { nan += 1; continue }
            if v.isInfinite { inf += 1; continue }
            if v == 0 { zeros += 1 }
            let d = Double(v)
            if d < min { min = d }
            if d > max { max = d }
            sum += d
            sumSq += d * d
            finite += 1
        }
        count = values.count
        if finite > 0 {
            mean = sum / Double(finite)
            std = (Swift.max(0, sumSq / Double(finite) - mean * mean)).squareRoot()
        } else { min = .nan; max = .nan; mean = .nan; std = .nan }
    }

    var json: [String: Any] {
        func num(_ x: Double) -> Any { x.isFinite ? x : NSNull() }
        return ["count": count, "min": num(min), "max": num(max), "mean": num(mean), "std": num(std), "nan": nan, "inf": inf, "zeros": zeros]
    }

    var text: String {
        String(format: "min %.6g max %.6g mean %.6g std %.6g nan %d inf %d zeros %d", min, max, mean, std, nan, inf, zeros)
    }
}

/// `vggtool inspect`: the raw structure of an `.h5`, `.keras` or `.vggm` file with per-tensor statistics.
/// HDF5 links are listed, never followed; datasets larger than `maxStatBytes` are summarized without
/// statistics.
public enum Inspector {
    /// Largest dataset (in stored bytes) read for statistics: 4 GiB.
    public static let maxStatBytes = 4 << 30

    /// Returns (text, json object). With `isolation`, libhdf5 parses the file's structure in a child process
    /// first (`HDF5Isolation`).
    public static func inspect(path: String, isolation: HDF5Isolation? = nil) throws -> (String, [String: Any]) {
        if isVGGM(path) { return try inspectVGGM(path) }
        if let problem = InputFile.notRegular(path) { throw ToolError(path, .unreadable, problem) }
        // A libhdf5 crash on the structure becomes an error; after a clean probe the structural check is done.
        let checkStructure = try isolation?.probe(path, options: .init()).checkStructure ?? true
        let head = (FileHandle(forReadingAtPath: path).flatMap { try? $0.read(upToCount: 4) }) ?? Data()
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try inspectZip(path) }
        let file: HDF5File
        do { file = try HDF5File.open(path: path, checkStructure: checkStructure) } catch let e as HDF5Error { throw ToolError(path, .hdf5(e.kind), e.message) }
        var lines: [String] = ["\(path): HDF5"]
        let tree = try hdf5Tree(file, label: path, lines: &lines)
        return (lines.joined(separator: "\n") + "\n", ["file": path, "format": "hdf5", "root": tree])
    }

    static func inspectZip(_ path: String) throws -> (String, [String: Any]) {
        let zip: ZipArchive
        zip = try ZipArchive(path: path)
        var lines = ["\(path): zip archive (.keras)"]
        var entries: [[String: Any]] = []
        var json: [String: Any] = ["file": path, "format": "zip"]
        for e in zip.entries {
            lines.append("  \(e.name)  \(e.size) bytes" + (e.method == 0 ? " (stored)" : " (method \(e.method))"))
            entries.append(["name": e.name, "size": e.size, "compressed_size": e.compressedSize, "method": Int(e.method)])
        }
        json["entries"] = entries
        if zip.entry("model.weights.h5") != nil {
            do {
                let image = try zip.read("model.weights.h5")
                let file = try HDF5File.open(image: image, label: "\(path):model.weights.h5")
                lines.append("model.weights.h5:")
                json["model.weights.h5"] = try hdf5Tree(file, label: path, lines: &lines)
            } catch let e as HDF5Error { throw ToolError(path, .hdf5(e.kind), "model.weights.h5: \(e)") }
        }
        return (lines.joined(separator: "\n") + "\n", json)
    }

    static func hdf5Tree(_ file: HDF5File, label: String, lines: inout [String]) throws -> [String: Any] {
        do {
            let root = try file.root()
            return try group(root, depth: 0, lines: &lines)
        } catch let e as HDF5Error { throw ToolError(label, .hdf5(e.kind), e.description) }
    }

    static func attributes(_ holder: HDF5AttributeHolder, indent: String, lines: inout [String]) throws -> [String: Any] {
        var result: [String: Any] = [:]
        for name in try holder.attributeNames() {
            let a = try holder.attribute(name)
            let t = try a.typeInfo()
            var value: Any
            switch t.typeClass {
            case .string: value = (try? a.readStrings()).map { $0.count == 1 ? $0[0] as Any : $0 as Any } ?? "?"
            case .float, .integer: value = (try? a.readDoubles()).map { $0.count == 1 ? $0[0] as Any : $0 as Any } ?? "?"
            default: value = "(\(t))"
            }
            result[name] = value
            var shown = "\(value)"
            if shown.count > 100 { shown = String(shown.prefix(97)) + "..." }
            lines.append("\(indent)@\(name) [\(t)] = \(shown)")
        }
        return result
    }

    static func group(_ g: HDF5Group, depth: Int, lines: inout [String]) throws -> [String: Any] {
        let indent = String(repeating: "  ", count: depth + 1)
        if depth > 64 { lines.append("\(indent)(nesting too deep)"); return [:] }
        var out: [String: Any] = ["type": "group", "path": g.fullPath]
        out["attributes"] = try attributes(g, indent: indent, lines: &lines)
        var children: [[String: Any]] = []
        for link in try g.links() {
            switch link.target {
            case .hard(.group):
                lines.append("\(indent)\(link.name)/")
                var child = try group(try g.group(link.name), depth: depth + 1, lines: &lines)
                child["name"] = link.name
                children.append(child)
            case .hard(.dataset):
                let d = try g.dataset(link.name)
                var child = try dataset(d, indent: indent, name: link.name, lines: &lines)
                child["name"] = link.name
                children.append(child)
            case .hard(let kind):
                lines.append("\(indent)\(link.name) (\(kind.rawValue))")
                children.append(["name": link.name, "type": kind.rawValue])
            case .soft(let to):
                lines.append("\(indent)\(link.name) -> \(to) (soft link, not followed)")
                children.append(["name": link.name, "type": "soft_link", "target": to])
            case .external(let f, let p):
                lines.append("\(indent)\(link.name) -> \(f):\(p) (external link, not followed)")
                children.append(["name": link.name, "type": "external_link", "file": f, "target": p])
            case .other(let t):
                lines.append("\(indent)\(link.name) (user-defined link type \(t), not followed)")
                children.append(["name": link.name, "type": "user_link"])
            }
        }
        out["children"] = children
        return out
    }

    static func dataset(_ d: HDF5Dataset, indent: String, name: String, lines: inout [String]) throws -> [String: Any] {
        let shape = try d.shape()
        let type = try d.typeInfo()
        let storage = try d.storage()
        var json: [String: Any] = ["type": "dataset", "path": d.fullPath, "shape": shape.map { Int($0) }, "dtype": type.description,
                                   "layout": storage.layout.rawValue, "filters": storage.filters.map(\.name), "external_files": storage.externalFiles]
        var line = "\(indent)\(name)  \(type)  \(ShapeFormat.tuple(shape.map { Optional(Int($0)) }))  \(storage.layout.rawValue)"
        if !storage.filters.isEmpty { line += "  filters: " + storage.filters.map { "\($0.name) (\($0.id))" }.joined(separator: ", ") }
        var count: UInt64 = 1
        var overflow = false
        for s in shape { let r = count.multipliedReportingOverflow(by: s); count = r.partialValue; overflow = overflow || r.overflow }
        let readable = type.typeClass == .float || type.typeClass == .integer
        let safe = storage.layout != .virtual && storage.externalFiles == 0 && storage.filters.allSatisfy { [1, 2, 3].contains($0.id) }
        if readable && safe && !overflow && count * 4 <= UInt64(maxStatBytes) {
            var values = [Float](repeating: 0, count: Int(count))
            do {
                try values.withUnsafeMutableBytes { try d.readFloat32(into: $0) }
                let stats = values.withUnsafeBufferPointer { TensorStats($0) }
                line += "\n\(indent)    " + stats.text
                json["stats"] = stats.json
            } catch {
                line += "\n\(indent)    (unreadable: \(error))"
            }
        } else if !safe {
            line += "  (external, virtual or plugin-filtered: not read)"
        }
        lines.append(line)
        json["attributes"] = try attributes(d, indent: indent + "  ", lines: &lines)
        return json
    }

    static func inspectVGGM(_ path: String) throws -> (String, [String: Any]) {
        let f = try VGGMFile(path: path)
        let m = f.manifest
        let minor = VGGMFormat.minor(for: m.graph, dtypes: m.tensors.map(\.dtype))
        var lines = ["\(path): vggm \(VGGMFormat.major).\(minor), \(f.fileLength) bytes",
                     "  model: \(m.graph.name) (\(m.graph.layers.count) layers, \(f.analysis.totalParams) params)",
                     "  input shape: \(ShapeFormat.tuple(m.inputShape))",
                     "  preprocessing: \(m.preprocessing.map { "\($0.mode) (\($0.channelOrder), mean \($0.mean))" } ?? "none")",
                     "  class names: \(m.classNames.map { "\($0.count)" } ?? "none")",
                     "  source: \(m.provenance.sourceFile) (\(m.provenance.sourceLayout), keras \(m.provenance.kerasVersion ?? "unknown"))",
                     "  source sha256: \(m.provenance.sourceSHA256.isEmpty ? "(not recorded: converted without hashing the source)" : m.provenance.sourceSHA256)",
                     "  converter: \(m.provenance.converter), \(m.provenance.created)",
                     "  tensors:"]
        var tensors: [[String: Any]] = []
        for t in m.tensors {
            let values = f.floats(t.name) ?? []
            let stats = values.withUnsafeBufferPointer { TensorStats($0) }
            lines.append("    \(t.name)  \(t.dtype.rawValue)  \(ShapeFormat.tuple(t.shape.map { Optional($0) }))  offset \(f.dataOffset + t.offset)  \(t.length) bytes  crc32c \(String(format: "%08x", t.crc32c))")
            lines.append("      " + stats.text)
            tensors.append(["name": t.name, "dtype": t.dtype.rawValue, "shape": t.shape, "offset": f.dataOffset + t.offset, "length": t.length,
                            "crc32c": Int(t.crc32c), "stats": stats.json])
        }
        let json: [String: Any] = ["file": path, "format": "vggm", "version": [Int(VGGMFormat.major), Int(minor)],
                                   "model": m.graph.name, "input_shape": m.inputShape.map { $0.map { $0 as Any } ?? NSNull() }, "file_length": f.fileLength,
                                   "source_sha256": m.provenance.sourceSHA256, "tensors": tensors]
        return (lines.joined(separator: "\n") + "\n", json)
    }
}
