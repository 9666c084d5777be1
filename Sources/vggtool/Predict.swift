import ArgumentParser
import Foundation
import VGGTool

extension VGGToolCommand {
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Classify images (or run a preprocessed .npy batch) with a .vggm model.",
            discussion: """
            Images (JPEG, PNG, GIF, BMP) are decoded as Keras's image_dataset_from_directory decodes them (a GIF's \
            first frame; CMYK JPEGs converted as TensorFlow does; EXIF orientation ignored, as Keras ignores it, \
            unless --exif-orientation apply), resized to the model's input size (bilinear, half-pixel centres, no \
            antialias; --interpolation nearest for load_img's default) and preprocessed as the model records (caffe \
            mode for VGG16). Prints the top classes per image (class names from the model; the 1000 ImageNet names \
            for 1000-class VGG16/VGG19 tops). --output writes the raw outputs as NumPy float32 for any model, \
            including feature maps of models without a top; row i is image i. When an image cannot be read, \
            nothing is written and the error names it (exit status 1); with --skip-unreadable the others are \
            written and the output lists them in row order: Y.txt beside Y.npy (one path per line), or the array \
            'inputs' in Y.npz. Without --output, unreadable files are reported and skipped (exit status 1 unless \
            --skip-unreadable).
            """)

        @Argument(help: "The .vggm model.") var model: String
        @Argument(help: "Image files.") var images: [String] = []
        @Option(name: .customLong("input"), help: ArgumentHelp("A preprocessed float32 batch to run instead of images (NHWC for image inputs); repeat it once per model input, in the model's input order.", valueName: "X.npy")) var npyInputs: [String] = []
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the raw outputs here: NumPy float32 (.npy), or for a model with several outputs an .npz archive with one array per output layer.", valueName: "Y.npy|Y.npz")) var output: String?
        @Option(help: "Classes to print per image.") var topK: Int = 5
        @OptionGroup var image: ImageOptions
        @Option(help: "Images per batch.") var batchSize: Int = 8
        @Flag(help: "Leave out images that cannot be read (each is reported) and list the inputs in row order beside the -o output.")
        var skipUnreadable = false

        func validate() throws {
            if images.isEmpty && npyInputs.isEmpty { throw ValidationError("no input: give image files or --input X.npy") }
            if !images.isEmpty && !npyInputs.isEmpty { throw ValidationError("give image files or --input batches, not both") }
        }

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: output != nil) {
                let r: PredictionReport
                do {
                    r = try predict(modelPath: model, images: images, npyInputs: npyInputs, inputSize: image.inputSize, batchSize: batchSize,
                                    interpolation: image.interpolation, exifOrientation: image.exifOrientation, outputPath: output,
                                    skipUnreadable: skipUnreadable)
                } catch var e as ToolError {
                    if case .unreadableImages = e.kind { e.message += " (--skip-unreadable writes the others and lists them)" }
                    throw e
                }
                // One unreadable image among none readable: a single error line naming it; otherwise each skip
                // is reported on its own line and the run ends with a count.
                if r.skipped.count == 1 && r.inputs.isEmpty {
                    throw ToolError(r.skipped[0].path, .unreadableImages(skipped: 1, total: 1), r.skipped[0].reason)
                }
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
                    if let output {
                        print(r.allOutputs.count == 1 ? "wrote \(output) (shape \(out.shape))"
                              : "wrote \(output) (" + r.allOutputs.map { "\($0.name) \($0.tensor.shape)" }.joined(separator: ", ") + ")")
                        if let list = r.inputListPath { print("wrote \(list) (the \(r.inputs.count) input(s) in row order)") }
                        else if skipUnreadable && output.hasSuffix(".npz") { print("  inputs: the \(r.inputs.count) input(s) in row order") }
                    }
                }
                if !r.skipped.isEmpty && (!skipUnreadable || r.inputs.isEmpty) {
                    throw ToolError(.unreadableImages(skipped: r.skipped.count, total: r.skipped.count + r.inputs.count), message: "\(r.skipped.count) of \(r.skipped.count + r.inputs.count) image(s) could not be read")
                }
            }
        }
    }
}
