import ModelGraph

/// One layer of the trainable chain as the training loop holds it: the layer, its shapes without the
/// batch, the activation applied after it, and its parameters.
struct TrainingNode {
    var name: String
    var layer: any Differentiable
    var activation: Activation
    var inShape: [Int]
    var outShape: [Int]
    var params: [Parameter]
}

/// A layer type's training steps: a forward pass that keeps what the backward pass needs, and a backward
/// pass that writes its parameters' gradients and returns the gradient with respect to its input. The
/// node's activation is applied (and differentiated) by the network around these. One extension per layer
/// type, beside this file; `LayerOp.differentiable` is Training's dispatch point.
protocol Differentiable: LayerKind {
    /// The activation the network applies after the layer (default: the layer's own, else linear).
    var trainingActivation: Activation { get }
    /// Output (before the activation) of a batch of `n`; `saved` is kept for the backward pass (e.g. a
    /// dropout mask).
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float])
    /// From `g` = d loss / d output (after the activation's derivative), the input `x` and what `forward`
    /// saved: sets the parameters' gradients (replacing earlier ones) and returns d loss / d input, or nil
    /// when `inputGradient` is false and the layer can skip it.
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]?
}

extension Differentiable {
    var trainingActivation: Activation { outputActivation ?? .linear }
}

extension LayerOp {
    /// The layer's training steps, or nil when it cannot be trained (Training's dispatch point).
    var differentiable: (any Differentiable)? {
        switch self {
        case .conv2D(let l): l
        case .dense(let l): l
        case .maxPooling2D(let l): l
        case .averagePooling2D(let l): l
        case .globalAveragePooling2D(let l): l
        case .globalMaxPooling2D(let l): l
        case .flatten(let l): l
        case .reshape(let l): l
        case .dropout(let l): l
        case .activation(let l): l
        case .relu(let l): l.isPlain ? l : nil
        case .leakyReLU(let l): l
        case .input, .depthwiseConv2D, .separableConv2D, .batchNormalization, .softmax, .zeroPadding2D,
             .add, .multiply, .concatenate, .nested, .gaussianNoise, .gaussianDropout, .spatialDropout2D, .activityRegularization,
             .elu, .thresholdedReLU, .rescaling, .subtract, .average, .maximum, .minimum, .upSampling2D, .cropping2D, .permute,
             .conv2DTranspose, .layerNormalization, .normalization, .pReLU:
            nil
        case .simpleRNN, .lstm, .gru, .bidirectional, .timeDistributed, .embedding, .spatialDropout1D, .spatialDropout3D, .alphaDropout, .masking, .identity, .repeatVector, .maxPooling3D, .averagePooling3D, .globalMaxPooling3D, .globalAveragePooling3D, .zeroPadding1D, .zeroPadding3D, .cropping1D, .cropping3D, .upSampling1D, .upSampling3D, .conv3D, .conv1DTranspose, .conv3DTranspose, .separableConv1D, .depthwiseConv1D, .multiHeadAttention, .attention, .additiveAttention, .dot, .groupNormalization, .unitNormalization, .conv1D, .maxPooling1D, .averagePooling1D,
             .globalAveragePooling1D, .globalMaxPooling1D, .randomAugmentation, .resizing, .centerCrop, .categoryEncoding, .opaque:
            nil
        }
    }
}
