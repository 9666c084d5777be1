import Foundation
import ModelGraph

/// A layer type's Keras dialects: reading its config as Keras 1, 2 and 3 wrote it, and writing it as
/// tf-keras 2.x writes it (`model.to_json()`, for `export --to keras-h5`). One extension per layer type,
/// beside this file; `LayerOp.keras` is KerasImport's dispatch point.
protocol KerasLayer: LayerKind {
    /// Every class name Keras has written for this type (Keras 1 aliases such as `Convolution2D` too).
    static var kerasClassNames: [String] { get }
    /// Reads the layer's config in any dialect.
    init(keras config: KerasLayerConfig) throws
    /// The config tf-keras 2.x writes for the layer, without `name`, `trainable` and `dtype`. Throws when the
    /// layer computes something tf-keras cannot express.
    func tfKerasConfig() throws -> [String: Any]
}

extension KerasLayer {
    static var kerasClassNames: [String] { [className] }
}

extension LayerOp {
    /// The layer's Keras dialects (KerasImport's dispatch point).
    var keras: any KerasLayer {
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
        case .nested(let l): l
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
        case .simpleRNN(let l): l
        case .lstm(let l): l
        case .gru(let l): l
        case .bidirectional(let l): l
        case .timeDistributed(let l): l
        case .embedding(let l): l
        case .spatialDropout1D(let l): l
        case .spatialDropout3D(let l): l
        case .alphaDropout(let l): l
        case .masking(let l): l
        case .identity(let l): l
        case .repeatVector(let l): l
        case .maxPooling3D(let l): l
        case .averagePooling3D(let l): l
        case .globalMaxPooling3D(let l): l
        case .globalAveragePooling3D(let l): l
        case .zeroPadding1D(let l): l
        case .zeroPadding3D(let l): l
        case .cropping1D(let l): l
        case .cropping3D(let l): l
        case .upSampling1D(let l): l
        case .upSampling3D(let l): l
        case .conv3D(let l): l
        case .conv1DTranspose(let l): l
        case .conv3DTranspose(let l): l
        case .separableConv1D(let l): l
        case .depthwiseConv1D(let l): l
        case .multiHeadAttention(let l): l
        case .attention(let l): l
        case .additiveAttention(let l): l
        case .dot(let l): l
        case .groupNormalization(let l): l
        case .unitNormalization(let l): l
        case .conv1D(let l): l
        case .maxPooling1D(let l): l
        case .averagePooling1D(let l): l
        case .globalAveragePooling1D(let l): l
        case .globalMaxPooling1D(let l): l
        case .randomAugmentation(let l): l
        case .resizing(let l): l
        case .centerCrop(let l): l
        case .categoryEncoding(let l): l
        case .opaque(let l): l
        }
    }

    /// Layer types by every class name Keras has written for them.
    static let byKerasClassName: [String: any KerasLayer.Type] = {
        var table: [String: any KerasLayer.Type] = [:]
        for kind in LayerOp.kinds {
            guard let k = kind as? any KerasLayer.Type else { continue }  // every kind is one: `keras` above proves it
            for name in k.kerasClassNames { table[name] = k }
        }
        return table
    }()
}

/// One layer's Keras config in whatever dialect wrote it, with typed readers that accept every spelling
/// Keras used (`filters`/`nb_filter`, `padding`/`border_mode`, ...) and fail naming the file, the layer
/// and the key.
struct KerasLayerConfig {
    let values: [String: Any]
    let file: String
    let layer: String
    /// The Keras major version that wrote the config (1, 2 or 3): settles `hard_sigmoid`.
    let kerasMajor: Int
    /// The class name the file gives (`Convolution2D`, `Sequential`, ...).
    var className: String? = nil
    /// How deep inside nested models the layer is (0: in the file's model).
    var depth = 0
    /// Whether the config is read for the inspector (unknown layers become `OpaqueLayer`s, nested ones too).
    var inspect = false

    subscript(_ key: String) -> Any? {
        let v = values[key]
        return v is NSNull ? nil : v
    }

    /// The first of `keys` present.
    func first(_ keys: [String]) -> Any? {
        for k in keys { if let v = self[k] { return v } }
        return nil
    }

    /// An `ImportError` of `kind` about this layer.
    func error(_ kind: ImportError.Kind, _ message: String) -> ImportError {
        ImportError(file: file, object: "layer '\(layer)'", kind, message)
    }
    /// A malformed layer config: what is wrong with it.
    func error(_ message: String) -> ImportError { error(.malformed, message) }

    func int(_ v: Any?, _ key: String) throws -> Int {
        guard let n = v as? NSNumber else { throw error("'\(key)' is missing or not a number") }
        let d = n.doubleValue
        guard d.rounded() == d, abs(d) <= Double(maxDimension) else { throw error("'\(key)' = \(n) is not a usable integer") }
        return n.intValue
    }

    /// An integer under the first present of `keys`, or `default` when none is present.
    func int(_ keys: String..., default def: Int? = nil) throws -> Int {
        let v = first(keys)
        if v == nil, let def { return def }
        return try int(v, keys[0])
    }

    /// An integer >= 1.
    func positive(_ keys: String..., default def: Int? = nil) throws -> Int {
        let v = first(keys)
        let n = v == nil && def != nil ? def! : try int(v, keys[0])
        guard n >= 1 else { throw error("'\(keys[0])' must be positive, got \(n)") }
        return n
    }

    func double(_ keys: String..., default def: Double) -> Double {
        (first(keys) as? NSNumber)?.doubleValue ?? def
    }

    func bool(_ keys: String..., default def: Bool) -> Bool {
        first(keys) as? Bool ?? def
    }

    /// A size given as one integer (both axes) or a pair, each >= 1.
    func size(_ keys: String..., default def: Size2D? = nil) throws -> Size2D {
        let v = first(keys)
        let key = keys[0]
        let pair: [Int]
        if v == nil, let def { pair = def.array } else if let n = v as? NSNumber { let x = try int(n, key); pair = [x, x] } else {
            guard let l = v as? [Any], l.count == 2 else { throw error("'\(key)' must be an integer or a pair") }
            pair = try l.map { try int($0, key) }
        }
        guard pair.allSatisfy({ $0 >= 1 }) else { throw error("'\(key)' must be positive, got \(pair)") }
        return Size2D(pair)!
    }

    /// `padding` (Keras 2/3) or `border_mode` (Keras 1); default valid.
    func padding() throws -> Padding {
        let p = first(["padding", "border_mode"]) as? String ?? "valid"
        guard let pad = Padding(rawValue: p.lowercased()) else { throw error(.unsupported, "padding '\(p)' is not supported (same or valid)") }
        return pad
    }

    /// An activation by name (`linear` when absent); custom activations (objects) are refused.
    func activation(_ key: String = "activation") throws -> Activation {
        guard let v = self[key] else { return .linear }
        guard let s = v as? String else { throw error(.refused(.customActivation), "activation \(v) is custom: custom code is not loaded") }
        guard let a = Activation(keras: s, kerasMajor: kerasMajor) else { throw error(.unsupported, "activation '\(s)' is not a standard Keras activation") }
        return a
    }

    /// `data_format` of a layer with a kernel. Keras 1's Theano ordering (`dim_ordering: th`) also stores
    /// kernels in Theano's layout (`(filters, in, kh, kw)`, flipped), which is refused.
    func kernelChannelOrder() throws -> ChannelOrder {
        let order = try channelOrder()
        if order == .channelsFirst, kerasMajor == 1 {
            throw error(.unsupported, "Keras 1 'th' dim_ordering (Theano's kernel layout) is not supported")
        }
        return order
    }

    /// The input shape without the batch, from `batch_shape` (Keras 3), `batch_input_shape` (Keras 1/2) or
    /// `input_shape`; nil when none is given.
    func batchShape() throws -> [Int?]? {
        guard let raw = first(["batch_shape", "batch_input_shape"]) as? [Any] else {
            if let s = self["input_shape"] as? [Any] { return try dims(s) }
            return nil
        }
        guard raw.count >= 2 else { throw error("input shape \(raw) has no dimensions besides the batch") }
        return try dims(Array(raw.dropFirst()))
    }

    func dims(_ raw: [Any]) throws -> [Int?] {
        guard raw.count <= 8 else { throw error(.tooLarge, "input shape has rank \(raw.count), over 8") }
        return try raw.map { v in
            if v is NSNull { return nil }
            let d = try int(v, "shape")
            guard d >= 1 else { throw error("input dimension \(d) is not positive") }
            return d
        }
    }
}

/// JSON null for optional values in tf-keras configs.
func jsonValue(_ v: Double?) -> Any { v.map { $0 as Any } ?? NSNull() }

extension Activation {
    /// The name tf-keras 2.x writes; throws for Keras 3's `hard_sigmoid`, which tf-keras defines otherwise.
    func tfKerasName() throws -> String {
        guard kerasMajors.contains(2) else {
            throw InexpressibleInKeras("activation '\(kerasName)' of Keras 3 computes relu6(x + 3) / 6, which tf-keras 2 cannot express")
        }
        return kerasName
    }
}

/// A layer computes something the target Keras dialect cannot express; the writer names the layer.
struct InexpressibleInKeras: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
