import Foundation
@testable import KerasImport
import ModelGraph
import Testing

/// Every layer type: listed once in `LayerOp.kinds`, and its typed form survives vggtool's JSON and
/// tf-keras's config unchanged (each with values other than the defaults).
@Suite struct LayerTypeTests {
    static let samples: [LayerOp] = [
        InputLayer(shape: [nil, 7, 3]).op,
        Conv2D(filters: 5, kernel: Size2D(3, 2), strides: 2, padding: .same, dilation: Size2D(1, 2), activation: .selu, useBias: false).op,
        DepthwiseConv2D(kernel: 5, strides: Size2D(1, 2), padding: .same, depthMultiplier: 3, dilation: 1, activation: .relu6, useBias: false).op,
        SeparableConv2D(filters: 7, kernel: 3, strides: 1, padding: .valid, depthMultiplier: 2, dilation: 2, activation: .gelu, useBias: true).op,
        Dense(units: 9, activation: .hardSigmoid, useBias: false).op,
        BatchNormalization(epsilon: 1e-5, center: false, scale: true).op,
        ActivationLayer(.mish).op,
        ReLU(maxValue: 6, negativeSlope: 0.1, threshold: 0.5).op,
        LeakyReLU(negativeSlope: 0.125).op,
        Softmax(axis: 1).op,
        Dropout(rate: 0.25).op,
        Flatten().op,
        Reshape(targetShape: [4, -1]).op,
        MaxPooling2D(pool: 3, strides: 2, padding: .same).op,
        AveragePooling2D(pool: Size2D(2, 3), strides: 1, padding: .valid).op,
        GlobalAveragePooling2D(keepDims: true).op,
        GlobalMaxPooling2D(keepDims: false).op,
        ZeroPadding2D(top: 1, bottom: 2, left: 3, right: 4).op,
        Add().op,
        Multiply().op,
        Concatenate(axis: 2).op,
        NestedModel(graph: ModelGraph(name: "inner", layers: [Layer(name: "i", InputLayer(shape: [5]), inbound: []),
                                                              Layer(name: "d", Dense(units: 3, activation: .tanh), inbound: ["i"], trainable: false)],
                                      inputs: ["i"], outputs: ["d"], isSequential: true)).op,
        GaussianNoise(stddev: 0.2).op,
        GaussianDropout(rate: 0.3).op,
        SpatialDropout2D(rate: 0.4).op,
        ActivityRegularization(l1: 0.01, l2: 0.02).op,
        ELU(alpha: 0.7).op,
        ThresholdedReLU(theta: 0.5).op,
        Rescaling(scale: 0.5, offset: -1).op,
        Subtract().op,
        Average().op,
        Maximum().op,
        Minimum().op,
        UpSampling2D(size: Size2D(2, 3), interpolation: .bilinear).op,
        Cropping2D(top: 1, bottom: 0, left: 2, right: 3).op,
        Permute(dims: [3, 1, 2]).op,
        Conv2DTranspose(filters: 4, kernel: 3, strides: 2, padding: .same, outputPadding: Size2D(1, 1), activation: .tanh, useBias: false).op,
        LayerNormalization(epsilon: 1e-5, center: false, scale: true).op,
        Normalization(invert: true).op,
        PReLU(sharedAxes: [1, 2]).op,
        Conv1D(filters: 4, kernel: 3, strides: 2, padding: .causal, dilation: 2, activation: .relu, useBias: false).op,
        MaxPooling1D(pool: 3, strides: 2, padding: .same).op,
        AveragePooling1D(pool: 2, strides: 1, padding: .valid).op,
        GlobalAveragePooling1D(keepDims: true).op,
        GlobalMaxPooling1D(keepDims: false).op,
        SimpleRNN(units: 3, activation: .relu, useBias: false, returnSequences: true, goBackwards: true).op,
        LSTM(units: 4, activation: .elu, recurrentActivation: .hardSigmoid, useBias: true, returnSequences: true, goBackwards: false).op,
        GRU(units: 5, activation: .tanh, recurrentActivation: .sigmoid, useBias: false, returnSequences: false, goBackwards: true, resetAfter: false).op,
        Bidirectional(layer: GRU(units: 2, returnSequences: true).op, mergeMode: .mul).op,
        TimeDistributed(layer: Conv2D(filters: 3, kernel: 2, activation: .relu).op).op,
        Embedding(inputDim: 100, outputDim: 7, maskZero: true).op,
        SpatialDropout1D(rate: 0.15).op,
        SpatialDropout3D(rate: 0.35, dataFormat: .channelsFirst).op,
        AlphaDropout(rate: 0.05).op,
        Masking(maskValue: -1).op,
        Identity().op,
        RepeatVector(n: 4).op,
        MaxPooling3D(pool: [1, 2, 3], strides: [2, 1, 1], padding: .same, dataFormat: .channelsFirst).op,
        AveragePooling3D(pool: [2, 2, 2], strides: [1, 2, 1], padding: .valid, dataFormat: .channelsLast).op,
        GlobalMaxPooling3D(keepDims: true, dataFormat: .channelsFirst).op,
        GlobalAveragePooling3D(keepDims: false, dataFormat: .channelsLast).op,
        ZeroPadding1D(padding: [2, 3]).op,
        ZeroPadding3D(padding: [[1, 2], [0, 3], [4, 0]], dataFormat: .channelsFirst).op,
        Cropping1D(cropping: [0, 2]).op,
        Cropping3D(cropping: [[1, 0], [2, 2], [0, 1]], dataFormat: .channelsFirst).op,
        UpSampling1D(size: 3).op,
        UpSampling3D(size: [1, 2, 3], dataFormat: .channelsFirst).op,
        Conv3D(filters: 6, kernel: [1, 2, 3], strides: [2, 1, 1], padding: .same, dilation: [1, 1, 2], groups: 2, activation: .relu, useBias: false,
               dataFormat: .channelsFirst).op,
        Conv1DTranspose(filters: 4, kernel: 3, strides: 2, padding: .same, outputPadding: 1, dilation: 1, activation: .sigmoid, useBias: false,
                        dataFormat: .channelsFirst).op,
        Conv3DTranspose(filters: 2, kernel: [2, 2, 3], strides: [1, 2, 2], padding: .valid, outputPadding: nil, dilation: [1, 1, 1],
                        activation: .linear, useBias: true, dataFormat: .channelsLast).op,
        SeparableConv1D(filters: 5, kernel: 3, strides: 2, padding: .valid, depthMultiplier: 2, dilation: 1, activation: .tanh, useBias: false,
                        dataFormat: .channelsFirst).op,
        DepthwiseConv1D(kernel: 4, strides: 1, padding: .same, depthMultiplier: 3, dilation: 2, activation: .relu, useBias: false).op,
        MultiHeadAttention(numHeads: 3, keyDim: 4, valueDim: 5, useBias: false, outputShape: [6], attentionAxes: [1]).op,
        Attention(useScale: true, scoreMode: "concat").op,
        AdditiveAttention(useScale: false).op,
        Dot(axes: [1, 2], normalize: true).op,
        GroupNormalization(groups: 4, axis: 1, epsilon: 1e-5, center: false, scale: true).op,
        UnitNormalization(axis: [1, 2]).op,
        RandomAugmentation(augmentation: "RandomZoom", settings: ["height_factor": .array([.number(-0.2), .number(0.1)]), "width_factor": .null,
                                                                   "fill_mode": .string("reflect"), "fill_value": .number(0.5), "seed": .number(7)]).op,
        Resizing(height: 7, width: 9, interpolation: .nearest, cropToAspectRatio: true).op,
        CenterCrop(height: 4, width: 5).op,
        CategoryEncoding(numTokens: 11, outputMode: .count).op,
        OpaqueLayer(kerasClass: "MyBlock", reason: "custom class", inputCount: 2, outputShape: [nil, 3], weights: [WeightSpec(name: "w", shape: [3])]).op,
    ]

    /// The samples vggtool's JSON and tf-keras's configs hold (opaque layers are the inspector's only).
    static let written = samples.filter { !($0.kind is OpaqueLayer) }

    @Test func kindsListEveryTypeOnce() {
        let listed = LayerOp.kinds.map { $0.className }
        #expect(Set(listed).count == listed.count, "a class is listed twice: \(listed)")
        #expect(Set(listed) == Set(Self.samples.map { type(of: $0.kind).className }), "LayerOp.kinds and the cases differ")
        #expect(Self.samples.count == listed.count)
    }

    @Test(arguments: written)
    func jsonRoundTrip(op: LayerOp) throws {
        let graph = ModelGraph(name: "m", layers: [Layer(name: "l", op: op, inbound: [])], inputs: ["l"], outputs: ["l"], isSequential: false)
        let json = GraphCodec.encode(graph)
        let back = try GraphCodec.decode(json)
        #expect(back.layers[0].op == op)
        #expect(GraphCodec.config(op) as NSDictionary == ((json["layers"] as! [[String: Any]])[0]["config"] as! [String: Any]) as NSDictionary)
    }

    @Test(arguments: written)
    func tfKerasConfigRoundTrip(op: LayerOp) throws {
        let config = KerasLayerConfig(values: try op.keras.tfKerasConfig(), file: "f", layer: "l", kerasMajor: 2, className: op.className)
        let back = try type(of: op.keras).init(keras: config).op
        #expect(back == op)
    }

    /// Every type with a `data_format` keeps channels first through the JSON and tf-keras's config; channels
    /// last writes no key in the JSON, so graphs written before the key existed read as they did.
    @Test(arguments: samples.filter { $0.kind is any ChannelOrdered })
    func channelsFirstRoundTrips(op: LayerOp) throws {
        #expect(GraphCodec.config(op)["data_format"] == nil)
        #expect(!op.isChannelsFirst)
        var kind = op.kind as! any ChannelOrdered
        kind.dataFormat = .channelsFirst
        let cf = kind.op
        #expect(cf.isChannelsFirst && cf != op)
        #expect(GraphCodec.config(cf)["data_format"] as? String == "channels_first")
        let graph = ModelGraph(name: "m", layers: [Layer(name: "l", op: cf, inbound: [])], inputs: ["l"], outputs: ["l"], isSequential: false)
        #expect(try GraphCodec.decode(GraphCodec.encode(graph)).layers[0].op == cf)
        // tf-keras's preprocessing layers have no data_format (Keras 3's do).
        if ["Resizing", "CenterCrop"].contains(cf.className) {
            #expect(throws: InexpressibleInKeras.self) { try cf.keras.tfKerasConfig() }
            return
        }
        let config = KerasLayerConfig(values: try cf.keras.tfKerasConfig(), file: "f", layer: "l", kerasMajor: 2, className: cf.className)
        #expect(try type(of: cf.keras).init(keras: config).op == cf)
        // Keras 1's Theano ordering is refused for layers with kernels (their layout differs), read for others.
        var k1 = try cf.keras.tfKerasConfig()
        k1["dim_ordering"] = "th"
        k1["data_format"] = nil
        let hasKernel = cf.className.contains("Conv")
        let keras1 = KerasLayerConfig(values: k1, file: "f", layer: "l", kerasMajor: 1, className: cf.className)
        if hasKernel {
            #expect(throws: ImportError.self) { try type(of: cf.keras).init(keras: keras1) }
        } else if case .batchNormalization = cf {
        } else {
            #expect(try type(of: cf.keras).init(keras: keras1).op == cf)
        }
    }

    /// An augmentation keeps its class and every setting as read, booleans apart from numbers; Keras 3's
    /// own classes and channels-first settings are refused by the tf-keras writer.
    @Test func augmentationKeepsClassAndSettings() throws {
        let values: [String: Any] = try JSONSerialization.jsonObject(with: Data(#"{"name": "g", "factor": 0.5, "all_ops": true, "num": 1, "value_range": [0, 255], "data_format": "channels_last", "seed": null}"#.utf8)) as! [String: Any]
        let k3 = try RandomAugmentation(keras: KerasLayerConfig(values: values, file: "f", layer: "g", kerasMajor: 3, className: "AugMix"))
        #expect(k3.className == "AugMix" && k3.isIdentityAtInference)
        #expect(k3.settings["all_ops"] == .bool(true) && k3.settings["num"] == .number(1) && k3.settings["seed"] == .null && k3.settings["name"] == nil)
        let graph = ModelGraph(name: "m", layers: [Layer(name: "g", op: k3.op, inbound: [])], inputs: ["g"], outputs: ["g"], isSequential: false)
        #expect(try GraphCodec.decode(GraphCodec.encode(graph)).layers[0].op == k3.op)
        #expect(throws: InexpressibleInKeras.self) { try k3.tfKerasConfig() }
        let flip = try RandomAugmentation(keras: KerasLayerConfig(values: values, file: "f", layer: "g", kerasMajor: 3, className: "RandomFlip"))
        #expect(try flip.tfKerasConfig()["data_format"] == nil)
        for cls in ["RandomHeight", "RandomWidth", "RandomCrop"] { #expect(!RandomAugmentation(augmentation: cls).isIdentityAtInference) }
    }

    /// BatchNormalization keeps a positive axis of 2 or more as written (Keras 2 files write `axis: 2` for
    /// sequences): the last axis of a 3-D input, another axis of a 4-D one (inspected, counted, not run).
    @Test func batchNormalizationKeepsItsAxis() throws {
        let c = KerasLayerConfig(values: ["axis": [2], "epsilon": 0.001], file: "f", layer: "bn", kerasMajor: 2, className: "BatchNormalization")
        let bn = try BatchNormalization(keras: c)
        #expect(bn.axis == 2 && bn.dataFormat == .channelsLast)
        #expect(try BatchNormalization(keras: KerasLayerConfig(values: bn.tfKerasConfig(), file: "f", layer: "bn", kerasMajor: 2)) == bn)
        let graph = ModelGraph(name: "m", layers: [Layer(name: "l", op: bn.op, inbound: [])], inputs: ["l"], outputs: ["l"], isSequential: false)
        #expect(try GraphCodec.decode(GraphCodec.encode(graph)).layers[0].op == bn.op)
        #expect(bn.normalizesLastAxis(rank: 3) && !bn.normalizesLastAxis(rank: 4))
        #expect(try bn.infer([[nil, 7, 5]]).weights.map(\.shape) == Array(repeating: [5], count: 4))
        #expect(try bn.infer([[nil, 7, 5, 3]]).weights.map(\.shape) == Array(repeating: [5], count: 4))
        #expect(throws: ImportError.self) { try BatchNormalization(keras: KerasLayerConfig(values: ["axis": 9], file: "f", layer: "bn", kerasMajor: 2)) }
    }

    /// Keras 3's hard_sigmoid is not Keras 2's: settled at import, kept apart in the JSON, refused by the
    /// tf-keras writer, and read from files written before the distinction by their provenance.
    @Test func hardSigmoidIsSettledAtImport() throws {
        #expect(Activation(keras: "hard_sigmoid", kerasMajor: 2) == .hardSigmoid)
        #expect(Activation(keras: "hard_sigmoid", kerasMajor: 3) == .hardSigmoidKeras3)
        #expect(Activation(keras: "hard_sigmoid_keras3", kerasMajor: 3) == nil)
        let k3 = Dense(units: 2, activation: .hardSigmoidKeras3).op
        #expect(throws: InexpressibleInKeras.self) { try k3.keras.tfKerasConfig() }
        let graph = ModelGraph(name: "m", layers: [Layer(name: "x", InputLayer(shape: [3]), inbound: []), Layer(name: "d", op: k3, inbound: ["x"])],
                               inputs: ["x"], outputs: ["d"], isSequential: false)
        var json = GraphCodec.encode(graph)
        #expect(try GraphCodec.decode(json).layers[1].op == k3)
        var layers = json["layers"] as! [[String: Any]]
        var config = layers[1]["config"] as! [String: Any]
        #expect(config["activation"] as? String == "hard_sigmoid_keras3")
        config["activation"] = "hard_sigmoid"
        layers[1]["config"] = config
        json["layers"] = layers
        #expect(try GraphCodec.decode(json, sourceKerasMajor: 3).layers[1].op == k3)
        #expect(try GraphCodec.decode(json, sourceKerasMajor: 2).layers[1].op == Dense(units: 2, activation: .hardSigmoid).op)
    }

    /// LeakyReLU's slope is `alpha` in Keras 1/2 configs and `negative_slope` in Keras 3's; 0.3 by default.
    @Test func leakyReLUReadsBothDialects() throws {
        func read(_ values: [String: Any], major: Int) throws -> LayerOp {
            try LeakyReLU(keras: KerasLayerConfig(values: values, file: "f", layer: "l", kerasMajor: major)).op
        }
        #expect(try read(["alpha": 0.2], major: 2) == LeakyReLU(negativeSlope: 0.2).op)
        #expect(try read(["negative_slope": 0.1], major: 3) == LeakyReLU(negativeSlope: 0.1).op)
        #expect(try read([:], major: 3) == LeakyReLU(negativeSlope: 0.3).op)
    }

    /// The JSON decoder names the layer and the key at fault.
    @Test func decodeErrorsNameLayerAndKey() throws {
        let graph = ModelGraph(name: "m", layers: [Layer(name: "x", InputLayer(shape: [4, 4, 3]), inbound: []),
                                                   Layer(name: "c", Conv2D(filters: 2, kernel: 3), inbound: ["x"])],
                               inputs: ["x"], outputs: ["c"], isSequential: false)
        func mutate(_ edit: (inout [String: Any]) -> Void) -> [String: Any] {
            var json = GraphCodec.encode(graph)
            var layers = json["layers"] as! [[String: Any]]
            var config = layers[1]["config"] as! [String: Any]
            edit(&config)
            layers[1]["config"] = config
            json["layers"] = layers
            return json
        }
        func message(_ json: [String: Any]) -> String {
            do { _ = try GraphCodec.decode(json); return "accepted" } catch { return "\(error)" }
        }
        #expect(message(mutate { $0["filters"] = nil }) == "layer 'c': 'filters' is missing")
        #expect(message(mutate { $0["kernel_size"] = "3" }) == "layer 'c': 'kernel_size' has the wrong type")
        #expect(message(mutate { $0["activation"] = "sparkle" }) == "layer 'c': 'activation' unknown activation 'sparkle'")
        #expect(message(mutate { $0["filters"] = 1 << 40 }) == "layer 'c': config holds the integer 1099511627776, out of range")
        #expect(message(mutate { $0["padding"] = "full" }).hasPrefix("layer 'c': 'padding'"))
    }
}

extension LayerOp: CustomTestStringConvertible {
    public var testDescription: String { className }
}
