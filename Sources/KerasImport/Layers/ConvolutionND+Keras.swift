import Foundation
import ModelGraph

extension Conv3D: KerasLayer {
    static let kerasClassNames = ["Conv3D", "Convolution3D"]

    init(keras c: KerasLayerConfig) throws {
        self.init(filters: try c.positive("filters"), kernel: try c.sizes("kernel_size", count: 3), strides: try c.sizes("strides", count: 3, default: [1, 1, 1]),
                  padding: try c.padding(), dilation: try c.sizes("dilation_rate", count: 3, default: [1, 1, 1]), groups: try c.positive("groups", default: 1),
                  activation: try c.activation(), useBias: c.bool("use_bias", default: true), dataFormat: try c.channelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": kernel, "strides": strides, "padding": padding.rawValue, "data_format": dataFormat.rawValue,
         "dilation_rate": dilation, "groups": groups, "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}

extension TransposedConvolutionND {
    static func outputPadding(_ c: KerasLayerConfig) throws -> [Int]? {
        guard let v = c["output_padding"] else { return nil }
        let values: [Int]
        if let n = v as? NSNumber { values = Array(repeating: try c.int(n, "output_padding"), count: rank) } else {
            guard let l = v as? [Any], l.count == rank else { throw c.error("'output_padding' is malformed") }
            values = try l.map { try c.int($0, "output_padding") }
        }
        guard values.allSatisfy({ $0 >= 0 }) else { throw c.error("'output_padding' must not be negative") }
        return values
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": kernel, "strides": strides, "padding": padding.rawValue, "output_padding": outputPadding.map { $0 as Any } ?? NSNull(),
         "data_format": dataFormat.rawValue, "dilation_rate": dilation, "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}

extension Conv1DTranspose: KerasLayer {
    static let kerasClassNames = ["Conv1DTranspose", "Convolution1DTranspose"]

    init(keras c: KerasLayerConfig) throws {
        self.init(filters: try c.positive("filters"), kernel: try c.sizes("kernel_size", count: 1)[0], strides: try c.sizes("strides", count: 1, default: [1])[0],
                  padding: try c.padding(), outputPadding: try Self.outputPadding(c)?[0], dilation: try c.sizes("dilation_rate", count: 1, default: [1])[0],
                  activation: try c.activation(), useBias: c.bool("use_bias", default: true), dataFormat: try c.channelOrder())
    }
}

extension Conv3DTranspose: KerasLayer {
    static let kerasClassNames = ["Conv3DTranspose", "Convolution3DTranspose"]

    init(keras c: KerasLayerConfig) throws {
        self.init(filters: try c.positive("filters"), kernel: try c.sizes("kernel_size", count: 3), strides: try c.sizes("strides", count: 3, default: [1, 1, 1]),
                  padding: try c.padding(), outputPadding: try Self.outputPadding(c), dilation: try c.sizes("dilation_rate", count: 3, default: [1, 1, 1]),
                  activation: try c.activation(), useBias: c.bool("use_bias", default: true), dataFormat: try c.channelOrder())
    }
}

extension SeparableConv1D: KerasLayer {
    static let kerasClassNames = ["SeparableConv1D", "SeparableConvolution1D"]

    init(keras c: KerasLayerConfig) throws {
        self.init(filters: try c.positive("filters"), kernel: try c.sizes("kernel_size", count: 1)[0], strides: try c.sizes("strides", count: 1, default: [1])[0],
                  padding: try c.padding(), depthMultiplier: try c.positive("depth_multiplier", default: 1),
                  dilation: try c.sizes("dilation_rate", count: 1, default: [1])[0], activation: try c.activation(),
                  useBias: c.bool("use_bias", default: true), dataFormat: try c.channelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": [kernel], "strides": [strides], "padding": padding.rawValue, "data_format": dataFormat.rawValue,
         "depth_multiplier": depthMultiplier, "dilation_rate": [dilation], "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}

extension DepthwiseConv1D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        self.init(kernel: try c.sizes("kernel_size", count: 1)[0], strides: try c.sizes("strides", count: 1, default: [1])[0], padding: try c.padding(),
                  depthMultiplier: try c.positive("depth_multiplier", default: 1), dilation: try c.sizes("dilation_rate", count: 1, default: [1])[0],
                  activation: try c.activation(), useBias: c.bool("use_bias", default: true), dataFormat: try c.channelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["kernel_size": [kernel], "strides": [strides], "padding": padding.rawValue, "depth_multiplier": depthMultiplier, "data_format": dataFormat.rawValue,
         "dilation_rate": [dilation], "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}
