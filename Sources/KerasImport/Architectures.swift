import ModelGraph

/// Built-in architectures for weights-only files (which carry no config), exactly as
/// `keras.applications` builds them (layer names, order and configs).
public enum Architecture: String, CaseIterable, Sendable {
    /// VGG16 with its classifier top (fc1, fc2, predictions: 1000 ImageNet classes); input 224x224x3.
    case vgg16
    /// VGG16's convolutional part only (`include_top=False`), ending at `block5_pool`.
    case vgg16Notop = "vgg16-notop"
    /// VGG19 with its classifier top, 224x224x3 input.
    case vgg19
    /// VGG19's convolutional part only.
    case vgg19Notop = "vgg19-notop"

    /// Convolutions per block: VGG16 2-2-3-3-3, VGG19 2-2-4-4-4; filters 64-128-256-512-512.
    var convsPerBlock: [Int] {
        switch self {
        case .vgg16, .vgg16Notop: return [2, 2, 3, 3, 3]
        case .vgg19, .vgg19Notop: return [2, 2, 4, 4, 4]
        }
    }

    /// True for the variants with the fully connected classifier top.
    public var includesTop: Bool { self == .vgg16 || self == .vgg19 }

    /// The Keras model name (`vgg16`, `vgg19`).
    var modelName: String { self == .vgg16 || self == .vgg16Notop ? "vgg16" : "vgg19" }

    /// The graph. `inputShape` defaults to 224x224x3; with the top, the input must stay 224x224 (fc1's
    /// kernel is 25088x4096).
    public func graph(inputShape: [Int?] = [224, 224, 3], classes: Int = 1000, inputName: String = "input_1") -> ModelGraph {
        var layers = [Layer(name: inputName, InputLayer(shape: inputShape), inbound: [])]
        var prev = inputName
        func add(_ name: String, _ kind: some LayerKind) {
            layers.append(Layer(name: name, kind, inbound: [prev]))
            prev = name
        }
        let filters = [64, 128, 256, 512, 512]
        for (b, convs) in convsPerBlock.enumerated() {
            for c in 1...convs {
                add("block\(b + 1)_conv\(c)", Conv2D(filters: filters[b], kernel: 3, padding: .same, activation: .relu))
            }
            add("block\(b + 1)_pool", MaxPooling2D(pool: 2, strides: 2))
        }
        if includesTop {
            add("flatten", Flatten())
            add("fc1", Dense(units: 4096, activation: .relu))
            add("fc2", Dense(units: 4096, activation: .relu))
            add("predictions", Dense(units: classes, activation: .softmax))
        }
        return ModelGraph(name: modelName, layers: layers, inputs: [inputName], outputs: [prev], isSequential: false)
    }

    /// Names of the layers that carry weights, in order.
    public var weightedLayerNames: [String] {
        var names: [String] = []
        for (b, convs) in convsPerBlock.enumerated() { for c in 1...convs { names.append("block\(b + 1)_conv\(c)") } }
        if includesTop { names += ["fc1", "fc2", "predictions"] }
        return names
    }
}
