import ArgumentParser
import Foundation
import VGGTool

extension VGGToolCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure inference speed and memory of a .vggm model on this machine.",
            discussion: """
            Runs seeded random input of the model's geometry (or --input-size) through the runtime: one warm-up \
            batch, then at least 3 batches and 3 seconds. Reports images/s (median batch time), effective GFLOP/s \
            (2 x the multiply-adds of a direct convolution, as Keras counts them) and peak resident memory. A model \
            that does not take images (a sequence or a table, one input or several) gets seeded batches of its \
            inputs' declared shapes (--input-size for any dimension of any size; indices below the vocabulary \
            for an input read by an Embedding layer) and reports samples/s.
            """)

        @Argument(help: "The .vggm file.") var model: String
        @Option(help: "Input height and width (square), for models that accept any size; for other models, every input dimension of any size.") var inputSize: Int?
        @Option(help: "Images (or samples) per batch.") var batch: Int = 1
        @Option(help: "Worker threads (default: all cores).") var threads: Int?
        @Flag(help: "Also time every layer (with each convolution's algorithm and GFLOP/s; a layer fused into another, such as a pooling into an int8 Winograd convolution, listed under it).") var layers = false
        @Option(help: "Convolution algorithm: measured (the fastest per layer, remembered in ~/.cache/vggtool), or im2col, winograd-2x2, winograd-4x4, winograd-6x6 wherever it applies.")
        var algorithm: AlgorithmOption = .measured
        @OptionGroup var precision: PrecisionOptions
        @Flag(help: "Print JSON (keys images_per_second, gflops_per_second, peak_rss_bytes, ...).") var json = false

        func validate() throws {
            if let inputSize, inputSize < 1 { throw ValidationError("--input-size must be positive, got \(inputSize)") }
            guard (1...4096).contains(batch) else { throw ValidationError("--batch must be between 1 and 4096, got \(batch)") }
        }

        func run() throws {
            try VGGToolCommand.guarded {
                precision.announce(model: model)
                let r = try bench(modelPath: model, inputSize: inputSize, batch: batch, threads: threads, layers: layers, convolution: algorithm.choice,
                                  precision: precision.precision)
                print(json ? try r.json() : r.text())
            }
        }
    }
}
