/// What the 2-D convolution classes share (Keras's `BaseConv`): a kernel moved over the input with
/// strides, dilation and padding, an activation and an optional bias.
public protocol Convolution2D: ChannelOrdered {
    /// Kernel height and width (the kernel's H and W; for SeparableConv2D, the depthwise step's).
    var kernel: Size2D { get }
    /// Step between windows, vertical and horizontal.
    var strides: Size2D { get }
    /// `valid` (no padding) or `same` (TensorFlow's, the extra row or column on the bottom or right).
    var padding: Padding { get }
    /// Spacing between kernel taps (1: none).
    var dilation: Size2D { get }
    /// Applied to the output after the bias.
    var activation: Activation { get }
    /// Whether a bias (one per output channel) is added.
    var useBias: Bool { get }
}

extension Convolution2D {
    /// The sliding window (kernel, strides, dilation, padding).
    public var window: Window2D { Window2D(size: kernel, strides: strides, dilation: dilation, padding: padding) }
    public var outputActivation: Activation? { activation }
}
