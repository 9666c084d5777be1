import ModelGraph

extension MaxPooling2D: ONNXLayer {
    /// MaxPool on NCHW with TensorFlow's explicit pads (padding never wins a max).
    func exportONNX(_ c: inout ONNXLayerContext) throws { try pool2D(&c, average: false, window: window) }
}

extension AveragePooling2D: ONNXLayer {
    /// AveragePool on NCHW with TensorFlow's explicit pads, dividing by the in-bounds count
    /// (count_include_pad 0), as TensorFlow's 'same' does.
    func exportONNX(_ c: inout ONNXLayerContext) throws { try pool2D(&c, average: true, window: window) }
}

/// MaxPool or AveragePool (in-bounds count: count_include_pad 0) with TensorFlow's explicit pads; the `pads`
/// attribute only when some pad is not zero.
func pool2D(_ c: inout ONNXLayerContext, average: Bool, window: Window2D) throws {
    let x = c.inputNCHW(), out = c.outputName()
    let attrs = try windowAttributes(c, window: window, dilated: false)
    guard case .ints(_, let pads) = attrs[2] else { preconditionFailure("windowAttributes writes pads third") }
    if pads.allSatisfy({ $0 == 0 }) {
        c.node(average ? "AveragePool" : "MaxPool", [x], out, Array(attrs[0..<2]))
    } else {
        c.node(average ? "AveragePool" : "MaxPool", [x], out, attrs + (average ? [.int("count_include_pad", 0)] : []))
    }
    c.setOutput(out, perm: Perm.channelsFirst(4))
}

/// 1-D pooling on (batch, channels, steps).
func pool1D(_ c: inout ONNXLayerContext, op: String, pool: Int, strides: Int, padding: Padding) throws {
    let x = c.inputNCHW(), out = c.outputName()
    let steps = try c.dim(0, 1)
    guard let o = c.outputShape[1] else { throw c.error(.unknownInputSize, "output size is unknown") }
    let (b, a) = tfPads(steps, out: o, window: pool, stride: strides, same: padding == .same)
    var attrs: [ONNXAttribute] = [.ints("kernel_shape", [pool]), .ints("strides", [strides])]
    if b != 0 || a != 0 { attrs.append(.ints("pads", [b, a])) }
    if op == "AveragePool" { attrs.append(.int("count_include_pad", 0)) }
    c.node(op, [x], out, attrs)
    c.setOutput(out, perm: Perm.channelsFirst(3))
}

extension MaxPooling1D: ONNXLayer {
    /// MaxPool over steps.
    func exportONNX(_ c: inout ONNXLayerContext) throws { try pool1D(&c, op: "MaxPool", pool: pool, strides: strides, padding: padding) }
}

extension AveragePooling1D: ONNXLayer {
    /// AveragePool over steps (in-bounds count).
    func exportONNX(_ c: inout ONNXLayerContext) throws { try pool1D(&c, op: "AveragePool", pool: pool, strides: strides, padding: padding) }
}

/// Global pooling: GlobalAveragePool/GlobalMaxPool on the channels-first input, then Flatten unless the
/// spatial axes are kept.
func globalPool(_ c: inout ONNXLayerContext, op: String, keepDims: Bool) {
    let r = c.rank()
    let x = c.inputNCHW()
    if keepDims {
        let out = c.outputName()
        c.node(op, [x], out)
        c.setOutput(out, perm: Perm.channelsFirst(r))
    } else {
        let p = c.temp("pooled"), out = c.outputName()
        c.node(op, [x], p)
        c.node("Flatten", [p], out, [.int("axis", 1)])
        c.setOutput(out, perm: [0, 1])
    }
}

extension GlobalAveragePooling2D: ONNXLayer {
    /// GlobalAveragePool (then Flatten unless keepdims).
    func exportONNX(_ c: inout ONNXLayerContext) throws { globalPool(&c, op: "GlobalAveragePool", keepDims: keepDims) }
}

extension GlobalMaxPooling2D: ONNXLayer {
    /// GlobalMaxPool (then Flatten unless keepdims).
    func exportONNX(_ c: inout ONNXLayerContext) throws { globalPool(&c, op: "GlobalMaxPool", keepDims: keepDims) }
}

extension GlobalAveragePooling1D: ONNXLayer {
    /// GlobalAveragePool over steps (then Flatten unless keepdims).
    func exportONNX(_ c: inout ONNXLayerContext) throws { globalPool(&c, op: "GlobalAveragePool", keepDims: keepDims) }
}

extension GlobalMaxPooling1D: ONNXLayer {
    /// GlobalMaxPool over steps (then Flatten unless keepdims).
    func exportONNX(_ c: inout ONNXLayerContext) throws { globalPool(&c, op: "GlobalMaxPool", keepDims: keepDims) }
}

extension ZeroPadding2D: ONNXLayer {
    /// Pad of the NCHW input, pads [0, 0, top, left, 0, 0, bottom, right], with the constant -0.0 (equal to
    /// 0 in every sum, product and comparison): ONNX Runtime's PadFusion folds a Pad whose constant is +0.0
    /// into a following Conv or pool's `pads`, where it no longer counts as zeros (MaxPool ignores pads,
    /// AveragePool with count_include_pad 0 does not count them) and can exceed the window, which ONNX
    /// Runtime then refuses; it leaves a Pad with any other constant alone.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let x = c.inputNCHW(), out = c.outputName()
        let pads = c.graph.int64s("\(c.name)/pads", [0, 0, top, left, 0, 0, bottom, right])
        c.node("Pad", [x, pads, c.scalar("value", -0.0)], out, [.string("mode", "constant")])
        c.setOutput(out, perm: Perm.channelsFirst(4))
    }
}

/// A Slice of rows [top, h - bottom) and columns [left, w - right) of the NCHW input.
func crop(_ c: inout ONNXLayerContext, top: Int, bottom: Int, left: Int, right: Int) throws {
    let h = try c.dim(0, 1), w = try c.dim(0, 2)
    let x = c.inputNCHW(), out = c.outputName()
    let starts = c.graph.int64s("\(c.name)/starts", [top, left]), ends = c.graph.int64s("\(c.name)/ends", [h - bottom, w - right])
    let axes = c.graph.int64s("\(c.name)/axes", [2, 3])
    c.node("Slice", [x, starts, ends, axes], out)
    c.setOutput(out, perm: Perm.channelsFirst(4))
}

extension Cropping2D: ONNXLayer {
    /// Slice of the kept rows and columns.
    func exportONNX(_ c: inout ONNXLayerContext) throws { try crop(&c, top: top, bottom: bottom, left: left, right: right) }
}

extension CenterCrop: ONNXLayer {
    /// Slice of the centred window (top-left corner at half the difference, rounded down); an input smaller
    /// than the target (Keras resizes it) is refused.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        let h = try c.dim(0, 1), w = try c.dim(0, 2)
        guard h >= height, w >= width else {  // Keras's smart_resize: the largest centred window, bilinear
            resize(&c, oh: height, ow: width, bilinear: true, nearestCoordinates: "", window: aspectWindow(h, w, height, width))
            return
        }
        let t = (h - height) / 2, l = (w - width) / 2
        try crop(&c, top: t, bottom: h - height - t, left: l, right: w - width - l)
    }
}

/// Resize of the NCHW input to `oh` x `ow`: sizes built from the input's own batch and channels (so a
/// dynamic batch works at every opset); nearest as `mode` nearest with `nearestCoordinates`, bilinear as linear
/// with half-pixel centres (tf.image.resize without antialias).
func resize(_ c: inout ONNXLayerContext, oh: Int, ow: Int, bilinear: Bool, nearestCoordinates: String,
            window: (top: Int, left: Int, height: Int, width: Int)? = nil) {
    var x = c.inputNCHW()
    if let window {  // the centred window first (Keras's crop to the target's aspect ratio)
        let cropped = c.temp("window")
        c.node("Slice", [x, c.graph.int64s("\(c.name)/window_starts", [window.top, window.left]),
                         c.graph.int64s("\(c.name)/window_ends", [window.top + window.height, window.left + window.width]),
                         c.graph.int64s("\(c.name)/window_axes", [2, 3])], cropped)
        x = cropped
    }
    let shape = c.temp("shape"), nc = c.temp("batch_channels"), sizes = c.temp("sizes"), out = c.outputName()
    c.node("Shape", [x], shape)
    c.node("Slice", [shape, c.graph.int64s("\(c.name)/zero", [0]), c.graph.int64s("\(c.name)/two", [2])], nc)
    c.node("Concat", [nc, c.graph.int64s("\(c.name)/size", [oh, ow])], sizes, [.int("axis", 0)])
    let attrs: [ONNXAttribute] = bilinear
        ? [.string("mode", "linear"), .string("coordinate_transformation_mode", "half_pixel")]
        : [.string("mode", "nearest"), .string("coordinate_transformation_mode", nearestCoordinates),
           // asymmetric + floor: floor(x / s), pixels repeated; half_pixel + round_prefer_ceil: round((x + 0.5) / s - 0.5)
           // with ties up, which is floor((x + 0.5) / s), TensorFlow's half-pixel nearest
           .string("nearest_mode", nearestCoordinates == "asymmetric" ? "floor" : "round_prefer_ceil")]
    c.node("Resize", [x, "", "", sizes], out, attrs)
    c.setOutput(out, perm: Perm.channelsFirst(4))
}

extension UpSampling2D: ONNXLayer {
    /// Resize by the integer factors: nearest repeats pixels (asymmetric coordinates, floor), bilinear with
    /// half-pixel centres.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        guard interpolation == .nearest || interpolation == .bilinear else {
            throw c.error(.unsupportedSetting("interpolation=\(interpolation.rawValue)"), "UpSampling2D with '\(interpolation.rawValue)' interpolation cannot be exported (nearest and bilinear can)")
        }
        let h = try c.dim(0, 1), w = try c.dim(0, 2)
        resize(&c, oh: h * size.height, ow: w * size.width, bilinear: interpolation == .bilinear, nearestCoordinates: "asymmetric")
    }
}

extension Resizing: ONNXLayer {
    /// tf.image.resize to the target size: bilinear with half-pixel centres, nearest with TensorFlow's
    /// half-pixel nearest rule; cropping or padding to the aspect ratio and antialiasing are refused.
    func exportONNX(_ c: inout ONNXLayerContext) throws {
        guard interpolation == .nearest || interpolation == .bilinear else {
            throw c.error(.unsupportedSetting("interpolation=\(interpolation.rawValue)"), "Resizing with '\(interpolation.rawValue)' interpolation cannot be exported (nearest and bilinear can)")
        }
        for (on, what) in [(padToAspectRatio, "pad_to_aspect_ratio"), (antialias, "antialias")] where on {
            throw c.error(.unsupportedSetting(what), "Resizing with \(what) cannot be exported")
        }
        let window = cropToAspectRatio ? aspectWindow(try c.dim(0, 1), try c.dim(0, 2), height, width) : nil
        resize(&c, oh: height, ow: width, bilinear: interpolation == .bilinear, nearestCoordinates: "half_pixel", window: window)
    }
}

/// The largest window of the target's aspect ratio centred in an `h` x `w` image (Keras's smart_resize and
/// crop_to_aspect_ratio; the runtime's rule).
func aspectWindow(_ h: Int, _ w: Int, _ th: Int, _ tw: Int) -> (top: Int, left: Int, height: Int, width: Int) {
    let ch = min(h, Int(Double(w * th) / Double(tw))), cw = min(w, Int(Double(h * tw) / Double(th)))
    return (Int(Double(h - ch) / 2), Int(Double(w - cw) / 2), max(ch, 1), max(cw, 1))
}
