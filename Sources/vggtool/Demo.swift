import ArgumentParser
import Foundation
import ImageData
import KerasImport
import ModelFile
import ModelGraph
import Training
import VGGTool

extension VGGToolCommand {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The end-to-end demo: a full-size VGG16 .h5 (seeded weights) converted, summarized, verified, run and benchmarked, then fine-tuned and evaluated on Fashion-MNIST images.",
            discussion: """
            Real ImageNet weights cannot be downloaded on an offline machine, so the demo writes a full-size VGG16 \
            (138,357,544 parameters) in tf.keras's model.save layout with vggtool's own HDF5 writer and seeded \
            random weights. Run the same steps on a real file with: vggtool convert vgg16_weights_tf_dim_ordering_tf_kernels.h5
            """)

        @Option(help: "Working directory for the demo files.") var dir = "vggtool-demo"
        @Option(help: "Seed for the weights.") var seed: UInt64 = 16
        @Option(help: "Fine-tuning epochs.") var epochs: Int = 5

        func validate() throws {
            guard epochs >= 1 else { throw ValidationError("--epochs must be positive, got \(epochs)") }
        }

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: true) {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let h5 = dir + "/vgg16_demo.h5"
                let out = dir + "/vgg16_demo.vggm"
                var t = Date()
                print("== writing \(h5): VGG16 with top, tf.keras model.save layout, seeded weights")
                try writeDemoVGG16(path: h5, seed: seed)
                print("   \(fileSize(h5)) bytes in \(String(format: "%.2f", Date().timeIntervalSince(t))) s")
                print("== vggtool convert \(h5)")
                let r = try convert(input: h5, output: out, options: KerasFile.Options(), isolation: VGGToolCommand.isolation)
                print("   \(r.layout), \(r.layers) layers, \(r.params) parameters -> \(out) (\(r.bytesWritten) bytes) in \(String(format: "%.2f", r.seconds)) s")
                print("== vggtool summary \(out)")
                let analysis = try loadAnalysis(path: out, options: KerasFile.Options(), isolation: VGGToolCommand.isolation)
                print(analysis.summary(style: .keras2), terminator: "")
                t = Date()
                let graphPage = dir + "/vgg16_demo.graph.html"
                print("== vggtool graph \(out) -o \(graphPage) --flops")
                try AtomicFile.write(Array(GraphPage.render(modelPath: out, flops: true, format: .html).utf8), to: graphPage)
                print("   the layer graph with each layer's config and weight statistics: open it in a browser")
                t = Date()
                print("== vggtool verify \(out)")
                let f = try VGGMFile(path: out)
                let bad = f.verifyTensors()
                guard bad.isEmpty else { throw ToolError(out, .checksumMismatch(tensors: bad), "verification failed: \(bad)") }
                print("   OK: \(f.manifest.tensors.count) tensors, every checksum matches (\(String(format: "%.2f", Date().timeIntervalSince(t))) s)")

                // Real images: Fashion-MNIST from Debian's dataset-fashion-mnist, written as a user's folder would be.
                let samples = dir + "/fashion-mnist-samples"
                let data = try FashionMNIST(split: "t10k")
                try data.writeClassFolders(root: samples, classes: [0, 7, 9], perClass: 1)
                let files = try ImageFolder(root: samples).items.map(\.path)
                print("== vggtool predict \(out) <\(files.count) Fashion-MNIST images> --top-k 3")
                print("   (seeded random weights: the ImageNet classes are arbitrary; with the real weights they are not)")
                let p = try predict(modelPath: out, images: files, npyInputs: [], inputSize: nil)
                if let y = p.outputs, let names = p.classNames {
                    for (i, file) in p.inputs.enumerated() {
                        let row = y.values[(i * 1000)..<((i + 1) * 1000)]
                        let top = VGGTool.topK(row, 3).map { String(format: "%@ %.4f", names[$0.index], $0.value) }
                        print("   \(file): \(top.joined(separator: ", "))")
                    }
                }
                print("== vggtool bench \(out) --batch 1")
                let b = try bench(modelPath: out, inputSize: nil, batch: 1, minRuns: 3, minSeconds: 2)
                // (peak memory is left out here: this process also wrote and converted the model)
                print(b.text().split(separator: "\n").filter { !$0.hasPrefix("peak memory") }.map { "   " + $0 }.joined(separator: "\n"))

                // Transfer learning on real images: two Fashion-MNIST classes as a user's folders would be.
                let train = dir + "/fashion-mnist-train", val = dir + "/fashion-mnist-val"
                try? FileManager.default.removeItem(atPath: train)
                try? FileManager.default.removeItem(atPath: val)
                let trainSet = try FashionMNIST(split: "train")
                try trainSet.writeClassFolders(root: train, classes: [0, 1], perClass: 100)
                try data.writeClassFolders(root: val, classes: [0, 1], perClass: 50, skipping: 10)
                let tuned = dir + "/vgg16_fashion.vggm"
                print("== vggtool finetune \(out) --data \(train) --val \(val) -o \(tuned) --epochs \(epochs) --lr 1e-4")
                print("   (the recipe: input 250x250, frozen base, Flatten -> Dense 1024, 1024, 4096 -> softmax, Adam 1e-4; 200 training, 100 validation images)")
                var o = FineTuneOptions()
                o.epochs = epochs
                o.learningRate = 1e-4
                o.validationDir = val
                o.validationSplit = 0
                o.seed = seed
                // The epoch lines only: the summary was shown above, checkpoints go to one file.
                let report = FineTuneReport(line: { print("   " + $0) }, showsSummary: false, showsCheckpoints: false)
                let ft = try fineTune(basePath: out, dataDir: train, output: tuned, options: o, events: report.show)
                print("   best epoch \(ft.bestEpoch ?? 0) -> \(tuned)")
                print("== vggtool evaluate \(tuned) --data \(val)")
                let e = try evaluate(modelPath: tuned, dataDir: val)
                print(e.text().split(separator: "\n").map { "   " + $0 }.joined(separator: "\n"))
                let reportPage = dir + "/vgg16_fashion.report.html"
                print("== the report: \(reportPage) (finetune --report; vggtool report \(tuned) -o ... rebuilds it)")
                let reportData = ReportData(commandLine: CommandLine.arguments, training: ReportData.training(ft), evaluation: ReportData.evaluation(e, folder: val))
                try reportData.write(to: ReportData.path(beside: tuned))
                try AtomicFile.write(Array(ReportPage.render(reportData, model: try VGGMFile(path: tuned), title: "vgg16_fashion.vggm").utf8), to: reportPage)
                print("   loss and accuracy per epoch, the confusion matrix, the most confidently wrong images, times and provenance")
            }
        }

        func fileSize(_ p: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
    }
}
