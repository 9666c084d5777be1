import CBLAS
import CKernels
import Dispatch
import Foundation
import ModelFile
import ModelGraph

/// A dense float32 tensor (NHWC for images), owned.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first (`[N, H, W, C]` for a batch of images, `[N, classes]` for scores).
    public var shape: [Int]
    /// The elements in row-major (C) order; `values.count` is the product of `shape`.
    public var values: [Float]
    /// A tensor from its shape and values; their counts must agree (a precondition).
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape does not match values")
        self.shape = shape
        self.values = values
    }
    /// Number of elements (not bytes).
    public var count: Int { values.count }
}

/// A runtime failure: the model file, the layer at fault (when there is one), what kind of failure it is and
/// why. `description` is one line: `file: layer 'name': message`.
public struct RuntimeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on; `message` says it in words.
    public enum Kind: Sendable, Equatable {
        /// This many inputs were given, not one per model input.
        case unsupportedInputCount(Int)
        /// A layer of this Keras class has no runtime kernel (the layer is `layer`).
        case unsupportedLayer(className: String)
        /// The input is not a batch of images (N, H, W, C) with positive sizes: its shape.
        case badInputShape([Int])
        /// The input's size does not fit the model (the `GraphError` names the layer where it stops fitting).
        case inputDoesNotFit(height: Int, width: Int, channels: Int, GraphError)
        /// The input buffer holds `actual` values where the plan expects `expected`.
        case inputCountMismatch(expected: Int, actual: Int)
        /// An output was asked of a layer the model does not have.
        case noSuchLayer(String)
        /// A layer's weight is missing from the model file.
        case missingWeight(layer: String, weight: String)
        /// A layer's configuration cannot be run at this input (a softmax axis out of range).
        case invalidLayerConfig
        /// The layer's class runs, but not with this setting (bicubic upsampling, a dilated transposed
        /// convolution): the setting, in Keras's words.
        case unsupportedSetting(String)
        /// An input value the layer cannot take (an Embedding id outside its vocabulary).
        case badInputValue
    }

    /// The model file.
    public var file: String
    /// The layer at fault, when there is one.
    public var layer: String?
    /// What kind of failure it is.
    public var kind: Kind
    /// Why, in words.
    public var message: String

    /// A failure of `kind` running `file` (at `layer`, when given), with `message` saying why.
    public init(file: String, layer: String? = nil, _ kind: Kind, _ message: String) {
        self.file = file
        self.layer = layer
        self.kind = kind
        self.message = message
    }

    /// `file: layer 'name': message` (without the layer when there is none).
    public var description: String { "\(file): " + (layer.map { "layer '\($0)': " } ?? "") + message }
}

/// Executes a `.vggm` model on the CPU. Weights are used in place from the file's mapping (float32), or
/// converted once (f16/bf16). An execution plan is built once per input geometry (batch, height, width) and
/// reused: activation buffers are planned ahead and shared between layers whose lifetimes do not overlap,
/// so running a batch allocates nothing per layer.
///
/// Work is split across `threads` worker threads by the runtime itself (row or tile ranges); OpenBLAS is
/// set to one thread so the two never oversubscribe the cores.
public final class Engine: @unchecked Sendable {
    /// How the engine runs a model: threads and algorithm choices, fixed when it is made.
    public struct Options: Sendable, Hashable {
        /// Worker threads (default: the machine's active processors).
        public var threads: Int?
        /// Use Winograd F(2x2,3x3) for 3x3 stride-1 convolutions (otherwise im2col + GEMM everywhere).
        public var winograd: Bool
        /// Keep each layer's Winograd-transformed kernel from the plan's second run on (16/9, 36/9 or 64/9
        /// the size of the 3x3 kernel for F(2x2), F(4x4), F(6x6): 105-235 MB for VGG16) instead of
        /// transforming it on every call, which costs ~15% at batch 1. The first run transforms into scratch,
        /// so one run alone never holds them all.
        public var cacheWinogradKernels: Bool
        /// Fewest input channels for which Winograd is used (below it, im2col's GEMM is as cheap).
        public var winogradMinChannels: Int
        /// Record each layer's wall time on every run (`layerTimes`).
        public var timeLayers: Bool
        /// How each convolution's algorithm is chosen among those that apply (default: measured). The
        /// environment variable `VGGTOOL_CONV_ALGORITHM` (`im2col`, `winograd-2x2`, `winograd-4x4`, `winograd-6x6`) overrides
        /// `.measured` with that fixed choice.
        public var convolution: ConvolutionChoice
        /// Where measured choices are remembered between processes.
        public var algorithmCache: AlgorithmCacheLocation
        /// The arithmetic of convolution and dense products (docs/precision.md): `int8` needs a file made by
        /// `vggtool quantize`.
        public var precision: Precision = .fp32

        /// The defaults: all processors, Winograd with cached kernels from 16 input channels, each
        /// convolution's algorithm measured (and remembered on disk), no timing, float32.
        public init(threads: Int? = nil, winograd: Bool = true, cacheWinogradKernels: Bool = true, winogradMinChannels: Int = 16,
                    timeLayers: Bool = false, convolution: ConvolutionChoice = .measured,
                    algorithmCache: AlgorithmCacheLocation = .standard, precision: Precision = .fp32) {
            self.threads = threads
            self.precision = precision
            self.winograd = winograd
            self.cacheWinogradKernels = cacheWinogradKernels
            self.winogradMinChannels = winogradMinChannels
            self.timeLayers = timeLayers
            self.convolution = convolution
            self.algorithmCache = algorithmCache
        }
    }

    /// The model it runs (its mapping holds the weights).
    public let model: VGGMFile
    /// The model's graph as it runs: nested models replaced by their layers (`ModelGraph.flattened()`).
    public let graph: ModelGraph
    /// The options it was made with.
    public let options: Options
    /// Worker threads the engine splits work over.
    public let threads: Int
    var winograd: Bool { options.winograd }
    var cacheWinogradKernels: Bool { options.cacheWinogradKernels }
    var winogradMinChannels: Int { options.winogradMinChannels }
    var timeLayers: Bool { options.timeLayers }
    var transformed: [String: UnsafeMutablePointer<Float>] = [:]
    let weights: [String: UnsafePointer<Float>]
    private var owned: [[Float]] = []
    private var plans: [PlanKey: Plan] = [:]
    /// Conv2D, Conv1D and Dense products packed for `options.precision` (bf16, int8), by layer, built with the plan.
    var lowpProducts: [String: LowpProduct] = [:]
    private let lock = NSLock()

    deinit { for p in transformed.values { p.deallocate() } }

    /// Frees the cached plan (its activation buffers and kernel scratch: ~0.7 GB for VGG16's convolutional
    /// part at 250x250 and batch 16) and the cached Winograd kernels; the next run builds them again. A plan's
    /// steps refer to their engine, so call this when done with an engine that has run: dropping the last
    /// reference to it alone does not free them.
    public func releaseMemory() {
        lock.lock()
        defer { lock.unlock() }
        plans = [:]
        fusedLayers = [:]
        lowpProducts = [:]
        for p in transformed.values { p.deallocate() }
        transformed = [:]
    }

    /// The transform of a layer's kernel for a Winograd algorithm, computed once (callers hold `lock`).
    func transformedKernel(_ layer: String, _ kernel: UnsafePointer<Float>, by conv: ConvolutionKernel) -> UnsafeMutablePointer<Float> {
        let key = "\(layer)#\(conv.algorithm.rawValue)"
        if let u = transformed[key] { return u }
        let u = UnsafeMutablePointer<Float>.allocate(capacity: conv.transformedFloats)
        conv.transform(kernel, into: u)
        transformed[key] = u
        return u
    }

    /// Runs of the current plan so far (callers hold `lock`): Winograd kernels are cached from the second on,
    /// so a single run (one `predict`) never holds all of them at once.
    var planRuns = 0

    /// Each convolution's algorithm in the plan built last, by layer name.
    public private(set) var convolutionAlgorithms: [String: ConvolutionAlgorithm] = [:]
    /// Choices made in this engine, by geometry key (callers hold `lock`).
    private var chosen: [String: ConvolutionAlgorithm] = [:]

    /// Layers the plan built last runs inside another layer's step (a MaxPooling2D fused into the int8
    /// Winograd convolution before it), each with that layer's name.
    public private(set) var fusedLayers: [String: String] = [:]
    func recordFusions(_ fused: [String: String]) { fusedLayers = fused }

    /// Records the algorithm a plan's step for `layer` uses.
    func recordAlgorithm(_ layer: String, _ algorithm: ConvolutionAlgorithm) { convolutionAlgorithms[layer] = algorithm }

    /// The algorithm for a convolution of geometry `shape` among `candidates` (those that apply, im2col
    /// first): the fixed choice when there is one, else a remembered measurement, else a new one (callers
    /// hold `lock`).
    func convolutionAlgorithm(_ shape: vgg_conv_shape, candidates: [ConvolutionAlgorithm]) -> ConvolutionAlgorithm {
        if let a = fixedAlgorithm { return candidates.contains(a) ? a : .im2col }
        let pool = candidates
        if pool.count <= 1 { return pool.first ?? .im2col }
        // Without cached Winograd kernels every run transforms them: measured with the algorithm and remembered
        // apart (a batch of a few large images can then favour a smaller transform).
        let perRun = !options.cacheWinogradKernels
        let key = AlgorithmSearch.key(shape, candidates: pool, threads: threads, transformsPerRun: perRun)
        let threads = threads
        return rememberedAlgorithm(key, candidates: pool) {
            AlgorithmSearch.measure(shape, candidates: pool, threads: threads, transformsPerRun: perRun).best
        }
    }

    /// The fixed algorithm the options (or `VGGTOOL_CONV_ALGORITHM` over `.measured`) ask for; nil to measure.
    var fixedAlgorithm: ConvolutionAlgorithm? {
        if case .fixed(let a) = options.convolution { return a }
        if let env = ProcessInfo.processInfo.environment["VGGTOOL_CONV_ALGORITHM"], let a = ConvolutionAlgorithm(rawValue: env) { return a }
        return nil
    }

    /// The choice remembered for `key` (in this engine, then in the algorithm cache), else `measure()`'s, then
    /// remembered (callers hold `lock`).
    func rememberedAlgorithm(_ key: String, candidates: [ConvolutionAlgorithm], measure: () -> ConvolutionAlgorithm) -> ConvolutionAlgorithm {
        if let a = chosen[key] { return a }
        let a = AlgorithmSearch.choice(key, candidates: candidates, path: options.algorithmCache.path, measure: measure)
        chosen[key] = a
        return a
    }

    /// Per-layer wall times of the last run (seconds), in execution order, when `Options.timeLayers` is set.
    public private(set) var layerTimes: [(layer: String, seconds: Double)] = []

    /// An engine for `model` with `threads` worker threads (default: the machine's processors).
    public convenience init(model: VGGMFile, threads: Int? = nil) throws {
        try self.init(model: model, options: Options(threads: threads))
    }

    /// An engine for `model` running as `options` say.
    public init(model: VGGMFile, options: Options) throws {
        self.model = model
        self.graph = model.graph.flattened()
        self.options = options
        self.threads = max(1, options.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        _ = Engine.blasCore
        openblas_set_num_threads(1)
        var w: [String: UnsafePointer<Float>] = [:]
        var owned: [[Float]] = []
        for t in model.manifest.tensors {
            let raw = model.bytes(of: t)
            switch t.dtype {
            case .f32:
                w[t.name] = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            case .f16, .bf16, .i8:
                owned.append(model.floats(t.name)!)
                w[t.name] = owned[owned.count - 1].withUnsafeBufferPointer { $0.baseAddress! }
            }
        }
        self.weights = w
        self.owned = owned
        if options.precision == .int8 && model.quantizedLayers.isEmpty {
            throw RuntimeError(file: model.path, .unsupportedSetting("precision int8"), "has no int8 layers: make an int8 model with `vggtool quantize` to run it in int8")
        }
        // Refuse what cannot run before anything is asked of it.
        for layer in graph.layers where layer.op.runtime == nil {
            throw RuntimeError(file: model.path, layer: layer.name, .unsupportedLayer(className: layer.op.className), "layer class \(layer.op.className) cannot be run by vggtool's runtime")
        }
        for layer in graph.layers where !layer.maskInbound.isEmpty {
            throw RuntimeError(file: model.path, layer: layer.name, .unsupportedSetting("mask"), "the layer is given a mask (Keras's masking), which vggtool's runtime does not apply")
        }
    }

    /// OpenBLAS's kernel family, tuned once per process (see `vgg_blas_tune`).
    public static let blasCore: String = String(cString: vgg_blas_tune())

    /// The model's input shape (height, width, channels), nil where any size is accepted.
    public var inputShape: [Int?] { model.manifest.inputShape }

    /// Runs a batch (NHWC float32, already preprocessed). Returns the model's outputs, or the outputs of
    /// the named layers (running only what they depend on, e.g. `["block5_pool"]` for VGG16's features).
    public func run(_ input: Tensor, outputs: [String]? = nil) throws -> [Tensor] {
        try run([input], outputs: outputs)
    }

    /// Runs one batch per model input (in the model's input order, the same batch size each; image inputs
    /// NHWC float32, already preprocessed). Returns the model's outputs in order, or the named layers'.
    public func run(_ inputs: [Tensor], outputs: [String]? = nil) throws -> [Tensor] {
        try withBuffers(inputs.map(\.values)) { try run(inputs: $0, shapes: inputs.map(\.shape), outputs: outputs) }
    }

    /// As `run(_:outputs:)`, reading the batch in place from `input` (NHWC float32, `shape` = `[N, H, W, C]`).
    /// Throws `RuntimeError` when the shape does not fit the model or a named layer does not exist.
    public func run(input: UnsafeBufferPointer<Float>, shape: [Int], outputs: [String]? = nil) throws -> [Tensor] {
        try run(inputs: [input], shapes: [shape], outputs: outputs)
    }

    /// As `run(_:outputs:)` for several inputs read in place, `shapes[i]` giving input i's shape (batch first).
    public func run(inputs: [UnsafeBufferPointer<Float>], shapes: [[Int]], outputs: [String]? = nil) throws -> [Tensor] {
        try checkInputs(shapes)
        lock.lock()
        defer { lock.unlock() }
        let plan = try plan(inputShapes: shapes, outputs: outputs)
        defer { planRuns += 1 }
        return try plan.execute(engine: self, inputs: inputs)
    }

    /// Called before (`before` true) and after each step of a plan with the layer's name, its first input and its
    /// output (buffers in the plan's memory, valid during the call; shapes batch first).
    package typealias StepObserver = (_ layer: String, _ before: Bool, _ input: (ptr: UnsafePointer<Float>, shape: [Int])?,
                                      _ output: (ptr: UnsafePointer<Float>, shape: [Int])) throws -> Void

    /// Runs `inputs` (one per model input, in the model's input order) to `outputs`, calling `observe` around
    /// every step (calibration).
    package func run(_ inputs: [Tensor], outputs: [String]? = nil, observe: StepObserver) throws -> [Tensor] {
        try checkInputs(inputs.map(\.shape))
        lock.lock()
        defer { lock.unlock() }
        let plan = try plan(inputShapes: inputs.map(\.shape), outputs: outputs, fuse: false)
        return try withoutActuallyEscaping(observe) { o in
            try withBuffers(inputs.map(\.values)) { try plan.execute(engine: self, inputs: $0, observe: o) }
        }
    }

    /// One shape per model input, each with the model input's rank plus the batch, all of one batch size.
    func checkInputs(_ shapes: [[Int]]) throws {
        let declared = graph.inputs.map { graph.layer(named: $0)?.op.inputShape ?? [] }
        guard shapes.count == declared.count else {
            throw RuntimeError(file: model.path, .unsupportedInputCount(shapes.count), "the model takes \(declared.count) input(s), \(shapes.count) given")
        }
        for (shape, want) in zip(shapes, declared) {
            guard shape.count == want.count + 1, shape.allSatisfy({ $0 >= 1 }), shape[0] == shapes[0][0] else {
                let what = want.count == 3 ? "a batch of images (N, H, W, C)" : "a batch of shape (N\(String(repeating: ", _", count: want.count)))"
                throw RuntimeError(file: model.path, .badInputShape(shape), "input must be \(what), got \(shape)")
            }
        }
    }

    /// The buffers of `arrays`, held for the duration of `body`.
    private func withBuffers<R>(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) throws -> R) throws -> R {
        var pointers: [UnsafeBufferPointer<Float>] = []
        func nest(_ i: Int) throws -> R {
            if i == arrays.count { return try body(pointers) }
            return try arrays[i].withUnsafeBufferPointer { p in
                pointers.append(p)
                return try nest(i + 1)
            }
        }
        return try nest(0)
    }

    /// The plan for one input geometry (built on first use, then cached).
    func plan(inputShapes: [[Int]], outputs: [String]? = nil, fuse: Bool = true) throws -> Plan {
        let names = outputs ?? graph.outputs
        for n in names where graph.layer(named: n) == nil {
            throw RuntimeError(file: model.path, .noSuchLayer(n), "the model has no layer '\(n)'")
        }
        let key = PlanKey(inputShapes: inputShapes, outputs: names, fuse: fuse)
        if let p = plans[key] { return p }
        // Keep one plan: memory stays bounded by the last geometry used (the old plan is freed before the new
        // one is built, so the two are never held together).
        plans = [:]
        convolutionAlgorithms = [:]
        planRuns = 0
        let p = try Plan(engine: self, key: key)
        plans = [key: p]
        return p
    }

    /// Bytes of activation memory the plan for this geometry holds (buffers plus scratch).
    public func plannedBytes(batch: Int, height: Int, width: Int, channels: Int, outputs: [String]? = nil) throws -> Int {
        try plannedMemory(batch: batch, height: height, width: width, channels: channels, outputs: outputs).total
    }

    /// The plan's activation buffers and kernel scratch, in bytes.
    public func plannedMemory(batch: Int, height: Int, width: Int, channels: Int, outputs: [String]? = nil) throws -> (buffers: Int, scratch: Int, total: Int) {
        try plannedMemory(inputShapes: [[batch, height, width, channels]], outputs: outputs)
    }

    /// As `plannedMemory(batch:height:width:channels:outputs:)` for inputs of any shapes (one per model input,
    /// batch first).
    public func plannedMemory(inputShapes: [[Int]], outputs: [String]? = nil) throws -> (buffers: Int, scratch: Int, total: Int) {
        lock.lock()
        defer { lock.unlock() }
        let p = try plan(inputShapes: inputShapes, outputs: outputs)
        return (p.bufferBytes, p.bytes - p.bufferBytes, p.bytes)
    }

    func weight(_ layer: String, _ name: String) throws -> UnsafePointer<Float> {
        guard let p = weights["\(layer)/\(name)"] else {
            throw RuntimeError(file: model.path, layer: layer, .missingWeight(layer: layer, weight: name), "weight '\(name)' is missing from the file")
        }
        return p
    }

    func record(_ layer: String, _ seconds: Double) { layerTimes.append((layer, seconds)) }
    func resetTimes() { layerTimes.removeAll(keepingCapacity: true) }

    // MARK: activations

    /// Applies a Keras activation in place to `rows` rows of `width` values (softmax over each row).
    func activate(_ activation: Activation, _ x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        switch activation {
        case .linear: return
        case .softmax: vgg_softmax(x, rows, width, 1, 0)
        case .logSoftmax: vgg_softmax(x, rows, width, 1, 1)
        default:
            let code = activation.kernelCode!
            let total = rows * width
            parallelRanges(total, minChunk: 1 << 14) { a, b in vgg_activation(code, x + a, b - a) }
        }
    }

    // MARK: threads

    /// Splits [0, n) into at most `threads` contiguous ranges and runs them concurrently.
    func parallelRanges(_ n: Int, minChunk: Int = 1, _ body: (Int, Int) -> Void) {
        parallelParts(n, minChunk: minChunk) { a, b, _ in body(a, b) }
    }

    /// As `parallelRanges`, also passing the part's index (0 ..< threads), e.g. to pick a scratch area.
    func parallelParts(_ n: Int, minChunk: Int = 1, _ body: (Int, Int, Int) -> Void) {
        Runtime.parallelParts(n, threads, minChunk: minChunk, body)
    }
}

/// Splits [0, n) into at most `threads` contiguous ranges (each at least `minChunk` long when possible) and
/// runs `body(start, end, part)` for them concurrently. The callers' kernels write disjoint ranges of
/// buffers they own; the closure is only shared for the duration of this call.
public func parallelParts(_ n: Int, _ threads: Int, minChunk: Int = 1, _ body: (Int, Int, Int) -> Void) {
    let parts = min(threads, max(1, n / max(1, minChunk)))
    if parts <= 1 { if n > 0 { body(0, n, 0) }; return }
    withoutActuallyEscaping(body) { body in
        let shared = unsafeBitCast(body, to: (@Sendable (Int, Int, Int) -> Void).self)
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let a = n * i / parts, b = n * (i + 1) / parts
            if b > a { shared(a, b, i) }
        }
    }
}

/// A value (typically a pointer) shared with workers that touch disjoint parts of what it points to.
/// Package-only plumbing for the runtime's and training's parallel loops.
package struct UnsafeSendable<T>: @unchecked Sendable {
    package let value: T
    package init(_ v: T) { value = v }
}

struct PlanKey: Hashable {
    /// Each model input's shape, batch first.
    var inputShapes: [[Int]]
    var outputs: [String]
    /// Whether layers may be fused (a pooling into the convolution before it); off for observed runs, whose
    /// observers see every layer's output.
    var fuse = true
}
