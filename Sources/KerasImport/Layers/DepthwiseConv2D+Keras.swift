import Foundation
import ModelGraph

extension DepthwiseConv2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        self.init(kernel: try c.size("kernel_size"), strides: try c.size("strides", default: 1), padding: try c.padding(),
                  depthMultiplier: try c.positive("depth_multiplier", default: 1), dilation: try c.size("dilation_rate", default: 1),
                  activation: try c.activation(), useBias: c.bool("use_bias", default: true), dataFormat: try c.kernelChannelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["kernel_size": kernel.array, "strides": strides.array, "padding": padding.rawValue, "data_format": dataFormat.rawValue,
         "depth_multiplier": depthMultiplier, "dilation_rate": dilation.array, "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}
