import Foundation
import ModelGraph

extension Conv2D: KerasLayer {
    static let kerasClassNames = ["Conv2D", "Convolution2D"]

    /// Keras 2/3 keys, or Keras 1's `nb_filter`, `nb_row`/`nb_col`, `subsample`, `border_mode`, `bias`.
    init(keras c: KerasLayerConfig) throws {
        if let g = c["groups"] as? NSNumber, g.intValue != 1 { throw c.error(.unsupported, "grouped convolution (groups=\(g)) is not supported") }
        let kernel = c["kernel_size"] != nil ? try c.size("kernel_size")
            : Size2D(try c.positive("nb_row"), try c.positive("nb_col"))
        self.init(filters: try c.positive("filters", "nb_filter"), kernel: kernel, strides: try c.size("strides", "subsample", default: 1),
                  padding: try c.padding(), dilation: try c.size("dilation_rate", default: 1), activation: try c.activation(),
                  useBias: c.bool("use_bias", "bias", default: true), dataFormat: try c.kernelChannelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": kernel.array, "strides": strides.array, "padding": padding.rawValue, "data_format": dataFormat.rawValue,
         "dilation_rate": dilation.array, "groups": 1, "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}
