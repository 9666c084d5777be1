import HDF5
import ModelGraph

/// A problem with a Keras file: which file, which object in it (layer, dataset, attribute, zip entry), what
/// kind of problem it is and what is wrong. `description` is the one-line message the CLI prints.
public struct ImportError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on; `message` says it in words.
    public enum Kind: Sendable, Equatable {
        /// The file does not exist, is not a regular file (a directory, FIFO, device) or cannot be read.
        case unreadable
        /// The file is not a Keras model file: empty, neither HDF5 nor a zip archive, an HDF5 file holding no
        /// model or weights, or a zip archive without `config.json`.
        case notKerasFile
        /// A Keras feature or setting vggtool does not support (Theano kernels, grouped convolution, a
        /// `data_format`, zip64, a weight dtype, ...): `message` names it.
        case unsupported
        /// A layer class vggtool does not know (its Keras class name).
        case unsupportedLayerClass(String)
        /// Content refused because reading it would run code or reach outside the file.
        case refused(UnsafeContent)
        /// The file's structure or config is malformed (missing or mistyped keys, corrupt zip or HDF5
        /// structure, an invalid graph).
        case malformed
        /// A count or size over vggtool's caps (layers, nesting depth, declared bytes, a compression bomb).
        case tooLarge
        /// A weight's stored shape differs from the one the model expects.
        case weightShapeMismatch(layer: String, weight: String, expected: [Int], actual: [Int])
        /// A layer's stored weight count differs from the model's (`expected` weights, `actual` in the file).
        case weightCountMismatch(layer: String, expected: Int, actual: Int)
        /// A layer with weights in the model has none in the file.
        case missingWeights(layer: String)
        /// The file has weights for layers the model does not have (their names, or their keys in the file).
        case extraWeights(layers: [String])
        /// libhdf5 failed on an object of the file (the wrapped `HDF5Error`'s kind).
        case hdf5(HDF5Error.Kind)
        /// The model's graph is invalid, or its shapes do not fit (the `GraphError` names the layer).
        case graph(GraphError)
        /// A layer or setting the target Keras dialect cannot express (writing tf-keras files).
        case inexpressible
    }

    /// Content a Keras file may hold that vggtool refuses to use.
    public enum UnsafeContent: Sendable, Equatable {
        /// A layer carrying Python code (`Lambda`, `TFOpLambda`, ...): its class name.
        case pythonCode(className: String)
        /// A class from a module outside Keras.
        case foreignModule(className: String, module: String)
        /// A custom registered class (`registered_name`).
        case customClass(String)
        /// A custom (non-string) activation object.
        case customActivation
        /// A soft, external or user-defined HDF5 link (never followed).
        case link
        /// A dataset stored in external files.
        case externalStorage
        /// A virtual dataset (it reads other files).
        case virtualDataset
        /// An HDF5 filter other than gzip, shuffle and fletcher32 (plugins are never loaded): its id.
        case filter(id: Int)
        /// A zip entry whose name is absolute or holds `..`.
        case unsafePath
    }

    /// The Keras file (or the config's label).
    public var file: String
    /// The object at fault (`layer 'fc1'`, `zip entry 'config.json'`, `/layers/dense`), empty for the file.
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
    public var description: String {
        object.isEmpty ? "\(file): \(message)" : "\(file): \(object): \(message)"
    }
}

extension ImportError.Kind {
    /// The import kind of an HDF5 failure: a refused link is refused content, anything else `.hdf5`.
    public init(_ hdf5: HDF5Error.Kind) {
        if case .linkRefused = hdf5 { self = .refused(.link) } else { self = .hdf5(hdf5) }
    }
}
