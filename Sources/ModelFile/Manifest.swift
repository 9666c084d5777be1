import Foundation
import ModelGraph

/// JSON encoding of the manifest (keys sorted, so equal models give equal bytes).
enum ManifestCodec {
    static func encode(_ m: ModelManifest) throws -> [UInt8] {
        var root: [String: Any] = [
            "format": "vggm",
            "version": [Int(VGGMFormat.major), Int(VGGMFormat.minor(for: m.graph, dtypes: m.tensors.map(\.dtype)))],
            "model": GraphCodec.encode(m.graph),
            "input_shape": m.inputShape.map { $0.map { $0 as Any } ?? NSNull() },
            "provenance": m.provenance.json,
            "tensors": m.tensors.map { t -> [String: Any] in
                ["name": t.name, "dtype": t.dtype.rawValue, "shape": t.shape, "offset": t.offset, "length": t.length, "crc32c": Int(t.crc32c)]
            },
        ]
        root["preprocessing"] = m.preprocessing?.json ?? NSNull()
        root["class_names"] = m.classNames ?? NSNull()
        let data = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
        return [UInt8](data)
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws -> ModelManifest {
        func bad(_ object: String, _ m: String) -> ModelFileError { ModelFileError(file: file, object: object, .malformedManifest, m) }
        let data = Data(bytes)
        guard let any = try? JSONSerialization.jsonObject(with: data), let root = any as? [String: Any] else {
            throw bad("manifest", "is not valid JSON")
        }
        guard root["format"] as? String == "vggm" else { throw bad("manifest", "'format' is not \"vggm\"") }
        guard let modelAny = root["model"] else { throw bad("manifest", "has no 'model'") }
        guard let rawShape = root["input_shape"] as? [Any], rawShape.count <= VGGMFormat.maxRank,
              rawShape.allSatisfy({ $0 is NSNull || $0 is NSNumber }) else {
            throw bad("manifest", "'input_shape' is missing or malformed")
        }
        let inputShape: [Int?] = rawShape.map { ($0 as? NSNumber)?.intValue }
        var pre: Preprocessing? = nil
        if let p = root["preprocessing"] as? [String: Any] {
            guard let mode = p["mode"] as? String, let order = p["channel_order"] as? String,
                  let mean = (p["mean"] as? [NSNumber])?.map(\.doubleValue), let std = (p["std"] as? [NSNumber])?.map(\.doubleValue) else {
                throw bad("manifest", "'preprocessing' is malformed")
            }
            pre = Preprocessing(mode: mode, channelOrder: order, mean: mean, std: std)
        }
        let classes = root["class_names"] as? [String]
        guard let prov = root["provenance"] as? [String: Any] else { throw bad("manifest", "has no 'provenance'") }
        let provenance = Provenance(sourceFile: prov["source_file"] as? String ?? "", sourceSHA256: prov["source_sha256"] as? String ?? "",
                                    sourceLayout: prov["source_layout"] as? String ?? "", kerasVersion: prov["keras_version"] as? String,
                                    converter: prov["converter"] as? String ?? "", created: prov["created"] as? String ?? "")
        // Files written before `hard_sigmoid_keras3` existed stored Keras 3's hard_sigmoid under Keras's name.
        let sourceMajor = Int(provenance.kerasVersion?.split(separator: ".").first ?? "") ?? 2
        let graph: ModelGraph
        do { graph = try GraphCodec.decode(modelAny, sourceKerasMajor: sourceMajor) } catch let e as GraphCodec.DecodeError {
            throw bad("manifest model \(e.object)", e.message)
        }
        guard let list = root["tensors"] as? [Any] else { throw bad("manifest", "has no 'tensors' list") }
        guard list.count <= VGGMFormat.maxTensors else { throw ModelFileError(file: file, object: "manifest", .tooLarge, "declares \(list.count) tensors, over the cap of \(VGGMFormat.maxTensors)") }
        var tensors: [TensorEntry] = []
        tensors.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            guard let t = item as? [String: Any], let name = t["name"] as? String else { throw bad("tensor #\(i)", "has no name") }
            let obj = "tensor '\(name)'"
            guard let dts = t["dtype"] as? String else { throw bad(obj, "has no dtype") }
            guard let dtype = TensorDType(rawValue: dts) else { throw bad(obj, "unknown dtype '\(dts)'") }
            guard let shapeAny = t["shape"] as? [Any], shapeAny.count <= VGGMFormat.maxRank else { throw bad(obj, "shape is missing or has rank over \(VGGMFormat.maxRank)") }
            var shape: [Int] = []
            for d in shapeAny {
                guard let n = d as? NSNumber, n.doubleValue >= 0, n.doubleValue <= 9.0e15, n.doubleValue == n.doubleValue.rounded() else {
                    throw bad(obj, "shape \(shapeAny) holds an invalid dimension")
                }
                shape.append(n.intValue)
            }
            func field(_ k: String) throws -> Int {
                guard let n = t[k] as? NSNumber, n.doubleValue >= 0, n.doubleValue <= 9.0e15, n.doubleValue == n.doubleValue.rounded() else {
                    throw bad(obj, "'\(k)' is missing or invalid")
                }
                return n.intValue
            }
            let crc = try field("crc32c")
            guard crc <= Int(UInt32.max) else { throw bad(obj, "'crc32c' is out of range") }
            tensors.append(TensorEntry(name: name, dtype: dtype, shape: shape, offset: try field("offset"), length: try field("length"), crc32c: UInt32(crc)))
        }
        return ModelManifest(graph: graph, inputShape: inputShape, preprocessing: pre, classNames: classes, provenance: provenance, tensors: tensors)
    }
}
