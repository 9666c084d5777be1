import Foundation

/// vggtool's own JSON form of a graph (used in the `.vggm` manifest and `summary --json`): each layer is
/// `{"name", "class", "config", "inbound", "trainable"}` with a normalized config per class (see
/// docs/vggm-format.md). Decoding is strict: unknown classes, missing or mistyped keys are errors.
public enum GraphCodec {
    public static func encode(_ graph: ModelGraph) -> [String: Any] {
        [
            "name": graph.name,
            "sequential": graph.isSequential,
            "inputs": graph.inputs,
            "outputs": graph.outputs,
            "layers": graph.layers.map { layer -> [String: Any] in
                ["name": layer.name, "class": layer.op.className, "config": config(layer.op), "inbound": layer.inbound, "trainable": layer.trainable]
            },
        ]
    }

    public static func config(_ op: LayerOp) -> [String: Any] {
        switch op {
        case .input(let shape): return ["shape": shape.map { $0.map { $0 as Any } ?? NSNull() }]
        case .conv2D(let f, let k, let s, let p, let d, let a, let b):
            return ["filters": f, "kernel_size": k, "strides": s, "padding": p.rawValue, "dilation_rate": d, "activation": a, "use_bias": b]
        case .depthwiseConv2D(let k, let s, let p, let m, let d, let a, let b):
            return ["kernel_size": k, "strides": s, "padding": p.rawValue, "depth_multiplier": m, "dilation_rate": d, "activation": a, "use_bias": b]
        case .separableConv2D(let f, let k, let s, let p, let m, let d, let a, let b):
            return ["filters": f, "kernel_size": k, "strides": s, "padding": p.rawValue, "depth_multiplier": m, "dilation_rate": d, "activation": a, "use_bias": b]
        case .dense(let u, let a, let b): return ["units": u, "activation": a, "use_bias": b]
        case .batchNormalization(let e, let c, let s): return ["epsilon": e, "center": c, "scale": s]
        case .activation(let a): return ["activation": a]
        case .relu(let m, let n, let t):
            var d: [String: Any] = ["negative_slope": n, "threshold": t]
            d["max_value"] = m ?? NSNull()
            return d
        case .softmax(let axis): return ["axis": axis]
        case .dropout(let r): return ["rate": r]
        case .flatten: return [:]
        case .reshape(let t): return ["target_shape": t]
        case .maxPooling2D(let p, let s, let pad), .averagePooling2D(let p, let s, let pad):
            return ["pool_size": p, "strides": s, "padding": pad.rawValue]
        case .globalAveragePooling2D(let k), .globalMaxPooling2D(let k): return ["keepdims": k]
        case .zeroPadding2D(let t, let b, let l, let r): return ["padding": [t, b, l, r]]
        case .add, .multiply: return [:]
        case .concatenate(let axis): return ["axis": axis]
        }
    }

    public struct DecodeError: Error, CustomStringConvertible, Sendable {
        public var object: String
        public var message: String
        public var description: String { "\(object): \(message)" }
    }

    public static func decode(_ value: Any) throws -> ModelGraph {
        guard let d = value as? [String: Any] else { throw DecodeError(object: "model", message: "is not an object") }
        guard let name = d["name"] as? String, let seq = d["sequential"] as? Bool,
              let inputs = d["inputs"] as? [String], let outputs = d["outputs"] as? [String],
              let layers = d["layers"] as? [Any] else {
            throw DecodeError(object: "model", message: "needs name, sequential, inputs, outputs and layers")
        }
        guard layers.count <= 100_000 else { throw DecodeError(object: "model", message: "too many layers (\(layers.count))") }
        var result: [Layer] = []
        for (i, l) in layers.enumerated() {
            guard let ld = l as? [String: Any], let lname = ld["name"] as? String, let cls = ld["class"] as? String,
                  let cfg = ld["config"] as? [String: Any], let inbound = ld["inbound"] as? [String] else {
                throw DecodeError(object: "layer #\(i)", message: "needs name, class, config and inbound")
            }
            let op = try decodeOp(cls, cfg, layer: lname)
            result.append(Layer(name: lname, op: op, inbound: inbound, trainable: ld["trainable"] as? Bool ?? true))
        }
        return ModelGraph(name: name, layers: result, inputs: inputs, outputs: outputs, isSequential: seq)
    }

    static func decodeOp(_ cls: String, _ c: [String: Any], layer: String) throws -> LayerOp {
        func fail(_ m: String) -> DecodeError { DecodeError(object: "layer '\(layer)'", message: m) }
        func int(_ k: String) throws -> Int {
            guard let n = c[k] as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) <= Double(1 << 31) else { throw fail("'\(k)' is missing or not an integer") }
            return n.intValue
        }
        func ints(_ k: String, count: Int? = nil) throws -> [Int] {
            guard let l = c[k] as? [Any], count == nil || l.count == count! else { throw fail("'\(k)' is missing or has the wrong length") }
            return try l.map {
                guard let n = $0 as? NSNumber, n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) <= Double(1 << 31) else { throw fail("'\(k)' holds a non-integer") }
                return n.intValue
            }
        }
        func dbl(_ k: String) throws -> Double {
            guard let n = c[k] as? NSNumber else { throw fail("'\(k)' is missing or not a number") }
            return n.doubleValue
        }
        func bool(_ k: String) throws -> Bool {
            guard let b = c[k] as? Bool else { throw fail("'\(k)' is missing or not a boolean") }
            return b
        }
        func str(_ k: String) throws -> String {
            guard let s = c[k] as? String else { throw fail("'\(k)' is missing or not a string") }
            return s
        }
        func pad() throws -> Padding {
            guard let p = Padding(rawValue: try str("padding")) else { throw fail("unknown padding") }
            return p
        }
        switch cls {
        case "InputLayer":
            guard let l = c["shape"] as? [Any], l.count <= 8 else { throw fail("'shape' is missing or malformed") }
            return .input(shape: try l.map { v -> Int? in
                if v is NSNull { return nil }
                guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded(), n.doubleValue >= 1, n.doubleValue <= Double(1 << 31) else { throw fail("'shape' holds an invalid dimension") }
                return n.intValue
            })
        case "Conv2D": return .conv2D(filters: try int("filters"), kernel: try ints("kernel_size", count: 2), strides: try ints("strides", count: 2), padding: try pad(), dilation: try ints("dilation_rate", count: 2), activation: try str("activation"), useBias: try bool("use_bias"))
        case "DepthwiseConv2D": return .depthwiseConv2D(kernel: try ints("kernel_size", count: 2), strides: try ints("strides", count: 2), padding: try pad(), depthMultiplier: try int("depth_multiplier"), dilation: try ints("dilation_rate", count: 2), activation: try str("activation"), useBias: try bool("use_bias"))
        case "SeparableConv2D": return .separableConv2D(filters: try int("filters"), kernel: try ints("kernel_size", count: 2), strides: try ints("strides", count: 2), padding: try pad(), depthMultiplier: try int("depth_multiplier"), dilation: try ints("dilation_rate", count: 2), activation: try str("activation"), useBias: try bool("use_bias"))
        case "Dense": return .dense(units: try int("units"), activation: try str("activation"), useBias: try bool("use_bias"))
        case "BatchNormalization": return .batchNormalization(epsilon: try dbl("epsilon"), center: try bool("center"), scale: try bool("scale"))
        case "Activation": return .activation(try str("activation"))
        case "ReLU": return .relu(maxValue: (c["max_value"] as? NSNumber)?.doubleValue, negativeSlope: try dbl("negative_slope"), threshold: try dbl("threshold"))
        case "Softmax": return .softmax(axis: try int("axis"))
        case "Dropout": return .dropout(rate: try dbl("rate"))
        case "Flatten": return .flatten
        case "Reshape": return .reshape(targetShape: try ints("target_shape"))
        case "MaxPooling2D": return .maxPooling2D(pool: try ints("pool_size", count: 2), strides: try ints("strides", count: 2), padding: try pad())
        case "AveragePooling2D": return .averagePooling2D(pool: try ints("pool_size", count: 2), strides: try ints("strides", count: 2), padding: try pad())
        case "GlobalAveragePooling2D": return .globalAveragePooling2D(keepDims: try bool("keepdims"))
        case "GlobalMaxPooling2D": return .globalMaxPooling2D(keepDims: try bool("keepdims"))
        case "ZeroPadding2D":
            let p = try ints("padding", count: 4)
            return .zeroPadding2D(top: p[0], bottom: p[1], left: p[2], right: p[3])
        case "Add": return .add
        case "Multiply": return .multiply
        case "Concatenate": return .concatenate(axis: try int("axis"))
        default: throw fail("unknown class '\(cls)'")
        }
    }
}
