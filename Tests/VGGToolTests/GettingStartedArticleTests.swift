import Foundation
import KerasImport
import ModelFile
import ModelGraph
import Runtime
import Training
import VGGTool

// The code of Sources/VGGTool/VGGTool.docc/GettingStarted.md, compiled with the tests (never run: the files
// it names are examples), so the article breaks the build when the API it shows changes.
private func gettingStartedArticle() throws {
    // Open a model
    let model = try Model(contentsOf: URL(fileURLWithPath: "vgg16.h5"))
    print(model.inputShape)
    print(model.analysis.totalParams, model.analysis.totalMACs)
    let notop = try Model(contentsOf: URL(fileURLWithPath: "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
                          options: Model.Options(architecture: .vgg16Notop, inputShape: [224, 224, 3]))
    _ = notop

    // Print its summary
    print(model.summary())
    print(model.summary(style: .keras2))

    // Classify images
    for guess in try model.classify(imageAt: URL(fileURLWithPath: "cat.jpg"), top: 3) {
        print(guess.label ?? "class \(guess.index)", guess.probability)
    }
    let batch = Tensor(shape: [1, 224, 224, 3], values: [Float](repeating: 0, count: 224 * 224 * 3))
    let features = try model.predict(batch, outputs: ["block5_pool"])[0]
    _ = features

    // Convert to .vggm
    let report = try Model.convert(URL(fileURLWithPath: "vgg16.h5"), to: URL(fileURLWithPath: "vgg16.vggm"))
    print(report.tensors, "tensors,", report.bytesWritten, "bytes")
    let half = try Model.convert(URL(fileURLWithPath: "vgg16.h5"), to: URL(fileURLWithPath: "vgg16-f16.vggm"), dtype: .f16)
    _ = half

    // Fine-tune
    var options = FineTuneOptions()
    options.inputSize = 128
    options.head = [256]
    options.epochs = 5
    let result = try model.fineTune(on: URL(fileURLWithPath: "flowers"), saveTo: URL(fileURLWithPath: "flowers.vggm"),
                                    options: options) { event in
        if case .epochEnded(let record, let epochs) = event {
            print("epoch \(record.epoch)/\(epochs): loss \(record.loss), val_loss \(record.valLoss ?? .nan)")
        }
    }
    let tuned = try Model(contentsOf: URL(fileURLWithPath: result.output))
    print(tuned.classNames ?? [])
}
