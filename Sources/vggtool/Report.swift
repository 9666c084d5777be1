import ArgumentParser
import Foundation
import ModelFile
import VGGTool

extension VGGToolCommand {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild the HTML report of a fine-tuned model from the files finetune wrote beside it.",
            discussion: """
                Reads TUNED.vggm and TUNED.vggm.report.json (else the epochs of TUNED.vggm.history.csv) and writes \
                the page finetune --report writes: loss and accuracy per epoch with the best epoch marked, the time \
                in the frozen pass and in training, the evaluation when finetune made one, the model's summary, the \
                command line, versions and provenance. Self-contained: nothing is loaded from the network.
                """)

        @Argument(help: "The fine-tuned .vggm (finetune's -o).") var model: String
        @Option(name: .shortAndLong, help: ArgumentHelp("The page to write.", valueName: "report.html")) var output: String

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: true) {
                try AtomicFile.checkWritable(output)
                let page = try ReportPage.rebuild(checkpoint: model)
                try AtomicFile.write(Array(page.utf8), to: output)
                print("wrote \(output)")
            }
        }
    }
}
