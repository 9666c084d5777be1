import CVGGSupport
import Foundation
import ModelGraph

// The .vggm format, version 1.0 (full specification: docs/vggm-format.md).
//
//   [0, 64)               header (little-endian):
//       0   8  magic 89 56 47 47 4D 0D 0A 1A ("\x89VGGM\r\n\x1a")
//       8   2  major version (1)        10  2  minor version (0; 1 nested; 2 ch-first)
//      12   4  header size (64)
//      16   8  data offset (64)         24  8  data length (bytes)
//      32   8  manifest offset          40  8  manifest length (bytes)
//      48   8  file length              56  4  manifest CRC-32C
//      60   4  header CRC-32C of bytes [0, 60)
//   [64, 64 + data length)  tensors, each at a 64-byte aligned offset, little-endian, zero-filled gaps
//   [manifest offset, +len) manifest: UTF-8 JSON (graph, tensors with dtype/shape/offset/length/CRC-32C,
//                           input shape, preprocessing, class names, provenance)
//   file length = manifest offset + manifest length; nothing follows.

/// Element type of a stored tensor.
public enum TensorDType: String, Sendable, CaseIterable {
    /// IEEE 754 binary32 (4 bytes): what the runtime computes in; conversion is exact.
    case f32
    /// IEEE 754 binary16 (2 bytes), widened to float32 when the model is opened.
    case f16
    /// bfloat16 (2 bytes: float32's upper half), widened to float32 when the model is opened.
    case bf16
    /// Signed 8-bit integers (1 byte), format 1.3: a quantized Conv2D, Conv1D or Dense kernel, whose real values are
    /// the integers times the per-output-channel scales of the float32 tensor `<name>.scale` (docs/precision.md).
    case i8

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .i8: 1
        }
    }
}

/// Preprocessing a model expects on RGB float input in 0...255.
public struct Preprocessing: Sendable, Equatable {
    /// `caffe` (RGB->BGR, subtract per-channel mean), `tf` (scale to -1...1), `torch`, or `none`.
    public var mode: String
    /// Channel order fed to the network: "BGR" or "RGB".
    public var channelOrder: String
    /// Per-channel mean subtracted, in the network's channel order.
    public var mean: [Double]
    /// Per-channel divisor after the mean.
    public var std: [Double]

    /// A preprocessing from its fields (see each property; `mean` and `std` hold one value per channel).
    public init(mode: String, channelOrder: String, mean: [Double], std: [Double]) {
        self.mode = mode
        self.channelOrder = channelOrder
        self.mean = mean
        self.std = std
    }

    /// `keras.applications.vgg16.preprocess_input`: RGB -> BGR, subtract [103.939, 116.779, 123.68].
    public static let caffe = Preprocessing(mode: "caffe", channelOrder: "BGR", mean: [103.939, 116.779, 123.68], std: [1, 1, 1])

    var json: [String: Any] { ["mode": mode, "channel_order": channelOrder, "mean": mean, "std": std] }
}

/// Where the model came from.
public struct Provenance: Sendable, Equatable {
    /// The source file's name (last path component), e.g. `vgg16.h5`.
    public var sourceFile: String
    /// SHA-256 of the source file's bytes, 64 lowercase hex digits (empty when not hashed).
    public var sourceSHA256: String
    /// The Keras layout the source had (a `KerasLayout`'s description), or how the model was made.
    public var sourceLayout: String
    /// The `keras_version` the source recorded, if any.
    public var kerasVersion: String?
    /// What wrote the file, e.g. `vggtool 0.1.0` or `vggtool finetune`.
    public var converter: String
    /// When the file was written, ISO 8601 UTC (`2025-01-31T12:00:00Z`).
    public var created: String

    /// A provenance record from its fields.
    public init(sourceFile: String, sourceSHA256: String, sourceLayout: String, kerasVersion: String?, converter: String, created: String) {
        self.sourceFile = sourceFile
        self.sourceSHA256 = sourceSHA256
        self.sourceLayout = sourceLayout
        self.kerasVersion = kerasVersion
        self.converter = converter
        self.created = created
    }

    var json: [String: Any] {
        ["source_file": sourceFile, "source_sha256": sourceSHA256, "source_layout": sourceLayout,
         "keras_version": kerasVersion ?? NSNull(), "converter": converter, "created": created]
    }
}

/// A tensor's entry in the manifest.
public struct TensorEntry: Sendable, Equatable {
    /// `layer/weight`, e.g. `block1_conv1/kernel`.
    public var name: String
    /// The stored element type.
    public var dtype: TensorDType
    /// Shape as Keras holds it: HWIO convolution kernels, (in, units) dense kernels, row-major.
    public var shape: [Int]
    /// Byte offset from the start of the data section (multiple of 64).
    public var offset: Int
    /// Byte length = product(shape) * dtype.size.
    public var length: Int
    /// CRC-32C (Castagnoli) of the tensor's `length` stored bytes.
    public var crc32c: UInt32
}

/// Everything in a `.vggm` besides the tensor bytes.
public struct ModelManifest: Sendable {
    /// The layer graph (the `graph` object of the JSON manifest, in `GraphCodec`'s form).
    public var graph: ModelGraph
    /// (H, W, C); `nil` for a dimension the model accepts at any size.
    public var inputShape: [Int?]
    /// What input images need before the network sees them (nil: unknown or none recorded).
    public var preprocessing: Preprocessing?
    /// Names of the output classes, by output index, when the file records them.
    public var classNames: [String]?
    /// Where the model came from.
    public var provenance: Provenance
    /// Every stored tensor, in data-section order.
    public var tensors: [TensorEntry]
}

/// Constants of the `.vggm` format (docs/vggm-format.md) and its checksum.
public enum VGGMFormat {
    /// The 8 magic bytes a `.vggm` file starts with: `\x89VGGM\r\n\x1a`.
    public static let magic: [UInt8] = [0x89, 0x56, 0x47, 0x47, 0x4D, 0x0D, 0x0A, 0x1A]
    /// The major version this vggtool reads and writes; files of other major versions are refused.
    public static let major: UInt16 = 1
    /// The newest minor version this vggtool reads and writes. 1.1 added nested models (a layer of class
    /// `Functional`, `Sequential` or `Model` holding its own graph); 1.2 added channels-first layers (a
    /// `data_format` key, which older readers would ignore and compute wrongly), layers given a mask
    /// (`mask_inbound`) and BatchNormalization's explicit `axis`. A file is written as the lowest minor version it needs, so older readers keep
    /// reading what they can. 1.3 added int8 tensors (`i8`) with their scales (docs/precision.md): readers of
    /// 1.2 refuse such a file as newer than they are.
    public static let minor: UInt16 = 3

    /// The minor version a file holding `graph` is written as.
    public static func minor(for graph: ModelGraph) -> UInt16 {
        graph.hasChannelsFirstLayers || graph.hasMaskInputs || graph.hasExplicitNormalizationAxes ? 2 : graph.hasNestedModels ? 1 : 0
    }

    /// The minor version a file holding `graph` and tensors of `dtypes` is written as (3 with int8 tensors).
    public static func minor(for graph: ModelGraph, dtypes: some Sequence<TensorDType>) -> UInt16 {
        dtypes.contains(.i8) ? 3 : minor(for: graph)
    }

    /// Suffix of the float32 tensor holding an int8 kernel's per-output-channel scales (`<kernel>.scale`).
    public static let scaleSuffix = ".scale"
    /// Weight name of the float32 pair (input scale, input zero point) of a layer with an int8 kernel
    /// (`<layer>/input.quant`).
    public static let inputQuantName = "input.quant"
    /// Bytes in the fixed header.
    public static let headerSize = 64
    /// Byte alignment of every tensor's offset (from the start of the file and of the data section).
    public static let alignment = 64
    /// Caps checked on open: manifest bytes.
    public static let maxManifestBytes = 64 << 20
    /// Most tensors a manifest may list.
    public static let maxTensors = 100_000
    /// Highest tensor rank accepted.
    public static let maxRank = 8

    /// CRC-32C (Castagnoli, as iSCSI and ext4 use it) of `buffer`, continuing from `seed` (pass the
    /// previous result to checksum data in pieces). Hardware-accelerated when the CPU has SSE4.2.
    public static func crc32c(_ buffer: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        vgg_crc32c(seed, buffer.baseAddress, buffer.count)
    }

    static func alignUp(_ x: Int) -> Int { (x + alignment - 1) / alignment * alignment }
}

/// A problem with a `.vggm` file: the file, the object at fault (header field, tensor, layer), what kind of
/// problem it is and why. `description` is the one-line message the CLI prints.
public struct ModelFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on; `message` says it in words.
    public enum Kind: Sendable, Equatable {
        /// The file does not exist, is not a regular file, or cannot be opened, stat'ed or mapped.
        case unreadable
        /// The file does not start with the `.vggm` magic.
        case notVGGM
        /// The format's major version is not the one this vggtool reads.
        case unsupportedVersion(major: Int, minor: Int)
        /// The format's minor version is newer than this vggtool's.
        case newerVersion(major: Int, minor: Int)
        /// A CRC-32C over `object` (the header, the manifest) differs from the stored one.
        case checksumMismatch(stored: UInt32, computed: UInt32)
        /// The file is shorter than its header or than its length field says.
        case truncated
        /// A section or tensor lies (partly) outside the file or the data section.
        case outOfBounds
        /// Tensor `object` overlaps the named tensor.
        case overlap(with: String)
        /// A header field holds an impossible value (header size, offsets, trailing data).
        case malformedHeader
        /// The manifest is malformed: not JSON, keys missing or mistyped, tensor entries inconsistent.
        case malformedManifest
        /// A count or size over the format's caps (tensors, manifest bytes).
        case tooLarge
        /// The manifest's model graph is invalid or its shapes do not fit (the `GraphError` names the layer).
        case invalidGraph(GraphError)
        /// A layer's weight has no tensor in the file.
        case missingTensor(layer: String, weight: String)
        /// A tensor's shape differs from its layer's weight.
        case tensorShapeMismatch(tensor: String, expected: [Int], actual: [Int])
        /// A tensor that belongs to no layer of the model.
        case unusedTensor(String)
        /// The output cannot be written: its folder is missing or not writable, or a write, fsync or rename
        /// failed.
        case cannotWrite
        /// The source of a tensor copy (or of a hash) could not be read as far as it should.
        case cannotReadSource
        /// A system or library call failed for a reason that is not the file's (starting SHA-256).
        case system
        /// The caller cancelled the work.
        case cancelled
    }

    /// The `.vggm` file (or the file being hashed or written).
    public var file: String
    /// The object at fault (`header`, `manifest`, `tensor 'fc1/kernel'`), empty for the file.
    public var object: String
    /// What kind of problem it is.
    public var kind: Kind
    /// What is wrong, in words.
    public var message: String

    /// An error of `kind` about `object` in `file`, with `message` saying what is wrong.
    public init(file: String, object: String = "", _ kind: Kind, _ message: String) {
        self.file = file
        self.object = object
        self.kind = kind
        self.message = message
    }

    /// `file: object: message` (the object left out when empty).
    public var description: String { object.isEmpty ? "\(file): \(message)" : "\(file): \(object): \(message)" }
}
