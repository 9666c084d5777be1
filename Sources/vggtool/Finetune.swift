import ArgumentParser
import Foundation
import ImageData
import ModelFile
import ModelGraph
import Training
import VGGTool

extension VGGToolCommand {
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
            cached). Features and decoded images are kept within --memory-budget; the rest goes to a scratch file \
            read back batch by batch, so memory does not grow with the number of images. The best \
            checkpoint by validation loss is written to -o atomically, with the class names and preprocessing, \
            the history beside it as OUT.history.csv, the state for --resume as OUT.state.json/.npy, and what a \
            report shows as OUT.report.json. --report writes the report page (loss and accuracy per epoch, the \
            best epoch, times, the summary, the command line; the validation images evaluated by the best \
            checkpoint: confusion matrix, per-class figures, most confidently wrong images); \
            'vggtool report OUT' rebuilds it later. Under mpirun or srun the run is data-parallel: each rank \
            computes the frozen features of its share of the images, each batch is split among the ranks and their \
            gradients summed, and rank 0 alone prints and writes (docs/distributed.md).
            """)

        /// `--class-weight`'s values.
        enum ClassWeight: String, ExpressibleByArgument, CaseIterable { case balanced }

        @Argument(help: "The base model (.vggm), e.g. VGG16 with or without top.") var base: String
        @Option(help: "Training folder: one subfolder of images per class.") var data: String
        @Option(name: .shortAndLong, help: "Output .vggm (best checkpoint).") var output: String
        @Option(help: "Fraction of --data held out for validation (seeded).") var validationSplit: Double = 0.2
        @Option(name: .customLong("val"), help: "A separate validation folder (instead of --validation-split).") var valDir: String?
        @Option(help: "Input height and width.") var inputSize: Int = 250
        @Option(help: ArgumentHelp("Hidden Dense layer sizes.", valueName: "n,n,...")) var head = CommaSeparated<Int>([1024, 1024, 4096])
        @Option(help: "How the head reads the base's features: flatten, avg or max.") var pooling: HeadPooling = .flatten
        @Option(help: "Dropout rate after each hidden Dense layer (0: none).") var dropout: Double = 0
        @Option(help: "Epochs.") var epochs: Int = 10
        @Option(help: "Images per batch.") var batchSize: Int = 16
        @OptionGroup(title: "Frozen pass") var precision: PrecisionOptions
        @Option(help: "adam or sgd.") var optimizer: OptimizerKind = .adam
        @Option(help: "SGD momentum.") var momentum: Float = 0
        @Option(help: "Learning rate (default: 0.001 for adam, 0.01 for sgd).") var lr: Float?
        @Option(help: "First base layer to train (e.g. block5_conv1); the layers before it stay frozen.") var trainableFrom: String?
        @Option(help: ArgumentHelp("Random augmentations of the training images: flip, crop, zoom, rotate (comma-separated).",
                                   discussion: "With augmentation the training images are decoded once but pass through the frozen layers again every epoch (their features cannot be cached); validation features are still computed once.",
                                   valueName: "a,b,...")) var augment: CommaSeparated<Augmentation>?
        @Option(help: exifOrientationHelp) var exifOrientation: ExifOrientation = .ignore
        @Option(help: "Early stopping: epochs without a better validation loss before stopping (best weights kept).") var patience: Int?
        @Option(help: "Seed for the split, the shuffling, the head's initial weights and dropout.") var seed: UInt64 = 0
        @Option(help: "Class weights: 'balanced' weights classes by n_images / (n_classes * n_class_images).") var classWeight: ClassWeight?
        @Flag(help: "Continue from the checkpoint at -o and its saved state.") var resume = false
        @Flag(name: .shortAndLong, help: "No progress bars (drawn only when stdout is a terminal).") var quiet = false
        @Option(help: ArgumentHelp("Also write a self-contained HTML report of the run, with the validation images evaluated by the best checkpoint.",
                                   valueName: "report.html")) var report: String?
        @Option(help: ArgumentHelp("Keep the frozen layers' features on disk here too, reused by later runs with the same base, size, preprocessing and images; the scratch file of data over --memory-budget goes here as well.", valueName: "DIR")) var cacheDir: String?
        @Option(help: ArgumentHelp("Memory for the per-image data (features; with --augment, the resized training images), e.g. 256M or 2G; beyond it the data goes to an unnamed scratch file in --cache-dir or $TMPDIR (else /var/tmp), read back batch by batch, with the same results. Default: 1/64 of the available memory, at most 16M.",
                                   valueName: "SIZE")) var memoryBudget: ByteSize?
        @OptionGroup var cluster: DistributedOptions
        func validate() throws {
            guard !head.elements.isEmpty, head.elements.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--head must be positive integers like 1024,1024,4096") }
            guard (32...4096).contains(inputSize) else { throw ValidationError("--input-size must be between 32 and 4096, got \(inputSize)") }
            guard epochs >= 1 else { throw ValidationError("--epochs must be positive, got \(epochs)") }
            guard batchSize >= 1 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
            guard (0..<1).contains(dropout) else { throw ValidationError("--dropout must be at least 0 and below 1, got \(dropout)") }
            if let lr, !(lr > 0) { throw ValidationError("--lr must be positive, got \(lr)") }
            if valDir == nil, !(0..<1).contains(validationSplit) {
                throw ValidationError("--validation-split must be at least 0 and below 1, got \(validationSplit)")
            }
        }

        var options: FineTuneOptions {
            var o = FineTuneOptions()
            o.inputSize = inputSize
            o.head = head.elements
            o.pooling = pooling
            o.dropout = dropout
            o.epochs = epochs
            o.batchSize = batchSize
            o.optimizer = optimizer
            o.momentum = momentum
            o.learningRate = lr
            o.trainableFrom = trainableFrom
            o.patience = patience
            o.augment = Set(augment?.elements ?? [])
            o.exifOrientation = exifOrientation
            o.seed = seed
            o.balancedClassWeights = classWeight == .balanced
            o.validationSplit = valDir == nil ? validationSplit : 0
            o.validationDir = valDir
            o.resume = resume
            o.cacheDir = cacheDir
            if let memoryBudget { o.memoryBudget = memoryBudget.bytes }
            o.precision = precision.precision ?? ((try? VGGMFile(path: base)).map(defaultPrecision) ?? .fp32)
            return o
        }

        /// The flag that sets a fine-tuning setting, for the library's errors about one.
        /// Writes OUT.report.json beside the checkpoint and, with `page`, the report page (evaluating the
        /// validation images, from `validationDir` or the split, with the best checkpoint).
        static func writeReport(_ r: FineTuneResult, page: String?, dataDir: String, validationDir: String?, exifOrientation: ExifOrientation,
                                line: (String) -> Void) throws {
            guard r.bestEpoch != nil else { return }
            var evaluation: ReportData.EvaluationPart?
            if page != nil, let validationDir {
                line("evaluating \(validationDir) with the best checkpoint for the report")
                let e = try evaluate(modelPath: r.output, dataDir: validationDir, exifOrientation: exifOrientation)
                evaluation = ReportData.evaluation(e, folder: validationDir)
            } else if page != nil, !r.validationSet.isEmpty {
                line("evaluating the \(r.validationSet.count) validation images with the best checkpoint for the report")
                let e = try evaluate(modelPath: r.output, images: r.validationSet, classes: r.classNames, exifOrientation: exifOrientation)
                evaluation = ReportData.evaluation(e, folder: "the validation split of \(dataDir)")
            }
            let data = ReportData(commandLine: CommandLine.arguments, training: ReportData.training(r), evaluation: evaluation)
            try data.write(to: ReportData.path(beside: r.output))
            if let page {
                let html = ReportPage.render(data, model: try VGGMFile(path: r.output), title: URL(fileURLWithPath: r.output).lastPathComponent)
                try AtomicFile.write(Array(html.utf8), to: page)
                line("wrote \(page)")
            }
        }

        static func flag(_ setting: FineTuneSetting) -> String {
            switch setting {
            case .trainableFrom: return "--trainable-from"
            case .validationSplit: return "--validation-split"
            case .resume: return "--resume"
            case .learningRate: return "--lr"
            }
        }

        func run() throws {
            try VGGToolCommand.guardedDistributed(force: cluster.distributed, writesFiles: true) { comm, threads in
                let root = (comm?.rank ?? 0) == 0
                if root { precision.announce(model: base) }
                // A rank's stdout is the launcher's pseudo-terminal even when the job's output goes to a file: no bars.
                let tty = comm == nil && isatty(1) == 1, bars = comm == nil && ProgressBar.shouldDraw(quiet: quiet)
                let report = FineTuneReport(
                    line: { if root { FileHandle.standardOutput.write(Data(((tty ? "\r\u{1B}[K" : "") + $0 + "\n").utf8)) } },
                    status: bars ? { FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + $0).utf8)) } : nil)
                if root, let page = self.report { try AtomicFile.checkWritable(page) }
                var options = self.options
                if let threads { options.threads = threads }
                let r = try fineTune(basePath: base, dataDir: data, output: output, options: options, communicator: comm, events: report.show)
                try VGGToolCommand.onRankZero(comm) {
                    try Self.writeReport(r, page: self.report, dataDir: data, validationDir: valDir, exifOrientation: exifOrientation, line: report.line)
                    if let b = r.bestEpoch, let rec = r.history.first(where: { $0.epoch == b }) {
                        print("best epoch \(b): " + String(format: "loss %.4f accuracy %.4f", rec.loss, rec.accuracy)
                              + (rec.valLoss.map { String(format: " val_loss %.4f val_accuracy %.4f", $0, rec.valAccuracy!) } ?? "")
                              + " -> \(r.output) (classes: \(r.classNames.joined(separator: ", ")))")
                }
                // The closing note on memory: the peak against the data's size (docs/training.md's table).
                print(String(format: "peak memory %.0f MB for %d training and %d validation images", Double(peakRSSBytes()) / 1048576,
                             r.trainImages, r.validationImages))
                }
            }
        }
    }
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
    /// The frozen pass's progress bar, per set (a class: `show` is called on a value).
    let extraction = Extraction()
    final class Extraction { var bar: ProgressBar? }

    func show(_ event: FineTuneEvent) {
        switch event {
        case .composed(let analysis):
            if showsSummary { line(analysis.summary(style: .keras2)) }
        case .resumed(let epoch, let best):
            line("resuming after epoch \(epoch) (best val_loss \(String(format: "%.4f", best)))")
        case .extracting(let set, let done, let total):
            guard status != nil else { break }
            if extraction.bar?.label != "features (\(set.rawValue))" {
                extraction.bar?.finish()
                extraction.bar = ProgressBar("features (\(set.rawValue))", unit: .items("images"), enabled: true)
            }
            extraction.bar?.update(done, of: total)
        case .featuresReady(let f):
            extraction.bar?.finish()
            extraction.bar = nil
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
            if f.spilledBytes > 0 {
                line(String(format: "memory budget %.0f MB: %.1f MB beyond it in a scratch file in %@", Double(f.memoryBudget) / 1048576,
                            Double(f.spilledBytes) / 1048576, f.scratchDirectory))
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
