import HDF5
import ModelGraph

/// A command's failure that no lower library reports: what kind it is, the file (or folder) at fault when
/// there is one, and a one-line `description`, `file: message` (or the message alone).
public struct ToolError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in terms a caller can switch on; `message` says it in words.
    public enum Kind: Sendable, Equatable {
        /// The file is missing, not a regular file, or cannot be read.
        case unreadable
        /// libhdf5 failed on the file (the `HDF5Error`'s kind).
        case hdf5(HDF5Error.Kind)
        /// The isolated HDF5 probe refused the file: its structure is malformed or hostile.
        case refusedByProbe(ProbeFailure)
        /// A child process (the isolated probe) cannot be run or waited for here.
        case cannotRunChild
        /// The model's graph is invalid or does not fit its input (the `GraphError` names the layer).
        case invalidGraph(GraphError)
        /// The given class names are `given`; the model outputs `outputs` values.
        case classNamesMismatch(given: Int, outputs: Int)
        /// The model's input is not an image (H, W, C) with a fixed channel count, or images cannot feed it.
        case notAnImageModel
        /// The model's output is not (batch, classes).
        case notAClassifier
        /// An input batch of the wrong shape (its shape).
        case badInputShape([Int])
        /// An option's value is out of range (the batch size of `bench`).
        case invalidSetting
        /// No input was given.
        case noInput
        /// Some of the input images (`skipped` of `total`) could not be read.
        case unreadableImages(skipped: Int, total: Int)
        /// The data folder holds no images in its class folders.
        case noImages
        /// A class folder (its name) is not one of the model's classes.
        case unknownClass(String)
        /// The data folder has `folders` class folders where the model outputs `outputs` classes.
        case classCountMismatch(folders: Int, outputs: Int)
        /// A class folder (`file`) holds no images.
        case emptyClassFolder
        /// No image of a class folder (`file`) could be read; `skipped` files in all were.
        case unreadableClass(skipped: Int)
        /// Tensors whose stored checksums do not match their data (their names).
        case checksumMismatch(tensors: [String])
        /// The output cannot be written (its `HDF5Error` or `ImportError` in words).
        case cannotWrite
    }

    /// Why the isolated HDF5 probe refused a file.
    public enum ProbeFailure: Sendable, Equatable {
        /// The structural scan beside the probe found the file corrupt.
        case corrupt
        /// The probe did not finish within its wall-clock limit.
        case timedOut
        /// The probe used up its CPU-time limit.
        case cpuLimit
        /// The probe was killed (memory or time limit).
        case killed
        /// The probe crashed with this signal.
        case crashed(signal: Int32)
        /// The probe's shell reported this exit status above 128.
        case failedHard(status: Int32)
    }

    /// What kind of failure it is.
    public var kind: Kind
    /// The file or folder at fault, when there is one.
    public var file: String?
    /// What is wrong, in words (without the file).
    public var message: String

    /// A failure of `kind` about `file`, `message` saying what is wrong.
    public init(_ file: String, _ kind: Kind, _ message: String) {
        self.file = file
        self.kind = kind
        self.message = message
    }

    /// A failure of `kind` about no one file.
    public init(_ kind: Kind, message: String) {
        self.file = nil
        self.kind = kind
        self.message = message
    }

    /// `file: message`, or the message alone.
    public var description: String { file.map { "\($0): \(message)" } ?? message }
}
