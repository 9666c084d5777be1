import ModelGraph

extension RandomAugmentation: RuntimeKernel {
    /// The identity at inference (the dispatch runs only those that are).
    var bufferUse: BufferUse { .alias }
    func makeStep(_ c: StepContext) throws -> () throws -> Void { {} }
}

extension Resizing: RuntimeKernel {
    /// Nearest or bilinear `tf.image.resize`, after Keras's centred crop to the target's aspect ratio when
    /// `crop_to_aspect_ratio` is set.
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape
        guard interpolation == .bilinear || interpolation == .nearest else {
            throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedSetting("interpolation=\(interpolation.rawValue)"), "Resizing with '\(interpolation.rawValue)' interpolation cannot be run (nearest and bilinear can)")
        }
        guard !padToAspectRatio, !antialias else {
            let what = padToAspectRatio ? "pad_to_aspect_ratio" : "antialias"
            throw RuntimeError(file: c.engine.model.path, layer: c.name, .unsupportedSetting(what), "Resizing with \(what) cannot be run")
        }
        let window = cropToAspectRatio ? ImageResize.aspectWindow(height: s[1], width: s[2], targetHeight: height, targetWidth: width) : nil
        return ImageResize(n: s[0], height: s[1], width: s[2], channels: s[3], outHeight: height, outWidth: width, window: window)
            .step(c.engine, c.x, c.out, bilinear: interpolation == .bilinear)
    }
}

extension CenterCrop: RuntimeKernel {
    /// The centred window (its top-left corner at half the difference, rounded down); an image smaller than
    /// the target in either axis is resized as Keras does (`smart_resize`: the largest centred window of the
    /// target's aspect ratio, bilinear).
    func makeStep(_ c: StepContext) throws -> () throws -> Void {
        let s = c.inShape
        let (n, h, w, ch) = (s[0], s[1], s[2], s[3])
        if h >= height, w >= width {
            let top = (h - height) / 2, left = (w - width) / 2
            return try Cropping2D(top: top, bottom: h - height - top, left: left, right: w - width - left).makeStep(c)
        }
        let window = ImageResize.aspectWindow(height: h, width: w, targetHeight: height, targetWidth: width)
        return ImageResize(n: n, height: h, width: w, channels: ch, outHeight: height, outWidth: width, window: window).step(c.engine, c.x, c.out, bilinear: true)
    }
}
