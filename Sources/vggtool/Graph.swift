import ArgumentParser
import Foundation
import ModelFile
import VGGTool

extension VGGToolCommand {
    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw the model as a layered graph: a self-contained HTML page or an SVG file.",
            discussion: """
                Works on every file summary reads. One box per layer (name, class, output shape, parameters; \
                with --flops, multiply-adds per image), an arrow per connection, branches side by side, nested \
                models as groups. The HTML page (-o NAME.html) needs no network: pan by dragging, zoom with the \
                wheel, click a nested model's title to fold it, click a layer for its config and its weights' \
                statistics (as inspect computes them; a Keras file vggtool cannot convert shows the weights' \
                shapes only). -o NAME.svg writes the drawing alone.
                """)

        @Argument(help: "A .vggm, .h5 or .keras file.") var model: String
        @Option(name: .shortAndLong, help: ArgumentHelp("The page to write: .html, or .svg for the drawing alone.", valueName: "file")) var output: String
        @OptionGroup var modelOptions: ModelOptions
        @Flag(help: "Show each layer's multiply-adds per image in its box.") var flops = false

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: true) {
                try AtomicFile.checkWritable(output)
                let page = try GraphPage.render(modelPath: model, options: try modelOptions.options(), isolation: VGGToolCommand.isolation,
                                                flops: flops, format: PageFormat(path: output))
                try AtomicFile.write(Array(page.utf8), to: output)
                print("wrote \(output)")
            }
        }
    }
}
