import ArgumentParser
import Foundation
import ModelFile
import VGGTool

extension VGGToolCommand {
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert a Keras model or weights file (.h5, .weights.h5, .keras) to vggtool's .vggm format.",
            discussion: """
            Reads every Keras layout: keras-applications weights, tf.keras save_weights / model.save (.h5), Keras 3 \
            .weights.h5 (also of subclassed models, by attribute path), .keras archives and Keras 3 legacy .h5, with \
            nested models at any depth. float32 weights are copied bit-exactly; float16 and float64 are converted. \
            The output is written atomically: a failed or interrupted run leaves no file.
            """)

        @Argument(help: "The Keras file.") var model: String
        @Option(name: .shortAndLong, help: "Output path (default: beside the input, with the .vggm extension).") var output: String?
        @OptionGroup var modelOptions: ModelOptions
        @Flag(help: ArgumentHelp("Convert the layers the architecture has and leave out weights of layers it does not have.",
                                 discussion: "By default such weights are refused, naming the layers. With this flag a note lists what was left out: for example a subclassed model's auxiliary head when --arch vgg16-notop takes its backbone.")) var ignoreExtra = false
        @Option(help: "Tensor storage type: f32 (exact), f16 or bf16.") var dtype: TensorDType = .f32
        @Option(help: "Preprocessing recorded in the file: auto (caffe for VGG models), caffe or none.") var preprocessing: PreprocessingChoice = .auto
        @Option(help: ArgumentHelp("Class names (comma-separated, in output order) to record.", valueName: "a,b,...")) var classNames: CommaSeparated<String>?
        @Flag(help: ArgumentHelp("Do not record the source file's SHA-256 in the provenance.",
                                 discussion: "Hashing runs beside the copy on the second core, but at about 1.8 GB/s it is what bounds convert's time on a warm cache (0.38 s for VGG16 with top, 0.27 s without the hash).")) var noSourceHash = false

        @Flag(name: .shortAndLong, help: "No progress bar (drawn only when stdout is a terminal).") var quiet = false

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: true) {
                var options = try modelOptions.options()
                options.ignoreExtra = ignoreExtra
                let bar = ProgressBar("converting", unit: .bytes, enabled: ProgressBar.shouldDraw(quiet: quiet))
                let r = try convert(input: model, output: output ?? defaultOutputPath(for: model), options: options,
                                    dtype: dtype, preprocessing: preprocessing, classNames: classNames?.elements, hashSource: !noSourceHash,
                                    isolation: VGGToolCommand.isolation, progress: bar.update)
                bar.finish()
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
}
