import ArgumentParser
import Foundation
import ImageData
import KerasImport
import ModelFile
import ModelGraph
import Runtime
import Training
import VGGTool

// The library's choices as option values (`--dtype f16`, `--pooling avg`, ...): each lists its values in help.
extension Architecture: ExpressibleByArgument {}
extension TensorDType: ExpressibleByArgument {
    // int8 tensors are made by `vggtool quantize`, not by a storage type.
    public init?(argument: String) {
        guard let v = TensorDType(rawValue: argument), v != .i8 else { return nil }
        self = v
    }
    public static var allValueStrings: [String] { allCases.filter { $0 != .i8 }.map(\.rawValue) }
}
extension Precision: ExpressibleByArgument {}
extension SummaryStyle: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}
extension PreprocessingChoice: ExpressibleByArgument {}
extension Interpolation: ExpressibleByArgument {}
extension ExifOrientation: ExpressibleByArgument {}
extension HeadPooling: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension Augmentation: ExpressibleByArgument {}

/// A comma-separated list (`a,b,c`) of `Element` values; spaces around an element are ignored and empty
/// elements dropped. A value that is not an `Element` makes the whole option invalid.
struct CommaSeparated<Element: ExpressibleByArgument>: ExpressibleByArgument {
    var elements: [Element]

    init(_ elements: [Element]) { self.elements = elements }

    init?(argument: String) {
        var elements: [Element] = []
        for part in argument.split(separator: ",") {
            guard let e = Element(argument: part.trimmingCharacters(in: .whitespaces)) else { return nil }
            elements.append(e)
        }
        self.elements = elements
    }

    var defaultValueDescription: String { elements.map(\.defaultValueDescription).joined(separator: ",") }
}

/// A size in bytes: a whole number with an optional binary suffix K, M or G (KiB, MiB, GiB; `B` after it
/// allowed, any case): `512M`, `2G`, `1048576`.
struct ByteSize: ExpressibleByArgument {
    var bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        var text = argument.trimmingCharacters(in: .whitespaces).uppercased()
        if text.hasSuffix("B") { text.removeLast() }
        var shift = 0
        switch text.last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        default: break
        }
        if shift > 0 { text.removeLast() }
        guard let n = Int(text), n >= 0, n <= (Int.max >> 31) else { return nil }
        bytes = n << shift
    }

    var defaultValueDescription: String {
        bytes % (1 << 30) == 0 && bytes > 0 ? "\(bytes >> 30)G" : bytes % (1 << 20) == 0 && bytes > 0 ? "\(bytes >> 20)M" : "\(bytes)"
    }
}

/// Options that say which architecture a weights-only file has and which input shape to use.
struct ModelOptions: ParsableArguments {
    @Option(help: "Built-in architecture for weights-only files: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")). Detected when unambiguous.")
    var arch: Architecture?

    @Option(name: .customLong("config"), help: "Keras model JSON (model.to_json()) giving the architecture of a weights-only file.")
    var configPath: String?

    @Option(help: ArgumentHelp("Input shape H,W,C replacing the model's (e.g. 250,250,3).", valueName: "H,W,C"))
    var inputShape: CommaSeparated<Int>?

    func validate() throws {
        if let inputShape, inputShape.elements.count != 3 || !inputShape.elements.allSatisfy({ (1...(1 << 20)).contains($0) }) {
            throw ValidationError("--input-shape must be three positive integers H,W,C, got '\(inputShape.defaultValueDescription)'")
        }
    }

    /// The import options; reads the `--config` file.
    func options() throws -> KerasFile.Options {
        var json: String? = nil
        if let configPath {
            guard let data = FileManager.default.contents(atPath: configPath) else { throw ToolError(configPath, .unreadable, "cannot be read") }
            json = String(decoding: data, as: UTF8.self)
        }
        return KerasFile.Options(architecture: arch, configJSON: json, inputShape: inputShape?.elements.map { $0 })
    }
}

/// How images become the model's input: the square size (`--input-size`), the resizing and the EXIF orientation.
struct ImageOptions: ParsableArguments {
    @Option(help: "Input height and width (square), replacing or supplying the model's.")
    var inputSize: Int?

    @Option(help: "bilinear (image_dataset_from_directory) or nearest (load_img).")
    var interpolation: Interpolation = .bilinear

    @Option(help: exifOrientationHelp)
    var exifOrientation: ExifOrientation = .ignore

    func validate() throws {
        if let inputSize, inputSize < 1 { throw ValidationError("--input-size must be positive, got \(inputSize)") }
    }
}

/// `--exif-orientation`'s help, shared by the commands that read images.
let exifOrientationHelp = ArgumentHelp(
    "ignore (Keras's view) or apply (upright, as photo viewers show).",
    discussion: "Keras ignores a JPEG's EXIF orientation (image_dataset_from_directory and load_img read the pixels as stored), so a model trained in Keras on phone photos saw them sideways; ignore gives the model the same pixels. apply rotates and flips them upright as the camera intended.")

/// `--precision`: the arithmetic of the convolution and dense products (docs/precision.md).
struct PrecisionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("fp32, bf16 or int8 (int8 needs a model made by `vggtool quantize`). Default: int8 for such a model, else fp32.",
                               valueName: "fp32|bf16|int8"))
    var precision: Precision?

    /// Prints the one-line note when the mode the model will run in is emulated on this CPU.
    func announce(model: String) {
        let effective = precision ?? ((try? VGGMFile(path: model)).map(defaultPrecision) ?? .fp32)
        if let note = effective.fallbackNote { FileHandle.standardError.write(Data("vggtool: \(note)\n".utf8)) }
    }
}

/// `--algorithm`: how convolutions are computed (`Engine.Options.convolution`).
enum AlgorithmOption: String, ExpressibleByArgument, CaseIterable {
    case measured, im2col
    case winograd2x2 = "winograd-2x2"
    case winograd4x4 = "winograd-4x4"
    case winograd6x6 = "winograd-6x6"

    var choice: ConvolutionChoice {
        switch self {
        case .measured: .measured
        case .im2col: .fixed(.im2col)
        case .winograd2x2: .fixed(.winograd2x2)
        case .winograd4x4: .fixed(.winograd4x4)
        case .winograd6x6: .fixed(.winograd6x6)
        }
    }
}
