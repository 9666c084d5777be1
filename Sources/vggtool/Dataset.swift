import ArgumentParser
import ImageData
import VGGTool

extension VGGToolCommand {
    struct Dataset: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write Fashion-MNIST (Debian's dataset-fashion-mnist) as class folders of PNG images.",
            discussion: "Classes: \(FashionMNIST.classNames.joined(separator: ", ")). Images are taken in file order.")

        enum Name: String, ExpressibleByArgument, CaseIterable { case fashionMNIST = "fashion-mnist" }
        enum Split: String, ExpressibleByArgument, CaseIterable { case train, t10k }

        @Argument(help: "The dataset.") var name: Name
        @Option(help: ArgumentHelp("Classes to write.", valueName: "a,b,...")) var classes = CommaSeparated<String>(["T-shirt_top", "Trouser"])
        @Option(help: "Images per class.") var perClass: Int = 100
        @Option(help: "Skip this many images of each class first (e.g. to keep sets apart).") var skip: Int = 0
        @Option(help: "The training (train) or test (t10k) images.") var split: Split = .train
        @Option(help: "Where the IDX files are.") var source: String = FashionMNIST.defaultDirectory
        @Option(name: .shortAndLong, help: "Output folder.") var output: String

        func validate() throws {
            for c in classes.elements where !FashionMNIST.classNames.contains(c) {
                throw ValidationError("--classes: unknown class '\(c)' (\(FashionMNIST.classNames.joined(separator: ", ")))")
            }
        }

        func run() throws {
            try VGGToolCommand.guarded(writesFiles: true) {
                let indices = classes.elements.map { FashionMNIST.classNames.firstIndex(of: $0)! }
                let data = try FashionMNIST(directory: source, split: split.rawValue)
                let n = try data.writeClassFolders(root: output, classes: indices, perClass: max(0, perClass), skipping: max(0, skip))
                print("wrote \(n) images in \(indices.count) class folders under \(output)")
            }
        }
    }
}
