/// What the 2-D convolution classes share (Keras's `BaseConv`): a kernel moved over the input with
/// strides, dilation and padding, an activation and an optional bias.
public protocol Convolution2D: LayerKind {
    var kernel: Size2D { get }
    var strides: Size2D { get }
    var padding: Padding { get }
    var dilation: Size2D { get }
    var activation: Activation { get }
    var useBias: Bool { get }
}

extension Convolution2D {
    /// The sliding window (kernel, strides, dilation, padding).
    public var window: Window2D { Window2D(size: kernel, strides: strides, dilation: dilation, padding: padding) }
    public var outputActivation: Activation? { activation }
}
