import Foundation
import ImageData
import ModelFile
import Runtime

/// What `quantize` did: the per-layer report, the images (or rows of `.npy` batches) used, the files' sizes.
public struct QuantizeReport: Sendable {
    /// Every Conv2D, Conv1D and Dense layer: quantized or kept float32, its input scale and measured error.
    public var layers: [LayerQuantizationReport]
    /// The calibration method and its options.
    public var options: QuantizationOptions
    /// Calibration images used (decoded), or rows of the `.npy` batches, and of them the ones the per-layer errors
    /// were measured on.
    public var images: Int, measuredImages: Int
    /// What `images` counts: "images", or "rows" for calibration from `.npy` batches.
    public var unit = "images"
    /// Image files that could not be read, skipped.
    public var skipped: [SkippedFile]
    /// Bytes of the source model and of the int8 file written.
    public var sourceBytes: Int, bytes: Int

    /// The report as `vggtool quantize` prints it: one line per layer, then the totals.
    public func text() -> String {
        let w = max(20, (layers.map(\.layer.count).max() ?? 0) + 2)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
        var lines = [pad("layer", w) + pad("class", 8) + pad("precision", 10) + lpad("input scale", 12) + lpad("zp", 5) + lpad("max |x|", 12) + lpad("rel. error", 12)]
        for l in layers {
            let err = l.relativeError.map { String(format: "%.4f", $0) } ?? "-"
            lines.append(pad(l.layer, w) + pad(l.className, 8) + pad(l.quantized ? "int8" : "fp32", 10) + lpad(String(format: "%.6g", l.inputScale), 12)
                         + lpad("\(l.zeroPoint)", 5) + lpad(String(format: "%.6g", l.inputMaxAbs), 12) + lpad(err, 12))
        }
        let kept = layers.filter { !$0.quantized }.map(\.layer)
        lines.append("")
        lines.append("\(layers.count - kept.count) of \(layers.count) layers int8" + (kept.isEmpty ? "" : "; kept fp32 (error over \(options.maxLayerError)): \(kept.joined(separator: ", "))"))
        lines.append("calibration: \(options.method.rawValue)\(options.method == .percentile ? " \(options.percentile)" : ""), \(images) \(unit) (errors measured on \(measuredImages))"
                     + (skipped.isEmpty ? "" : ", \(skipped.count) unreadable file(s) skipped"))
        lines.append(String(format: "size: %d bytes, %.1f%% of the source's %d", bytes, 100 * Double(bytes) / Double(max(1, sourceBytes)), sourceBytes))
        return lines.joined(separator: "\n")
    }
}

/// The image files under `dir` (any depth; jpg, jpeg, png, bmp, gif), sorted by path; at most `limit`, taken
/// evenly through the sorted list (so class folders are all represented).
func calibrationImages(_ dir: String, limit: Int?) throws -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { throw ToolError(dir, .unreadable, "is not a folder") }
    let exts: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif"]
    var all: [String] = []
    if let e = FileManager.default.enumerator(atPath: dir) {
        for case let rel as String in e where exts.contains((rel as NSString).pathExtension.lowercased()) {
            all.append((dir as NSString).appendingPathComponent(rel))
        }
    }
    all.sort()
    guard !all.isEmpty else { throw ToolError(dir, .noImages, "has no images (jpg, jpeg, png, bmp or gif)") }
    guard let limit, limit < all.count else { return all }
    return (0..<limit).map { all[$0 * all.count / limit] }
}

/// Quantizes the Conv2D, Conv1D and Dense layers of the model at `modelPath` to int8 (format 1.3) from the images under
/// `calibrationDir` (at most `images` of them, taken evenly through the sorted list) and writes `output`
/// atomically. Calibration streams the images in batches of `batchSize`, decoded a batch ahead, keeping only
/// per-layer histograms; per-layer errors are measured on the first `measureImages` images. Layers whose error
/// is over `options.maxLayerError` stay float32. Deterministic: the same inputs give the same bytes.
public func quantize(modelPath: String, calibrationDir: String, output: String, images: Int? = nil, inputSize: Int? = nil,
                     batchSize: Int = 8, measureImages: Int = 16, options: QuantizationOptions = QuantizationOptions(),
                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> QuantizeReport {
    let file = try VGGMFile(path: modelPath)
    try AtomicFile.checkWritable(output)
    let engine = try Engine(model: file, options: Engine.Options())
    defer { engine.releaseMemory() }
    let p = try Predictor(file: file, engine: engine, inputSize: inputSize)
    let paths = try calibrationImages(calibrationDir, limit: images)
    let calibrator = try Calibrator(engine: engine, options: options)
    let loader = p.loader
    var skipped: [SkippedFile] = []
    var used = 0
    var good: [String] = []
    let total = paths.count + min(measureImages, paths.count)
    func batch(_ values: [[Float]?]) -> Tensor? {
        let ok = values.compactMap { $0 }
        return ok.isEmpty ? nil : Tensor(shape: [ok.count, p.height, p.width, p.channels], values: ok.flatMap { $0 })
    }
    guard p.channels == 3 else { throw ToolError(modelPath, .notAnImageModel, "calibration reads RGB images; the model takes \(p.channels) channels") }
    try forEachChunkLoadedAhead(paths, step: batchSize, load: { loader.loadBatch($0) }) { start, chunk, loaded in
        skipped += loaded.skipped
        for (path, v) in zip(chunk, loaded.values) where v != nil { good.append(path) }
        if let x = batch(loaded.values) {
            used += x.shape[0]
            try calibrator.collect(x)
        }
        progress?(start + chunk.count, total)
    }
    guard used > 0 else { throw ToolError(calibrationDir, .noImages, "no calibration image could be read (\(skipped.count) file(s) skipped)") }
    try calibrator.finishStatistics()
    let measured = Array(good.prefix(measureImages))
    try forEachChunkLoadedAhead(measured, step: batchSize, load: { loader.loadBatch($0) }) { start, chunk, loaded in
        if let x = batch(loaded.values) { try calibrator.measure(x) }
        progress?(paths.count + start + chunk.count, total)
    }
    let (report, layers) = calibrator.result()
    let stats = try writeQuantized(file, layers: layers, to: output, options: options, images: "\(used) images")
    return QuantizeReport(layers: report, options: options, images: used, measuredImages: measured.count, skipped: skipped,
                          sourceBytes: file.fileLength, bytes: stats.bytes)
}

/// As `quantize(modelPath:calibrationDir:...)` for a model of any inputs, calibrated on preprocessed batches:
/// `calibrationInputs` holds one `.npy` file per model input (in the model's input order, as `predict --input`
/// reads them, the same number of rows each). At most `rows` rows are used, taken evenly through the arrays;
/// the per-layer errors are measured on the first `measureRows` of those.
public func quantize(modelPath: String, calibrationInputs: [String], output: String, rows limit: Int? = nil, batchSize: Int = 8,
                     measureRows: Int = 16, options: QuantizationOptions = QuantizationOptions(),
                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> QuantizeReport {
    let file = try VGGMFile(path: modelPath)
    try AtomicFile.checkWritable(output)
    let arrays = try readInputBatches(calibrationInputs, file: file)
    let available = arrays[0].shape[0]  // at least 1 (readInputBatches)
    // A NaN or infinity would give the layers after it no usable range.
    for (path, a) in zip(calibrationInputs, arrays) {
        if let i = a.values.firstIndex(where: { !$0.isFinite }) {
            throw ToolError(path, .badInputShape(a.shape), "row \(i / (a.count / a.shape[0])) holds \(a.values[i]); calibration values must be finite")
        }
    }
    let engine = try Engine(model: file, options: Engine.Options())
    defer { engine.releaseMemory() }
    let calibrator = try Calibrator(engine: engine, options: options)
    let count = min(limit ?? available, available)
    let rows = (0..<count).map { $0 * available / count }
    let measured = Array(rows.prefix(measureRows))
    let total = rows.count + measured.count
    func batch(_ picked: ArraySlice<Int>) -> [Tensor] { arrays.map { $0.rows(picked) } }
    for b in rankBatches(count: rows.count, batchSize: batchSize, rank: 0, size: 1) {
        try calibrator.collect(batch(rows[b]))
        progress?(b.upperBound, total)
    }
    try calibrator.finishStatistics()
    for b in rankBatches(count: measured.count, batchSize: batchSize, rank: 0, size: 1) {
        try calibrator.measure(batch(measured[b]))
        progress?(rows.count + b.upperBound, total)
    }
    let (report, layers) = calibrator.result()
    let stats = try writeQuantized(file, layers: layers, to: output, options: options, images: "\(rows.count) rows")
    var r = QuantizeReport(layers: report, options: options, images: rows.count, measuredImages: measured.count, skipped: [],
                           sourceBytes: file.fileLength, bytes: stats.bytes)
    r.unit = "rows"
    return r
}

/// Writes `file`'s model with `layers`' kernels as int8 (format 1.3) and every other tensor as float32. The
/// provenance is the source's, with the converter saying how it was quantized (no timestamp of its own, so the
/// output depends only on the inputs).
func writeQuantized(_ file: VGGMFile, layers: [QuantizedLayer], to output: String, options: QuantizationOptions, images: String) throws -> WriteStats {
    var byKernel: [String: QuantizedLayer] = [:]
    for l in layers { byKernel["\(l.layer)/kernel"] = l }
    var tensors: [TensorPayload] = []
    for t in file.manifest.tensors {
        if t.name.hasSuffix(VGGMFormat.scaleSuffix) || t.name.hasSuffix("/" + VGGMFormat.inputQuantName) { continue }  // re-quantizing
        if let q = byKernel[t.name] {
            tensors.append(TensorPayload(name: t.name, shape: t.shape, int8: q.kernel))
            var s = TensorPayload(name: t.name + VGGMFormat.scaleSuffix, shape: [q.weightScales.count], values: q.weightScales)
            s.keepsFloat32 = true
            tensors.append(s)
            var iq = TensorPayload(name: "\(q.layer)/\(VGGMFormat.inputQuantName)", shape: [2], values: [q.inputScale, Float(q.zeroPoint)])
            iq.keepsFloat32 = true
            tensors.append(iq)
        } else if t.dtype == .f32 {
            tensors.append(TensorPayload(name: t.name, shape: t.shape, rawLocation: (file.path, file.dataOffset + t.offset)) { dst in
                _ = dst.update(from: file.floats(t.name)!)
            })
        } else {
            let name = t.name
            tensors.append(TensorPayload(name: name, shape: t.shape) { dst in _ = dst.update(from: file.floats(name)!) })
        }
    }
    var provenance = file.manifest.provenance
    let how = options.method == .percentile ? "percentile \(options.percentile)" : options.method.rawValue
    provenance.converter = "\(provenance.converter); vggtool quantize (int8, \(how), \(images))"
    return try VGGMWriter.write(to: output, graph: file.graph, inputShape: file.manifest.inputShape, preprocessing: file.manifest.preprocessing,
                                classNames: file.manifest.classNames, provenance: provenance, tensors: tensors, dtype: .f32)
}

/// For a `.vggm` file with int8 layers (format 1.3), the precision each layer with a kernel is stored in, as
/// `vggtool summary` prints it under the table; nil for other files (every product float).
public func precisionTable(path: String) -> String? {
    guard path.hasSuffix(".vggm"), let f = try? VGGMFile(path: path), !f.quantizedLayers.isEmpty else { return nil }
    let rows = f.graph.flattened().layers.compactMap { l in f.storedPrecision(ofLayer: l.name).map { (l.name, $0) } }
    let w = max(20, (rows.map(\.0.count).max() ?? 0) + 2)
    var lines = ["Precision of the products (int8 layers run in int8 with --precision int8):"]
    for (name, p) in rows { lines.append(" " + name + String(repeating: " ", count: max(1, w - name.count)) + p) }
    return lines.joined(separator: "\n")
}
