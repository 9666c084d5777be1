import Foundation
import ImageData
import ModelFile
import ModelGraph
import Runtime

/// A model ready to run on images: the engine, its input geometry, preprocessing and class names.
public final class Predictor {
    /// The model.
    public let file: VGGMFile
    /// The engine that runs it.
    public let engine: Engine
    /// Input height in pixels images are resized to.
    public let height: Int
    /// Input width in pixels images are resized to.
    public let width: Int
    /// Input channels the model takes (image files give 3).
    public let channels: Int
    /// Names of the output classes, when the model has them.
    public let classNames: [String]?
    /// Decodes, resizes and preprocesses image files for the model.
    public let loader: ImageLoader

    /// `inputSize` overrides (or supplies, for models accepting any size) the input height and width;
    /// `exifOrientation` says whether JPEGs are turned upright (`ignore`, the default, sees what Keras sees).
    /// `precision` is the products' arithmetic (nil: int8 for a file made by `vggtool quantize`, else fp32).
    public convenience init(modelPath: String, inputSize: Int? = nil, interpolation: Interpolation = .bilinear, threads: Int? = nil,
                            exifOrientation: ExifOrientation = .ignore, precision: Precision? = nil) throws {
        let file = try VGGMFile(path: modelPath)
        try self.init(file: file, engine: try Engine(model: file, options: .init(threads: threads, precision: precision ?? defaultPrecision(file))), inputSize: inputSize, interpolation: interpolation,
                      exifOrientation: exifOrientation)
    }

    /// A predictor over an engine already made for `file`.
    public init(file: VGGMFile, engine: Engine, inputSize: Int? = nil, interpolation: Interpolation = .bilinear,
                exifOrientation: ExifOrientation = .ignore) throws {
        let modelPath = file.path
        self.file = file
        self.engine = engine
        let declared = file.manifest.inputShape
        guard declared.count == 3, let c = declared[2] else {
            throw ToolError(modelPath, .notAnImageModel, "the model's input is not an image (H, W, C), it is \(ShapeFormat.tuple([nil] + declared))")
        }
        height = inputSize ?? declared[0] ?? 224
        width = inputSize ?? declared[1] ?? 224
        channels = c
        classNames = outputClassNames(file)
        loader = ImageLoader(height: height, width: width, interpolation: interpolation, preprocessing: file.manifest.preprocessing,
                             exifOrientation: exifOrientation)
        if channels != 3 { throw ToolError(modelPath, .notAnImageModel, "images give 3 channels, the model takes \(channels) (run a preprocessed .npy batch instead)") }
    }

    /// Runs a preprocessed batch: every output of the model, in its output order.
    public func runAll(_ x: Tensor) throws -> [Tensor] {
        guard x.shape.count == 4 else { throw ToolError(file.path, .badInputShape(x.shape), "input must be (N, H, W, C), got \(x.shape)") }
        if let c = file.manifest.inputShape.last ?? nil, x.shape[3] != c {
            throw ToolError(file.path, .badInputShape(x.shape), "input has \(x.shape[3]) channels, the model takes \(c)")
        }
        return try engine.run(x)
    }

    /// Runs a preprocessed batch: the model's first output.
    public func run(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 4 else { throw ToolError(file.path, .badInputShape(x.shape), "input must be (N, H, W, C), got \(x.shape)") }
        if let c = file.manifest.inputShape.last ?? nil, x.shape[3] != c {
            throw ToolError(file.path, .badInputShape(x.shape), "input has \(x.shape[3]) channels, the model takes \(c)")
        }
        return try engine.run(x)[0]
    }
}

/// The names of a model's output classes: recorded in the file, or the ImageNet names for a 1000-class top.
func outputClassNames(_ file: VGGMFile) -> [String]? {
    if let names = file.manifest.classNames { return names }
    let units = file.analysis.info(file.graph.outputs[0])?.outputShape
    return units?.count == 2 && units?[1] == ImageNetClasses.all.count ? ImageNetClasses.all.map(\.name) : nil
}

/// Top-k (index, probability) of one row, highest first.
public func topK(_ row: ArraySlice<Float>, _ k: Int) -> [(index: Int, value: Float)] {
    let idx = Array(row.indices)
    return idx.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k).map { ($0 - row.startIndex, row[$0]) }
}

extension Tensor {
    /// The rows `indices` (along the first axis), in that order, as one tensor.
    func rows(_ indices: some Collection<Int>) -> Tensor {
        let width = shape.dropFirst().reduce(1, *)
        var v: [Float] = []
        v.reserveCapacity(indices.count * width)
        for r in indices { v += values[(r * width)..<((r + 1) * width)] }
        return Tensor(shape: [indices.count] + shape.dropFirst(), values: v)
    }
}

/// Stacks per-batch outputs into one tensor along the batch axis.
func stack(_ parts: [Tensor]) -> Tensor? {
    guard let first = parts.first else { return nil }
    let n = parts.reduce(0) { $0 + $1.shape[0] }
    return Tensor(shape: [n] + first.shape.dropFirst(), values: parts.flatMap(\.values))
}

/// What `vggtool predict` computed.
public struct PredictionReport {
    /// The inputs run, in output order: the readable image files, or the `.npy` file.
    public var inputs: [String]
    /// The model's (first) output for every input (batch first); nil when no input could be read.
    public var outputs: Tensor?
    /// Every output of the model, by its output layer's name, in the model's output order (empty when no
    /// input could be read).
    public var allOutputs: [(name: String, tensor: Tensor)] = []
    /// Names of the output classes, when the model has them.
    public var classNames: [String]?
    /// Image files that could not be read, skipped.
    public var skipped: [SkippedFile]
    /// Each output's name and the shape of one row of it (batch dimension left out), in the model's output
    /// order; empty when no input could be read. Filled also when `outputs` is not kept (`onBatch`).
    public var rowShapes: [(name: String, shape: [Int])] = []
    /// The text file written beside an `.npy` output that lists the inputs in row order, one path per line
    /// (with `skipUnreadable`); nil when none was written (an `.npz` output carries them as its `inputs` array).
    public var inputListPath: String? = nil
}

/// Reads one preprocessed batch per input of `file`'s model from `paths` (`.npy`, in the model's input order) and
/// checks each against its input's declared shape (image inputs NHWC) and the first one's row count.
func readInputBatches(_ paths: [String], file f: VGGMFile) throws -> [Tensor] {
    let inputs = f.graph.inputs
    guard paths.count == inputs.count else {
        throw ToolError(f.path, .invalidSetting, "the model takes \(inputs.count) input(s) (\(inputs.joined(separator: ", "))), \(paths.count) .npy file(s) given")
    }
    var tensors: [Tensor] = []
    for (path, name) in zip(paths, inputs) {
        let x = try NumPy.read(path: path)
        let declared = f.graph.layer(named: name)?.op.inputShape ?? []
        if declared.count == 3 {
            guard x.shape.count == 4 else { throw ToolError(path, .badInputShape(x.shape), "expected a batch of images (N, H, W, C), the array is \(x.shape)") }
            if let c = declared[2], x.shape[3] != c { throw ToolError(path, .badInputShape(x.shape), "has \(x.shape[3]) channels, the model takes \(c)") }
        } else if x.shape.count != declared.count + 1 || zip(declared, x.shape.dropFirst()).contains(where: { $0 != nil && $0 != $1 }) {
            throw ToolError(path, .badInputShape(x.shape), "expected a batch for input '\(name)' of shape \(ShapeFormat.tuple([nil] + declared)), the array is \(x.shape)")
        }
        guard x.shape[0] > 0 else { throw ToolError(path, .badInputShape(x.shape), "has no rows") }
        if let first = tensors.first, first.shape[0] != x.shape[0] {
            throw ToolError(path, .badInputShape(x.shape), "has \(x.shape[0]) rows, the first input has \(first.shape[0])")
        }
        tensors.append(x)
    }
    return tensors
}

/// The file that lists an `.npy` output's inputs in row order: `Y.npy` -> `Y.txt` (any other name gets `.txt`
/// appended).
public func inputListPath(forOutput path: String) -> String {
    path.hasSuffix(".npy") ? String(path.dropLast(4)) + ".txt" : path + ".txt"
}

/// Predicts on image files (in batches) or on preprocessed `.npy` batches, one per model input in the model's
/// input order; writes the raw outputs to `outputPath` when given: NumPy float32 `.npy` for a model with one
/// output, or an `.npz` archive with one array per output layer (named after it). JPEGs are turned upright by
/// their EXIF orientation only with `exifOrientation: .apply` (Keras does not).
///
/// Row i of the output is always image i: when an image cannot be read, nothing is written and the error
/// (`ToolError.Kind.unreadableImages`) names the file, unless `skipUnreadable` is set; then the unreadable
/// files are left out (`PredictionReport.skipped`) and the output says which file each row is: a text file
/// beside an `.npy` (`inputListPath(forOutput:)`, one path per line) or, in an `.npz`, the array `inputs`.
/// Without an output, unreadable images are reported in `skipped` either way.
///
/// Memory does not grow with the number of images when `onBatch` is given: each batch's outputs go to it
/// (the batch's readable inputs, every output of the model) and are not kept in the report (`outputs` nil,
/// `allOutputs` empty; `rowShapes` says what they were), and an `.npy` output is written batch by batch (its
/// header, reserved for every input, is completed last), an `.npz` output through scratch files (`NPZStream`).
/// Images are decoded a batch ahead, on another thread, while the model runs.
public func predict(modelPath: String, images: [String], npyInputs: [String], inputSize: Int?, batchSize: Int = 8,
                    interpolation: Interpolation = .bilinear, exifOrientation: ExifOrientation = .ignore, outputPath: String? = nil,
                    skipUnreadable: Bool = false, precision: Precision? = nil,
                    onBatch: ((_ inputs: [String], _ outputs: [Tensor]) throws -> Void)? = nil) throws -> PredictionReport {
    if let outputPath { try AtomicFile.checkWritable(outputPath) }
    if !npyInputs.isEmpty {
        let f = try VGGMFile(path: modelPath)
        try checkOutputPath(outputPath, file: f)
        let tensors = try readInputBatches(npyInputs, file: f)
        // In batches of `batchSize` rows: the activations of one batch at a time.
        let engine = try Engine(model: f, options: .init(precision: precision ?? defaultPrecision(f)))
        defer { engine.releaseMemory() }
        let rows = tensors[0].shape[0]
        var parts = [[Tensor]](repeating: [], count: f.graph.outputs.count)
        for picked in rankBatches(count: rows, batchSize: batchSize, rank: 0, size: 1) {
            let outputs = try engine.run(tensors.map { $0.rows(picked) })
            try onBatch?(picked.map { "\(npyInputs[0])[\($0)]" }, outputs)
            for (i, o) in outputs.enumerated() { parts[i].append(o) }
        }
        let names = (0..<rows).map { "\(npyInputs[0])[\($0)]" }
        return try finishPrediction(names: names, outputs: Array(zip(f.graph.outputs, parts)), classNames: outputClassNames(f), skipped: [],
                                    outputPath: outputPath, listInputs: false)
    }
    guard !images.isEmpty else { throw ToolError(.noInput, message: "no input: give image files or a preprocessed .npy batch") }
    let p = try Predictor(modelPath: modelPath, inputSize: inputSize, interpolation: interpolation, exifOrientation: exifOrientation, precision: precision)
    try checkOutputPath(outputPath, file: p.file, images: images, skipUnreadable: skipUnreadable)
    // Once an image has failed and the output will not be written, the rest are only decoded (to name them all).
    let strict = outputPath != nil && !skipUnreadable
    let out = ImagePredictionOutput(outputPath: outputPath, maxRows: images.count, outputNames: p.file.graph.outputs, onBatch: onBatch)
    var skipped: [SkippedFile] = []
    let loader = p.loader
    // Images are decoded a batch ahead, on another thread, while the model runs.
    try forEachChunkLoadedAhead(images, step: batchSize, load: { chunk in loader.loadBatch(chunk) }) { _, chunk, loaded in
        let (values, bad) = loaded
        skipped += bad
        let ok = zip(chunk, values).compactMap { path, v in v.map { (path, $0) } }
        guard !ok.isEmpty, !(strict && !skipped.isEmpty) else { return }
        let x = Tensor(shape: [ok.count, p.height, p.width, 3], values: ok.flatMap(\.1))
        try out.add(names: ok.map(\.0), outputs: try p.runAll(x))
    }
    return try out.finish(predictor: p, imageCount: images.count, skipped: skipped, strict: strict, skipUnreadable: skipUnreadable)
}

/// Where a prediction over image files (one process's, or rank 0's of an MPI job) puts each batch's rows as they
/// come, in input order: the `-o` file (an `.npy` written directly, an `.npz`'s arrays through scratch files),
/// the caller's `onBatch`, and, without `onBatch`, the rows kept for the report.
final class ImagePredictionOutput {
    let outputPath: String?, maxRows: Int, outputNames: [String]
    let onBatch: ((_ inputs: [String], _ outputs: [Tensor]) throws -> Void)?
    private var stream: NPYStream? = nil
    private var archive: NPZStream? = nil
    private var parts: [[Tensor]] = []
    private var names: [String] = []
    private var rowShapes: [(name: String, shape: [Int])] = []

    init(outputPath: String?, maxRows: Int, outputNames: [String], onBatch: ((_ inputs: [String], _ outputs: [Tensor]) throws -> Void)?) {
        self.outputPath = outputPath
        self.maxRows = maxRows
        self.outputNames = outputNames
        self.onBatch = onBatch
    }

    /// A batch's outputs (every output of the model) for the readable inputs `names`, in order.
    func add(names batch: [String], outputs y: [Tensor]) throws {
        if rowShapes.isEmpty { rowShapes = zip(outputNames, y).map { ($0, Array($1.shape.dropFirst())) } }
        if let outputPath, !outputPath.hasSuffix(".npz") {
            if stream == nil { stream = try NPYStream(path: outputPath, maxRows: maxRows, rowShape: rowShapes[0].shape) }
            try stream!.append(y[0])
        }
        if let outputPath, outputPath.hasSuffix(".npz") {
            if archive == nil { archive = try NPZStream(path: outputPath, arrays: rowShapes.map { ($0.name, $0.shape) }) }
            for (i, t) in y.enumerated() { try archive!.append(i, t) }
        }
        try onBatch?(batch, y)
        if onBatch == nil { parts.append(y) }
        names += batch
    }

    /// The end: with `strict`, an unreadable image is the error and nothing is written; otherwise the streamed
    /// outputs are committed (with the inputs' list under `skipUnreadable`: `Y.txt` beside an `.npy`, the array
    /// `inputs` of an `.npz`) and the report is built from the rows kept.
    func finish(predictor p: Predictor, imageCount: Int, skipped: [SkippedFile], strict: Bool, skipUnreadable: Bool) throws -> PredictionReport {
        if strict, let first = skipped.first, let outputPath {
            let others = skipped.dropFirst().map(\.path)
            let more = others.isEmpty ? "" : "; \(others.count) more could not be read either (\(others.prefix(3).joined(separator: ", "))\(others.count > 3 ? ", ..." : ""))"
            throw ToolError(first.path, .unreadableImages(skipped: skipped.count, total: imageCount),
                            "\(first.reason)\(more); \(outputPath) not written, as its rows would no longer match the inputs")
        }
        var listPath: String? = nil
        if let stream, let outputPath {
            if skipUnreadable {
                let path = inputListPath(forOutput: outputPath)
                try AtomicFile.write(Array(names.map { $0 + "\n" }.joined().utf8), to: path)
                listPath = path
            }
            try stream.commit()
        }
        if let archive {
            try archive.commit(extra: skipUnreadable ? [(name: "inputs", npy: NumPy.encode(strings: names))] : [])
        }
        let outputs = p.file.graph.outputs.enumerated().map { i, name in (name, parts.map { $0[i] }) }
        var report = try finishPrediction(names: names, outputs: outputs, classNames: p.classNames, skipped: skipped,
                                          outputPath: stream == nil && archive == nil ? outputPath : nil, listInputs: skipUnreadable)
        if stream != nil { report.inputListPath = listPath }
        report.rowShapes = rowShapes
        return report
    }
}

/// An `.npy` file of float32 rows written as they come, through an `AtomicFile`: the header is reserved for
/// `maxRows` rows and written last with the rows actually appended (padded to the reserved length), then the
/// file is committed. Dropped (never named) unless `commit()` is reached.
final class NPYStream {
    let file: AtomicFile
    let headerBytes: Int
    let rowShape: [Int]
    private(set) var rows = 0

    init(path: String, maxRows: Int, rowShape: [Int]) throws {
        file = try AtomicFile(destination: path)
        headerBytes = NumPy.header(shape: [maxRows] + rowShape).count
        self.rowShape = rowShape
    }

    /// Appends the rows of `t` (shape `[n] + rowShape`).
    func append(_ t: Tensor) throws {
        precondition(Array(t.shape.dropFirst()) == rowShape)
        let rowFloats = rowShape.reduce(1, *)
        try t.values.withUnsafeBytes { try file.write($0, at: headerBytes + rows * rowFloats * 4) }
        if rows == 0 { file.reached(.filling) }  // the crash tests' pause point: some rows written, not all
        rows += t.shape[0]
    }

    /// Writes the header for the rows appended and commits the file.
    func commit() throws {
        let header = NumPy.header(shape: [rows] + rowShape, length: headerBytes)
        precondition(header.count == headerBytes)
        try header.withUnsafeBytes { try file.write($0, at: 0) }
        try file.commit()
    }
}

/// The checks on `-o` for a prediction over image files: `checkOutputPath(_:file:)`, and with `skipUnreadable`
/// the inputs' list must be writable (no output named `inputs` in an `.npz`, no line break in a path listed in
/// `Y.txt`).
func checkOutputPath(_ outputPath: String?, file: VGGMFile, images: [String], skipUnreadable: Bool) throws {
    try checkOutputPath(outputPath, file: file)
    if let outputPath, skipUnreadable, outputPath.hasSuffix(".npz"), file.graph.outputs.contains("inputs") {
        throw ToolError(outputPath, .invalidSetting, "the model has an output named 'inputs', the name of the array that lists the input files: write an .npy file")
    }
    if let outputPath, skipUnreadable, !outputPath.hasSuffix(".npz"), let odd = images.first(where: { $0.contains("\n") || $0.contains("\r") }) {
        throw ToolError(odd, .invalidSetting, "the path has a line break, and \(inputListPath(forOutput: outputPath)) lists the inputs one per line: write an .npz file")
    }
}

/// A model with several outputs writes them to an `.npz` archive, not an `.npy` file.
func checkOutputPath(_ path: String?, file: VGGMFile) throws {
    guard let path, file.graph.outputs.count > 1, !path.hasSuffix(".npz") else { return }
    throw ToolError(path, .invalidSetting, "the model has \(file.graph.outputs.count) outputs (\(file.graph.outputs.joined(separator: ", "))): write them to an .npz file")
}

/// Stacks the outputs and writes them (atomically) to `outputPath`; with `listInputs`, says which input each
/// row is: the list file beside an `.npy` (written first, also atomically) or the `inputs` array of an `.npz`.
func finishPrediction(names: [String], outputs: [(String, [Tensor])], classNames: [String]?, skipped: [SkippedFile], outputPath: String?,
                      listInputs: Bool) throws -> PredictionReport {
    let stacked = outputs.compactMap { name, parts in stack(parts).map { (name: name, tensor: $0) } }
    var listPath: String? = nil
    if let outputPath, !stacked.isEmpty {
        let bytes: [UInt8]
        if outputPath.hasSuffix(".npz") {
            var entries = stacked.map { (name: $0.name, npy: NumPy.encode($0.tensor)) }
            if listInputs { entries.append((name: "inputs", npy: NumPy.encode(strings: names))) }
            bytes = NumPy.encodeArchive(entries: entries)
        } else {
            bytes = NumPy.encode(stacked[0].tensor)
            if listInputs {
                let path = inputListPath(forOutput: outputPath)
                try AtomicFile.write(Array(names.map { $0 + "\n" }.joined().utf8), to: path)
                listPath = path
            }
        }
        try AtomicFile.write(bytes, to: outputPath)
    }
    return PredictionReport(inputs: names, outputs: stacked.first?.tensor, allOutputs: stacked, classNames: classNames, skipped: skipped,
                            rowShapes: stacked.map { ($0.name, Array($0.tensor.shape.dropFirst())) }, inputListPath: listPath)
}

/// The precision a model runs in when none is asked for: int8 for a file made by `vggtool quantize`, else fp32.
public func defaultPrecision(_ file: VGGMFile) -> Precision { file.quantizedLayers.isEmpty ? .fp32 : .int8 }
