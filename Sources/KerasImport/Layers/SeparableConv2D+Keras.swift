import Foundation
import ModelGraph

extension SeparableConv2D: KerasLayer {
    static let kerasClassNames = ["SeparableConv2D", "SeparableConvolution2D"]

    init(keras c: KerasLayerConfig) throws {
        self.init(filters: try c.positive("filters"), kernel: try c.size("kernel_size"), strides: try c.size("strides", default: 1),
                  padding: try c.padding(), depthMultiplier: try c.positive("depth_multiplier", default: 1),
                  dilation: try c.size("dilation_rate", default: 1), activation: try c.activation(), useBias: c.bool("use_bias", default: true), dataFormat: try c.kernelChannelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": kernel.array, "strides": strides.array, "padding": padding.rawValue, "data_format": dataFormat.rawValue,
         "depth_multiplier": depthMultiplier, "dilation_rate": dilation.array, "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}
