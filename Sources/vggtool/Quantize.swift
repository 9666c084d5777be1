import ArgumentParser
import Foundation
import Runtime
import VGGTool

extension CalibrationMethod: ExpressibleByArgument {}

extension VGGToolCommand {
    struct Quantize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Quantize a model's Conv2D, Conv1D and Dense layers to int8 from calibration images or batches.",
            discussion: """
            Symmetric per-output-channel int8 weights; each layer's input range from the calibration images \
            (streamed in batches: only per-layer histograms are kept), or for a model that does not take images \
            from preprocessed .npy batches (--calibration-input, once per model input as predict --input reads \
            them, --images then counting rows), chosen by --method (the largest |x| by \
            default; see docs/precision.md). Each layer's int8 output is then compared with float32 on the first \
            --measure-images images (a 3x3 stride-1 convolution in its direct and int8 Winograd forms, F(2x2) and, \
            up to 64 input channels, F(4x4): the largest error counts): layers whose relative error exceeds --max-layer-error stay float32. Prints \
            the per-layer report. The output is a .vggm of format 1.3; predict, evaluate and bench run it in int8 \
            (--precision int8, their default for such a file). The same inputs give the same bytes.
            """)

        @Argument(help: "The .vggm model.") var model: String
        @Option(help: ArgumentHelp("Folder of calibration images (any depth; jpg, jpeg, png, bmp, gif).", valueName: "DIR")) var calibration: String?
        @Option(name: .customLong("calibration-input"), help: ArgumentHelp("A preprocessed float32 calibration batch instead of images; repeat it once per model input, in the model's input order.", valueName: "X.npy")) var calibrationInputs: [String] = []
        @Option(help: "Calibration images (or .npy rows) to use at most, taken evenly through the sorted list (default: all).") var images: Int?
        @Option(help: "Input height and width (square), for models without one.") var inputSize: Int?
        @Option(help: "How input ranges are chosen: minmax (the largest |x|), percentile (of |x|) or mse.") var method: CalibrationMethod = .minmax
        @Option(help: "The percentile of |x| kept by --method percentile.") var percentile: Double = 99.99
        @Option(help: "Largest relative RMS error of a layer's int8 output kept int8.") var maxLayerError: Double = 0.05
        @Option(help: "Images (or .npy rows) the per-layer errors are measured on.") var measureImages: Int = 16
        @Option(help: "Images (or .npy rows) per batch.") var batchSize: Int = 8
        @Option(name: .shortAndLong, help: ArgumentHelp("The int8 model to write.", valueName: "MODEL.int8.vggm")) var output: String
        @Flag(name: .shortAndLong, help: "No progress bar (drawn only when stdout is a terminal).") var quiet = false

        func validate() throws {
            if calibration == nil && calibrationInputs.isEmpty { throw ValidationError("no calibration data: give --calibration DIR or --calibration-input X.npy") }
            if calibration != nil && !calibrationInputs.isEmpty { throw ValidationError("give --calibration or --calibration-input, not both") }
            if inputSize != nil && calibration == nil { throw ValidationError("--input-size applies to calibration images only") }
            if let images, images < 1 { throw ValidationError("--images must be positive, got \(images)") }
            if let inputSize, inputSize < 1 { throw ValidationError("--input-size must be positive, got \(inputSize)") }
            guard percentile > 0, percentile <= 100 else { throw ValidationError("--percentile must be in (0, 100], got \(percentile)") }
            guard maxLayerError >= 0 else { throw ValidationError("--max-layer-error must not be negative") }
            guard measureImages >= 0 else { throw ValidationError("--measure-images must not be negative") }
            guard (1...4096).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 4096, got \(batchSize)") }
        }

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: true) {
                if let note = Precision.int8.fallbackNote { FileHandle.standardError.write(Data("vggtool: \(note)\n".utf8)) }
                let options = QuantizationOptions(method: method, percentile: percentile, maxLayerError: maxLayerError)
                let bar = ProgressBar("calibrating", unit: .items(calibration == nil ? "rows" : "images"), enabled: ProgressBar.shouldDraw(quiet: quiet))
                let r = try calibration.map {
                    try quantize(modelPath: model, calibrationDir: $0, output: output, images: images, inputSize: inputSize,
                                 batchSize: batchSize, measureImages: measureImages, options: options, progress: bar.update)
                } ?? quantize(modelPath: model, calibrationInputs: calibrationInputs, output: output, rows: images, batchSize: batchSize,
                              measureRows: measureImages, options: options, progress: bar.update)
                bar.finish()
                for s in r.skipped { FileHandle.standardError.write(Data("vggtool: skipped \(s.path): \(s.reason)\n".utf8)) }
                print(r.text())
                print("wrote \(output)")
            }
        }
    }
}
