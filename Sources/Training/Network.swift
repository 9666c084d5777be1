import CBLAS
import CKernels
import Dispatch
import Foundation
import ModelGraph
import Runtime

/// A trainable tensor: value, gradient, and the Keras name it is saved under (`dense/kernel`). Both arrays are
/// empty until the value is set (`Network.load(weights:)`).
package final class Parameter {
    package let name: String
    /// The layer and the weight within it (`dense`, `kernel`).
    package let layer: String, weight: String
    package let shape: [Int]
    package var value: [Float]
    package var grad: [Float]
    init(layer: String, weight: String, shape: [Int]) {
        self.name = "\(layer)/\(weight)"
        self.layer = layer
        self.weight = weight
        self.shape = shape
        self.value = []
        self.grad = []
    }

    /// Whether the backward pass hands this parameter's gradient to a sink block by block instead of keeping
    /// it in `grad` (a Dense kernel when `Network.load(weights:streamingKernelGradients:)` asks for it).
    package private(set) var streamsGradient = false

    /// Sets the value (and, unless the gradient is streamed, a zero gradient of its size).
    func load(_ v: [Float], streamGradient: Bool = false) {
        precondition(shape.reduce(1, *) == v.count, "\(name): shape \(shape) does not match \(v.count) values")
        value = v
        streamsGradient = streamGradient
        if streamGradient { grad = [] } else if grad.count != v.count { grad = [Float](repeating: 0, count: v.count) }
    }
}

/// A training failure: what kind it is, the file or folder at fault and the layer (when there are such), and
/// a one-line `description` naming them (`file: message`, or the message alone).
public struct TrainingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A setting of the recipe that was out of range.
    public enum Setting: Sendable, Equatable {
        /// The number of epochs.
        case epochs
        /// Images per training batch.
        case batchSize
        /// The square input size (pixels).
        case inputSize
        /// A head layer's size (units).
        case headUnits
        /// The number of classes.
        case classCount
    }

    /// What went wrong, in terms a caller can switch on; `message` says it in words.
    public enum Kind: Sendable, Equatable {
        /// A setting out of range.
        case invalidSetting(Setting)
        /// The data folder (`file`) has fewer than two class folders: the ones it has.
        case tooFewClasses([String])
        /// A class folder (`file`) holds no images.
        case emptyClassFolder
        /// The validation folder's (`file`) class folders differ from the training folder's.
        case classFoldersDiffer(training: [String], validation: [String])
        /// The data folder holds too few images (this many) for the validation split.
        case tooFewImages(Int)
        /// No training image of a class (its folder is `file`) could be read; `skipped` files in all were.
        case unreadableClass(skipped: Int)
        /// A layer that has no backward pass (its Keras class name): freeze it.
        case untrainableLayer(className: String)
        /// A layer whose activation cannot be trained in its place.
        case untrainableActivation(String)
        /// A layer trainable in general but not in this configuration (a Dense layer on an N-D input).
        case unsupportedLayerSetup
        /// The model does not fit the recipe (one input, a convolutional feature layer, a chain ending in
        /// softmax, something to train).
        case unsuitableModel
        /// A tensor the model needs is missing from the file (`file`): its name.
        case missingTensor(String)
        /// The checkpoint (`file`) lacks a parameter or holds it in another shape: the parameter's name.
        case checkpointMismatch(parameter: String)
        /// The saved training state (`file`) is not one vggtool wrote, or disagrees with its slots.
        case invalidState
        /// The feature cache (`file`) cannot be created or written.
        case cannotWrite
    }

    /// What kind of failure it is.
    public var kind: Kind
    /// The file or folder at fault, when there is one.
    public var file: String?
    /// The layer at fault, when there is one.
    public var layer: String?
    /// What is wrong, in words (without the file).
    public var message: String

    /// A failure of `kind` about `file` and `layer` (when given), `message` saying what is wrong.
    public init(_ kind: Kind, file: String? = nil, layer: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.layer = layer
        self.message = message
    }

    /// `file: message`, or the message alone.
    public var description: String { file.map { "\($0): \(message)" } ?? message }
}

/// The trainable tail of a model: a chain of layers (each feeding only the next) with forward passes that
/// keep what the backward passes need, and backward passes that accumulate parameter gradients. Which
/// layers train is what `LayerOp.differentiable` says (Conv2D, Dense, pooling, Flatten, Reshape, Dropout,
/// Activation and plain ReLU), with activations linear, relu, sigmoid and tanh, and softmax on the last
/// layer (where it is fused with the cross-entropy loss).
package final class Network {
    private(set) var nodes: [TrainingNode] = []
    package var parameters: [Parameter] { nodes.flatMap(\.params) }
    package let inputShape: [Int]
    package var outputShape: [Int] { nodes.last?.outShape ?? inputShape }
    let threads: Int

    // Per-batch state kept between forward and backward.
    private var inputs: [[Float]] = []      // input of each node
    private var outputs: [[Float]] = []     // output of each node (after activation)
    private var saved: [[Float]] = []       // what each node's forward kept (dropout masks)
    private var batch = 0
    /// Dropout's random numbers (seeded).
    package var rng = SplitMix64(seed: 0)
    /// Data-parallel training: rows of the global batch that other ranks train before and after this rank's
    /// rows. Dropout draws (skips) their numbers too, so every row gets the mask a single process gives it.
    package var rowsBefore = 0, rowsAfter = 0

    /// Activations the backward pass differentiates (softmax only last, fused with the loss).
    static let trainableActivations: [Activation] = [.linear, .relu, .sigmoid, .tanh]

    /// `layers` in order, with their analysed shapes (from `GraphAnalysis`) and initial weights by Keras name
    /// (layer, weight). Without `weights`, the layers are checked but the parameters hold nothing until
    /// `load(weights:)`: a fine-tuning run allocates its head (and the optimizer's slots) only after the frozen
    /// pass, whose activation buffers are gone by then.
    package init(layers: [LayerInfo], weights: ((String, String) throws -> [Float])?, threads: Int) throws {
        guard let first = layers.first else { throw TrainingError(.unsuitableModel, "nothing to train") }
        inputShape = first.inputShapes[0].dropFirst().map { $0 ?? 1 }
        self.threads = max(1, threads)
        for (i, info) in layers.enumerated() {
            let l = info.layer
            guard let layer = l.op.differentiable else {
                throw TrainingError(.untrainableLayer(className: l.op.className), layer: l.name, "layer '\(l.name)' (\(l.op.className)) cannot be trained; freeze it (train from a later layer)")
            }
            let inS = info.inputShapes[0].dropFirst().map { $0 ?? 1 }, outS = info.outputShape.dropFirst().map { $0 ?? 1 }
            if l.op.isChannelsFirst, inS.count >= 2 {
                throw TrainingError(.unsupportedLayerSetup, layer: l.name, "layer '\(l.name)' (\(l.op.className)) is channels_first, which training does not support; freeze it (train from a later layer)")
            }
            if case .dense = l.op, inS.count != 1 {
                throw TrainingError(.unsupportedLayerSetup, layer: l.name, "layer '\(l.name)': training a Dense layer on a \(inS.count + 1)-D input is not supported")
            }
            let params = info.weights.map { Parameter(layer: l.name, weight: $0.name, shape: $0.shape) }
            let node = TrainingNode(name: l.name, layer: layer, activation: layer.trainingActivation, inShape: inS, outShape: outS, params: params)
            let allowed = Self.trainableActivations + (i == layers.count - 1 ? [.softmax] : [])
            guard allowed.contains(node.activation) else {
                throw TrainingError(.untrainableActivation(node.activation.kerasName), layer: l.name, "layer '\(l.name)': activation '\(node.activation.kerasName)' cannot be trained here (supported: \(allowed.map(\.kerasName).joined(separator: ", ")))")
            }
            nodes.append(node)
        }
        guard nodes.last?.activation == .softmax else {
            throw TrainingError(.unsuitableModel, layer: nodes.last!.name, "the model must end in a softmax layer for categorical cross-entropy, '\(nodes.last!.name)' does not")
        }
        if let weights { try load(weights: weights) }
    }

    /// Whether the parameters hold values (given to `init` or by `load(weights:)`).
    package var isLoaded: Bool { parameters.allSatisfy { $0.value.count == $0.shape.reduce(1, *) } }

    /// Sets every parameter's value from `weights` (layer, weight), in layer order, with zero gradients. With
    /// `streamingKernelGradients`, Dense kernels keep no gradient: `backward(_:inputGradient:sink:)` hands it
    /// to its sink in blocks of rows, to be applied at once (for a VGG16 head, 0.1 GB never held).
    package func load(weights: (String, String) throws -> [Float], streamingKernelGradients: Bool = false) throws {
        for node in nodes {
            let dense = node.layer is Dense
            for p in node.params { p.load(try weights(p.layer, p.weight), streamGradient: streamingKernelGradients && dense && p.weight == "kernel") }
        }
    }

    /// Bytes of a streamed gradient's block (whole rows of a Dense kernel, at least one).
    package var gradientBlockBytes = 8 << 20

    /// Where the running backward pass hands streamed gradients: (parameter, first element, the block's values).
    var gradientSink: ((Parameter, Int, UnsafeBufferPointer<Float>) -> Void)? = nil

    /// While `Optimizer.backwardAndStep` runs in one process: gives a streamed parameter's update to a body that
    /// applies gradient blocks from all threads at once (instead of handing them to the sink one by one).
    var concurrentUpdate: ((Parameter, (BlockUpdate) -> Void) -> Void)? = nil

    /// Bytes of a thread's block when streamed gradients are applied from all threads (`concurrentUpdate`):
    /// small enough to stay in its core's cache between being computed and being applied (whole rows, at least one).
    package var concurrentBlockBytes = 64 << 10

    /// The streamed gradients' block, kept from step to step: a fresh 8 MB array per layer and step was a fresh
    /// mapping (allocations past glibc's 1 MB mmap threshold), paid in page faults and zeroing every step.
    private var gradientScratch: [Float] = []

    /// Runs `body` with at least `count` floats of the streamed gradients' scratch (contents unspecified).
    func withGradientScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        if gradientScratch.count < count { gradientScratch = []; gradientScratch = [Float](repeating: 0, count: count) }
        return gradientScratch.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    // MARK: forward

    /// Forward pass over a batch of `n` inputs (each `inputShape`), in training mode (dropout on) or not.
    /// Returns the softmax probabilities (n x classes).
    package func forward(_ x: [Float], n: Int, training: Bool) -> [Float] {
        batch = n
        inputs = []
        outputs = []
        saved = []
        var cur = x
        for node in nodes {
            inputs.append(training ? cur : [])
            var (out, kept) = node.layer.forward(cur, node: node, n: n, training: training, net: self)
            activate(node.activation, &out, rows: n * node.outShape.dropLast().reduce(1, *), width: node.outShape.last!)
            if training { outputs.append(out); saved.append(kept) }
            cur = out
        }
        return cur
    }

    func activate(_ activation: Activation, _ x: inout [Float], rows: Int, width: Int) {
        switch activation {
        case .linear: return
        case .softmax: vgg_softmax(&x, rows, width, 1, 0)
        default: vgg_activation(activation.kernelCode!, &x, x.count)  // one of trainableActivations (checked at init)
        }
    }

    // MARK: loss and backward

    /// Keras's categorical cross-entropy on softmax outputs (probabilities renormalized, clipped to
    /// [1e-7, 1 - 1e-7]), weighted per sample, averaged over the batch as Keras does (sum of weighted losses
    /// / batch size). Returns the loss and d loss / d logits. `batch` is the size averaged over (default: the
    /// rows given; data-parallel training gives the global batch's, so the ranks' parts sum to the batch's).
    package static func crossEntropy(_ p: [Float], labels: [Int], classes: Int, sampleWeights: [Float]? = nil,
                                     batch: Int? = nil) -> (loss: Double, dlogits: [Float]) {
        let n = batch ?? labels.count
        var loss = 0.0
        var d = [Float](repeating: 0, count: p.count)
        let eps: Float = 1e-7
        for i in 0..<labels.count {
            let row = p[(i * classes)..<((i + 1) * classes)]
            let sum = row.reduce(0, +)
            let py = row[row.startIndex + labels[i]] / sum
            let clipped = min(max(py, eps), 1 - eps)
            let w = sampleWeights?[i] ?? 1
            loss += Double(-log(clipped)) * Double(w)
            // Through the clip (zero gradient outside), the renormalization and the softmax: p - onehot.
            if py > eps && py < 1 - eps {
                for j in 0..<classes { d[i * classes + j] = w * (p[i * classes + j] / sum - (j == labels[i] ? 1 : 0)) / Float(n) }
            }
        }
        return (loss / Double(n), d)
    }

    /// Backward pass from d loss / d logits of the last forward (training) pass; gradients are written to
    /// the parameters (replacing earlier ones). Returns d loss / d input.
    /// `inputGradient: false` lets the first layer skip d loss / d input (not needed to train).
    /// Parameters that stream their gradient (`Parameter.streamsGradient`) hand it to `sink` instead, block by
    /// block, once the layer no longer needs the parameter's value (so the sink may update it in place).
    @discardableResult
    package func backward(_ dlogits: [Float], inputGradient: Bool = true,
                          sink: ((Parameter, Int, UnsafeBufferPointer<Float>) -> Void)? = nil) -> [Float] {
        gradientSink = sink
        defer { gradientSink = nil }
        var g = dlogits
        for (i, node) in nodes.enumerated().reversed() {
            // Through the activation (softmax is fused with the loss).
            let y = outputs[i]
            switch node.activation {
            case .relu: for j in g.indices where y[j] <= 0 { g[j] = 0 }
            case .sigmoid: for j in g.indices { g[j] *= y[j] * (1 - y[j]) }
            case .tanh: for j in g.indices { g[j] *= 1 - y[j] * y[j] }
            default: break
            }
            guard let dx = node.layer.backward(g, x: inputs[i], saved: saved[i], node: node, n: batch, net: self,
                                               inputGradient: inputGradient || i > 0) else { return [] }
            g = dx
        }
        return g
    }
}

/// SplitMix64: small, fast, seedable; the same seed gives the same sequence on every machine.
package struct SplitMix64: Sendable {
    var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    package mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
    package mutating func nextInt(below n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Skips `count` numbers (the state is a counter: O(1)).
    package mutating func skip(_ count: Int) { state &+= 0x9E37_79B9_7F4A_7C15 &* UInt64(count) }
}
