import Foundation
import VGGTool

// classify-image MODEL IMAGE: the five most likely classes of IMAGE under MODEL (any Keras file or a .vggm).
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: classify-image MODEL IMAGE\n".utf8))
    exit(2)
}
do {
    let model = try Model(contentsOf: URL(fileURLWithPath: arguments[1]))
    for guess in try model.classify(imageAt: URL(fileURLWithPath: arguments[2])) {
        print(String(format: "%-24@ %.4f", guess.label ?? "class \(guess.index)", guess.probability))
    }
} catch {
    FileHandle.standardError.write(Data("classify-image: \(error)\n".utf8))
    exit(1)
}
