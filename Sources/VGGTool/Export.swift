import Foundation
import HDF5
import KerasImport
import ModelFile
import ModelGraph
import ONNXExport

/// A format `export` writes a `.vggm`'s weights in.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// Hugging Face safetensors: one tensor per weight, named `<layer>/<weight>`.
    case safetensors
    /// A tf-keras 2 `model.save` HDF5 file (config and weights) that tf-keras loads.
    case kerasH5 = "keras-h5"
    /// An ONNX model (graph and weights) that ONNX Runtime and other ONNX consumers run: see
    /// `exportONNX(model:output:options:keras:)`.
    case onnx
}

/// `vggtool export`: writes a `.vggm`'s weights in another format, through `AtomicFile` (docs/durability.md).
/// - safetensors: tensors named `<layer>/<weight>` (Keras names and shapes), float32 (or the stored
///   F16/BF16; an int8 model's I8 kernels beside their F32 `.scale` and `input.quant` tensors), metadata with the
///   model name and source SHA-256.
/// - keras-h5: tf.keras `model.save` layout (model_config + model_weights), loadable with `load_model` or
///   `load_weights`.
public func export(model path: String, to format: ExportFormat, output: String) throws -> Int {
    if format == .onnx { return try exportONNX(model: path, output: output).bytes }
    let file = try VGGMFile(path: path)
    switch format {
    case .onnx:
        preconditionFailure("handled above")
    case .safetensors:
        var header: [String: Any] = ["__metadata__": ["format": "pt", "model": file.graph.name, "source_sha256": file.manifest.provenance.sourceSHA256,
                                                      "converter": "vggtool \(vggtoolVersion)"]]
        var offset = 0
        for t in file.manifest.tensors {
            let dt = ["f32": "F32", "f16": "F16", "bf16": "BF16", "i8": "I8"][t.dtype.rawValue]!
            header[t.name] = ["dtype": dt, "shape": t.shape, "data_offsets": [offset, offset + t.length]]
            offset += t.length
        }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        let temp = try AtomicFile(destination: output)
        defer { temp.discard() }
        var at = 0
        try withUnsafeBytes(of: UInt64(json.count).littleEndian) { try temp.write($0, at: at) }
        at += 8
        try temp.write(json, at: at)
        at += json.count
        for (i, t) in file.manifest.tensors.enumerated() {
            if i == file.manifest.tensors.count / 2 { temp.reached(.filling) }
            try temp.write(file.bytes(of: t), at: at)
            at += t.length
        }
        try temp.commit()
        return 8 + json.count + offset
    case .kerasH5:
        // libhdf5 writes by path and cannot open an unnamed file (it resolves /proc/self/fd/N's link): the
        // file is built in memory, then its image copied into the AtomicFile's mapping.
        let out = try AtomicFile(destination: output)
        defer { out.discard() }
        do {
            let h5 = try KerasH5Writer.inMemory(path: output, graph: file.graph, layout: .fullModel) { layer, spec in
                file.floats("\(layer)/\(spec.name)") ?? []
            }
            try out.fill(count: try h5.imageSize()) { try h5.copyImage(into: $0) }
        } catch let e as ImportError {
            throw ToolError(output, .cannotWrite, "\(e)")
        } catch let e as HDF5Error {
            throw ToolError(output, .hdf5(e.kind), "\(e)")
        } catch let e as ModelFileError { throw e } catch let e as CustomStringConvertible { throw ToolError(output, .cannotWrite, "\(e)") }
        try out.commit()
        return Int((try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0)
    }
}

/// `vggtool export --to onnx`: writes `model` (a `.vggm`, or any Keras file `convert` reads, converted in
/// memory on the way with `keras` and `preprocessing`) as an ONNX model at `output` (docs/onnx-export.md),
/// atomically; with `options.externalData` the weights go to `<output>.data` beside it. The output, an
/// existing folder given as the output, and the opset are checked before any work. Throws `ONNXExportError`
/// naming a layer that cannot be expressed (nothing is written), `ToolError`/`ModelFileError` otherwise.
public func exportONNX(model path: String, output: String, options: ONNXExportOptions = .init(),
                       keras: KerasFile.Options = .init(), preprocessing: PreprocessingChoice = .auto,
                       isolation: HDF5Isolation? = nil) throws -> ONNXExportReport {
    try ONNXExporter.check(options, file: path)
    var isDir: ObjCBool = false
    for target in [output] + (options.externalData ? [output + ".data"] : []) {
        if FileManager.default.fileExists(atPath: target, isDirectory: &isDir), isDir.boolValue {
            throw ToolError(target, .cannotWrite, "is a folder; give a file name to write")
        }
    }
    try AtomicFile.checkWritable(output)
    let file: VGGMFile
    if Model.isVGGM(path) {
        file = try VGGMFile(path: path)
    } else {
        let temporary = FileManager.default.temporaryDirectory
            .appendingPathComponent("vggtool-onnx-\(getpid())-\(UUID().uuidString).vggm").path
        defer { unlink(temporary) }  // the mapping keeps the data while the file is open
        _ = try convert(input: path, output: temporary, options: keras, preprocessing: preprocessing, isolation: isolation)
        file = try VGGMFile(path: temporary)
    }
    var options = options
    if options.classNames == nil { options.classNames = outputClassNames(file) }
    if options.producerVersion.isEmpty { options.producerVersion = vggtoolVersion }
    do {
        return try ONNXExporter.export(file, to: output, options: options)
    } catch var e as ONNXExportError {
        e.file = path  // the source, not the temporary conversion
        throw e
    }
}

/// Deterministic weights for demos and tests: uniform in ±sqrt(6 / (fan_in + fan_out)) (Glorot) for
/// kernels, small values for biases, from a SplitMix64 stream seeded by `seed` and the weight's name.
public func seededWeights(layer: String, spec: WeightSpec, seed: UInt64) -> [Float] {
    var state = seed &+ UInt64(truncatingIfNeeded: layer.utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 })
    state = state &+ UInt64(spec.name.utf8.count) &* 0x9E37_79B9_7F4A_7C15
    let shape = spec.shape
    let receptive = shape.count > 2 ? shape.dropLast(2).reduce(1, *) : 1
    let fanIn = shape.count >= 2 ? shape[shape.count - 2] * receptive : shape.first ?? 1
    let fanOut = shape.count >= 2 ? shape[shape.count - 1] * receptive : shape.first ?? 1
    let limit: Float = shape.count >= 2 ? Float((6.0 / Double(fanIn + fanOut)).squareRoot()) : 0.05
    let offset: Float = spec.name == "moving_variance" || spec.name == "gamma" ? 1 : 0
    var out = [Float](repeating: 0, count: spec.elementCount)
    out.withUnsafeMutableBufferPointer { buf in
        for i in 0..<buf.count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let u = Float(z >> 40) * (1.0 / Float(1 << 24))  // [0, 1)
            buf[i] = offset + (u * 2 - 1) * limit
        }
    }
    return out
}
