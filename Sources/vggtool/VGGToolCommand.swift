import ArgumentParser
import Foundation
import KerasImport
import ModelFile
import ModelGraph
import ImageData
import Training
import VGGTool

@main
struct VGGToolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vggtool",
        abstract: "Convert, inspect and verify Keras models (VGG16 and friends) without Python.",
        version: vggtoolVersion,
        subcommands: [Convert.self, Summary.self, Inspect.self, Verify.self, Export.self, Predict.self, Evaluate.self, Bench.self, Finetune.self, Dataset.self, Demo.self, Probe.self]
    )

    /// Runs a command body, printing errors as one line on stderr and exiting non-zero. Untrusted HDF5
    /// files are first parsed by this binary in an isolated child process (see `HDF5Isolation`).
    static func guarded(writesFiles: Bool = false, _ body: () throws -> Void) throws {
        HDF5Isolation.executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        if writesFiles { Interruption.install() }
        do { try body() } catch let e as ExitCode { throw e } catch let e as ValidationError { throw e } catch {
            FileHandle.standardError.write(Data("vggtool: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Ctrl-C, SIGTERM or SIGHUP while a command writes files: the temporary files of unfinished atomic writes
/// (`TemporaryFiles.process`) are removed, one line says so, and the process exits with 128 + the signal.
/// Installed by the command, not by the library that writes the files.
enum Interruption {
    nonisolated(unsafe) private static let sources: [DispatchSourceSignal] = {
        let queue = DispatchQueue(label: "vggtool.signals")
        return [SIGINT, SIGTERM, SIGHUP].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                TemporaryFiles.process.removeAll()
                FileHandle.standardError.write(Data("vggtool: interrupted; no output written\n".utf8))
                exit(128 + sig)
            }
            source.resume()
            return source
        }
    }()

    /// Installs the handlers (once).
    static func install() { _ = sources }
}

extension Architecture: ExpressibleByArgument {}
extension TensorDType: ExpressibleByArgument {}
extension SummaryStyle: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}
extension PreprocessingChoice: ExpressibleByArgument {}
extension Interpolation: ExpressibleByArgument {}
extension HeadPooling: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

/// Options that say which architecture a weights-only file has and which input shape to use.
struct ModelOptions: ParsableArguments {
    @Option(help: "Built-in architecture for weights-only files: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")). Detected when unambiguous.")
    var arch: Architecture?

    @Option(name: .customLong("config"), help: "Keras model JSON (model.to_json()) giving the architecture of a weights-only file.")
    var configPath: String?

    @Option(help: ArgumentHelp("Input shape H,W,C replacing the model's (e.g. 250,250,3).", valueName: "H,W,C"))
    var inputShape: String?

    func parsedInputShape() throws -> [Int?]? {
        guard let inputShape else { return nil }
        let parts = inputShape.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 1 << 20 }) else {
            throw ValidationError("--input-shape must be three positive integers H,W,C, got '\(inputShape)'")
        }
        return parts.map { $0! }
    }

    func options() throws -> KerasFile.Options {
        var json: String? = nil
        if let configPath {
            guard let data = FileManager.default.contents(atPath: configPath) else { throw ToolError(configPath, "cannot be read") }
            json = String(decoding: data, as: UTF8.self)
        }
        return KerasFile.Options(architecture: arch, configJSON: json, inputShape: try parsedInputShape())
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Keras model or weights file (.h5, .weights.h5, .keras) to vggtool's .vggm format.",
        discussion: """
        Reads every Keras layout: keras-applications weights, tf.keras save_weights / model.save (.h5), Keras 3 \
        .weights.h5, .keras archives and Keras 3 legacy .h5. float32 weights are copied bit-exactly; float16 and \
        float64 are converted. The output is written atomically: a failed or interrupted run leaves no file.
        """)

    @Argument(help: "The Keras file.") var model: String
    @Option(name: .shortAndLong, help: "Output path (default: beside the input, with the .vggm extension).") var output: String?
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Tensor storage type: f32 (exact), f16 or bf16.") var dtype: TensorDType = .f32
    @Option(help: "Preprocessing recorded in the file: auto (caffe for VGG models), caffe or none.") var preprocessing: PreprocessingChoice = .auto
    @Option(help: ArgumentHelp("Class names (comma-separated, in output order) to record.", valueName: "a,b,...")) var classNames: String?
    @Flag(help: ArgumentHelp("Do not record the source file's SHA-256 in the provenance.",
                             discussion: "Hashing runs beside the copy on the second core, but at about 1.4 GB/s it is what bounds convert's time on a warm cache.")) var noSourceHash = false

    func run() throws {
        try VGGToolCommand.guarded(writesFiles: true) {
            let out = output ?? defaultOutputPath(for: model)
            let names = classNames.map { $0.split(separator: ",").map { String($0) } }
            let r = try convert(input: model, output: out, options: try modelOptions.options(), dtype: dtype,
                                preprocessing: preprocessing, classNames: names, hashSource: !noSourceHash)
            print("layout:     \(r.layout)\(r.kerasVersion.map { ", keras_version \($0)" } ?? "")")
            print("graph:      \(r.architectureSource)")
            print("layers:     \(r.layers)")
            print("parameters: \(r.params)")
            print("tensors:    \(r.tensors)")
            for n in r.notes { print("note:       \(n)") }
            print("wrote:      \(r.output) (\(r.bytesWritten) bytes) in \(String(format: "%.2f", r.seconds)) s")
        }
    }
}

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the model's layer table exactly as Keras's model.summary() does.",
        discussion: "Works on .vggm, .h5 and .keras files. --flops adds per-layer multiply-adds, FLOPs and activation memory.")

    @Argument(help: "A .vggm, .h5 or .keras file.") var model: String
    @Option(help: "keras2 (tf-keras 2.x text table) or keras3 (Keras 3 box table).") var style: SummaryStyle = .keras2
    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Also print per-layer MACs, FLOPs and activation memory (per image).") var flops = false
    @Flag(help: "Print JSON instead of the table.") var json = false

    func run() throws {
        try VGGToolCommand.guarded {
            let analysis = try loadAnalysis(path: model, options: try modelOptions.options())
            if json {
                print(summaryJSON(analysis))
                return
            }
            print(analysis.summary(style: style), terminator: "")
            if flops { print(costTable(analysis), terminator: "") }
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the raw structure of an .h5, .keras or .vggm file, with per-tensor statistics.",
        discussion: "HDF5 soft and external links are listed, never followed.")

    @Argument(help: "The file.") var file: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try VGGToolCommand.guarded {
            let (text, object) = try Inspector.inspect(path: file)
            if json {
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(text, terminator: "")
            }
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a .vggm file completely: structure, graph, and every checksum.",
        discussion: "Exit status 0 when the file is intact, 1 otherwise.")

    @Argument(help: "The .vggm file.") var model: String

    func run() throws {
        try VGGToolCommand.guarded {
            let start = Date()
            let f = try VGGMFile(path: model)
            let bad = f.verifyTensors()
            guard bad.isEmpty else {
                throw ToolError(model, "checksum mismatch in \(bad.count) tensor(s): \(bad.prefix(5).joined(separator: ", "))")
            }
            print("\(model): OK (\(f.manifest.tensors.count) tensors, \(f.analysis.totalParams) parameters, \(f.fileLength) bytes, checked in \(String(format: "%.2f", Date().timeIntervalSince(start))) s)")
        }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify images (or run a preprocessed .npy batch) with a .vggm model.",
        discussion: """
        Images (JPEG, PNG, BMP) are decoded, resized to the model's input size as Keras's \
        image_dataset_from_directory does (bilinear, half-pixel centres, no antialias; --interpolation nearest \
        for load_img's default) and preprocessed as the model records (caffe mode for VGG16). EXIF orientation \
        is applied. Prints the top classes per image (class names from the model; the 1000 ImageNet names for \
        1000-class VGG16/VGG19 tops). --output writes the raw outputs as NumPy float32 for any model, \
        including feature maps of models without a top. Files that cannot be read are reported and skipped \
        (exit status 1).
        """)

    @Argument(help: "The .vggm model.") var model: String
    @Argument(help: "Image files.") var images: [String] = []
    @Option(name: .customLong("input"), help: ArgumentHelp("A preprocessed float32 NHWC batch to run instead of images.", valueName: "X.npy")) var npyInput: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the raw outputs here (NumPy float32).", valueName: "Y.npy")) var output: String?
    @Option(help: "Classes to print per image.") var topK: Int = 5
    @Option(help: "Input height and width (square), replacing or supplying the model's.") var inputSize: Int?
    @Option(help: "bilinear (image_dataset_from_directory) or nearest (load_img).") var interpolation: Interpolation = .bilinear
    @Option(help: "Images per batch.") var batchSize: Int = 8

    func run() throws {
        try VGGToolCommand.guarded(writesFiles: output != nil) {
            let r = try predict(modelPath: model, images: images, npyInput: npyInput, inputSize: inputSize, batchSize: batchSize,
                                interpolation: interpolation, outputPath: output)
            // One unreadable image among none readable: a single error line naming it; otherwise each skip
            // is reported on its own line and the run ends with a count.
            if r.skipped.count == 1 && r.inputs.isEmpty { throw ToolError(r.skipped[0].path, r.skipped[0].reason) }
            for s in r.skipped { FileHandle.standardError.write(Data("vggtool: skipped \(s.path): \(s.reason)\n".utf8)) }
            if let out = r.outputs {
                let perImage = out.count / max(out.shape[0], 1)
                for (i, name) in r.inputs.enumerated() {
                    let row = out.values[(i * perImage)..<((i + 1) * perImage)]
                    if out.shape.count == 2, let names = r.classNames, names.count == perImage {
                        let top = VGGTool.topK(row, max(1, topK)).map { String(format: "%@ %.4f", names[$0.index], $0.value) }
                        print("\(name): " + top.joined(separator: ", "))
                    } else if out.shape.count == 2 {
                        let top = VGGTool.topK(row, max(1, topK)).map { String(format: "[%d] %.4f", $0.index, $0.value) }
                        print("\(name): " + top.joined(separator: ", "))
                    } else {
                        print("\(name): output \(out.shape.dropFirst().map(String.init).joined(separator: "x")) (min \(row.min()!), max \(row.max()!))")
                    }
                }
                if let output { print("wrote \(output) (shape \(out.shape))") }
            }
            if !r.skipped.isEmpty {
                throw ToolError(message: "\(r.skipped.count) of \(r.skipped.count + r.inputs.count) image(s) could not be read")
            }
        }
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a classifier on a folder of images, one subfolder per class.",
        discussion: """
        Loss (categorical cross-entropy, as Keras), accuracy, top-k accuracy, the confusion matrix and \
        per-class precision, recall and F1. Class folders are matched to the model's class names; files that \
        cannot be decoded are reported and skipped with a count.
        """)

    @Argument(help: "The .vggm model.") var model: String
    @Option(help: "Folder with one subfolder of images per class.") var data: String
    @Option(help: "k of the top-k accuracy.") var topK: Int = 5
    @Option(help: "Input height and width (square), replacing or supplying the model's.") var inputSize: Int?
    @Option(help: "bilinear (image_dataset_from_directory) or nearest (load_img).") var interpolation: Interpolation = .bilinear
    @Option(help: "Images per batch.") var batchSize: Int = 16
    @Flag(help: "Print JSON (keys loss, accuracy, top_k_accuracy, confusion_matrix, classes, per_class).") var json = false

    func run() throws {
        try VGGToolCommand.guarded {
            let e = try evaluate(modelPath: model, dataDir: data, inputSize: inputSize, batchSize: batchSize, topK: topK, interpolation: interpolation)
            print(json ? try e.json() : e.text())
        }
    }
}

struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Transfer learning: a frozen base (e.g. VGG16) with a new dense head, trained on a folder of images.",
        discussion: """
        The defaults are the classic recipe: input 250x250, the base's convolutional part frozen, \
        Flatten -> Dense(1024, relu) -> Dense(1024, relu) -> Dense(4096, relu) -> Dense(classes, softmax), \
        Adam (lr 0.001), categorical cross-entropy, 10 epochs of batch 16, classes from the subfolder names. \
        The frozen part's output is computed once per image and reused every epoch (for training and \
        validation images); with --trainable-from, the output of the last frozen layer is cached. With \
        --augment, training images go through the frozen layers again every epoch (validation features stay \
        cached). The best \
        checkpoint by validation loss is written to -o atomically, with the class names and preprocessing, \
        the history beside it as OUT.history.csv and the state for --resume as OUT.state.json/.npy.
        """)

    @Argument(help: "The base model (.vggm), e.g. VGG16 with or without top.") var base: String
    @Option(help: "Training folder: one subfolder of images per class.") var data: String
    @Option(name: .shortAndLong, help: "Output .vggm (best checkpoint).") var output: String
    @Option(help: "Fraction of --data held out for validation (seeded).") var validationSplit: Double = 0.2
    @Option(name: .customLong("val"), help: "A separate validation folder (instead of --validation-split).") var valDir: String?
    @Option(help: "Input height and width.") var inputSize: Int = 250
    @Option(help: ArgumentHelp("Hidden Dense layer sizes.", valueName: "n,n,...")) var head: String = "1024,1024,4096"
    @Option(help: "How the head reads the base's features: flatten, avg or max.") var pooling: HeadPooling = .flatten
    @Option(help: "Dropout rate after each hidden Dense layer (0: none).") var dropout: Double = 0
    @Option(help: "Epochs.") var epochs: Int = 10
    @Option(help: "Images per batch.") var batchSize: Int = 16
    @Option(help: "adam or sgd.") var optimizer: OptimizerKind = .adam
    @Option(help: "SGD momentum.") var momentum: Float = 0
    @Option(help: "Learning rate (default: 0.001 for adam, 0.01 for sgd).") var lr: Float?
    @Option(help: "First base layer to train (e.g. block5_conv1); the layers before it stay frozen.") var trainableFrom: String?
    @Option(help: ArgumentHelp("Random augmentations of the training images: flip, crop, zoom, rotate (comma-separated).",
                               discussion: "With augmentation the training images are decoded once but pass through the frozen layers again every epoch (their features cannot be cached); validation features are still computed once.",
                               valueName: "a,b,...")) var augment: String?
    @Option(help: "Early stopping: epochs without a better validation loss before stopping (best weights kept).") var patience: Int?
    @Option(help: "Seed for the split, the shuffling, the head's initial weights and dropout.") var seed: UInt64 = 0
    @Option(help: "'balanced' weights classes by n_images / (n_classes * n_class_images).") var classWeight: String?
    @Flag(help: "Continue from the checkpoint at -o and its saved state.") var resume = false
    @Option(help: ArgumentHelp("Keep the frozen layers' features on disk here, reused by later runs with the same base, size, preprocessing and images (default: in memory, or ~/.cache/vggtool/features when over 4 GB).", valueName: "DIR")) var cacheDir: String?

    /// The flag that sets a fine-tuning setting, for the library's errors about one.
    static func flag(_ setting: FineTuneSetting) -> String {
        switch setting {
        case .trainableFrom: return "--trainable-from"
        case .validationSplit: return "--validation-split"
        case .resume: return "--resume"
        case .learningRate: return "--lr"
        }
    }

    func run() throws {
        try VGGToolCommand.guarded(writesFiles: true) {
            var o = FineTuneOptions()
            o.inputSize = inputSize
            let units = head.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !units.isEmpty, units.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw ValidationError("--head must be positive integers like 1024,1024,4096") }
            o.head = units.map { $0! }
            o.pooling = pooling
            o.dropout = dropout
            o.epochs = epochs
            o.batchSize = batchSize
            o.optimizer = optimizer
            o.momentum = momentum
            o.learningRate = lr
            o.trainableFrom = trainableFrom
            o.patience = patience
            if let augment {
                var set = Set<Augmentation>()
                for part in augment.split(separator: ",") {
                    guard let a = Augmentation(rawValue: part.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--augment: unknown augmentation '\(part)' (flip, crop, zoom, rotate)")
                    }
                    set.insert(a)
                }
                o.augment = set
            }
            o.seed = seed
            if let cw = classWeight {
                guard cw == "balanced" else { throw ValidationError("--class-weight accepts 'balanced'") }
                o.balancedClassWeights = true
            }
            o.validationSplit = valDir == nil ? validationSplit : 0
            o.validationDir = valDir
            o.resume = resume
            o.cacheDir = cacheDir
            let tty = isatty(1) == 1
            let report = FineTuneReport(
                line: { FileHandle.standardOutput.write(Data(((tty ? "\r\u{1B}[K" : "") + $0 + "\n").utf8)) },
                status: tty ? { FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + $0).utf8)) } : nil)
            let r: FineTuneResult
            do {
                r = try fineTune(basePath: base, dataDir: data, output: output, options: o, events: report.show)
            } catch let e as FineTuneError {
                throw ToolError(message: e.message(naming: Self.flag(e.setting)))
            }
            if let b = r.bestEpoch, let rec = r.history.first(where: { $0.epoch == b }) {
                print("best epoch \(b): " + String(format: "loss %.4f accuracy %.4f", rec.loss, rec.accuracy)
                      + (rec.valLoss.map { String(format: " val_loss %.4f val_accuracy %.4f", $0, rec.valAccuracy!) } ?? "")
                      + " -> \(r.output) (classes: \(r.classNames.joined(separator: ", ")))")
            }
        }
    }
}

/// The isolated child of `HDF5Isolation`: parses a Keras file's structure and exits (0 = parsed).
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_probe", abstract: "(internal) parse a Keras file's structure in isolation.",
                                                    shouldDisplay: false)
    @Argument var model: String
    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        do { try HDF5Isolation.runProbe(model, options: try modelOptions.options()) } catch { throw ExitCode(1) }
    }
}

struct Dataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write Fashion-MNIST (Debian's dataset-fashion-mnist) as class folders of PNG images.",
        discussion: "Classes: \(FashionMNIST.classNames.joined(separator: ", ")). Images are taken in file order.")

    @Argument(help: "The dataset (fashion-mnist).") var name: String
    @Option(help: ArgumentHelp("Classes to write.", valueName: "a,b,...")) var classes: String = "T-shirt_top,Trouser"
    @Option(help: "Images per class.") var perClass: Int = 100
    @Option(help: "Skip this many images of each class first (e.g. to keep sets apart).") var skip: Int = 0
    @Option(help: "train or t10k.") var split: String = "train"
    @Option(help: "Where the IDX files are.") var source: String = FashionMNIST.defaultDirectory
    @Option(name: .shortAndLong, help: "Output folder.") var output: String

    func run() throws {
        try VGGToolCommand.guarded(writesFiles: true) {
            guard name == "fashion-mnist" else { throw ValidationError("unknown dataset '\(name)' (fashion-mnist)") }
            guard ["train", "t10k"].contains(split) else { throw ValidationError("--split must be train or t10k") }
            var indices: [Int] = []
            for c in classes.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let i = FashionMNIST.classNames.firstIndex(of: c) else {
                    throw ValidationError("unknown class '\(c)' (\(FashionMNIST.classNames.joined(separator: ", ")))")
                }
                indices.append(i)
            }
            let data = try FashionMNIST(directory: source, split: split)
            let n = try data.writeClassFolders(root: output, classes: indices, perClass: max(0, perClass), skipping: max(0, skip))
            print("wrote \(n) images in \(indices.count) class folders under \(output)")
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure inference speed and memory of a .vggm model on this machine.",
        discussion: """
        Runs seeded random input of the model's geometry (or --input-size) through the runtime: one warm-up \
        batch, then at least 3 batches and 3 seconds. Reports images/s (median batch time), effective GFLOP/s \
        (2 x the multiply-adds of a direct convolution, as Keras counts them) and peak resident memory.
        """)

    @Argument(help: "The .vggm file.") var model: String
    @Option(help: "Input height and width (square), for models that accept any size.") var inputSize: Int?
    @Option(help: "Images per batch.") var batch: Int = 1
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Flag(help: "Also time every layer.") var layers = false
    @Flag(help: "Print JSON (keys images_per_second, gflops_per_second, peak_rss_bytes, ...).") var json = false

    func run() throws {
        try VGGToolCommand.guarded {
            let r = try bench(modelPath: model, inputSize: inputSize, batch: batch, threads: threads, layers: layers)
            print(json ? try r.json() : r.text())
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a .vggm's weights as safetensors or as a Keras HDF5 model.",
        discussion: "Tensors are named <layer>/<weight> with Keras's names and shapes (block1_conv1/kernel, fc1/bias, ...).")

    @Argument(help: "The .vggm file.") var model: String
    @Option(help: "safetensors or keras-h5.") var to: ExportFormat
    @Option(name: .shortAndLong, help: "Output path.") var output: String

    func run() throws {
        try VGGToolCommand.guarded(writesFiles: true) {
            let bytes = try export(model: model, to: to, output: output)
            print("wrote \(output) (\(bytes) bytes)")
        }
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The end-to-end demo: a full-size VGG16 .h5 (seeded weights) converted, summarized, verified, run and benchmarked, then fine-tuned and evaluated on Fashion-MNIST images.",
        discussion: """
        Real ImageNet weights cannot be downloaded on an offline machine, so the demo writes a full-size VGG16 \
        (138,357,544 parameters) in tf.keras's model.save layout with vggtool's own HDF5 writer and seeded \
        random weights. Run the same steps on a real file with: vggtool convert vgg16_weights_tf_dim_ordering_tf_kernels.h5
        """)

    @Option(help: "Working directory for the demo files.") var dir = "vggtool-demo"
    @Option(help: "Seed for the weights.") var seed: UInt64 = 16
    @Option(help: "Fine-tuning epochs.") var epochs: Int = 5

    func run() throws {
        try VGGToolCommand.guarded(writesFiles: true) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let h5 = dir + "/vgg16_demo.h5"
            let out = dir + "/vgg16_demo.vggm"
            var t = Date()
            print("== writing \(h5): VGG16 with top, tf.keras model.save layout, seeded weights")
            try writeDemoVGG16(path: h5, seed: seed)
            print("   \(fileSize(h5)) bytes in \(String(format: "%.2f", Date().timeIntervalSince(t))) s")
            print("== vggtool convert \(h5)")
            let r = try convert(input: h5, output: out, options: KerasFile.Options())
            print("   \(r.layout), \(r.layers) layers, \(r.params) parameters -> \(out) (\(r.bytesWritten) bytes) in \(String(format: "%.2f", r.seconds)) s")
            print("== vggtool summary \(out)")
            let analysis = try loadAnalysis(path: out, options: KerasFile.Options())
            print(analysis.summary(style: .keras2), terminator: "")
            t = Date()
            print("== vggtool verify \(out)")
            let f = try VGGMFile(path: out)
            let bad = f.verifyTensors()
            guard bad.isEmpty else { throw ToolError(out, "verification failed: \(bad)") }
            print("   OK: \(f.manifest.tensors.count) tensors, every checksum matches (\(String(format: "%.2f", Date().timeIntervalSince(t))) s)")

            // Real images: Fashion-MNIST from Debian's dataset-fashion-mnist, written as a user's folder would be.
            let samples = dir + "/fashion-mnist-samples"
            let data = try FashionMNIST(split: "t10k")
            try data.writeClassFolders(root: samples, classes: [0, 7, 9], perClass: 1)
            let files = try ImageFolder(root: samples).items.map(\.path)
            print("== vggtool predict \(out) <\(files.count) Fashion-MNIST images> --top-k 3")
            print("   (seeded random weights: the ImageNet classes are arbitrary; with the real weights they are not)")
            let p = try predict(modelPath: out, images: files, npyInput: nil, inputSize: nil)
            if let y = p.outputs, let names = p.classNames {
                for (i, file) in p.inputs.enumerated() {
                    let row = y.values[(i * 1000)..<((i + 1) * 1000)]
                    let top = VGGTool.topK(row, 3).map { String(format: "%@ %.4f", names[$0.index], $0.value) }
                    print("   \(file): \(top.joined(separator: ", "))")
                }
            }
            print("== vggtool bench \(out) --batch 1")
            let b = try bench(modelPath: out, inputSize: nil, batch: 1, minRuns: 3, minSeconds: 2)
            // (peak memory is left out here: this process also wrote and converted the model)
            print(b.text().split(separator: "\n").filter { !$0.hasPrefix("peak memory") }.map { "   " + $0 }.joined(separator: "\n"))

            // Transfer learning on real images: two Fashion-MNIST classes as a user's folders would be.
            let train = dir + "/fashion-mnist-train", val = dir + "/fashion-mnist-val"
            try? FileManager.default.removeItem(atPath: train)
            try? FileManager.default.removeItem(atPath: val)
            let trainSet = try FashionMNIST(split: "train")
            try trainSet.writeClassFolders(root: train, classes: [0, 1], perClass: 100)
            try data.writeClassFolders(root: val, classes: [0, 1], perClass: 50, skipping: 10)
            let tuned = dir + "/vgg16_fashion.vggm"
            print("== vggtool finetune \(out) --data \(train) --val \(val) -o \(tuned) --epochs \(epochs) --lr 1e-4")
            print("   (the recipe: input 250x250, frozen base, Flatten -> Dense 1024, 1024, 4096 -> softmax, Adam 1e-4; 200 training, 100 validation images)")
            var o = FineTuneOptions()
            o.epochs = epochs
            o.learningRate = 1e-4
            o.validationDir = val
            o.validationSplit = 0
            o.seed = seed
            // The epoch lines only: the summary was shown above, checkpoints go to one file.
            let report = FineTuneReport(line: { print("   " + $0) }, showsSummary: false, showsCheckpoints: false)
            let ft = try fineTune(basePath: out, dataDir: train, output: tuned, options: o, events: report.show)
            print("   best epoch \(ft.bestEpoch ?? 0) -> \(tuned)")
            print("== vggtool evaluate \(tuned) --data \(val)")
            let e = try evaluate(modelPath: tuned, dataDir: val)
            print(e.text().split(separator: "\n").map { "   " + $0 }.joined(separator: "\n"))
        }
    }

    func fileSize(_ p: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
}

/// Shows a fine-tuning run's events as text: the composed model's summary, feature and epoch lines,
/// checkpoints; `status` (on a terminal) gets a line redrawn in place (progress bars).
struct FineTuneReport {
    var line: (String) -> Void
    var status: ((String) -> Void)? = nil
    /// Shows the composed model's summary table.
    var showsSummary = true
    /// Shows the checkpoint lines ("  saving ...").
    var showsCheckpoints = true

    func show(_ event: FineTuneEvent) {
        switch event {
        case .composed(let analysis):
            if showsSummary { line(analysis.summary(style: .keras2)) }
        case .resumed(let epoch, let best):
            line("resuming after epoch \(epoch) (best val_loss \(String(format: "%.4f", best)))")
        case .extracting(let set, let done, let total):
            status?("features (\(set.rawValue)): \(done)/\(total) images")
        case .featuresReady(let f):
            if let s = f.skipped.first { line("skipped \(f.skipped.count) file(s) that could not be read, e.g. \(s.path): \(s.reason)") }
            switch f.cache {
            case .augmented(let kinds):
                line(String(format: "augmenting (%@): %d training images pass through the frozen layers (up to '%@') every epoch; %d validation images cached (%.1f s)",
                            kinds.map(\.rawValue).sorted().joined(separator: ","), f.trainImages, f.cut, f.validationImages, f.seconds))
            case .memory, .disk:
                let place: String
                if case .disk(let dir, let reused, let computed) = f.cache { place = "on disk in \(dir) (\(reused) reused, \(computed) computed)" } else { place = "in memory" }
                line(String(format: "features: %d training and %d validation images through the frozen layers (up to '%@') in %.1f s, cached %@",
                            f.trainImages, f.validationImages, f.cut, f.seconds, place))
            }
        case .batch(let b):
            status?(Self.bar(b))
        case .epochEnded(let rec, let epochs):
            line(String(format: "epoch %d/%d  loss %.4f  accuracy %.4f", rec.epoch, epochs, rec.loss, rec.accuracy)
                 + (rec.valLoss.map { String(format: "  val_loss %.4f  val_accuracy %.4f", $0, rec.valAccuracy!) } ?? "")
                 + String(format: "  (%.2f s)", rec.seconds))
        case .checkpointSaving(_, let path, let monitor):
            if showsCheckpoints { line("  saving \(path) (best \(monitor.rawValue) so far)") }
        case .stoppedEarly(let patience, let bestEpoch, let path, let monitor):
            line("early stopping: \(monitor.rawValue) has not improved for \(patience) epoch(s); \(path) holds epoch \(bestEpoch)")
        }
    }

    /// `epoch 2/10 [========........] 12/25  loss 0.1234  accuracy 0.9500  310 images/s  ETA 3s`
    static func bar(_ b: BatchProgress) -> String {
        let width = 24
        let done = b.batches > 0 ? width * b.batch / b.batches : width
        return String(format: "epoch %d/%d [%@%@] %d/%d  loss %.4f  accuracy %.4f  %.0f images/s  ETA %.0fs", b.epoch, b.epochs,
                      String(repeating: "=", count: done), String(repeating: ".", count: width - done), b.batch, b.batches,
                      b.loss, b.accuracy, b.imagesPerSecond, b.eta)
    }
}
