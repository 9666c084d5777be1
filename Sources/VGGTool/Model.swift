import Foundation
import ImageData
import KerasImport
import ModelFile
import ModelGraph
import ONNXExport
import Runtime
import Training

/// A Keras model, or a vggtool `.vggm` model, ready to inspect and run on the CPU: the library's front door.
///
/// ```swift
/// import VGGTool
///
/// let model = try Model(contentsOf: URL(fileURLWithPath: "vgg16.h5"))   // any Keras file, or a .vggm
/// print(model.summary())                                                 // Keras's model.summary()
/// for guess in try model.classify(imageAt: URL(fileURLWithPath: "cat.jpg")) {
///     print(guess.label ?? "class \(guess.index)", guess.probability)
/// }
/// ```
///
/// A Keras file (`.h5`, `.keras`, `.weights.h5`) is converted on opening, into a temporary `.vggm` that is
/// unlinked at once (its mapping lives as long as the model); a `.vggm` is mapped directly. Weights stay in
/// the file's mapping; activation buffers are planned once per input geometry. A `Model` runs one batch
/// at a time (calls are serialized); the engine splits each batch over the cores.
public final class Model: @unchecked Sendable {
    /// How to open a model.
    public struct Options: Sendable {
        /// For Keras weights-only files: the built-in architecture (nil: detected when unambiguous).
        public var architecture: Architecture?
        /// For Keras weights-only files: a `model.to_json()` config giving the architecture.
        public var configJSON: String?
        /// Input shape (height, width, channels) replacing the model's own.
        public var inputShape: [Int?]?
        /// Preprocessing recorded for a converted Keras file (`auto`: VGG's caffe mode for VGG models).
        public var preprocessing: PreprocessingChoice
        /// How the engine runs (threads, algorithms).
        public var engine: Engine.Options

        /// Options for `Model(contentsOf:options:)`; the defaults open a file that carries its own architecture.
        public init(architecture: Architecture? = nil, configJSON: String? = nil, inputShape: [Int?]? = nil,
                    preprocessing: PreprocessingChoice = .auto, engine: Engine.Options = .init()) {
            self.architecture = architecture
            self.configJSON = configJSON
            self.inputShape = inputShape
            self.preprocessing = preprocessing
            self.engine = engine
        }
    }

    /// The file the model was opened from.
    public let url: URL
    /// The model in vggtool's format (the converted form of a Keras file).
    public let file: VGGMFile
    /// The engine that runs it.
    public let engine: Engine

    /// Opens a Keras model or weights file (converted on the way) or a `.vggm` file. Throws an error
    /// naming the file and the object at fault when the file cannot be read.
    public init(contentsOf url: URL, options: Options = Options()) throws {
        self.url = url
        let path = url.path
        if Self.isVGGM(path) {
            file = try VGGMFile(path: path)
        } else {
            let temporary = FileManager.default.temporaryDirectory
                .appendingPathComponent("vggtool-model-\(getpid())-\(UUID().uuidString).vggm").path
            defer { unlink(temporary) }  // the mapping keeps the data for as long as the model lives
            let keras = KerasFile.Options(architecture: options.architecture, configJSON: options.configJSON, inputShape: options.inputShape)
            _ = try VGGTool.convert(input: path, output: temporary, options: keras, preprocessing: options.preprocessing, hashSource: false)
            file = try VGGMFile(path: temporary)
        }
        engine = try Engine(model: file, options: options.engine)
    }

    /// True when `path` starts with the `.vggm` magic.
    static func isVGGM(_ path: String) -> Bool {
        guard InputFile.notRegular(path) == nil, let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: 8)).map { Array($0) == VGGMFormat.magic } ?? false
    }

    /// The layer graph.
    public var graph: ModelGraph { file.graph }
    /// Shapes, weights and costs of every layer.
    public var analysis: GraphAnalysis { file.analysis }
    /// The input shape (height, width, channels), nil where any size is accepted.
    public var inputShape: [Int?] { file.manifest.inputShape }
    /// Names of the output classes: those recorded in the file, or ImageNet's for a 1000-class top.
    public var classNames: [String]? { outputClassNames(file) }

    /// The table Keras's `model.summary()` prints, line for line.
    public func summary(style: SummaryStyle = .keras3) -> String { analysis.summary(style: style) }

    /// Runs a preprocessed NHWC float32 batch; returns the model's outputs (or the named layers' outputs).
    public func predict(_ batch: Tensor, outputs: [String]? = nil) throws -> [Tensor] {
        try engine.run(batch, outputs: outputs)
    }

    /// One class of a classification, with its probability.
    public struct Classification: Sendable, Equatable {
        /// Index of the class in the model's output.
        public var index: Int
        /// The class's name, when the model has names.
        public var label: String?
        /// The model's output for the class (a probability for softmax outputs).
        public var probability: Float
    }

    /// The `top` most likely classes of one image (JPEG, PNG, GIF or BMP), decoded, resized and preprocessed as
    /// Keras's `image_dataset_from_directory` does, most likely first. A JPEG's EXIF orientation is ignored,
    /// as Keras ignores it, unless `exifOrientation` is `.apply`.
    public func classify(imageAt url: URL, top: Int = 5, exifOrientation: ExifOrientation = .ignore) throws -> [Classification] {
        try classify(imagesAt: [url], top: top, exifOrientation: exifOrientation)[0]
    }

    /// The `top` most likely classes of each image, in order. Throws on the first image that cannot be read.
    public func classify(imagesAt urls: [URL], top: Int = 5, batchSize: Int = 8, exifOrientation: ExifOrientation = .ignore) throws -> [[Classification]] {
        let predictor = try Predictor(file: file, engine: engine, inputSize: nil, exifOrientation: exifOrientation)
        let names = classNames
        var results: [[Classification]] = []
        for start in stride(from: 0, to: urls.count, by: max(1, batchSize)) {
            let chunk = urls[start..<min(urls.count, start + max(1, batchSize))]
            let pixels = try chunk.map { try predictor.loader.load($0.path) }
            let y = try predictor.run(Tensor(shape: [chunk.count, predictor.height, predictor.width, 3], values: pixels.flatMap { $0 }))
            guard y.shape.count == 2 else { throw ToolError(file.path, .notAClassifier, "is not a classifier (its output is \(y.shape), not (batch, classes))") }
            let k = y.shape[1]
            for i in 0..<chunk.count {
                results.append(topK(y.values[(i * k)..<((i + 1) * k)], top).map {
                    Classification(index: $0.index, label: names?[$0.index], probability: $0.value)
                })
            }
        }
        return results
    }

    /// Loss, accuracy, top-k accuracy, confusion matrix and per-class figures on a folder of class
    /// folders, as `vggtool evaluate` prints them (EXIF orientation ignored, as Keras does, unless `.apply`).
    public func evaluate(directory: URL, top: Int = 5, batchSize: Int = 16, exifOrientation: ExifOrientation = .ignore) throws -> Evaluation {
        try VGGTool.evaluate(predictor: try Predictor(file: file, engine: engine, inputSize: nil, exifOrientation: exifOrientation), modelPath: file.path,
                             dataDir: directory.path, batchSize: batchSize, topK: top)
    }

    /// Fine-tunes the classic transfer-learning recipe on `data` (one folder of images per class), as
    /// `vggtool finetune` does: this model's convolutional part, frozen, at `options.inputSize`, under a new
    /// head; the best checkpoint by validation loss is written to `output` (atomically, with the class
    /// names and preprocessing; open it with `Model(contentsOf:)`). Progress is reported to `events`.
    @discardableResult
    public func fineTune(on data: URL, saveTo output: URL, options: FineTuneOptions = FineTuneOptions(),
                         events: (FineTuneEvent) -> Void = { _ in }) throws -> FineTuneResult {
        let session = try FineTuneSession(base: file, baseName: url.lastPathComponent, dataDir: data.path, output: output.path, options: options)
        return try VGGTool.fineTune(session, events: events)
    }

    /// Writes the model as ONNX at `destination` (atomically), as `vggtool export --to onnx` does
    /// (docs/onnx-export.md); the class names default to the model's `classNames`. Throws
    /// `ONNXExportError` naming a layer ONNX cannot express (nothing is written), `ModelFileError` when the
    /// file cannot be written.
    @discardableResult
    public func exportONNX(to destination: URL, options: ONNXExportOptions = ONNXExportOptions()) throws -> ONNXExportReport {
        var options = options
        if options.classNames == nil { options.classNames = classNames }
        if options.producerVersion.isEmpty { options.producerVersion = vggtoolVersion }
        do {
            return try ONNXExporter.export(file, to: destination.path, options: options)
        } catch var e as ONNXExportError {
            e.file = url.path
            throw e
        }
    }

    /// Converts a Keras file to `.vggm` at `destination` (atomically), as `vggtool convert` does.
    @discardableResult
    public static func convert(_ source: URL, to destination: URL, options: Options = Options(), dtype: TensorDType = .f32) throws -> ConvertReport {
        let keras = KerasFile.Options(architecture: options.architecture, configJSON: options.configJSON, inputShape: options.inputShape)
        return try VGGTool.convert(input: source.path, output: destination.path, options: keras, dtype: dtype, preprocessing: options.preprocessing)
    }
}
