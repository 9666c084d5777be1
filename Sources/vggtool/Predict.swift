import ArgumentParser
import Cluster
import Foundation
import Runtime
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
            --skip-unreadable). Under mpirun or srun the image batches are shared among the ranks; rank 0 prints \
            and writes the output in input order, as one process does (--input batches run on rank 0 alone).
            """)

        @Argument(help: "The .vggm model.") var model: String
        @Argument(help: "Image files.") var images: [String] = []
        @Option(name: .customLong("input"), help: ArgumentHelp("A preprocessed float32 batch to run instead of images (NHWC for image inputs); repeat it once per model input, in the model's input order.", valueName: "X.npy")) var npyInputs: [String] = []
        @Option(name: .shortAndLong, help: ArgumentHelp("Write the raw outputs here: NumPy float32 (.npy), or for a model with several outputs an .npz archive with one array per output layer.", valueName: "Y.npy|Y.npz")) var output: String?
        @Option(help: "Classes to print per image.") var topK: Int = 5
        @OptionGroup var image: ImageOptions
        @Option(help: "Images (or rows of the --input batches) per batch.") var batchSize: Int = 8
        @OptionGroup var precision: PrecisionOptions
        @Flag(help: "Leave out images that cannot be read (each is reported) and list the inputs in row order beside the -o output.")
        var skipUnreadable = false
        @OptionGroup var cluster: DistributedOptions

        func validate() throws {
            if images.isEmpty && npyInputs.isEmpty { throw ValidationError("no input: give image files or --input X.npy") }
            if !images.isEmpty && !npyInputs.isEmpty { throw ValidationError("give image files or --input batches, not both") }
        }

        func run() throws {
            try VGGToolCommand.guardedDistributed(force: cluster.distributed, writesFiles: output != nil) { comm, threads in
                let r: PredictionReport
                // Each batch's rows become lines as they come (the outputs are not kept), printed once the run
                // has succeeded.
                // Each batch's rows are reduced to what is printed as they come (the outputs are not kept): the
                // top classes of a (batch, classes) output, else the row's range; printed once the run succeeded.
                enum Row { case top(String, [(index: Int, value: Float)], units: Int), range(String, String) }
                var rows: [Row] = []
                let topK = max(1, self.topK)
                func describe(_ names: [String], _ outputs: [Tensor]) {
                    let out = outputs[0]
                    let perImage = out.count / max(out.shape[0], 1)
                    for (i, name) in names.enumerated() {
                        let row = out.values[(i * perImage)..<((i + 1) * perImage)]
                        if out.shape.count == 2 {
                            rows.append(.top(name, VGGTool.topK(row, topK), units: perImage))
                        } else {
                            rows.append(.range(name, "output \(out.shape.dropFirst().map(String.init).joined(separator: "x")) (min \(row.min()!), max \(row.max()!))"))
                        }
                    }
                }
                precision.announce(model: model)
                do {
                    if let comm, !images.isEmpty {
                        guard let report = try predict(modelPath: model, images: images, inputSize: image.inputSize, batchSize: batchSize,
                                                       interpolation: image.interpolation, exifOrientation: image.exifOrientation, outputPath: output,
                                                       skipUnreadable: skipUnreadable, communicator: comm, threads: threads, onBatch: describe)
                        else { return try VGGToolCommand.onRankZero(comm) {} }
                        r = report
                    } else if let comm, comm.rank != 0 {
                        return try VGGToolCommand.onRankZero(comm) {}  // --input batches: rank 0's alone
                    } else {
                        r = try predict(modelPath: model, images: images, npyInputs: npyInputs, inputSize: image.inputSize, batchSize: batchSize,
                                        interpolation: image.interpolation, exifOrientation: image.exifOrientation, outputPath: output,
                                        skipUnreadable: skipUnreadable, precision: precision.precision, onBatch: describe)
                    }
                } catch var e as ToolError {
                    if case .unreadableImages = e.kind { e.message += " (--skip-unreadable writes the others and lists them)" }
                    throw e
                } catch let e as ClusterError where e.isAgreedFailure && e.message.hasSuffix("would no longer match the inputs") {
                    var e = e
                    e.message += " (--skip-unreadable writes the others and lists them)"
                    throw e
                }
                try VGGToolCommand.onRankZero(comm) {
                    // One unreadable image among none readable: a single error line naming it; otherwise each skip
                    // is reported on its own line and the run ends with a count.
                    if r.skipped.count == 1 && r.inputs.isEmpty {
                        throw ToolError(r.skipped[0].path, .unreadableImages(skipped: 1, total: 1), r.skipped[0].reason)
                    }
                    for s in r.skipped { FileHandle.standardError.write(Data("vggtool: skipped \(s.path): \(s.reason)\n".utf8)) }
                    if let first = r.rowShapes.first {
                        for row in rows {
                            switch row {
                            case .top(let name, let top, let units):
                                if let names = r.classNames, names.count == units {
                                    print("\(name): " + top.map { String(format: "%@ %.4f", names[$0.index], $0.value) }.joined(separator: ", "))
                                } else {
                                    print("\(name): " + top.map { String(format: "[%d] %.4f", $0.index, $0.value) }.joined(separator: ", "))
                                }
                            case .range(let name, let text): print("\(name): \(text)")
                            }
                        }
                        if let output {
                            let shape = { (row: [Int]) in [r.inputs.count] + row }
                            print(r.rowShapes.count == 1 ? "wrote \(output) (shape \(shape(first.shape)))"
                                  : "wrote \(output) (" + r.rowShapes.map { "\($0.name) \(shape($0.shape))" }.joined(separator: ", ") + ")")
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
}
