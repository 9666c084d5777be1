import ModelGraph

/// How a layer the runtime runs treats a Keras mask on its input (a Masking layer's, carried along by the
/// layers after it, as tf-keras and Keras 3 Sequential models do implicitly).
enum MaskUse {
    /// The Masking layer: makes the mask.
    case produces
    /// Computes every step as without a mask and hands the mask on (Dense, BatchNormalization, elementwise
    /// activations, the identities at inference, TimeDistributed).
    case propagates
    /// Reads the mask (recurrent layers, GlobalAveragePooling1D); `keeps`: hands it on (a recurrent layer
    /// returning sequences).
    case consumes(keeps: Bool)
    /// Does not support masking in Keras: computes as without a mask, and the layers after it get none
    /// (convolutions, pooling, reshaping and the 1-D padding, cropping and upsampling; tf-keras and Keras 3
    /// alike).
    case drops
}

extension LayerOp {
    /// How the layer treats a mask on its input; nil when the runtime cannot apply one to it (the plan then
    /// refuses the model, naming the layer).
    var maskUse: MaskUse? {
        switch self {
        case .masking: .produces
        case .batchNormalization, .dense, .relu, .leakyReLU, .elu, .thresholdedReLU, .dropout, .gaussianNoise, .gaussianDropout,
             .spatialDropout1D, .alphaDropout, .activityRegularization, .identity, .timeDistributed, .layerNormalization, .pReLU:
            .propagates
        case .conv1D, .maxPooling1D, .averagePooling1D, .globalMaxPooling1D, .flatten, .reshape, .zeroPadding1D, .cropping1D, .upSampling1D:
            .drops
        case .activation(let a): a.activation == .softmax || a.activation == .logSoftmax ? nil : .propagates
        case .simpleRNN(let l): .consumes(keeps: l.returnSequences)
        case .lstm(let l): .consumes(keeps: l.returnSequences)
        case .gru(let l): .consumes(keeps: l.returnSequences)
        case .bidirectional(let l): .consumes(keeps: l.forward?.returnSequences ?? false)
        case .globalAveragePooling1D: .consumes(keeps: false)
        default: nil
        }
    }
}

/// Which Masking layer's mask each layer's input carries, following `LayerOp.maskUse` through the graph;
/// throws naming the first layer that would be given a mask it cannot apply.
func maskFlow(_ layers: [Layer], file: String) throws -> [String: String] {
    var carried: [String: String] = [:]  // layer -> the Masking layer whose mask its output carries
    var input: [String: String] = [:]
    for l in layers {
        let incoming = l.inbound.compactMap { carried[$0] }
        if case .masking = l.op { carried[l.name] = l.name; continue }
        guard let source = incoming.first else { continue }
        guard l.inbound.count == 1, let use = l.op.maskUse else {
            throw RuntimeError(file: file, layer: l.name, .unsupportedSetting("mask"),
                               "is given the mask of Masking layer '\(source)', which vggtool's runtime does not apply to a \(l.op.className) layer")
        }
        input[l.name] = source
        switch use {
        case .produces, .drops: break
        case .propagates: carried[l.name] = source
        case .consumes(let keeps): if keeps { carried[l.name] = source }
        }
    }
    return input
}

extension Masking: RuntimeKernel {
    /// As Keras: a step is kept when any of its features differs from `mask_value`; the output is the input
    /// times that (masked steps become zeros), and the mask goes to the layers after it.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape
        guard s.count == 3 else {
            throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedSetting("rank \(s.count)"), "Masking of a \(s.count)-D input cannot be run (sequences (batch, steps, features) can)")
        }
        let x = c.x, out = c.out, mask = c.maskOut, value = Float(maskValue), steps = s[0] * s[1], f = s[2]
        return {
            for t in 0..<steps {
                var keep: Float = 0
                for j in 0..<f where x[t * f + j] != value { keep = 1; break }
                mask?[t] = keep
                for j in 0..<f { out[t * f + j] = x[t * f + j] * keep }
            }
        }
    }
}
