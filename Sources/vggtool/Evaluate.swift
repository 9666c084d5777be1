import ArgumentParser
import Foundation
import ModelFile
import VGGTool

extension VGGToolCommand {
    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a classifier on a folder of images, one subfolder per class.",
            discussion: """
            Loss (categorical cross-entropy, as Keras), accuracy, top-k accuracy, the confusion matrix and \
            per-class precision, recall and F1. Class folders are matched to the model's class names; files that \
            cannot be decoded are reported and skipped with a count. Images are read as Keras's \
            image_dataset_from_directory reads them (EXIF orientation ignored unless --exif-orientation apply).
            """)

        @Argument(help: "The .vggm model.") var model: String
        @Option(help: "Folder with one subfolder of images per class.") var data: String
        @Option(help: "k of the top-k accuracy.") var topK: Int = 5
        @OptionGroup var image: ImageOptions
        @Option(help: "Images per batch.") var batchSize: Int = 16
        @OptionGroup var precision: PrecisionOptions
        @Flag(help: "Print JSON (keys loss, accuracy, top_k_accuracy, confusion_matrix, classes, per_class).") var json = false
        @Flag(name: .shortAndLong, help: "No progress bar (drawn only when stdout is a terminal).") var quiet = false
        @Option(help: ArgumentHelp("Also write a self-contained HTML report: the confusion matrix as a heatmap, per-class figures, the most confidently wrong images, the model's summary and provenance.",
                                   valueName: "report.html")) var report: String?

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: report != nil) {
                if let report { try AtomicFile.checkWritable(report) }
                precision.announce(model: model)
                let bar = ProgressBar("evaluating", unit: .items("images"), enabled: ProgressBar.shouldDraw(quiet: quiet))
                let e = try evaluate(modelPath: model, dataDir: data, inputSize: image.inputSize, batchSize: batchSize, topK: topK,
                                     interpolation: image.interpolation, exifOrientation: image.exifOrientation, precision: precision.precision,
                                     progress: bar.update)
                bar.finish()
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
