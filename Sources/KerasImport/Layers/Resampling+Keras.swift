import Foundation
import ModelGraph

extension UpSampling2D: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let name = c["interpolation"] as? String ?? "nearest"
        guard let interpolation = UpsamplingInterpolation(rawValue: name) else { throw c.error("interpolation '\(name)' is not a Keras interpolation") }
        self.init(size: try c.size("size", default: 2), interpolation: interpolation, dataFormat: try c.channelOrder())
    }

    func tfKerasConfig() -> [String: Any] { ["size": size.array, "data_format": dataFormat.rawValue, "interpolation": interpolation.rawValue] }
}

extension Cropping2D: KerasLayer {
    /// `cropping`: one integer (all sides), `[h, w]` (symmetric) or `[[top, bottom], [left, right]]`.
    init(keras c: KerasLayerConfig) throws {
        let df = try c.channelOrder()
        let p = c["cropping"] ?? 0
        if let n = p as? NSNumber {
            let v = try c.int(n, "cropping")
            self.init(top: v, bottom: v, left: v, right: v, dataFormat: df)
            return
        }
        guard let l = p as? [Any], l.count == 2 else { throw c.error("Cropping2D cropping is malformed") }
        if let tb = l[0] as? [Any], let lr = l[1] as? [Any], tb.count == 2, lr.count == 2 {
            self.init(top: try c.int(tb[0], "cropping"), bottom: try c.int(tb[1], "cropping"),
                      left: try c.int(lr[0], "cropping"), right: try c.int(lr[1], "cropping"), dataFormat: df)
            return
        }
        let h = try c.int(l[0], "cropping"), w = try c.int(l[1], "cropping")
        self.init(top: h, bottom: h, left: w, right: w, dataFormat: df)
    }

    func tfKerasConfig() -> [String: Any] { ["cropping": [[top, bottom], [left, right]], "data_format": dataFormat.rawValue] }
}

extension Permute: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        guard let d = c["dims"] as? [Any] else { throw c.error("Permute has no dims") }
        self.init(dims: try d.map { try c.int($0, "dims") })
    }

    func tfKerasConfig() -> [String: Any] { ["dims": dims] }
}

extension Conv2DTranspose: KerasLayer {
    static let kerasClassNames = ["Conv2DTranspose", "Deconvolution2D", "Deconv2D"]

    init(keras c: KerasLayerConfig) throws {
        if let g = c["groups"] as? NSNumber, g.intValue != 1 { throw c.error("grouped convolution (groups=\(g)) is not supported") }
        self.init(filters: try c.positive("filters", "nb_filter"), kernel: try c.size("kernel_size"), strides: try c.size("strides", "subsample", default: 1),
                  padding: try c.padding(), dilation: try c.size("dilation_rate", default: 1),
                  outputPadding: c["output_padding"] == nil ? nil : try c.size("output_padding"),
                  activation: try c.activation(), useBias: c.bool("use_bias", "bias", default: true), dataFormat: try c.kernelChannelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        ["filters": filters, "kernel_size": kernel.array, "strides": strides.array, "padding": padding.rawValue, "data_format": dataFormat.rawValue,
         "dilation_rate": dilation.array, "output_padding": outputPadding.map { $0.array as Any } ?? NSNull(), "groups": 1,
         "activation": try activation.tfKerasName(), "use_bias": useBias]
    }
}
