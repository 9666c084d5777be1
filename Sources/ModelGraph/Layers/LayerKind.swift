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

    /// An inference result; layers without weights or arithmetic leave `weights` and `macs` out.
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
    /// Keras `InputLayer`: a model input.
    case input(InputLayer)
    /// Keras `Conv2D`.
    case conv2D(Conv2D)
    /// Keras `DepthwiseConv2D`.
    case depthwiseConv2D(DepthwiseConv2D)
    /// Keras `SeparableConv2D`.
    case separableConv2D(SeparableConv2D)
    /// Keras `Dense`.
    case dense(Dense)
    /// Keras `BatchNormalization` (inference form: moving statistics).
    case batchNormalization(BatchNormalization)
    /// Keras `Activation`.
    case activation(ActivationLayer)
    /// Keras `ReLU` (with max value, negative slope and threshold).
    case relu(ReLU)
    /// Keras `LeakyReLU`.
    case leakyReLU(LeakyReLU)
    /// Keras `Softmax` layer.
    case softmax(Softmax)
    /// Keras `Dropout` (identity at inference).
    case dropout(Dropout)
    /// Keras `Flatten`.
    case flatten(Flatten)
    /// Keras `Reshape`.
    case reshape(Reshape)
    /// Keras `MaxPooling2D`.
    case maxPooling2D(MaxPooling2D)
    /// Keras `AveragePooling2D`.
    case averagePooling2D(AveragePooling2D)
    /// Keras `GlobalAveragePooling2D`.
    case globalAveragePooling2D(GlobalAveragePooling2D)
    /// Keras `GlobalMaxPooling2D`.
    case globalMaxPooling2D(GlobalMaxPooling2D)
    /// Keras `ZeroPadding2D`.
    case zeroPadding2D(ZeroPadding2D)
    /// Keras `Add`.
    case add(Add)
    /// Keras `Multiply`.
    case multiply(Multiply)
    /// Keras `Concatenate`.
    case concatenate(Concatenate)
    /// A model used as a layer (`Functional`, `Sequential` or `Model`), holding its own graph.
    case nested(NestedModel)
    /// Keras `GaussianNoise` (identity at inference).
    case gaussianNoise(GaussianNoise)
    /// Keras `GaussianDropout` (identity at inference).
    case gaussianDropout(GaussianDropout)
    /// Keras `SpatialDropout2D` (identity at inference).
    case spatialDropout2D(SpatialDropout2D)
    /// Keras `ActivityRegularization` (identity at inference).
    case activityRegularization(ActivityRegularization)
    /// Keras `ELU` layer.
    case elu(ELU)
    /// tf-keras `ThresholdedReLU`.
    case thresholdedReLU(ThresholdedReLU)
    /// Keras `Rescaling`.
    case rescaling(Rescaling)
    /// Keras `Subtract`.
    case subtract(Subtract)
    /// Keras `Average`.
    case average(Average)
    /// Keras `Maximum`.
    case maximum(Maximum)
    /// Keras `Minimum`.
    case minimum(Minimum)
    /// Keras `UpSampling2D`.
    case upSampling2D(UpSampling2D)
    /// Keras `Cropping2D`.
    case cropping2D(Cropping2D)
    /// Keras `Permute`.
    case permute(Permute)
    /// Keras `Conv2DTranspose`.
    case conv2DTranspose(Conv2DTranspose)
    /// Keras `LayerNormalization`.
    case layerNormalization(LayerNormalization)
    /// Keras `Normalization`.
    case normalization(Normalization)
    /// Keras `PReLU`.
    case pReLU(PReLU)
    /// Keras `SimpleRNN`.
    case simpleRNN(SimpleRNN)
    /// Keras `LSTM`.
    case lstm(LSTM)
    /// Keras `GRU`.
    case gru(GRU)
    /// Keras `Bidirectional`.
    indirect case bidirectional(Bidirectional)
    /// Keras `TimeDistributed`.
    indirect case timeDistributed(TimeDistributed)
    /// Keras `Embedding`.
    case embedding(Embedding)
    /// Keras `SpatialDropout1D`.
    case spatialDropout1D(SpatialDropout1D)
    /// Keras `SpatialDropout3D`.
    case spatialDropout3D(SpatialDropout3D)
    /// Keras `AlphaDropout`.
    case alphaDropout(AlphaDropout)
    /// Keras `Masking`.
    case masking(Masking)
    /// Keras `Identity`.
    case identity(Identity)
    /// Keras `RepeatVector`.
    case repeatVector(RepeatVector)
    /// Keras `MaxPooling3D`.
    case maxPooling3D(MaxPooling3D)
    /// Keras `AveragePooling3D`.
    case averagePooling3D(AveragePooling3D)
    /// Keras `GlobalMaxPooling3D`.
    case globalMaxPooling3D(GlobalMaxPooling3D)
    /// Keras `GlobalAveragePooling3D`.
    case globalAveragePooling3D(GlobalAveragePooling3D)
    /// Keras `ZeroPadding1D`.
    case zeroPadding1D(ZeroPadding1D)
    /// Keras `ZeroPadding3D`.
    case zeroPadding3D(ZeroPadding3D)
    /// Keras `Cropping1D`.
    case cropping1D(Cropping1D)
    /// Keras `Cropping3D`.
    case cropping3D(Cropping3D)
    /// Keras `UpSampling1D`.
    case upSampling1D(UpSampling1D)
    /// Keras `UpSampling3D`.
    case upSampling3D(UpSampling3D)
    /// Keras `Conv3D`.
    case conv3D(Conv3D)
    /// Keras `Conv1DTranspose`.
    case conv1DTranspose(Conv1DTranspose)
    /// Keras `Conv3DTranspose`.
    case conv3DTranspose(Conv3DTranspose)
    /// Keras `SeparableConv1D`.
    case separableConv1D(SeparableConv1D)
    /// Keras `DepthwiseConv1D`.
    case depthwiseConv1D(DepthwiseConv1D)
    /// Keras `MultiHeadAttention`.
    case multiHeadAttention(MultiHeadAttention)
    /// Keras `Attention`.
    case attention(Attention)
    /// Keras `AdditiveAttention`.
    case additiveAttention(AdditiveAttention)
    /// Keras `Dot`.
    case dot(Dot)
    /// Keras `GroupNormalization`.
    case groupNormalization(GroupNormalization)
    /// Keras `UnitNormalization`.
    case unitNormalization(UnitNormalization)
    /// Keras `Conv1D`.
    case conv1D(Conv1D)
    /// Keras `MaxPooling1D`.
    case maxPooling1D(MaxPooling1D)
    /// Keras `AveragePooling1D`.
    case averagePooling1D(AveragePooling1D)
    /// Keras `GlobalAveragePooling1D`.
    case globalAveragePooling1D(GlobalAveragePooling1D)
    /// Keras `GlobalMaxPooling1D`.
    case globalMaxPooling1D(GlobalMaxPooling1D)
    /// Keras's random augmentation layers (`RandomFlip`, `RandomRotation`, ...).
    case randomAugmentation(RandomAugmentation)
    /// Keras `Resizing`.
    case resizing(Resizing)
    /// Keras `CenterCrop`.
    case centerCrop(CenterCrop)
    /// Keras `CategoryEncoding`.
    case categoryEncoding(CategoryEncoding)
    /// A layer vggtool does not interpret, shown by the inspector only.
    case opaque(OpaqueLayer)

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
        case .simpleRNN(let l): l
        case .lstm(let l): l
        case .gru(let l): l
        case .bidirectional(let l): l
        case .timeDistributed(let l): l
        case .embedding(let l): l
        case .spatialDropout1D(let l): l
        case .spatialDropout3D(let l): l
        case .alphaDropout(let l): l
        case .masking(let l): l
        case .identity(let l): l
        case .repeatVector(let l): l
        case .maxPooling3D(let l): l
        case .averagePooling3D(let l): l
        case .globalMaxPooling3D(let l): l
        case .globalAveragePooling3D(let l): l
        case .zeroPadding1D(let l): l
        case .zeroPadding3D(let l): l
        case .cropping1D(let l): l
        case .cropping3D(let l): l
        case .upSampling1D(let l): l
        case .upSampling3D(let l): l
        case .conv3D(let l): l
        case .conv1DTranspose(let l): l
        case .conv3DTranspose(let l): l
        case .separableConv1D(let l): l
        case .depthwiseConv1D(let l): l
        case .multiHeadAttention(let l): l
        case .attention(let l): l
        case .additiveAttention(let l): l
        case .dot(let l): l
        case .groupNormalization(let l): l
        case .unitNormalization(let l): l
        case .conv1D(let l): l
        case .maxPooling1D(let l): l
        case .averagePooling1D(let l): l
        case .globalAveragePooling1D(let l): l
        case .globalMaxPooling1D(let l): l
        case .randomAugmentation(let l): l
        case .resizing(let l): l
        case .centerCrop(let l): l
        case .categoryEncoding(let l): l
        case .opaque(let l): l
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
        SimpleRNN.self, LSTM.self, GRU.self, Bidirectional.self, TimeDistributed.self, Embedding.self, SpatialDropout1D.self, SpatialDropout3D.self, AlphaDropout.self, Masking.self, Identity.self, RepeatVector.self,
        MaxPooling3D.self, AveragePooling3D.self, GlobalMaxPooling3D.self, GlobalAveragePooling3D.self, ZeroPadding1D.self, ZeroPadding3D.self, Cropping1D.self, Cropping3D.self, UpSampling1D.self, UpSampling3D.self, Conv3D.self, Conv1DTranspose.self,
        Conv3DTranspose.self, SeparableConv1D.self, DepthwiseConv1D.self, MultiHeadAttention.self, Attention.self, AdditiveAttention.self, Dot.self, GroupNormalization.self, UnitNormalization.self,
        Conv1D.self, MaxPooling1D.self, AveragePooling1D.self, GlobalAveragePooling1D.self, GlobalMaxPooling1D.self,
        RandomAugmentation.self, Resizing.self, CenterCrop.self, CategoryEncoding.self, OpaqueLayer.self,
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
    /// Keras's short name of the weight (`kernel`, `bias`, `moving_mean`, ...).
    public var name: String
    /// Shape as Keras holds it: HWIO convolution kernels, (in, units) dense kernels.
    public var shape: [Int]
    /// Whether Keras trains the weight (false for BatchNormalization's moving statistics).
    public var trainable: Bool
    /// Bytes per element in Keras (4 for float32 variables; 8 for an int64 counter such as
    /// Normalization's `count`): what Keras's summary counts as the weights' memory.
    public var bytesPerElement: Int

    /// A weight spec; weights are trainable and float32 unless said otherwise.
    public init(name: String, shape: [Int], trainable: Bool = true, bytesPerElement: Int = 4) {
        self.name = name
        self.shape = shape
        self.trainable = trainable
        self.bytesPerElement = bytesPerElement
    }

    /// Number of elements (parameters, not bytes): the product of `shape`.
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes Keras holds for the weight.
    public var byteCount: Int { elementCount * bytesPerElement }
}

/// A layer of the graph: name, computation, the names of the layers feeding it (one inbound node; the
/// first output of each), and whether it is trainable.
public struct Layer: Sendable, Hashable {
    /// The layer's name, unique in its graph (`block1_conv1`).
    public var name: String
    /// The layer's type and typed configuration.
    public var op: LayerOp
    /// Names of the layers whose outputs feed this one, in order (empty for an InputLayer).
    public var inbound: [String]
    /// Whether the layer's weights are trainable (Keras's `trainable`; frozen layers count as non-trainable).
    public var trainable: Bool
    /// Names of the layers whose outputs Keras 3 passes as the layer's `mask` (a Masking layer's mask, made by
    /// `NotEqual` and `Any` operation layers): they come earlier and Keras lists them among the layer's
    /// connections, but they are not inputs of its computation (and the runtime runs no layer that has one).
    public var maskInbound: [String]

    /// A layer of a graph.
    public init(name: String, op: LayerOp, inbound: [String], trainable: Bool = true, maskInbound: [String] = []) {
        self.name = name
        self.op = op
        self.inbound = inbound
        self.trainable = trainable
        self.maskInbound = maskInbound
    }

    /// `inbound` then `maskInbound`: every layer this one is connected to, as Keras lists them.
    public var connections: [String] { inbound + maskInbound }

    /// A layer of type `kind`: `Layer(name: "fc1", Dense(units: 4096, activation: .relu), inbound: ["flatten"])`.
    public init(name: String, _ kind: some LayerKind, inbound: [String], trainable: Bool = true) {
        self.init(name: name, op: kind.op, inbound: inbound, trainable: trainable)
    }
}
