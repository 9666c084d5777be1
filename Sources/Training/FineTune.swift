import Cluster
import Foundation
import ImageData
import ModelFile
import ModelGraph
import Runtime

/// The seed's transfer-learning recipe and its knobs; the defaults are the recipe.
public struct FineTuneOptions: Sendable {
    /// Input height and width in pixels the base is composed at (square).
    public var inputSize = 250
    /// Units of the head's hidden Dense layers (ReLU), in order; the softmax layer of one unit per class follows.
    public var head = [1024, 1024, 4096]
    /// How the head reads the base's feature maps: flatten them, or global average or max pooling.
    public var pooling = HeadPooling.flatten
    /// Dropout rate after each hidden Dense layer (0: none).
    public var dropout = 0.0
    /// Epochs to train (a resumed run counts the epochs already done).
    public var epochs = 10
    /// Images per batch.
    public var batchSize = 16
    /// Adam or SGD.
    public var optimizer = OptimizerKind.adam
    /// Learning rate (nil: Keras's default, 0.001 for Adam, 0.01 for SGD).
    public var learningRate: Float? = nil
    /// SGD's momentum (0: plain SGD; ignored by Adam).
    public var momentum: Float = 0
    /// The first base layer to train (e.g. `block5_conv1`); nil trains the head only.
    public var trainableFrom: String? = nil
    /// Random augmentations of the training images (empty: none, and features are computed once).
    public var augment: Set<Augmentation> = []
    /// Whether JPEGs are turned upright by their EXIF orientation (`ignore`, the default, sees the pixels
    /// Keras trains on).
    public var exifOrientation = ExifOrientation.ignore
    /// Early stopping: epochs without a better monitored loss before stopping (nil: never).
    public var patience: Int? = nil
    /// Seed of the split, the shuffling, the head's initial weights, dropout and augmentation.
    public var seed: UInt64 = 0
    /// Weight each class by `images / (classes * class images)` in the loss (Keras's 'balanced').
    public var balancedClassWeights = false
    /// Fraction of the training folder held out for validation, seeded (ignored with `validationDir`).
    public var validationSplit = 0.2
    /// A separate validation folder (one subfolder per class) instead of a split.
    public var validationDir: String? = nil
    /// Continue from the checkpoint at the output path and its saved state.
    public var resume = false
    /// Worker threads (nil: the machine's active processors).
    public var threads: Int? = nil
    /// The arithmetic of the frozen pass's convolution and dense products (docs/precision.md; int8 needs a base
    /// made by `vggtool quantize`); the head always trains in float32.
    public var precision: Precision = .fp32
    /// Bytes of per-image data (frozen-layer features; with `augment`, the training images resized to the
    /// input size) kept in memory; the rest spills to an unnamed scratch file in `cacheDir`, else in
    /// `MemoryBudget.scratchDirectory`, read back batch by batch. Results do not depend on it, bit for bit.
    public var memoryBudget = MemoryBudget.default
    /// Keep each image's features on disk here too (reused across runs with the same base, input size,
    /// preprocessing and image), and put the scratch file of data over `memoryBudget` here.
    public var cacheDir: String? = nil
    /// The recipe's defaults.
    public init() {}
}

/// One epoch's results.
public struct EpochRecord: Sendable {
    /// The epoch's number, from 1.
    public var epoch: Int
    /// Mean training cross-entropy and accuracy (0...1) over the epoch's batches.
    public var loss: Double, accuracy: Double
    /// Validation cross-entropy and accuracy (0...1); nil without validation images.
    public var valLoss: Double?, valAccuracy: Double?
    /// Wall-clock seconds the epoch took, validation included.
    public var seconds: Double
}

/// What a finished fine-tuning run produced.
public struct FineTuneResult: Sendable {
    /// Every epoch, a resumed run's earlier ones included.
    public var history: [EpochRecord]
    /// The epoch whose weights the output holds (nil if no checkpoint was written).
    public var bestEpoch: Int?
    /// Path of the tuned `.vggm` (the best checkpoint).
    public var output: String
    /// Class names, in the order of the model's outputs.
    public var classNames: [String]
    /// Numbers of images trained and validated on (readable ones only).
    public var trainImages: Int, validationImages: Int
    /// Image files that could not be read, skipped.
    public var skipped: [SkippedFile]
    /// Seconds spent computing the frozen part's features.
    public var featureSeconds: Double
    /// Whether early stopping ended the run before `epochs`.
    public var stoppedEarly: Bool
    /// The validation images (from the validation folder or the split), labels indexing `classNames`: what a
    /// report evaluates the best checkpoint on.
    public var validationSet: [ImageFolder.Item] = []
}

/// A fine-tuning setting an error is about. The library names the concept (`concept`); a caller with its
/// own names for settings (a command line's flags) can name it its own way (`FineTuneError.message(naming:)`).
public enum FineTuneSetting: Sendable, CaseIterable {
    /// `FineTuneOptions.trainableFrom`.
    case trainableFrom
    /// `FineTuneOptions.validationSplit`.
    case validationSplit
    /// `FineTuneOptions.resume`.
    case resume
    /// `FineTuneOptions.learningRate`.
    case learningRate

    /// The setting's name in words, as the library's messages use it (`first trainable layer`).
    public var concept: String {
        switch self {
        case .trainableFrom: return "first trainable layer"
        case .validationSplit: return "validation split"
        case .resume: return "resuming"
        case .learningRate: return "learning rate"
        }
    }
}

/// An error caused by (or curable through) one fine-tuning setting: one line naming the file or layer at
/// fault and the setting, by its concept (`description`) or by the caller's name for it. `kind` says what
/// went wrong; two errors are equal when their setting, kind, file and description are.
public struct FineTuneError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on.
    public enum Kind: Sendable, Equatable {
        /// The setting's value is out of range (a validation split of 1 or more).
        case outOfRange
        /// The first trainable layer names no layer of the model.
        case noSuchLayer(String)
        /// Training cannot start at this layer (the input, or a layer with several inputs).
        case cannotTrainFrom(String)
        /// Resuming, but there is no checkpoint with its saved state (`file` is the checkpoint).
        case noCheckpoint
        /// Resuming, but the saved state belongs to another checkpoint (`file`).
        case stateMismatch
        /// The loss became infinite or NaN (the value; a NaN payload never compares equal) at this epoch and
        /// batch (both from 1).
        case nonFiniteLoss(loss: Double, epoch: Int, batch: Int)
    }

    /// The setting at fault, or the one that cures the failure.
    public let setting: FineTuneSetting
    /// What went wrong.
    public let kind: Kind
    /// The file at fault, when there is one.
    public let file: String?
    private let render: @Sendable (String) -> String

    /// An error of `kind` about `setting` (and `file`); `message` builds the text around the setting's name.
    public init(_ setting: FineTuneSetting, _ kind: Kind, file: String? = nil,
                _ message: @escaping @Sendable (_ settingName: String) -> String) {
        self.setting = setting
        self.kind = kind
        self.file = file
        self.render = message
    }

    /// The message with `name` for the setting (a command line's flag).
    public func message(naming name: String) -> String { render(name) }
    /// The message naming the setting by its concept.
    public var description: String { render(setting.concept) }

    /// Equal setting, kind, file and message.
    public static func == (a: FineTuneError, b: FineTuneError) -> Bool {
        a.setting == b.setting && a.kind == b.kind && a.file == b.file && a.description == b.description
    }
}

/// What a fine-tuning run reports while it works; the caller decides what to show (the library never prints).
public enum FineTuneEvent: Sendable {
    /// The composed model (base up to its feature layer at the new size, then the new head).
    case composed(GraphAnalysis)
    /// Training continues after `epoch` of a saved run, whose best score was `best`.
    case resumed(afterEpoch: Int, best: Double)
    /// Frozen-part features computed for `done` of `total` images of one set.
    case extracting(FeatureSet, done: Int, total: Int)
    /// The features are ready (or, with augmentation, the images decoded).
    case featuresReady(FeatureReport)
    /// A training batch finished.
    case batch(BatchProgress)
    /// An epoch (of `epochs`) finished, validation included.
    case epochEnded(EpochRecord, epochs: Int)
    /// A new best checkpoint is being written (in the background) to `path`.
    case checkpointSaving(epoch: Int, path: String, monitor: Monitor)
    /// `monitor` has not improved for `patience` epochs: training stops; `path` holds `bestEpoch`.
    case stoppedEarly(patience: Int, bestEpoch: Int, path: String, monitor: Monitor)
}

/// Which images a feature-extraction report is about.
public enum FeatureSet: String, Sendable {
    /// The training images.
    case training
    /// The validation images.
    case validation
}

/// The score that picks the best checkpoint: the validation loss, or the training loss without validation.
public enum Monitor: String, Sendable {
    /// Validation cross-entropy (Keras's `val_loss`).
    case valLoss = "val_loss"
    /// Training cross-entropy, when there are no validation images.
    case loss
}

/// Progress inside one epoch.
public struct BatchProgress: Sendable {
    /// The epoch (from 1) and the number of epochs of the run.
    public var epoch: Int, epochs: Int
    /// Batches done in this epoch (from 1) and the epoch's number of batches.
    public var batch: Int, batches: Int
    /// Running mean loss and accuracy over the epoch's batches so far.
    public var loss: Double, accuracy: Double
    /// Training throughput so far in this epoch.
    public var imagesPerSecond: Double
    /// Estimated seconds left in the epoch.
    public var eta: Double
}

/// How the frozen part's features were obtained.
public struct FeatureReport: Sendable {
    /// Where the features are kept.
    public enum Cache: Sendable {
        /// Computed for this run and kept for it: in memory up to the memory budget, the rest in a scratch file
        /// (`FeatureReport.spilledBytes`).
        case memory
        /// On disk in `directory`: `reused` entries found, `computed` written.
        case disk(directory: String, reused: Int, computed: Int)
        /// Augmented training images pass through the frozen layers every epoch (validation features cached).
        case augmented(Set<Augmentation>)
    }
    /// Numbers of training and validation images whose features were obtained.
    public var trainImages: Int, validationImages: Int
    /// The last frozen layer (whose output the features are).
    public var cut: String
    /// Wall-clock seconds the features took.
    public var seconds: Double
    /// Where they are kept.
    public var cache: Cache
    /// Files that could not be read, skipped.
    public var skipped: [SkippedFile]
    /// The memory budget the run's per-image data was kept within (`FineTuneOptions.memoryBudget`), in bytes.
    public var memoryBudget = 0
    /// Bytes of features and decoded images beyond the budget, kept in the scratch file (0: all in memory).
    public var spilledBytes = 0
    /// Where the scratch file is (it has no name: it disappears with the process).
    public var scratchDirectory = ""
}

/// The recipe's steps: `init` prepares (checks, data and split, composition, initial weights), then
/// `resume()` (optional), `extractFeatures`, `trainEpoch` for each epoch, `saveCheckpoint` after an
/// improvement, `finish()`. The loop that drives them (epochs, early stopping) and everything shown to a
/// user belong to the caller; progress comes through callbacks.
public final class FineTuneSession {
    /// The options the session was made with.
    public let options: FineTuneOptions
    /// The base model's path, the training folder and the output `.vggm` path.
    public let basePath: String, dataDir: String, output: String
    /// The base's name as recorded in the tuned model's provenance.
    public let baseName: String
    /// The class names (the training folder's subfolders), in label order.
    public let classNames: [String]
    /// The composed model: the base's frozen part, the trained layers, the new head.
    public let composition: Composition
    /// Epochs so far (those of a resumed run included).
    public private(set) var history: [EpochRecord] = []
    /// The epoch of the best checkpoint so far, and its score (`monitor`).
    public private(set) var bestEpoch: Int? = nil
    /// The best monitored loss so far (infinity before the first epoch).
    public private(set) var best = Double.infinity
    /// The first epoch still to run: 1, or the one after a resumed run's last.
    public private(set) var firstEpoch = 1
    /// The score checkpoints are chosen by: the validation loss, or the training loss without validation images.
    public var monitor: Monitor { valItems.isEmpty ? .loss : .valLoss }
    /// The MPI job this run is one rank of (nil: a single process). Each rank computes the features of its
    /// share of the images; each global batch is split over the ranks, whose gradients are summed before the
    /// identical optimizer step; only rank 0 writes files (docs/distributed.md).
    public let communicator: Communicator?
    /// Whether this process writes the checkpoint, history and state (a single process, or rank 0).
    public var writesFiles: Bool { (communicator?.rank ?? 0) == 0 }

    let base: VGGMFile
    /// The trainable layers; their parameters hold values once `loadNetwork()` has run.
    let network: Network
    /// The checkpoint `resume()` continues from (its weights are loaded with the network's).
    var resumedFrom: VGGMFile? = nil
    let optimizer: Optimizer
    let state: TrainingState
    let writer = CheckpointWriter()
    var rng: SplitMix64
    var trainItems: [ImageFolder.Item], valItems: [ImageFolder.Item]
    // After extractFeatures:
    var engine: Engine?
    /// Whether `extractFeatures` has run.
    var extracted = false
    var trainX: FeatureStore? = nil, trainY: [Int] = []
    /// With augmentation: each training image resized to the input size (float RGB 0...255, not preprocessed).
    var decoded: SpillStore? = nil
    /// Validation features and labels of this rank's share (all of them in a single process).
    var valX: FeatureStore? = nil, valY: [Int] = []
    /// Validation images over all ranks.
    var valTotal = 0
    /// Data-parallel: the global index of each rank's first training image (ranks hold consecutive shares of
    /// the readable training images, in order; the last element is the total).
    var trainOffsets: [Int] = []
    var classWeights: [Float]? = nil
    var skipped: [SkippedFile] = []
    var featureSeconds = 0.0
    /// The shuffling RNG's state after the last epoch's shuffle (saved with a checkpoint).
    var rngAfterShuffle: UInt64 = 0
    var featureSize: Int
    /// Images per batch of the frozen pass (`frozenBatch`).
    var frozenStep = 16

    /// Activation memory (buffers and kernel scratch) the frozen pass's plan may hold: 192 MB, so the run's
    /// peak (with the mapped model, the Winograd kernels and the per-image data within the memory budget)
    /// stays under the mapped model plus 0.5 GB at any input size (docs/training.md).
    static let frozenActivationBytes = 192 << 20

    /// Images per batch of the frozen pass: as many as fit `allowance` bytes (measured from the plans for one
    /// and two images: the buffers grow by the same amount per image), between 1 and 64. VGG16 up to
    /// block5_pool with the whole `frozenActivationBytes`: 64 at 64x64, 6 at 224x224, 5 at 250x250.
    static func frozenBatch(engine: Engine, size: Int, cut: String, allowance: Int) throws -> Int {
        let one = try engine.plannedBytes(batch: 1, height: size, width: size, channels: 3, outputs: [cut])
        let two = try engine.plannedBytes(batch: 2, height: size, width: size, channels: 3, outputs: [cut])
        let perImage = max(1, two - one), fixed = max(0, one - perImage)
        return max(1, min(64, (allowance - fixed) / perImage))
    }

    /// Prepares a run: checks the options and the output folder, reads the class folders (and splits off the
    /// validation images), composes the model and initializes its trainable weights (seeded).
    /// With `communicator`, this process is one rank of a data-parallel run (every rank makes its session with
    /// the same arguments).
    public convenience init(basePath: String, dataDir: String, output: String, options o: FineTuneOptions,
                            communicator: Communicator? = nil) throws {
        try AtomicFile.checkWritable(output)
        try self.init(base: try VGGMFile(path: basePath), dataDir: dataDir, output: output, options: o, communicator: communicator)
    }

    /// Prepares a run on a base model already open. `baseName` is recorded as the tuned model's source
    /// (default: the base file's name).
    /// With `communicator`, this process is one rank of a data-parallel run.
    public init(base: VGGMFile, baseName: String? = nil, dataDir: String, output: String, options o: FineTuneOptions,
                communicator: Communicator? = nil) throws {
        self.communicator = communicator
        self.basePath = base.path
        self.baseName = baseName ?? URL(fileURLWithPath: base.path).lastPathComponent
        self.dataDir = dataDir
        self.output = output
        self.options = o
        try AtomicFile.checkWritable(output)
        guard o.epochs >= 1, o.batchSize >= 1, o.inputSize >= 32, o.inputSize <= 4096 else {
            throw TrainingError(.invalidSetting(o.epochs < 1 ? .epochs : o.batchSize < 1 ? .batchSize : .inputSize), "epochs and batch size must be positive and the input size between 32 and 4096")
        }
        self.base = base
        // ---- data
        let train = try ImageFolder(root: dataDir)
        guard train.classNames.count >= 2 else {
            throw TrainingError(.tooFewClasses(train.classNames), file: dataDir, "needs at least two class folders, found \(train.classNames.count) (\(train.classNames.joined(separator: ", ")))")
        }
        for (i, n) in train.counts.enumerated() where n == 0 {
            throw TrainingError(.emptyClassFolder, file: "\(dataDir)/\(train.classNames[i])", "class folder has no images (jpg, jpeg, png, bmp or gif)")
        }
        classNames = train.classNames
        var rng = SplitMix64(seed: o.seed)
        var trainItems = train.items, valItems: [ImageFolder.Item] = []
        if let vd = o.validationDir {
            let val = try ImageFolder(root: vd)
            guard val.classNames == train.classNames else {
                throw TrainingError(.classFoldersDiffer(training: train.classNames, validation: val.classNames), file: vd, "class folders \(val.classNames) differ from the training folder's \(train.classNames)")
            }
            valItems = val.items
        } else if o.validationSplit > 0 {
            guard o.validationSplit < 1 else { throw FineTuneError(.validationSplit, .outOfRange) { "\($0) must be below 1" } }
            var order = Array(trainItems.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
            let nVal = Int((Double(order.count) * o.validationSplit).rounded())
            guard nVal >= 1, order.count - nVal >= 1 else {
                throw TrainingError(.tooFewImages(order.count), file: dataDir, "\(order.count) images are too few for a validation split of \(o.validationSplit)")
            }
            valItems = order.suffix(nVal).map { trainItems[$0] }
            trainItems = order.prefix(order.count - nVal).map { trainItems[$0] }.sorted { $0.path < $1.path }
        }
        self.rng = rng
        self.trainItems = trainItems
        self.valItems = valItems

        // ---- model
        let comp = try Composition(base: base.graph.flattened(), size: o.inputSize, pooling: o.pooling, units: o.head, dropout: o.dropout,
                                   classes: train.classNames.count, trainableFrom: o.trainableFrom)
        composition = comp
        featureSize = comp.analysis.info(comp.cut)!.outputShape.dropFirst().map { $0! }.reduce(1, *)
        // The parameters are allocated after the frozen pass (`loadNetwork`); the tensors they start from are
        // checked now.
        network = try Network(layers: comp.trainable, weights: nil, threads: o.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        for p in network.parameters where !comp.headLayers.contains(p.layer) {
            guard let e = base.entry(p.name), e.shape.reduce(1, *) == p.shape.reduce(1, *) else {
                throw TrainingError(.missingTensor(p.name), file: base.path, layer: p.layer, "tensor '\(p.name)' is missing")
            }
        }
        network.rng = SplitMix64(seed: o.seed &+ 0xD5)
        optimizer = Optimizer(kind: o.optimizer, learningRate: o.learningRate, momentum: o.momentum)
        state = TrainingState(path: output)
    }

    /// Gives the trainable parameters their values, once: the resumed checkpoint's, or the base's for its
    /// layers and seeded Glorot-uniform kernels and zero biases for the head (the same values whenever it runs).
    func loadNetwork() throws {
        guard !network.isLoaded else { return }
        if let ckpt = resumedFrom {
            try network.load(weights: { layer, weight in ckpt.floats("\(layer)/\(weight)")! }, streamingKernelGradients: true)  // checked by resume()
            return
        }
        let comp = composition, base = self.base
        var initRNG = SplitMix64(seed: options.seed &+ 0x5EED)
        try network.load(weights: { layer, weight in
            if comp.headLayers.contains(layer) {
                let spec = comp.analysis.info(layer)!.weights.first { $0.name == weight }!
                return weight == "kernel" ? glorotUniform(shape: spec.shape, rng: &initRNG) : [Float](repeating: 0, count: spec.elementCount)
            }
            return base.floats("\(layer)/\(weight)")!  // checked by init
        }, streamingKernelGradients: true)
    }

    /// Continues a saved run: the checkpoint's weights, the optimizer's state, the history, the best score and
    /// the shuffling RNG from the state beside `output`. Returns the last epoch of the saved run.
    @discardableResult
    public func resume() throws -> Int {
        let output = self.output
        let json = state.jsonPath
        guard FileManager.default.fileExists(atPath: output) else {
            throw FineTuneError(.resume, .noCheckpoint, file: output) { "\(output): \($0) needs a checkpoint and its state (\(json)); none found" }
        }
        let ckpt = try VGGMFile(path: output)
        let (found, other) = try state.load(checkpoint: ckpt.manifest.provenance.created)
        guard let saved = found else {
            guard other else {
                throw FineTuneError(.resume, .noCheckpoint, file: output) { "\(output): \($0) needs a checkpoint and its state (\(json)); none found" }
            }
            throw FineTuneError(.resume, .stateMismatch, file: output) {
                "\(output): the saved training state (\(json)) belongs to another checkpoint (interrupted while saving?); start again without \($0)"
            }
        }
        for p in network.parameters {
            guard let e = ckpt.entry(p.name), e.shape.reduce(1, *) == p.shape.reduce(1, *) else { throw TrainingError(.checkpointMismatch(parameter: p.name), file: output, "checkpoint lacks '\(p.name)' or its shape differs; was it made with other options?") }
        }
        resumedFrom = ckpt
        optimizer.restore(iterations: saved.iterations, m: saved.m, v: saved.v)
        history = saved.history
        best = saved.best
        bestEpoch = saved.bestEpoch
        firstEpoch = saved.epoch + 1
        rng = SplitMix64(seed: saved.rngState)
        return saved.epoch
    }

    /// Computes the frozen part's output once per image (kept within `memoryBudget`, the rest in a scratch file;
    /// with `cacheDir`, also on disk and reused across runs); with augmentation, decodes the training images
    /// instead, resized to the input size (their features change every epoch). Images are decoded a batch ahead,
    /// on another thread, while the frozen layers run. `progress` gets (set, images done, images in the set)
    /// after each batch.
    public func extractFeatures(progress: (FeatureSet, Int, Int) -> Void = { _, _, _ in }) throws -> FeatureReport {
        let o = options
        let comp = composition, base = self.base, featureSize = self.featureSize
        let cacheable = o.augment.isEmpty
        // Winograd kernels are transformed per batch into the plan's scratch (counted in the activation
        // allowance) rather than kept: F(4x4)/F(6x6) kernels of VGG16 would hold 0.2-0.4 GB beside the batch.
        // Kept, they made the pass at 250x250 at most 5% faster (within the noise of a busy machine) for 0.1 GB
        // more.
        let engine = try Engine(model: base, options: .init(threads: o.threads, cacheWinogradKernels: false, precision: o.precision))
        self.engine = engine
        let loader = ImageLoader(height: o.inputSize, width: o.inputSize, preprocessing: base.manifest.preprocessing, exifOrientation: o.exifOrientation)
        let t0 = Date()
        let frozenLayers = comp.analysis.layers.map(\.layer.name).prefix { $0 != comp.cut } + [comp.cut]
        let modelKey = FeatureStore.modelKey(base: base, frozen: Array(frozenLayers), preprocessing: base.manifest.preprocessing,
                                             size: o.inputSize, cut: comp.cut, exifOrientation: o.exifOrientation,
                                             precision: o.precision.rawValue)
        // The budget is shared by the training and validation stores in proportion to what each will hold.
        let imageFloats = o.inputSize * o.inputSize * 3
        let trainBytes = Double(trainItems.count * (cacheable ? featureSize : imageFloats)), valBytes = Double(valItems.count * featureSize)
        let trainBudget = Int(Double(o.memoryBudget) * trainBytes / max(trainBytes + valBytes, 1))
        let scratch = o.cacheDir ?? MemoryBudget.scratchDirectory
        // With augmentation the frozen layers run every epoch beside the head's training state: the head's
        // weights come out of their activation allowance (for VGG16's default head at 250x250: one image per
        // batch, as fast per image as five here, and 0.13 GB less).
        // Training then runs the frozen layers on batches of at most the training batch size: so does the
        // extraction of the validation features, so one plan serves both.
        let headBytes = cacheable ? 0 : network.parameters.reduce(0) { $0 + $1.shape.reduce(1, *) } * 4
        var step = try Self.frozenBatch(engine: engine, size: o.inputSize, cut: comp.cut, allowance: Self.frozenActivationBytes - headBytes)
        if !cacheable { step = min(step, o.batchSize) }
        frozenStep = step
        // The sets go through the frozen layers as one stream in batches of one size (the plan is built once),
        // the last one padded with zeros to that size: at 64x64 a plan rebuilt for each set's last, smaller
        // batch (and that batch's lower rate) cost about 0.5 s of the pass's 3.3.
        func extract(_ sets: [(items: [ImageFolder.Item], set: FeatureSet, budget: Int)]) throws -> [(features: FeatureStore, labels: [Int])] {
            let stores = try sets.map { try FeatureStore(featureSize: featureSize, directory: o.cacheDir, modelKey: modelKey, budgetBytes: $0.budget) }
            var labels = [[Int]](repeating: [], count: sets.count), done = [Int](repeating: 0, count: sets.count)
            let items = sets.enumerated().flatMap { g, s in s.items.map { Tagged(item: $0, group: g) } }
            let dir = stores.first?.directory
            // Batches as even as the step allows: the last one is then nearly full.
            let batches = (items.count + step - 1) / max(step, 1)
            let even = batches == 0 ? step : (items.count + batches - 1) / batches
            try forEachChunkLoadedAhead(items, step: even, load: { chunk in
                // Disk entries for the same weights, size, preprocessing and pixels are reused.
                let keys = dir == nil ? chunk.map { _ in "" } : chunk.map { imageKey($0.item.path) ?? "" }
                let cached = keys.map { k in k.isEmpty ? nil : FeatureStore.lookup(directory: dir, modelKey: modelKey, featureSize: featureSize, imageKey: k) }
                let todo = chunk.indices.filter { cached[$0] == nil }
                let (values, bad) = loader.loadBatch(todo.map { chunk[$0].item.path })
                return (keys, cached, todo, values, bad)
            }) { _, chunk, loaded in
                let (keys, cached, todo, values, bad) = loaded
                skipped += bad
                var computed: [Int: ArraySlice<Float>] = [:]
                let ok = zip(todo, values).compactMap { i, v in v.map { (i, $0) } }
                if !ok.isEmpty {
                    let rows = max(ok.count, even)
                    var pixels = ok.flatMap(\.1)
                    pixels += [Float](repeating: 0, count: (rows - ok.count) * imageFloats)
                    let f = try engine.run(Tensor(shape: [rows, o.inputSize, o.inputSize, 3], values: pixels), outputs: [comp.cut])[0].values
                    for (j, (i, _)) in ok.enumerated() { computed[i] = f[(j * featureSize)..<((j + 1) * featureSize)] }
                }
                for i in chunk.indices {
                    let g = chunk[i].group
                    if let d = cached[i] { try stores[g].appendCached(d); labels[g].append(chunk[i].item.label) } else if let f = computed[i] {
                        try stores[g].append(f, imageKey: keys[i])
                        labels[g].append(chunk[i].item.label)
                    }
                    done[g] += 1
                }
                for g in Set(chunk.map(\.group)).sorted() { progress(sets[g].set, done[g], sets[g].items.count) }
            }
            return zip(stores, labels).map { ($0, $1) }
        }
        // Data-parallel: each rank takes a consecutive share of each set (in order, so the shares put end to
        // end are the single process's order).
        let comm = communicator
        func share(_ items: [ImageFolder.Item]) -> [ImageFolder.Item] {
            guard let comm else { return items }
            return Array(items[(items.count * comm.rank / comm.size)..<(items.count * (comm.rank + 1) / comm.size)])
        }
        // Training images: features cached once, or (with augmentation) decoded and resized once and passed
        // through the frozen layers again every epoch, each time differently augmented.
        let valBudget = o.memoryBudget - trainBudget
        let validation: (features: FeatureStore, labels: [Int])
        if cacheable {
            let both = try extract([(share(trainItems), .training, trainBudget), (share(valItems), .validation, valBudget)])
            (trainX, trainY) = both[0]
            validation = both[1]
        } else {
            let images = SpillStore(recordFloats: imageFloats, budgetBytes: trainBudget, directory: scratch)
            var resizer = loader
            resizer.preprocessing = nil
            let r = resizer
            try forEachChunkLoadedAhead(share(trainItems), step: step, load: { chunk in r.loadBatch(chunk.map(\.path)) }) { _, chunk, loaded in
                skipped += loaded.skipped
                for (item, v) in zip(chunk, loaded.values) {
                    guard let v else { continue }
                    try images.append(v[...])
                    trainY.append(item.label)
                }
            }
            decoded = images
            validation = try extract([(share(valItems), .validation, valBudget)])[0]
        }
        let (valStore, y) = validation
        valX = valStore
        valY = y
        valTotal = y.count
        trainOffsets = [0, trainY.count]
        if let comm {
            // Every rank learns every training label (and where each image's data is), the validation count
            // and the skipped files, in the single process's order.
            let labels = try comm.allgather(trainY.flatMap { withUnsafeBytes(of: Int32($0).littleEndian, Array.init) })
            trainY = labels.flatMap { bytes -> [Int] in
                bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) } }
            }
            trainOffsets = labels.reduce(into: [0]) { $0.append($0.last! + $1.count / 4) }
            valTotal = try comm.allgather(y.count).reduce(0, +)
            let lists = try comm.allgather(Array(skipped.map { "\($0.path)\u{0}\($0.reason)\u{0}" }.joined().utf8))
            skipped = lists.flatMap { bytes -> [SkippedFile] in
                let fields = String(decoding: bytes, as: UTF8.self).split(separator: "\u{0}", omittingEmptySubsequences: false)
                return stride(from: 0, to: fields.count - 1, by: 2).map { SkippedFile(path: String(fields[$0]), reason: String(fields[$0 + 1])) }
            }
        }
        featureSeconds = Date().timeIntervalSince(t0)
        for (i, c) in classNames.enumerated() where !trainY.contains(i) {
            try raiseEverywhere(TrainingError(.unreadableClass(skipped: skipped.count), file: "\(dataDir)/\(c)",
                                              "no training image of this class could be read (\(skipped.count) file(s) skipped)"))
        }
        // ---- class weights
        if o.balancedClassWeights {
            var counts = [Int](repeating: 0, count: classNames.count)
            for y in trainY { counts[y] += 1 }
            classWeights = counts.map { Float(trainY.count) / Float(classNames.count * max($0, 1)) }
        }
        let cache: FeatureReport.Cache
        if let trainX {
            cache = trainX.directory.map { .disk(directory: $0, reused: trainX.hits + valStore.hits, computed: trainX.misses + valStore.misses) } ?? .memory
        } else {
            cache = .augmented(o.augment)
        }
        // Without augmentation the frozen layers never run again: their engine (its plan's activation buffers,
        // ~0.7 GB for VGG16 at 250x250 and batch 16) is released before training.
        // The base's mapped pages are dropped from memory too (the checkpoint copies its tensors file to file).
        if cacheable { engine.releaseMemory(); self.engine = nil; base.releaseResidentPages() }
        extracted = true
        let trainStore = trainX?.records ?? decoded!
        let spilled = (trainStore.spilledRecords * trainStore.recordFloats + valStore.records.spilledRecords * featureSize) * 4
        return FeatureReport(trainImages: trainY.count, validationImages: valTotal, cut: comp.cut, seconds: featureSeconds,
                             cache: cache, skipped: skipped, memoryBudget: o.memoryBudget, spilledBytes: spilled, scratchDirectory: scratch)
    }

    /// Features of training images `idx` for this epoch. `records`, when given, holds their stored data (features,
    /// or with augmentation the resized images), in `idx` order, received from the ranks that hold them.
    func trainFeatures(_ idx: [Int], epoch: Int, records: [Float]? = nil) throws -> [Float] {
        if let trainX { return records ?? trainX.gather(idx) }
        let o = options
        let imageFloats = o.inputSize * o.inputSize * 3
        let augmenter = Augmenter(o.augment)
        var img = [Float](repeating: 0, count: imageFloats)
        var features: [Float] = []
        features.reserveCapacity(idx.count * featureSize)
        // Through the frozen layers in batches of the extraction's size (its plan is kept, and its memory
        // bounded), whatever the training batch size.
        for part in stride(from: 0, to: idx.count, by: frozenStep) {
            let sub = idx[part..<min(idx.count, part + frozenStep)]
            var batch = [Float](); batch.reserveCapacity(sub.count * imageFloats)
            for (j, i) in zip(sub.indices, sub) {
                if let records { img.withUnsafeMutableBufferPointer { _ = $0.update(from: records[(j * imageFloats)..<((j + 1) * imageFloats)]) } }
                else { img.withUnsafeMutableBufferPointer { decoded!.read(i, into: $0.baseAddress!) } }
                var r = SplitMix64(seed: o.seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(i) &* 0xBF58_476D_1CE4_E5B9))
                augmenter.apply(&img, height: o.inputSize, width: o.inputSize, rng: &r)
                ImageDecoder.preprocess(&img, base.manifest.preprocessing)
                batch += img
            }
            features += try engine!.run(Tensor(shape: [sub.count, o.inputSize, o.inputSize, 3], values: batch), outputs: [composition.cut])[0].values
        }
        return features
    }

    /// Throws `error`, which every rank meets at the same point (it depends on data all ranks share): as a
    /// rank of a job, through `Communicator.agree`, so every rank throws the agreed failure and it is reported
    /// once; in a single process, as it is.
    func raiseEverywhere(_ error: Error) throws -> Never {
        if let communicator { _ = try communicator.agree { () throws -> Int in throw error } }
        throw error
    }

    /// Data-parallel: the stored data (features, or resized images) of `slices[rank]`, this rank's part of a
    /// batch, from the ranks that hold them. `slices` are every rank's parts of the batch (global indices); each
    /// rank sends what it holds of every other rank's part (MPI_Ialltoallv).
    func exchangeRecords(_ slices: [[Int]], comm: Communicator) throws -> [Float] {
        let recordFloats = trainX?.records.recordFloats ?? decoded!.recordFloats
        let me = comm.rank, lo = trainOffsets[me], hi = trainOffsets[me + 1]
        func owner(_ g: Int) -> Int { trainOffsets.lastIndex { $0 <= g }! }
        let parts: [[UInt8]] = slices.map { slice in
            let held = slice.filter { $0 >= lo && $0 < hi }.map { $0 - lo }
            guard !held.isEmpty else { return [] }
            let floats = trainX?.gather(held) ?? decoded!.gather(held)
            return floats.withUnsafeBytes { Array($0) }
        }
        let got = try comm.alltoall(parts)
        var next = [Int](repeating: 0, count: comm.size)
        var out = [Float](repeating: 0, count: slices[me].count * recordFloats)
        out.withUnsafeMutableBytes { dst in
            for (j, g) in slices[me].enumerated() {
                let o = owner(g), bytes = recordFloats * 4
                got[o].withUnsafeBytes { src in
                    dst.baseAddress!.advanced(by: j * bytes).copyMemory(from: src.baseAddress!.advanced(by: next[o] * bytes), byteCount: bytes)
                }
                next[o] += 1
            }
        }
        return out
    }

    /// Trains one epoch (shuffled, seeded) and validates; appends the record to `history`, rewrites the history
    /// file (OUT.history.csv) and updates the best score. Returns the record and whether it is a new best (then
    /// `saveCheckpoint` keeps it). Call after `extractFeatures`.
    public func trainEpoch(_ epoch: Int, progress: (BatchProgress) -> Void = { _ in }) throws -> (record: EpochRecord, improved: Bool) {
        precondition(extracted, "extractFeatures() comes before trainEpoch")
        try loadNetwork()
        let o = options
        let k = classNames.count
        let start = Date()
        var order = Array(0..<trainY.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(below: i + 1)) }
        rngAfterShuffle = rng.state
        var lossSum = 0.0, correct = 0, seen = 0
        let batches = (order.count + o.batchSize - 1) / o.batchSize
        let comm = communicator
        for b in 0..<batches {
            let batch = Array(order[(b * o.batchSize)..<min(order.count, (b + 1) * o.batchSize)])
            // Data-parallel: each rank trains a consecutive part of the batch; the parts' gradients are summed.
            let ranks = comm?.size ?? 1, rank = comm?.rank ?? 0
            let slices = (0..<ranks).map { r in Array(batch[(batch.count * r / ranks)..<(batch.count * (r + 1) / ranks)]) }
            let idx = slices[rank]
            let x = try trainFeatures(idx, epoch: epoch, records: try comm.map { try exchangeRecords(slices, comm: $0) })
            let labels = idx.map { trainY[$0] }
            var p: [Float] = [], d: [Float], loss = 0.0
            if idx.isEmpty {
                // No image here in this (small, last) batch: one row of zeros with a zero gradient keeps this
                // rank's collectives and dropout numbers in step with the others and adds nothing.
                network.rowsBefore = 0
                network.rowsAfter = batch.count - 1
                _ = network.forward([Float](repeating: 0, count: network.inputShape.reduce(1, *)), n: 1, training: true)
                d = [Float](repeating: 0, count: k)
            } else {
                network.rowsBefore = slices[..<rank].reduce(0) { $0 + $1.count }
                network.rowsAfter = batch.count - network.rowsBefore - idx.count
                p = network.forward(x, n: idx.count, training: true)
                (loss, d) = Network.crossEntropy(p, labels: labels, classes: k, sampleWeights: classWeights.map { w in labels.map { w[$0] } },
                                                 batch: batch.count)
            }
            var right = 0
            for (j, y) in labels.enumerated() where Self.argmax(p[(j * k)..<((j + 1) * k)]) == y { right += 1 }
            if let comm {
                let sums = try comm.allreduceSum([loss, Double(right)])
                loss = sums[0]
                right = Int(sums[1].rounded())
            }
            guard loss.isFinite else {
                let loss = loss
                try writer.wait()
                let kept = bestEpoch.map { "; \(output) holds the best checkpoint (epoch \($0))" } ?? "; no checkpoint was written"
                try raiseEverywhere(FineTuneError(.learningRate, .nonFiniteLoss(loss: loss, epoch: epoch, batch: b + 1)) {
                    "loss became \(loss) at epoch \(epoch), batch \(b + 1): stopped (try a lower \($0))" + kept
                })
            }
            // The checkpoint being written reads the weights and slots in place: the update waits until its bytes
            // are written (copying them instead would hold a second head's worth of memory, ~0.35 GB for
            // VGG16's), not for its fsyncs.
            if b == 0 { try writer.waitForRelease() }
            if let comm {
                // Each gradient (a streamed block of a Dense kernel, or a whole small one) is summed over the
                // ranks before its update, so every rank takes the same step.
                try optimizer.backwardAndStep(network, d, reduce: { try comm.allreduceSum($0) })
            } else {
                optimizer.backwardAndStep(network, d)
            }
            lossSum += loss * Double(batch.count)
            seen += batch.count
            correct += right
            let elapsed = Date().timeIntervalSince(start)
            let eta = elapsed / Double(b + 1) * Double(batches - b - 1)
            progress(BatchProgress(epoch: epoch, epochs: o.epochs, batch: b + 1, batches: batches, loss: lossSum / Double(seen),
                                   accuracy: Double(correct) / Double(seen), imagesPerSecond: Double(seen) / max(elapsed, 1e-9), eta: eta))
        }
        var rec = EpochRecord(epoch: epoch, loss: lossSum / Double(max(seen, 1)), accuracy: Double(correct) / Double(max(seen, 1)),
                              valLoss: nil, valAccuracy: nil, seconds: 0)
        if valTotal > 0 {
            // This rank's share of the validation images (all of them in a single process); shares' sums added.
            var vp: [Float] = []
            for s in stride(from: 0, to: valY.count, by: 64) {
                let e = min(valY.count, s + 64)
                vp += network.forward(valX!.gather(Array(s..<e)), n: e - s, training: false)
            }
            var valLoss = valY.isEmpty ? 0 : Network.crossEntropy(vp, labels: valY, classes: k).loss
            var valRight = Double(valY.enumerated().filter { Self.argmax(vp[($0.offset * k)..<(($0.offset + 1) * k)]) == $0.element }.count)
            if let comm {
                let sums = try comm.allreduceSum([valLoss * Double(valY.count), valRight])
                valLoss = sums[0] / Double(valTotal)
                valRight = sums[1].rounded()
            }
            rec.valLoss = valLoss
            rec.valAccuracy = valRight / Double(valTotal)
        }
        if let comm {
            // The same sums and the same step on every rank keep the weights identical; checked once an epoch
            // (a CRC-32C of every parameter), so a rank that drifted stops the run instead of saving its own.
            var crc: UInt32 = 0
            for param in network.parameters { crc = param.value.withUnsafeBytes { VGGMFormat.crc32c($0, seed: crc) } }
            let all = try comm.allgather(Int(crc))
            if let other = all.firstIndex(where: { $0 != all[0] }) {
                throw TrainingError(.invalidState, "after epoch \(epoch) the weights of rank \(other) differ from rank 0's")
            }
        }
        rec.seconds = Date().timeIntervalSince(start)
        history.append(rec)
        if writesFiles { try Self.writeHistory(history, to: output + ".history.csv") }
        let score = rec.valLoss ?? rec.loss
        guard score < best else { return (rec, false) }
        best = score
        bestEpoch = epoch
        return (rec, true)
    }

    /// Starts writing the current weights as the best checkpoint (in the background, while the next epoch's
    /// first batch computes: its update waits for the write, which reads the weights in place) and then the
    /// state `resume()` reads. An error surfaces at the next call, the next update or `finish()`.
    public func saveCheckpoint() throws {
        guard writesFiles, let epoch = history.last?.epoch else { return }
        // From a snapshot (the arrays are shared, not copied: no update comes before the write is done). The state first, as the next
        // state (tagged with the new model's creation stamp), then the model, then the next state becomes the
        // state: a kill anywhere leaves a checkpoint and, among the state files, the state that belongs to it
        // (TrainingState; docs/durability.md).
        let weights = Dictionary(uniqueKeysWithValues: network.parameters.map { ($0.name, $0.value) })
        let st = optimizer.state
        let saved = TrainingState.Saved(epoch: epoch, best: best, bestEpoch: epoch, iterations: st.iterations, rngState: rngAfterShuffle,
                                        history: history, m: st.m, v: st.v, checkpoint: "")
        let names = classNames, comp = composition, base = self.base, state = self.state
        try writer.submit {
            // Every byte first (the arrays are then released: the next update need not wait for the disk),
            // then the fsyncs and names in the order above. The training waits for the bytes with its
            // threads idle, so the two files are written at once.
            var s = saved
            s.checkpoint = FineTuneSession.newStamp()
            let stamped = s
            let next = Staged<TrainingState.StagedNext>(), model = Staged<VGGMWriter.Prepared>()
            parallelParts(2, 2) { _, _, part in
                if part == 0 {
                    next.set { try state.stageNext(stamped) }
                } else {
                    model.set { try self.prepareSave(comp: comp, base: base, weights: weights, classNames: names, created: stamped.checkpoint) }
                }
            }
            let (n, m) = (try next.get(), try model.get())
            return {
                try n.commit()
                try m.commit()
                try state.promoteNext()
            }
        }
    }

    /// Waits for the checkpoint writes and sums up the run.
    public func finish(stoppedEarly: Bool) throws -> FineTuneResult {
        try writer.wait()
        var result = FineTuneResult(history: history, bestEpoch: bestEpoch, output: output, classNames: classNames,
                                    trainImages: trainY.count, validationImages: valTotal, skipped: skipped,
                                    featureSeconds: featureSeconds, stoppedEarly: stoppedEarly)
        result.validationSet = valItems
        return result
    }

    deinit {
        try? writer.wait()
        engine?.releaseMemory()
    }

    /// Writes the composed model (frozen tensors copied from the base, trained ones from the network), all but
    /// its commit (`VGGMWriter.prepare`).
    func prepareSave(comp: Composition, base: VGGMFile, weights trained: [String: [Float]], classNames: [String],
                     created: String) throws -> VGGMWriter.Prepared {
        var payloads: [TensorPayload] = []
        for info in comp.analysis.layers {
            for w in info.weights {
                let name = "\(info.layer.name)/\(w.name)"
                if let values = trained[name] {
                    payloads.append(TensorPayload(name: name, shape: w.shape, values: values))
                } else {
                    guard let e = base.entry(name) else { throw TrainingError(.missingTensor(name), file: basePath, layer: info.layer.name, "tensor '\(name)' is missing") }
                    let raw = e.dtype == .f32 ? (path: base.path, offset: base.dataOffset + e.offset) : nil
                    payloads.append(TensorPayload(name: name, shape: w.shape, rawLocation: raw) { dst in
                        let v = base.floats(name)!
                        _ = dst.update(from: v)
                    })
                }
            }
        }
        let prov = base.manifest.provenance
        return try VGGMWriter.prepare(
            to: output, graph: comp.graph, inputShape: [options.inputSize, options.inputSize, 3], preprocessing: base.manifest.preprocessing,
            classNames: classNames,
            provenance: { Provenance(sourceFile: baseName, sourceSHA256: prov.sourceSHA256,
                                   sourceLayout: "vggtool finetune of \(prov.sourceFile)", kerasVersion: prov.kerasVersion,
                                   converter: "vggtool finetune", created: created) },
            tensors: payloads)
    }

    /// A checkpoint's creation stamp (its provenance's `created`): the time and a random tag, unique per write,
    /// recorded in the state that belongs to it.
    static func newStamp() -> String {
        ISO8601DateFormatter().string(from: Date()) + " #\(UInt32.random(in: 0...UInt32.max))"
    }

    static func argmax(_ row: ArraySlice<Float>) -> Int {
        var best = row.startIndex
        for i in row.indices where row[i] > row[best] { best = i }
        return best - row.startIndex
    }

    /// The history as Keras's CSVLogger writes it (columns in sorted order).
    static func writeHistory(_ h: [EpochRecord], to path: String) throws {
        let hasVal = h.contains { $0.valLoss != nil }
        var text = hasVal ? "epoch,accuracy,loss,val_accuracy,val_loss\n" : "epoch,accuracy,loss\n"
        for r in h {
            text += "\(r.epoch - 1),\(r.accuracy),\(r.loss)" + (hasVal ? ",\(r.valAccuracy ?? .nan),\(r.valLoss ?? .nan)" : "") + "\n"
        }
        try AtomicFile.write(Array(text.utf8), to: path)
    }
}


/// The result of one of a checkpoint's writes made on another thread (written before that thread is joined).
final class Staged<T>: @unchecked Sendable {
    private var result: Result<T, Error>?
    func set(_ body: () throws -> T) { result = Result { try body() } }
    func get() throws -> T { try result!.get() }
}

/// An image of one of the sets `extractFeatures` streams through the frozen layers together.
struct Tagged: Sendable {
    var item: ImageFolder.Item
    var group: Int
}

/// Writes checkpoints one at a time on a background thread; an error surfaces at the next submit or wait.
/// A job has two parts: the first writes every byte from the training's arrays and returns the second, which
/// makes the files durable and names them without touching those arrays.
final class CheckpointWriter: @unchecked Sendable {
    private let queue = DispatchQueue(label: "vggtool.checkpoints")
    private let group = DispatchGroup()
    /// Left when a job's first part is done (or failed) and what it captured is released.
    private let staged = DispatchGroup()
    private let lock = NSLock()
    private var failure: Error?

    final class Job: @unchecked Sendable {
        var body: (() throws -> () throws -> Void)?
        init(_ body: @escaping () throws -> () throws -> Void) { self.body = body }
    }

    func submit(_ body: @escaping () throws -> () throws -> Void) throws {
        try check()
        let job = Job(body)
        staged.enter()
        queue.async(group: group) { [self] in
            var rest: (() throws -> Void)?
            do { rest = try job.body?() } catch { record(error) }
            // What the first part captured (the weights and slots it shares with the training) is released
            // before `waitForRelease()` returns, so the next update changes them in place rather than copying them.
            job.body = nil
            staged.leave()
            do { try rest?() } catch { record(error) }
        }
    }

    /// Waits until every submitted write has its bytes written and holds no array of the training's; rethrows
    /// the first failure.
    func waitForRelease() throws {
        staged.wait()
        try check()
    }

    /// Waits for every submitted write; rethrows the first failure.
    func wait() throws {
        group.wait()
        try check()
    }

    private func record(_ error: Error) {
        lock.lock(); if failure == nil { failure = error }; lock.unlock()
    }

    private func check() throws {
        lock.lock(); defer { lock.unlock() }
        if let f = failure { failure = nil; throw f }
    }
}

/// The state saved beside a checkpoint so `FineTuneSession.resume()` continues from it: epoch, best score, optimizer
/// iterations and slots, the shuffling RNG, the history.
///
/// Two files, `OUT.state.json` (tagged with the checkpoint's creation stamp, and recording the slots file's
/// size and CRC-32C) and `OUT.state.npy` (the optimizer's slots). A checkpoint is saved as: the next state
/// (`OUT.state.next.npy`, then `OUT.state.next.json`), the model (`OUT`), then the next state renamed over
/// the state (slots first). Each step is an `AtomicFile` write or a rename, so wherever a kill or a power cut
/// stops it, `OUT` is a complete checkpoint and one of the two JSON files, with one of the two slot files,
/// belongs to it; `load(checkpoint:)` finds them by the stamp and the CRC.
struct TrainingState {
    struct Saved {
        var epoch: Int, best: Double, bestEpoch: Int, iterations: Int, rngState: UInt64
        var history: [EpochRecord]
        var m: [[Float]], v: [[Float]]
        var checkpoint: String
    }
    let path: String
    var jsonPath: String { path + ".state.json" }
    var slotsPath: String { path + ".state.npy" }
    var nextJSONPath: String { path + ".state.next.json" }
    var nextSlotsPath: String { path + ".state.next.npy" }

    /// The next state with its slots written but not yet durable nor named (`TrainingState.stageNext`).
    struct StagedNext {
        let slots: AtomicFile
        let json: [UInt8]
        let path: String

        /// Names the slots, then writes the JSON that records their size and checksum.
        func commit() throws {
            try slots.commit()
            try AtomicFile.write(json, to: path)
        }
    }

    /// Writes `s` as the next state (slots, then the JSON that records their size and checksum).
    func saveNext(_ s: Saved) throws { try stageNext(s).commit() }

    /// The first half of `saveNext`: the slots' bytes written (so `s`'s arrays may change once it returns),
    /// nothing made durable or named yet.
    func stageNext(_ s: Saved) throws -> StagedNext {
        // The slots are written array by array (no copy of them in memory: Adam's two for a VGG16 head are
        // ~0.24 GB), with the checksum the JSON records computed as they go.
        let count = (s.m + s.v).reduce(0) { $0 + $1.count }
        let header = NumPy.header(shape: [count])
        let slots = try AtomicFile(destination: nextSlotsPath)
        var crc = header.withUnsafeBytes { VGGMFormat.crc32c($0) }
        try slots.write(header, at: 0)
        var at = header.count
        for (i, a) in (s.m + s.v).enumerated() {
            try a.withUnsafeBytes { b in
                crc = VGGMFormat.crc32c(b, seed: crc)
                try slots.write(b, at: at)
            }
            at += a.count * 4
            if i == 0 { slots.reached(.filling) }
        }
        let json: [String: Any] = [
            "epoch": s.epoch, "best": s.best, "best_epoch": s.bestEpoch, "iterations": s.iterations, "rng_state": String(s.rngState),
            "checkpoint": s.checkpoint,
            "m_sizes": s.m.map(\.count), "v_sizes": s.v.map(\.count),
            "slots_bytes": at, "slots_crc32c": Int(crc),
            "history": s.history.map { ["epoch": $0.epoch, "loss": $0.loss, "accuracy": $0.accuracy, "val_loss": $0.valLoss ?? -1,
                                        "val_accuracy": $0.valAccuracy ?? -1, "seconds": $0.seconds] },
        ]
        return StagedNext(slots: slots, json: Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])), path: nextJSONPath)
    }

    /// Makes the next state the state, once its checkpoint is written: slots first, then the JSON.
    func promoteNext() throws {
        try AtomicFile.move(nextSlotsPath, to: slotsPath)
        try AtomicFile.move(nextJSONPath, to: jsonPath)
    }

    /// The saved state that belongs to the checkpoint created at `checkpoint` (its provenance's stamp): the
    /// state or the next state, whichever JSON carries the stamp, with whichever slots file matches the size
    /// and CRC it records. `saved` is nil when none does: `foundOther` tells whether some state (of another
    /// checkpoint) exists. A state found among the next files (a save stopped after its model was written)
    /// is made the state, finishing that save; next files that belong to no checkpoint are removed. Throws `TrainingError(.invalidState)` when the files are damaged.
    func load(checkpoint: String) throws -> (saved: Saved?, foundOther: Bool) {
        var foundOther = false
        var firstError: Error?
        for json in [jsonPath, nextJSONPath] {
            guard let data = FileManager.default.contents(atPath: json) else { continue }
            do {
                let (saved, slots) = try parse(data, path: json)
                guard saved.checkpoint == checkpoint else { foundOther = true; continue }
                let (s, slotsFile) = try withSlots(saved, record: slots, json: json)
                if json == nextJSONPath {
                    if slotsFile == nextSlotsPath { try AtomicFile.move(nextSlotsPath, to: slotsPath) }
                    try AtomicFile.move(nextJSONPath, to: jsonPath)
                } else {
                    // A save stopped before its model was named: its next state belongs to no checkpoint.
                    if slotsFile != nextSlotsPath { unlink(nextSlotsPath) }
                    unlink(nextJSONPath)
                }
                return (s, false)
            } catch { if firstError == nil { firstError = error } }
        }
        if let firstError, !foundOther { throw firstError }
        return (nil, foundOther)
    }

    private struct SlotsRecord { var sizes: (m: [Int], v: [Int]); var bytes: Int?; var crc: UInt32? }

    private func parse(_ data: Data, path json: String) throws -> (Saved, SlotsRecord) {
        guard let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let epoch = j["epoch"] as? Int, let best = j["best"] as? Double, let bestEpoch = j["best_epoch"] as? Int,
              let iterations = j["iterations"] as? Int, let rng = (j["rng_state"] as? String).flatMap(UInt64.init),
              let ms = j["m_sizes"] as? [Int], let vs = j["v_sizes"] as? [Int], let h = j["history"] as? [[String: Any]] else {
            throw TrainingError(.invalidState, file: json, "not a vggtool training state")
        }
        let history = h.map { r in
            EpochRecord(epoch: r["epoch"] as? Int ?? 0, loss: r["loss"] as? Double ?? 0, accuracy: r["accuracy"] as? Double ?? 0,
                        valLoss: (r["val_loss"] as? Double).flatMap { $0 < 0 ? nil : $0 },
                        valAccuracy: (r["val_accuracy"] as? Double).flatMap { $0 < 0 ? nil : $0 }, seconds: r["seconds"] as? Double ?? 0)
        }
        let saved = Saved(epoch: epoch, best: best, bestEpoch: bestEpoch, iterations: iterations, rngState: rng, history: history, m: [], v: [],
                          checkpoint: j["checkpoint"] as? String ?? "")
        return (saved, SlotsRecord(sizes: (ms, vs), bytes: j["slots_bytes"] as? Int, crc: (j["slots_crc32c"] as? Int).flatMap { UInt32(exactly: $0) }))
    }

    /// `saved` with its optimizer slots, from the slots file whose size and CRC match `record` (the state's
    /// own, or the next one's; a state of an earlier version records neither and reads the state's own).
    private func withSlots(_ saved: Saved, record: SlotsRecord, json: String) throws -> (Saved, String) {
        let candidates = record.crc == nil ? [slotsPath] : [slotsPath, nextSlotsPath]
        for path in candidates {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            if let crc = record.crc {
                guard data.count == record.bytes, data.withUnsafeBytes({ VGGMFormat.crc32c($0) }) == crc else { continue }
            }
            let slots = try NumPy.parse(data, path: path).values
            guard slots.count == record.sizes.m.reduce(0, +) + record.sizes.v.reduce(0, +) else {
                throw TrainingError(.invalidState, file: path, "size disagrees with \(json)")
            }
            var at = 0
            func take(_ sizes: [Int]) -> [[Float]] { sizes.map { n in defer { at += n }; return Array(slots[at..<(at + n)]) } }
            var s = saved
            s.m = take(record.sizes.m)
            s.v = take(record.sizes.v)
            return (s, path)
        }
        throw TrainingError(.invalidState, file: slotsPath, "missing, or not the optimizer state \(json) records")
    }
}
