/// Typed layer specifications: one Swift type per Keras layer class.
///
/// Each layer class is a struct in its own file under `Layers/`, holding its typed configuration, its
/// shape inference, weight specs and multiply-accumulate count, and its `Codable` form (vggtool's own JSON,
/// the `.vggm` manifest). Every other concern extends the same type in the target that owns the concern:
/// the Keras dialects in KerasImport (`KerasLayer`), the forward step in Runtime (`RuntimeKernel`), the
/// backward step in Training (`Differentiable`). `LayerOp` lists the types; each target's single `switch`
/// over it (its dispatch point) turns a case into that target's protocol, so a missing conformance is a
/// compile error. docs/architecture.md has the checklist for adding a layer.
///
/// Layouts follow Keras (channels_last): activations NHWC, shapes written with the batch dimension first
/// (`nil` = any batch). Kernels: Conv2D HWIO `(kh, kw, in, out)`; DepthwiseConv2D `(kh, kw, in,
/// multiplier)`; SeparableConv2D depthwise `(kh, kw, in, multiplier)` + pointwise `(1, 1, in*multiplier,
/// out)`; Dense `(in, units)`.

/// A tensor shape with an optional (unknown) batch dimension first, as Keras prints it.
public typealias Shape = [Int?]

/// How many inputs a layer class takes.
public enum Arity: Sendable {
    /// A model input (InputLayer): no inbound layers.
    case none
    /// Exactly one inbound layer.
    case one
    /// Two or more inbound layers (merge layers).
    case many
}

/// What shape inference tells about one layer for given input shapes.
public struct Inference: Sendable, Equatable {
    /// The output shape, batch first.
    public var output: Shape
    /// The weights the layer owns, in Keras's order.
    public var weights: [WeightSpec]
    /// Multiply-accumulate operations per image (1 MAC = 2 FLOPs).
    public var macs: Int
    /// For a nested model: the analysis of its own layers at these input shapes.
    public var nested: GraphAnalysis?

    public init(output: Shape, weights: [WeightSpec] = [], macs: Int = 0, nested: GraphAnalysis? = nil) {
        self.output = output
        self.weights = weights
        self.macs = macs
        self.nested = nested
    }
}

/// Why a layer's inputs do not fit it (its one kind: the layer's own `infer` refused the input shapes);
/// `ModelGraph.analyze` adds the layer's name (`GraphError.shape`), which is how callers meet it.
public struct LayerShapeError: Error, Sendable, Equatable {
    /// What does not fit, in words.
    public var message: String
    /// The inputs do not fit, as `message` says.
    public init(_ message: String) { self.message = message }
}

/// What every Keras layer class knows about itself, independent of any backend: its Keras class name,
/// its arity, and its shape inference (output shape, weights, MACs). Conforming types are value types
/// whose stored properties are the layer's typed configuration; their `Codable` form is the layer's
/// `config` object in vggtool's JSON (docs/vggm-format.md).
public protocol LayerKind: Sendable, Hashable, Codable {
    /// The Keras class name (`Conv2D`).
    static var className: String { get }
    /// Other class names vggtool's JSON accepts for this type (none unless overridden).
    static var aliases: [String] { get }
    /// The Keras class name of this layer (the type's, unless one type stands for several classes).
    var className: String { get }
    /// How many inbound layers the class takes (one unless overridden).
    static var arity: Arity { get }
    /// How many inbound layers this layer takes (the class's, unless it depends on the configuration).
    var arity: Arity { get }
    /// The activation applied to the layer's output, for layers that take one (`Dense`, `Conv2D`, ...).
    var outputActivation: Activation? { get }
    /// Infers the output shape, weights and MACs from the input shapes (batch first). Throws
    /// `LayerShapeError` when the inputs do not fit the layer.
    func infer(_ inputs: [Shape]) throws -> Inference
    /// This layer as a `LayerOp` case.
    var op: LayerOp { get }
}

extension LayerKind {
    public static var aliases: [String] { [] }
    public static var arity: Arity { .one }
    public var arity: Arity { Self.arity }
    public var outputActivation: Activation? { nil }
    public var className: String { Self.className }
}

/// One layer's computation: one case per layer type. The cases are the list of layer classes vggtool
/// knows; each target's dispatch point switches over them once.
public enum LayerOp: Sendable, Hashable {
    case input(InputLayer)
    case conv2D(Conv2D)
    case depthwiseConv2D(DepthwiseConv2D)
    case separableConv2D(SeparableConv2D)
    case dense(Dense)
    case batchNormalization(BatchNormalization)
    case activation(ActivationLayer)
    case relu(ReLU)
    case leakyReLU(LeakyReLU)
    case softmax(Softmax)
    case dropout(Dropout)
    case flatten(Flatten)
    case reshape(Reshape)
    case maxPooling2D(MaxPooling2D)
    case averagePooling2D(AveragePooling2D)
    case globalAveragePooling2D(GlobalAveragePooling2D)
    case globalMaxPooling2D(GlobalMaxPooling2D)
    case zeroPadding2D(ZeroPadding2D)
    case add(Add)
    case multiply(Multiply)
    case concatenate(Concatenate)
    case nested(NestedModel)
    case gaussianNoise(GaussianNoise)
    case gaussianDropout(GaussianDropout)
    case spatialDropout2D(SpatialDropout2D)
    case activityRegularization(ActivityRegularization)
    case elu(ELU)
    case thresholdedReLU(ThresholdedReLU)
    case rescaling(Rescaling)
    case subtract(Subtract)
    case average(Average)
    case maximum(Maximum)
    case minimum(Minimum)
    case upSampling2D(UpSampling2D)
    case cropping2D(Cropping2D)
    case permute(Permute)
    case conv2DTranspose(Conv2DTranspose)
    case layerNormalization(LayerNormalization)
    case normalization(Normalization)
    case pReLU(PReLU)

    /// The layer type behind the case (ModelGraph's dispatch point).
    public var kind: any LayerKind {
        switch self {
        case .input(let l): l
        case .conv2D(let l): l
        case .depthwiseConv2D(let l): l
        case .separableConv2D(let l): l
        case .dense(let l): l
        case .batchNormalization(let l): l
        case .activation(let l): l
        case .relu(let l): l
        case .leakyReLU(let l): l
        case .softmax(let l): l
        case .dropout(let l): l
        case .flatten(let l): l
        case .reshape(let l): l
        case .maxPooling2D(let l): l
        case .averagePooling2D(let l): l
        case .globalAveragePooling2D(let l): l
        case .globalMaxPooling2D(let l): l
        case .zeroPadding2D(let l): l
        case .add(let l): l
        case .multiply(let l): l
        case .concatenate(let l): l
        case .nested(let l): l
        case .gaussianNoise(let l): l
        case .gaussianDropout(let l): l
        case .spatialDropout2D(let l): l
        case .activityRegularization(let l): l
        case .elu(let l): l
        case .thresholdedReLU(let l): l
        case .rescaling(let l): l
        case .subtract(let l): l
        case .average(let l): l
        case .maximum(let l): l
        case .minimum(let l): l
        case .upSampling2D(let l): l
        case .cropping2D(let l): l
        case .permute(let l): l
        case .conv2DTranspose(let l): l
        case .layerNormalization(let l): l
        case .normalization(let l): l
        case .pReLU(let l): l
        }
    }

    /// Every layer type, for lookups by class name (the JSON codec, the Keras dialects). A test checks it
    /// names each case once.
    public static let kinds: [any LayerKind.Type] = [
        InputLayer.self, Conv2D.self, DepthwiseConv2D.self, SeparableConv2D.self, Dense.self, BatchNormalization.self,
        ActivationLayer.self, ReLU.self, LeakyReLU.self, Softmax.self, Dropout.self, Flatten.self, Reshape.self,
        MaxPooling2D.self, AveragePooling2D.self, GlobalAveragePooling2D.self, GlobalMaxPooling2D.self, ZeroPadding2D.self,
        Add.self, Multiply.self, Concatenate.self, NestedModel.self,
        GaussianNoise.self, GaussianDropout.self, SpatialDropout2D.self, ActivityRegularization.self,
        ELU.self, ThresholdedReLU.self, Rescaling.self, Subtract.self, Average.self, Maximum.self, Minimum.self,
        UpSampling2D.self, Cropping2D.self, Permute.self, Conv2DTranspose.self, LayerNormalization.self, Normalization.self, PReLU.self,
    ]

    /// The Keras class name.
    public var className: String { kind.className }

    /// The activation the layer applies to its output, if it takes one.
    public var activation: Activation? { kind.outputActivation }

    /// True for layers that merge several inputs.
    public var isMerge: Bool { kind.arity == .many }

    /// The nested model, for a layer that is one.
    public var nestedModel: NestedModel? {
        if case .nested(let m) = self { return m }
        return nil
    }

    /// The input shape (without batch) of an InputLayer; nil for other layers.
    public var inputShape: [Int?]? {
        if case .input(let l) = self { return l.shape }
        return nil
    }
}

/// A weight a layer owns: Keras's short name (`kernel`, `bias`, `gamma`, ...), its shape, and whether
/// Keras trains it (BatchNormalization's moving statistics are never trained).
public struct WeightSpec: Sendable, Hashable {
    public var name: String
    public var shape: [Int]
    public var trainable: Bool
    /// Bytes per element in Keras (4 for float32 variables; 8 for an int64 counter such as
    /// Normalization's `count`): what Keras's summary counts as the weights' memory.
    public var bytesPerElement: Int

    public init(name: String, shape: [Int], trainable: Bool = true, bytesPerElement: Int = 4) {
        self.name = name
        self.shape = shape
        self.trainable = trainable
        self.bytesPerElement = bytesPerElement
    }

    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes Keras holds for the weight.
    public var byteCount: Int { elementCount * bytesPerElement }
}

/// A layer of the graph: name, computation, the names of the layers feeding it (one inbound node; the
/// first output of each), and whether it is trainable.
public struct Layer: Sendable, Hashable {
    public var name: String
    public var op: LayerOp
    public var inbound: [String]
    public var trainable: Bool

    public init(name: String, op: LayerOp, inbound: [String], trainable: Bool = true) {
        self.name = name
        self.op = op
        self.inbound = inbound
        self.trainable = trainable
    }

    /// A layer of type `kind`: `Layer(name: "fc1", Dense(units: 4096, activation: .relu), inbound: ["flatten"])`.
    public init(name: String, _ kind: some LayerKind, inbound: [String], trainable: Bool = true) {
        self.init(name: name, op: kind.op, inbound: inbound, trainable: trainable)
    }
}
