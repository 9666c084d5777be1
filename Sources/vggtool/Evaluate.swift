import ArgumentParser
import Foundation
import ModelFile
import VGGTool

extension VGGToolCommand {
    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a classifier on a folder of images, one subfolder per class, or on labelled .npy batches.",
            discussion: """
            Loss (categorical cross-entropy, as Keras), accuracy, top-k accuracy, the confusion matrix and \
            per-class precision, recall and F1. Class folders are matched to the model's class names; files that \
            cannot be decoded are reported and skipped with a count. Images are read as Keras's \
            image_dataset_from_directory reads them (EXIF orientation ignored unless --exif-orientation apply). \
            Under mpirun or srun the batches are shared among the ranks and rank 0 prints and writes the \
            combined result (docs/distributed.md). A model that does not take images is evaluated on \
            preprocessed batches instead: --input once per model input (as predict --input reads them) and \
            --labels, the true class of each row; a (batch, 1) output is read as a sigmoid's probability of \
            class 1.
            """)

        @Argument(help: "The .vggm model.") var model: String
        @Option(help: "Folder with one subfolder of images per class.") var data: String?
        @Option(name: .customLong("input"), help: ArgumentHelp("A preprocessed float32 batch instead of images; repeat it once per model input, in the model's input order.", valueName: "X.npy")) var npyInputs: [String] = []
        @Option(help: ArgumentHelp("With --input: the true class index of each row, float32 (shape (N) or (N, 1)).", valueName: "Y.npy")) var labels: String?
        @Option(help: "k of the top-k accuracy.") var topK: Int = 5
        @OptionGroup var image: ImageOptions
        @Option(help: "Images (or rows of the --input batches) per batch.") var batchSize: Int = 16
        @OptionGroup var precision: PrecisionOptions
        @Flag(help: "Print JSON (keys loss, accuracy, top_k_accuracy, confusion_matrix, classes, per_class).") var json = false
        @Flag(name: .shortAndLong, help: "No progress bar (drawn only when stdout is a terminal).") var quiet = false
        @Option(help: ArgumentHelp("Also write a self-contained HTML report: the confusion matrix as a heatmap, per-class figures, the most confidently wrong images, the model's summary and provenance.",
                                   valueName: "report.html")) var report: String?
        @OptionGroup var cluster: DistributedOptions

        func validate() throws {
            if data == nil && npyInputs.isEmpty { throw ValidationError("no data: give --data DIR, or --input X.npy with --labels Y.npy") }
            if data != nil && !npyInputs.isEmpty { throw ValidationError("give --data or --input, not both") }
            if !npyInputs.isEmpty && labels == nil { throw ValidationError("--input needs --labels Y.npy, the true class of each row") }
            if npyInputs.isEmpty && labels != nil { throw ValidationError("--labels goes with --input") }
            if !npyInputs.isEmpty && report != nil { throw ValidationError("--report needs --data (it shows the images)") }
        }

        func run() throws {
            if let labels {
                // Batches of rows: rank 0's alone under a launcher, as predict --input.
                try VGGToolCommand.guardedDistributed(force: cluster.distributed) { comm, _ in
                    if let comm, comm.rank != 0 { return try VGGToolCommand.onRankZero(comm) {} }
                    precision.announce(model: model)
                    let bar = ProgressBar("evaluating", unit: .items("rows"), enabled: comm == nil && ProgressBar.shouldDraw(quiet: quiet))
                    let e = try evaluate(modelPath: model, npyInputs: npyInputs, labelsPath: labels, batchSize: batchSize, topK: topK,
                                         precision: precision.precision, progress: bar.update)
                    bar.finish()
                    try VGGToolCommand.onRankZero(comm) { print(json ? try e.json() : e.text()) }
                }
                return
            }
            let data = data!
            try VGGToolCommand.guardedDistributed(force: cluster.distributed, writesFiles: report != nil) { comm, threads in
                let root = (comm?.rank ?? 0) == 0
                if root, let report { try AtomicFile.checkWritable(report) }
                if root { precision.announce(model: model) }
                let bar = ProgressBar("evaluating", unit: .items("images"), enabled: comm == nil && ProgressBar.shouldDraw(quiet: quiet))
                let result: Evaluation?
                if let comm {
                    result = try evaluate(modelPath: model, dataDir: data, inputSize: image.inputSize, batchSize: batchSize, topK: topK,
                                          interpolation: image.interpolation, exifOrientation: image.exifOrientation, communicator: comm,
                                          threads: threads, progress: bar.update)
                } else {
                    result = try evaluate(modelPath: model, dataDir: data, inputSize: image.inputSize, batchSize: batchSize, topK: topK,
                                          interpolation: image.interpolation, exifOrientation: image.exifOrientation, precision: precision.precision,
                                          progress: bar.update)
                }
                bar.finish()
                // Rank 0 prints and writes; its failure is every rank's.
                try VGGToolCommand.onRankZero(comm) {
                    guard let e = result else { return }
                    print(json ? try e.json() : e.text())
                    if let report {
                        let page = ReportPage.render(ReportData(commandLine: CommandLine.arguments, evaluation: ReportData.evaluation(e, folder: data)),
                                                     model: try VGGMFile(path: model), title: URL(fileURLWithPath: model).lastPathComponent)
                        try AtomicFile.write(Array(page.utf8), to: report)
                        if !json { print("wrote \(report)") }
                    }
                }
            }
        }
    }
}
