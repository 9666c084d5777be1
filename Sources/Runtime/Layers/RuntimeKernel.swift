import CKernels
import ModelGraph

/// How a layer's output buffer relates to its input's.
enum BufferUse {
    /// A buffer of its own.
    case fresh
    /// The input's buffer, unchanged: the layer only reinterprets the shape (Flatten, Reshape) or is the
    /// identity at inference (Dropout).
    case alias
    /// The input's buffer, rewritten in place when this layer is its last reader (elementwise layers);
    /// otherwise a fresh buffer holding a copy of the input first.
    case inPlace
}

/// What a layer's step works on: its facts, its inputs' buffers and shapes (batch first), its output
/// buffer and shape, and the plan's scratch memory (shared by all layers, sized by `scratchFloats`).
struct StepContext {
    let engine: Engine
    let info: LayerInfo
    let inputs: [Plan.Input]
    let out: UnsafeMutablePointer<Float>
    let outShape: [Int]
    let scratch: UnsafeMutablePointer<Float>?
    /// The Keras mask on the input, `(batch, steps)` of 1 (kept) and 0 (masked), for the layers that read one
    /// (`LayerOp.maskUse`); nil when the input carries none.
    var mask: UnsafePointer<Float>? = nil
    /// Where a Masking layer writes the mask it makes.
    var maskOut: UnsafeMutablePointer<Float>? = nil
    /// Set when the plan fused the MaxPooling2D (2x2, stride 2) that alone reads this layer's output
    /// (`RuntimeKernel.fusesMaxPool`): the pooled shape, batch first, which `out` then holds instead.
    var pooled: [Int]? = nil

    var name: String { info.layer.name }
    /// The first input's buffer and shape.
    var x: UnsafePointer<Float> { inputs[0].ptr }
    var inShape: [Int] { inputs[0].shape }
    var outCount: Int { outShape.reduce(1, *) }

    /// A weight of this layer, in place in the file's mapping (or converted once from f16/bf16).
    func weight(_ name: String) throws -> UnsafePointer<Float> { try engine.weight(info.layer.name, name) }
}

/// A layer type's forward step on the CPU. One extension per layer type, beside this file;
/// `LayerOp.runtime` is the Runtime's dispatch point.
protocol RuntimeKernel: LayerKind {
    /// How the output buffer relates to the input (default: a fresh buffer).
    var bufferUse: BufferUse { get }
    /// Floats of scratch the step needs, all threads together (default: none). Shapes are batch first.
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int
    /// Builds the step: weights are looked up and geometry computed once here; the closure runs the
    /// kernels on every execution of the plan.
    func makeStep(_ c: StepContext) throws -> () throws -> Void
    /// Whether the step can write its output max-pooled 2x2 with stride 2 (`StepContext.pooled`) for the
    /// MaxPooling2D that alone reads it (default: no).
    func fusesMaxPool(_ layer: String, inShape: [Int], outShape: [Int], engine: Engine) throws -> Bool
}

extension RuntimeKernel {
    var bufferUse: BufferUse { .fresh }
    func scratchFloats(inShape: [Int], outShape: [Int], engine: Engine) -> Int { 0 }
    func fusesMaxPool(_ layer: String, inShape: [Int], outShape: [Int], engine: Engine) throws -> Bool { false }
}

extension LayerOp {
    /// The layer's forward step (the Runtime's dispatch point); nil for layers the runtime does not run
    /// as such (a nested model runs as its layers: `ModelGraph.flattened()`).
    var runtime: (any RuntimeKernel)? {
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
        case .nested: nil
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
        case .conv1D(let l): l
        case .maxPooling1D(let l): l
        case .averagePooling1D(let l): l
        case .globalAveragePooling1D(let l): l
        case .globalMaxPooling1D(let l): l
        case .spatialDropout1D(let l): l
        case .spatialDropout3D(let l): l
        case .alphaDropout(let l): l
        case .identity(let l): l
        case .randomAugmentation(let l): l.isIdentityAtInference ? l : nil
        case .embedding(let l): l
        case .zeroPadding1D(let l): l
        case .cropping1D(let l): l
        case .upSampling1D(let l): l
        case .repeatVector(let l): l
        case .timeDistributed(let l): l.layer.runtime == nil ? nil : l
        case .resizing(let l): l
        case .centerCrop(let l): l
        case .simpleRNN(let l): l
        case .lstm(let l): l
        case .gru(let l): l
        case .bidirectional(let l): l
        case .masking(let l): l
        case .maxPooling3D, .averagePooling3D, .globalMaxPooling3D, .globalAveragePooling3D, .zeroPadding3D, .cropping3D, .upSampling3D, .conv3D, .conv1DTranspose, .conv3DTranspose, .separableConv1D, .depthwiseConv1D, .multiHeadAttention, .attention, .additiveAttention, .dot, .groupNormalization, .unitNormalization, .categoryEncoding, .opaque:
            nil
        }
    }
}

extension Window2D {
    /// The kernels' geometry for NHWC input and output shapes (batch first), with TensorFlow's padding.
    package func kernelShape(input i: [Int], output o: [Int]) -> vgg_conv_shape {
        let pad = padBefore(inHeight: i[1], inWidth: i[2], outHeight: o[1], outWidth: o[2])
        return vgg_conv_shape(
            n: Int32(i[0]), h: Int32(i[1]), w: Int32(i[2]), c: Int32(i[3]),
            oh: Int32(o[1]), ow: Int32(o[2]), k: Int32(o[3]),
            kh: Int32(size.height), kw: Int32(size.width), sh: Int32(strides.height), sw: Int32(strides.width),
            dh: Int32(dilation.height), dw: Int32(dilation.width), pad_top: Int32(pad.top), pad_left: Int32(pad.left))
    }
}

extension Activation {
    /// The C kernels' code for elementwise activations; nil for softmax and log_softmax (over rows).
    package var kernelCode: Int32? {
        switch self {
        case .linear: Int32(VGG_ACT_LINEAR)
        case .relu: Int32(VGG_ACT_RELU)
        case .sigmoid: Int32(VGG_ACT_SIGMOID)
        case .tanh: Int32(VGG_ACT_TANH)
        case .elu: Int32(VGG_ACT_ELU)
        case .selu: Int32(VGG_ACT_SELU)
        case .softplus: Int32(VGG_ACT_SOFTPLUS)
        case .softsign: Int32(VGG_ACT_SOFTSIGN)
        case .swish, .silu: Int32(VGG_ACT_SWISH)
        case .gelu: Int32(VGG_ACT_GELU)
        case .exponential: Int32(VGG_ACT_EXPONENTIAL)
        case .relu6: Int32(VGG_ACT_RELU6)
        case .leakyRelu: Int32(VGG_ACT_LEAKY_RELU)
        case .hardSigmoid: Int32(VGG_ACT_HARD_SIGMOID_K2)
        case .hardSigmoidKeras3: Int32(VGG_ACT_HARD_SIGMOID_K3)
        case .hardSilu, .hardSwish: Int32(VGG_ACT_HARD_SWISH)
        case .mish: Int32(VGG_ACT_MISH)
        case .softmax, .logSoftmax: nil
        }
    }
}
