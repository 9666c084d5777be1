/// Window geometry shared by convolutions and pooling: sizes, padding and TensorFlow's output-size and
/// padding arithmetic, in one place for shape inference, the runtime and training.

/// Largest dimension accepted anywhere: guards the arithmetic against absurd configs.
public let maxDimension = 1 << 31

/// A (height, width) pair: kernel sizes, strides, dilation rates. Its JSON form is `[height, width]`.
public struct Size2D: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The vertical extent (rows).
    public var height: Int
    /// The horizontal extent (columns).
    public var width: Int

    /// A size of `height` rows by `width` columns.
    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    /// The same size on both axes: `3` is 3x3.
    public init(integerLiteral value: Int) { self.init(value, value) }

    /// `[height, width]`; nil unless `values` has exactly two elements.
    public init?(_ values: [Int]) {
        guard values.count == 2 else { return nil }
        self.init(values[0], values[1])
    }

    /// `[height, width]`, as Keras configs write it.
    public var array: [Int] { [height, width] }
    /// `height * width` (taps of a kernel, values of a pooling window).
    public var area: Int { height * width }
    public var description: String { "(\(height), \(width))" }

    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        height = try c.decode(Int.self)
        width = try c.decode(Int.self)
        guard c.isAtEnd else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected [height, width]")) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(height)
        try c.encode(width)
    }
}

/// Keras's padding modes for windows.
public enum Padding: String, Sendable, Hashable, Codable {
    /// Output size ceil(in / stride); TensorFlow pads (out - 1) * stride + window - in in total, the smaller
    /// half before (so the odd pixel goes at the end).
    case same
    /// No padding: output size floor((in - window) / stride) + 1.
    case valid

    /// Output length along one axis for an input of `size`, an effective window of `window` (dilation
    /// included) and `stride`. Throws when the input is too small.
    public func outputLength(_ size: Int, window: Int, stride: Int, axis: String) throws -> Int {
        let out = self == .same ? (size + stride - 1) / stride : (size - window) / stride + 1
        guard size >= (self == .same ? 1 : window), out >= 1 else {
            throw LayerShapeError("input \(axis) \(size) is too small for a \(rawValue) window of \(window) with stride \(stride)")
        }
        return out
    }

    /// Padding before the first element along one axis (TensorFlow's: the smaller half of the total).
    public func before(_ size: Int, out: Int, window: Int, stride: Int) -> Int {
        guard self == .same else { return 0 }
        return max((out - 1) * stride + window - size, 0) / 2
    }
}

/// A 2-D sliding window: kernel (or pool) size, strides, dilation and padding.
public struct Window2D: Sendable, Hashable {
    /// Kernel or pool height and width (before dilation).
    public var size: Size2D
    /// Step between windows, vertical and horizontal.
    public var strides: Size2D
    /// Spacing between taps (1: none); the effective extent is `(size - 1) * dilation + 1`.
    public var dilation: Size2D
    /// `valid` or `same` (TensorFlow's).
    public var padding: Padding

    /// A window; no dilation unless given.
    public init(size: Size2D, strides: Size2D, dilation: Size2D = 1, padding: Padding) {
        self.size = size
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
    }

    /// The window's extent with dilation: (k - 1) * d + 1 per axis.
    public var effective: Size2D {
        Size2D((size.height - 1) * dilation.height + 1, (size.width - 1) * dilation.width + 1)
    }

    /// Checks every size is in 1 ... `maxDimension`.
    public func check() throws {
        for (name, s) in [("kernel", size), ("stride", strides), ("dilation", dilation)] {
            guard s.height >= 1, s.width >= 1 else { throw LayerShapeError("kernel, stride and dilation must be positive, got \(name) \(s)") }
            guard s.height <= maxDimension, s.width <= maxDimension else { throw LayerShapeError("\(name) \(s) is too large") }
        }
    }

    /// Output height and width for an input of `height` x `width` (nil = unknown, stays unknown).
    public func output(height: Int?, width: Int?) throws -> (height: Int?, width: Int?) {
        try check()
        let e = effective
        return (try height.map { try padding.outputLength($0, window: e.height, stride: strides.height, axis: "height") },
                try width.map { try padding.outputLength($0, window: e.width, stride: strides.width, axis: "width") })
    }

    /// Padding before the first row and column for this input and output size.
    public func padBefore(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int) -> (top: Int, left: Int) {
        let e = effective
        return (padding.before(inHeight, out: outHeight, window: e.height, stride: strides.height),
                padding.before(inWidth, out: outWidth, window: e.width, stride: strides.width))
    }
}

/// Shape helpers for layer inference.
enum ShapeCheck {
    /// (height, width, channels) of a 4-D NHWC input with known channels.
    static func spatial(_ s: Shape) throws -> (h: Int?, w: Int?, c: Int) {
        guard s.count == 4, let c = s[3] else {
            throw LayerShapeError("expects a 4-D input (batch, height, width, channels), got \(ShapeFormat.tuple(s))")
        }
        return (s[1], s[2], c)
    }

    /// Checks a count (filters, units, ...) is in 1 ... `maxDimension`.
    static func positive(_ value: Int, _ what: String) throws {
        guard value >= 1, value <= maxDimension else { throw LayerShapeError("\(what) must be positive, got \(value)") }
    }
}

/// How Keras writes shapes and sizes.
public enum ShapeFormat {
    /// Python tuple syntax: `(None, 224, 224, 3)`, `(None,)` for one element; `?` for an unknown shape
    /// (as Keras prints a shape it cannot tell).
    public static func tuple(_ s: Shape) -> String {
        guard s.isKnownShape else { return "?" }
        let parts = s.map { $0.map(String.init) ?? "None" }
        return parts.count == 1 ? "(\(parts[0]),)" : "(" + parts.joined(separator: ", ") + ")"
    }
}
