import ArgumentParser
import ModelGraph
import VGGTool

extension VGGToolCommand {
    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the model's layer table exactly as Keras's model.summary() does.",
            discussion: "Works on .vggm, .h5 and .keras files. A nested model (a base model used as one layer) is one row, "
                + "as Keras prints it; --expand-nested lists its layers under it, as summary(expand_nested=True) does. "
                + "--flops adds per-layer multiply-adds, FLOPs and activation memory.")

        @Argument(help: "A .vggm, .h5 or .keras file.") var model: String
        @Option(help: "keras2 (tf-keras 2.x text table) or keras3 (Keras 3 box table).") var style: SummaryStyle = .keras2
        @OptionGroup var modelOptions: ModelOptions
        @Flag(help: "List the layers of nested models under their row, as Keras's summary(expand_nested=True).") var expandNested = false
        @Flag(help: "Also print per-layer MACs, FLOPs and activation memory (per image).") var flops = false
        @Flag(help: "Print JSON instead of the table.") var json = false

        func run() throws {
            try VGGToolCommand.guarded {
                let analysis = try loadAnalysis(path: model, options: try modelOptions.options())
                if json {
                    print(summaryJSON(analysis))
                    return
                }
                print(analysis.summary(style: style, expandNested: expandNested), terminator: "")
                if flops { print(costTable(analysis), terminator: "") }
            }
        }
    }
}
