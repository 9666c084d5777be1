import Foundation
import ModelGraph

extension Embedding: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        if let r = c["lora_rank"] as? NSNumber, r.intValue > 0 { throw c.error("Embedding with LoRA weights is not supported") }
        self.init(inputDim: try c.positive("input_dim"), outputDim: try c.positive("output_dim"), maskZero: c.bool("mask_zero", default: false))
    }
    func tfKerasConfig() -> [String: Any] { ["input_dim": inputDim, "output_dim": outputDim, "mask_zero": maskZero, "input_length": NSNull()] }
}

extension SpatialDropout1D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(rate: c.double("rate", "p", default: 0)) }
    func tfKerasConfig() -> [String: Any] { ["rate": rate, "noise_shape": NSNull(), "seed": NSNull()] }
}

extension SpatialDropout3D: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(rate: c.double("rate", "p", default: 0), dataFormat: try c.channelOrder()) }
    func tfKerasConfig() -> [String: Any] { ["rate": rate, "noise_shape": NSNull(), "seed": NSNull(), "data_format": dataFormat.rawValue] }
}

extension AlphaDropout: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(rate: c.double("rate", default: 0)) }
    func tfKerasConfig() -> [String: Any] { ["rate": rate, "noise_shape": NSNull(), "seed": NSNull()] }
}

extension Masking: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(maskValue: c.double("mask_value", default: 0)) }
    func tfKerasConfig() -> [String: Any] { ["mask_value": maskValue] }
}

extension Identity: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init() }
    func tfKerasConfig() -> [String: Any] { [:] }
}

extension RepeatVector: KerasLayer {
    init(keras c: KerasLayerConfig) throws { self.init(n: try c.positive("n")) }
    func tfKerasConfig() -> [String: Any] { ["n": n] }
}
