import Foundation
import KerasImport
import ModelFile
import ModelGraph

/// vggtool's version, recorded as the converter in every `.vggm`.
public let vggtoolVersion = "0.1.0"

/// What `convert` did.
public struct ConvertReport: Sendable {
    /// The source file's path.
    public var input: String
    /// The written `.vggm`'s path.
    public var output: String
    /// The source's Keras layout, described (`KerasLayout`'s raw value).
    public var layout: String
    /// The `keras_version` the source recorded, if any.
    public var kerasVersion: String?
    /// Where the architecture came from: the file's config, a given config, or a built-in architecture.
    public var architectureSource: String
    /// Number of layers in the graph.
    public var layers: Int
    /// Number of parameters (weight elements, not bytes).
    public var params: Int
    /// Number of tensors written.
    public var tensors: Int
    /// Size of the written file in bytes.
    public var bytesWritten: Int
    /// Wall-clock seconds the conversion took.
    public var seconds: Double
    /// Things the caller should know (conversions done, assumptions made, weights left out).
    public var notes: [String]
}

/// Preprocessing choice for convert.
public enum PreprocessingChoice: String, CaseIterable, Sendable {
    /// `caffe` for VGG models (named `vgg...` or with keras.applications' `block1_conv1`), else none.
    case auto
    /// `keras.applications.vgg16.preprocess_input`: RGB to BGR, ImageNet channel means subtracted.
    case caffe
    /// No preprocessing recorded: images reach the network as RGB 0...255.
    case none

    func resolve(for graph: ModelGraph) -> Preprocessing? {
        switch self {
        case .caffe: return .caffe
        case .none: return nil
        case .auto:
            // VGG16/VGG19 and models built on them (keras.applications layer names) use 'caffe' mode.
            let vggLike = graph.name.lowercased().hasPrefix("vgg") || graph.layers.contains { $0.name == "block1_conv1" }
            return vggLike ? .caffe : nil
        }
    }
}

/// Converts any Keras model or weights file to `.vggm`. The source's SHA-256 is computed on the second
/// core while the tensors are copied. With `isolation`, libhdf5 parses the file's structure in a child
/// process first (`HDF5Isolation`).
public func convert(input: String, output: String, options: KerasFile.Options, dtype: TensorDType = .f32,
                    preprocessing: PreprocessingChoice = .auto, classNames: [String]? = nil,
                    hashSource: Bool = true, isolation: HDF5Isolation? = nil,
                    progress: ((_ bytesDone: Int, _ bytesTotal: Int) -> Void)? = nil) throws -> ConvertReport {
    let start = Date()
    if let problem = InputFile.notRegular(input) { throw ToolError(input, .unreadable, problem) }
    let hashBox = HashBox()
    let group = DispatchGroup()
    if hashSource {
        DispatchQueue.global().async(group: group) { hashBox.set(Result { try sha256Hex(ofFile: input, cancelled: hashBox.isCancelled) }) }
    } else {
        hashBox.set(.success(""))  // recorded as "" (not computed); see docs/vggm-format.md
    }
    // Never leave the hashing thread running past this function (exit would tear libcrypto down under it).
    defer { hashBox.cancel(); group.wait() }

    let model = try KerasFile(path: input, options: try isolation?.probe(input, options: options) ?? options)
    let analysis = try model.graph.analyze()
    let inputShape = model.graph.layers.compactMap(\.op.inputShape).first ?? []
    let payloads = model.tensors.map { t in TensorPayload(name: t.name, shape: t.shape, rawLocation: t.rawLocation, fill: t.read) }
    if let classNames, let last = analysis.info(model.graph.outputs[0])?.outputShape.last, let n = last, n != classNames.count {
        throw ToolError(input, .classNamesMismatch(given: classNames.count, outputs: n), "\(classNames.count) class names given, the model outputs \(n) values")
    }
    // The time the conversion started writing, taken now: formatting it loads the time zone (a few ms) while
    // the hash still has the other core, instead of after the hash, when the commit is waiting for it.
    let created = ISO8601DateFormatter().string(from: Date())
    let provenance = { () throws -> Provenance in
        group.wait()  // the hash runs on the other core while the tensors are copied
        return Provenance(sourceFile: URL(fileURLWithPath: input).lastPathComponent, sourceSHA256: try hashBox.get(),
                          sourceLayout: model.layout.rawValue, kerasVersion: model.kerasVersion,
                          converter: "vggtool \(vggtoolVersion)", created: created)
    }
    var notes = model.notes
    if dtype != .f32 { notes.append("tensors stored as \(dtype.rawValue) (rounded from float32)") }
    let stats = try VGGMWriter.write(to: output, graph: model.graph, inputShape: inputShape,
                                     preprocessing: preprocessing.resolve(for: model.graph), classNames: classNames,
                                     provenance: provenance, tensors: payloads, dtype: dtype, progress: progress)
    return ConvertReport(input: input, output: output, layout: model.layout.rawValue, kerasVersion: model.kerasVersion,
                         architectureSource: model.architectureSource, layers: model.graph.layers.count,
                         params: analysis.totalParams, tensors: stats.tensors, bytesWritten: stats.bytes,
                         seconds: Date().timeIntervalSince(start), notes: notes)
}

final class HashBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<String, Error>?
    private var cancelledFlag = false
    func cancel() { lock.lock(); cancelledFlag = true; lock.unlock() }
    func isCancelled() -> Bool { lock.lock(); defer { lock.unlock() }; return cancelledFlag }
    func set(_ r: Result<String, Error>) { lock.lock(); result = r; lock.unlock() }
    func get() throws -> String { lock.lock(); defer { lock.unlock() }; return try result!.get() }
}

/// The default output path: the input's path with its Keras extension(s) replaced by `.vggm`.
public func defaultOutputPath(for input: String) -> String {
    var base = input
    for ext in [".weights.h5", ".h5", ".hdf5", ".keras"] where base.lowercased().hasSuffix(ext) {
        base = String(base.dropLast(ext.count))
        break
    }
    return base + ".vggm"
}

/// Any model file vggtool reads, opened for its graph: `.vggm` (validated) or a Keras file (parsed in a child
/// process first with `isolation`).
public func loadAnalysis(path: String, options: KerasFile.Options, isolation: HDF5Isolation? = nil) throws -> GraphAnalysis {
    if isVGGM(path) {
        let file = try VGGMFile(path: path)
        guard let shape = options.inputShape else { return file.analysis }
        return try analyzed(file.graph.withInputShape(shape), file: path)
    }
    let model = try KerasFile.graphOnly(path: path, options: try isolation?.probe(path, options: options) ?? options)
    return try analyzed(model.graph, file: path, storedWeights: model.storedWeights)
}

func analyzed(_ graph: ModelGraph, file: String, storedWeights: [String: [WeightSpec]] = [:]) throws -> GraphAnalysis {
    do { return try graph.analyze(storedWeights: storedWeights) } catch let e as GraphError { throw ToolError(file, .invalidGraph(e), e.description) }
}

/// True when the file starts with the `.vggm` magic.
public func isVGGM(_ path: String) -> Bool {
    if InputFile.notRegular(path) != nil { return false }  // the Keras reader then names the problem
    guard let fh = FileHandle(forReadingAtPath: path) else { return path.hasSuffix(".vggm") }
    defer { try? fh.close() }
    return (try? fh.read(upToCount: 8)).map { Array($0) == VGGMFormat.magic } ?? false
}
