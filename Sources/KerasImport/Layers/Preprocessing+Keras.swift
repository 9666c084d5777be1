import Foundation
import ModelGraph

extension ConfigValue {
    /// A value of a parsed Keras config (JSONSerialization's types), at most `depth` containers deep.
    init?(json v: Any, depth: Int = 8) {
        switch v {
        case is NSNull: self = .null
        case let n as NSNumber:
            // JSON's true and false parse as the boolean NSNumber (objCType "c"); numbers never do.
            self = String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
            if case .number(let d) = self, !d.isFinite { return nil }
        case let s as String: self = .string(s)
        case let a as [Any]:
            guard depth > 0, a.count <= 1024 else { return nil }
            var items: [ConfigValue] = []
            for item in a {
                guard let c = ConfigValue(json: item, depth: depth - 1) else { return nil }
                items.append(c)
            }
            self = .array(items)
        case let o as [String: Any]:
            guard depth > 0, o.count <= 1024 else { return nil }
            var items: [String: ConfigValue] = [:]
            for (k, item) in o {
                guard let c = ConfigValue(json: item, depth: depth - 1) else { return nil }
                items[k] = c
            }
            self = .object(items)
        default: return nil
        }
    }

    /// The value as JSONSerialization writes it.
    var json: Any {
        switch self {
        case .null: NSNull()
        case .bool(let b): b
        case .number(let d): d.rounded() == d && abs(d) < 1e15 ? Int(d) as Any : d as Any
        case .string(let s): s
        case .array(let a): a.map(\.json)
        case .object(let o): o.mapValues(\.json)
        }
    }
}

extension RandomAugmentation: KerasLayer {
    static var kerasClassNames: [String] { classes }

    /// Classes tf-keras 2.x has (the others are Keras 3's).
    static let tfKerasClasses: Set<String> = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                                              "RandomBrightness", "RandomHeight", "RandomWidth", "RandomCrop"]

    /// Keeps every setting but the name, dtype and trainable flag (Keras 3's `dtype` may be a policy object).
    init(keras c: KerasLayerConfig) throws {
        guard let cls = c.className, Self.classes.contains(cls) else { throw c.error("is not an augmentation layer") }
        var settings: [String: ConfigValue] = [:]
        for (k, v) in c.values where !["name", "dtype", "trainable"].contains(k) {
            guard let value = ConfigValue(json: v) else { throw c.error("setting '\(k)' is nested too deeply or too large") }
            settings[k] = value
        }
        self.init(augmentation: cls, settings: settings)
    }

    func tfKerasConfig() throws -> [String: Any] {
        guard Self.tfKerasClasses.contains(augmentation) else { throw InexpressibleInKeras("\(augmentation) is a Keras 3 layer, which tf-keras 2 does not have") }
        var settings = settings
        if let df = settings.removeValue(forKey: "data_format"), df.string != "channels_last" {
            throw InexpressibleInKeras("\(augmentation) with channels_first is Keras 3 only")
        }
        return settings.mapValues(\.json)
    }
}

extension KerasLayerConfig {
    /// `interpolation` as one of Keras's names (`bilinear` when absent).
    func interpolation() throws -> UpsamplingInterpolation {
        let name = self["interpolation"] as? String ?? "bilinear"
        guard let i = UpsamplingInterpolation(rawValue: name) else { throw error("interpolation '\(name)' is not a Keras interpolation") }
        return i
    }
}

extension Resizing: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        if let fill = c["fill_mode"] as? String, fill != "constant" { throw c.error(.unsupported, "fill_mode '\(fill)' is not supported (constant)") }
        if let v = c["fill_value"] as? NSNumber, v.doubleValue != 0 { throw c.error(.unsupported, "fill_value \(v) is not supported (0)") }
        self.init(height: try c.positive("height"), width: try c.positive("width"), interpolation: try c.interpolation(),
                  cropToAspectRatio: c.bool("crop_to_aspect_ratio", default: false), padToAspectRatio: c.bool("pad_to_aspect_ratio", default: false),
                  antialias: c.bool("antialias", default: false), dataFormat: try c.channelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        guard !padToAspectRatio, !antialias, dataFormat == .channelsLast else {
            throw InexpressibleInKeras("Resizing with pad_to_aspect_ratio, antialias or channels_first is Keras 3 only")
        }
        return ["height": height, "width": width, "interpolation": interpolation.rawValue, "crop_to_aspect_ratio": cropToAspectRatio]
    }
}

extension CenterCrop: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        self.init(height: try c.positive("height"), width: try c.positive("width"), dataFormat: try c.channelOrder())
    }

    func tfKerasConfig() throws -> [String: Any] {
        guard dataFormat == .channelsLast else { throw InexpressibleInKeras("CenterCrop with channels_first is Keras 3 only") }
        return ["height": height, "width": width]
    }
}

extension CategoryEncoding: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let name = c["output_mode"] as? String ?? "multi_hot"
        guard let mode = CategoryEncodingMode(rawValue: name) else { throw c.error(.unsupported, "output_mode '\(name)' is not supported (one_hot, multi_hot, count)") }
        if c.bool("sparse", default: false) { throw c.error(.unsupported, "sparse output is not supported") }
        self.init(numTokens: try c.positive("num_tokens"), outputMode: mode)
    }

    func tfKerasConfig() -> [String: Any] { ["num_tokens": numTokens, "output_mode": outputMode.rawValue, "sparse": false] }
}

extension OpaqueLayer: KerasLayer {
    /// Not looked up by class name: the parser makes opaque layers for the inspector.
    static var kerasClassNames: [String] { [] }

    init(keras c: KerasLayerConfig) throws { throw c.error(.unsupported, "layer class '\(c.className ?? "?")' is not supported") }

    func tfKerasConfig() throws -> [String: Any] { throw InexpressibleInKeras("\(kerasClass) is not interpreted by vggtool: \(reason)") }
}
