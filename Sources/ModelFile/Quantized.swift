import Foundation
import ModelGraph

// Format 1.3: int8 kernels (docs/vggm-format.md, docs/precision.md). A quantized Conv2D, Conv1D or Dense layer
// `L` stores
//   L/kernel         i8, the layer's kernel shape (HWIO / (width, in, filters) / (in, units)): round(w / s_w[j]) in [-127, 127]
//   L/kernel.scale   f32, (units or filters): s_w[j] > 0, the real kernel is i8 x s_w[j] (column j)
//   L/input.quant    f32, (2): s_x > 0 and the zero point z (0 or 128): the input is read as
//                    u8 = clamp(round(x / s_x) + z, 0, 255)
// Layers not quantized keep their float tensors.

/// How a layer with an int8 kernel (format 1.3) is quantized: per-output-channel weight scales and the input's
/// scale and zero point (docs/precision.md).
public struct LayerQuantization: Sendable, Equatable {
    /// The layer's name (in a nested model, its path: `vgg16/block1_conv1`).
    public var layer: String
    /// The int8 kernel's manifest entry (shape as Keras holds the kernel: HWIO, (width, in, filters) or (in, units)).
    public var kernel: TensorEntry
    /// One scale per output channel (the kernel's last dimension): real weight = int8 value x scale.
    public var weightScales: [Float]
    /// The input's scale: u8 = clamp(round(x / inputScale) + inputZeroPoint, 0, 255).
    public var inputScale: Float
    /// The input's zero point: 0 (inputs that are never negative, as after ReLU) or 128.
    public var inputZeroPoint: Int
}

extension VGGMFile {
    /// The quantization of layer `name` when its kernel is stored as int8, else nil.
    public func quantization(ofLayer name: String) -> LayerQuantization? {
        guard let k = entry("\(name)/kernel"), k.dtype == .i8,
              let s = entry("\(name)/kernel\(VGGMFormat.scaleSuffix)"), let q = entry("\(name)/\(VGGMFormat.inputQuantName)") else { return nil }
        let scales = Array(bytes(of: s).bindMemory(to: Float.self))
        let quant = Array(bytes(of: q).bindMemory(to: Float.self))
        return LayerQuantization(layer: name, kernel: k, weightScales: scales, inputScale: quant[0], inputZeroPoint: Int(quant[1]))
    }

    /// Names of the layers whose kernels are stored as int8 (in file order).
    public var quantizedLayers: [String] {
        manifest.tensors.filter { $0.dtype == .i8 }.map { String($0.name.dropLast("/kernel".count)) }
    }

    /// The precision a layer's products are stored for: "int8" for a quantized layer, else its kernel's dtype
    /// ("f32", "f16", "bf16"), nil for a layer without a kernel.
    public func storedPrecision(ofLayer name: String) -> String? {
        guard let k = entry("\(name)/kernel") else { return nil }
        return k.dtype == .i8 ? "int8" : k.dtype.rawValue
    }

    /// Checks the int8 tensors of a 1.3 file (called on open): each is the kernel of a Conv2D, Conv1D or Dense layer with
    /// its `.scale` (f32, one finite positive value per output channel) and the layer's `input.quant` (f32, a
    /// finite positive scale and a zero point of 0 or 128). Returns the names of the scale tensors checked.
    static func checkQuantized(_ manifest: ModelManifest, index: [String: Int], data: UnsafeRawPointer, minor: UInt16,
                               bad: (String, ModelFileError.Kind, String) -> ModelFileError) throws -> Set<String> {
        let ints = manifest.tensors.filter { $0.dtype == .i8 }
        guard !ints.isEmpty else { return [] }
        guard minor >= 3 else { throw bad("tensor '\(ints[0].name)'", .malformedManifest, "dtype i8 needs format version 1.3, the header says 1.\(minor)") }
        var layers: [String: LayerOp] = [:]
        for l in manifest.graph.flattened().layers { layers[l.name] = l.op }
        var used = Set<String>()
        func floats(_ t: TensorEntry) -> [Float] {
            Array(UnsafeBufferPointer(start: (data + t.offset).assumingMemoryBound(to: Float.self), count: t.length / 4))
        }
        for k in ints {
            let obj = "tensor '\(k.name)'"
            guard k.name.hasSuffix("/kernel") else { throw bad(obj, .malformedManifest, "only a layer's kernel may be int8") }
            let layer = String(k.name.dropLast("/kernel".count))
            switch layers[layer] {
            case .conv2D?, .conv1D?, .dense?: break
            default: throw bad(obj, .malformedManifest, "only Conv2D, Conv1D and Dense kernels may be int8 (layer '\(layer)' is \(layers[layer]?.className ?? "missing"))")
            }
            let units = k.shape.last ?? 0
            let scaleName = k.name + VGGMFormat.scaleSuffix
            guard let si = index[scaleName] else { throw bad(obj, .malformedManifest, "int8 kernel has no scales ('\(scaleName)')") }
            let st = manifest.tensors[si]
            guard st.dtype == .f32, st.shape == [units] else {
                throw bad("tensor '\(scaleName)'", .malformedManifest, "scales must be f32 of shape (\(units)), one per output channel; found \(st.dtype.rawValue) \(st.shape)")
            }
            if let (j, v) = floats(st).enumerated().first(where: { !($0.element.isFinite && $0.element > 0) }) {
                throw bad("tensor '\(scaleName)'", .malformedManifest, "scale \(j) is \(v); scales must be finite and positive")
            }
            let quantName = "\(layer)/\(VGGMFormat.inputQuantName)"
            guard let qi = index[quantName] else { throw bad(obj, .malformedManifest, "int8 kernel has no input scale ('\(quantName)')") }
            let qt = manifest.tensors[qi]
            guard qt.dtype == .f32, qt.shape == [2] else {
                throw bad("tensor '\(quantName)'", .malformedManifest, "must be f32 of shape (2): input scale and zero point; found \(qt.dtype.rawValue) \(qt.shape)")
            }
            let q = floats(qt)
            guard q[0].isFinite, q[0] > 0 else { throw bad("tensor '\(quantName)'", .malformedManifest, "input scale is \(q[0]); it must be finite and positive") }
            guard q[1] == 0 || q[1] == 128 else { throw bad("tensor '\(quantName)'", .malformedManifest, "input zero point is \(q[1]); it must be 0 or 128") }
            used.insert(scaleName)
            used.insert(quantName)
        }
        return used
    }
}
