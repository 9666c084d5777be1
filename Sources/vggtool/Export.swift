import ArgumentParser
import VGGTool

extension VGGToolCommand {
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
}
