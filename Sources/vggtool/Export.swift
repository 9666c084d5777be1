import ArgumentParser
import ONNXExport
import VGGTool

extension ONNXExportOptions.Layout: ExpressibleByArgument {}

/// `--batch`: a fixed batch size or `dynamic`.
struct BatchSize: ExpressibleByArgument {
    let value: Int?
    init?(argument: String) {
        if argument == "dynamic" { value = nil; return }
        guard let n = Int(argument), n >= 1, n <= 1 << 20 else { return nil }
        value = n
    }
    var defaultValueDescription: String { value.map(String.init) ?? "dynamic" }
}

extension VGGToolCommand {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a model as ONNX, or a .vggm's weights as safetensors or a Keras HDF5 model.",
            discussion: """
                safetensors and keras-h5: tensors are named <layer>/<weight> with Keras's names and shapes \
                (block1_conv1/kernel, fc1/bias, ...). onnx: the whole model (any Keras file convert reads, converted \
                on the way, or a .vggm) as standard ONNX operators, opset 13 to 21 (docs/onnx-export.md); a layer \
                that ONNX cannot express is refused by name and nothing is written.
                """)

        @Argument(help: "The .vggm file (for onnx: or a Keras .h5/.keras file).") var model: String
        @Option(help: "onnx, safetensors or keras-h5.") var to: ExportFormat
        @Option(name: .shortAndLong, help: "Output path.") var output: String
        @Option(help: "onnx: the ONNX opset, 13 to 21.") var opset: Int = 13
        @Option(help: "onnx: the input's axis order, nhwc (as Keras) or nchw.") var layout: ONNXExportOptions.Layout = .nhwc
        @Option(help: ArgumentHelp("onnx: a fixed batch size, or dynamic.", valueName: "N|dynamic")) var batch: BatchSize = BatchSize(argument: "dynamic")!
        @Flag(help: "onnx: put the model's preprocessing (caffe: RGB to BGR, mean subtraction) in the graph, so it takes 0..255 RGB.")
        var includePreprocessing = false
        @Flag(help: "onnx: write the weights beside the model (<output>.data, 4096-byte aligned); needed above 2 GB.")
        var externalData = false
        @OptionGroup var modelOptions: ModelOptions

        func validate() throws {
            if to == .onnx {
                guard ONNXExporter.supportedOpsets.contains(opset) else { throw ValidationError("--opset must be 13 to 21, got \(opset)") }
            } else if opset != 13 || layout != .nhwc || batch.value != nil || includePreprocessing || externalData {
                throw ValidationError("--opset, --layout, --batch, --include-preprocessing and --external-data apply to --to onnx only")
            }
        }

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: true) {
                guard to == .onnx else {
                    let bytes = try VGGTool.export(model: model, to: to, output: output)
                    print("wrote \(output) (\(bytes) bytes)")
                    return
                }
                let options = ONNXExportOptions(opset: opset, layout: layout, batch: batch.value,
                                                includePreprocessing: includePreprocessing, externalData: externalData)
                let r = try exportONNX(model: model, output: output, options: options, keras: try modelOptions.options(),
                                       isolation: VGGToolCommand.isolation)
                print("wrote \(output) (\(r.bytes) bytes, opset \(opset), \(r.nodes) nodes, \(r.initializers) initializers)")
                if let data = r.dataFile { print("wrote \(data) (\(r.dataBytes) bytes of external data)") }
            }
        }
    }
}
