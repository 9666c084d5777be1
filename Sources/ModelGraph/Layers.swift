/// Typed layer specifications: what each Keras layer class computes, its weights and their shapes.
///
/// Layouts follow Keras (channels_last): activations NHWC, shapes written with the batch dimension first
/// (`nil` = any batch). Kernels: Conv2D HWIO `(kh, kw, in, out)`; DepthwiseConv2D `(kh, kw, in,
/// multiplier)`; SeparableConv2D depthwise `(kh, kw, in, multiplier)` + pointwise `(1, 1, in*multiplier,
/// out)`; Dense `(in, units)`.

/// A tensor shape with an optional (unknown) batch dimension first, as Keras prints it.
public typealias Shape = [Int?]

public enum Padding: String, Sendable, Codable { case same, valid }

/// One Keras layer's computation. Every case maps to one Keras class (`className`).
public enum LayerOp: Sendable, Equatable {
    /// Input placeholder; `shape` excludes the batch dimension (H, W, C for images); `nil` = any size
    /// (keras.applications builds VGG16 without top as (None, None, 3)).
    case input(shape: [Int?])
    case conv2D(filters: Int, kernel: [Int], strides: [Int], padding: Padding, dilation: [Int], activation: String, useBias: Bool)
    case depthwiseConv2D(kernel: [Int], strides: [Int], padding: Padding, depthMultiplier: Int, dilation: [Int], activation: String, useBias: Bool)
    case separableConv2D(filters: Int, kernel: [Int], strides: [Int], padding: Padding, depthMultiplier: Int, dilation: [Int], activation: String, useBias: Bool)
    case dense(units: Int, activation: String, useBias: Bool)
    /// Inference-time batch normalization over the last axis.
    case batchNormalization(epsilon: Double, center: Bool, scale: Bool)
    case activation(String)
    case relu(maxValue: Double?, negativeSlope: Double, threshold: Double)
    case softmax(axis: Int)
    case dropout(rate: Double)
    case flatten
    /// Target shape without the batch dimension; at most one -1.
    case reshape(targetShape: [Int])
    case maxPooling2D(pool: [Int], strides: [Int], padding: Padding)
    case averagePooling2D(pool: [Int], strides: [Int], padding: Padding)
    case globalAveragePooling2D(keepDims: Bool)
    case globalMaxPooling2D(keepDims: Bool)
    /// Zero padding (top, bottom, left, right).
    case zeroPadding2D(top: Int, bottom: Int, left: Int, right: Int)
    case add
    case multiply
    case concatenate(axis: Int)

    /// The Keras class name.
    public var className: String {
        switch self {
        case .input: return "InputLayer"
        case .conv2D: return "Conv2D"
        case .depthwiseConv2D: return "DepthwiseConv2D"
        case .separableConv2D: return "SeparableConv2D"
        case .dense: return "Dense"
        case .batchNormalization: return "BatchNormalization"
        case .activation: return "Activation"
        case .relu: return "ReLU"
        case .softmax: return "Softmax"
        case .dropout: return "Dropout"
        case .flatten: return "Flatten"
        case .reshape: return "Reshape"
        case .maxPooling2D: return "MaxPooling2D"
        case .averagePooling2D: return "AveragePooling2D"
        case .globalAveragePooling2D: return "GlobalAveragePooling2D"
        case .globalMaxPooling2D: return "GlobalMaxPooling2D"
        case .zeroPadding2D: return "ZeroPadding2D"
        case .add: return "Add"
        case .multiply: return "Multiply"
        case .concatenate: return "Concatenate"
        }
    }

    /// True for layers that merge several inputs.
    public var isMerge: Bool {
        switch self {
        case .add, .multiply, .concatenate: return true
        default: return false
        }
    }
}

/// A weight a layer owns: Keras's short name (`kernel`, `bias`, `gamma`, ...), its shape, and whether
/// Keras trains it (BatchNormalization's moving statistics are never trained).
public struct WeightSpec: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var trainable: Bool

    public init(name: String, shape: [Int], trainable: Bool = true) {
        self.name = name
        self.shape = shape
        self.trainable = trainable
    }

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A layer of the graph: name, computation, the names of the layers feeding it (one inbound node; the
/// first output of each), and whether it is trainable.
public struct Layer: Sendable, Equatable {
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
}
