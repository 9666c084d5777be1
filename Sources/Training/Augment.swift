import Foundation

/// Random image augmentations, applied to the resized RGB image (0...255) before preprocessing, in the
/// spirit of Keras's preprocessing layers: `flip` = RandomFlip("horizontal"), `crop` = a random crop of
/// 80-100% of each side resized back, `zoom` = RandomZoom(0.1), `rotate` = RandomRotation(0.1) (up to
/// ±36 degrees). Geometric ones resample bilinearly and fill with reflection, as Keras's defaults do.
/// They are seeded (same seed, same images) but do not reproduce Keras's random numbers.
public enum Augmentation: String, Sendable, CaseIterable {
    /// Mirror left-right with probability 1/2.
    case flip
    /// Crop 80-100% of each side at a random place and resize back.
    case crop
    /// Zoom in or out by up to 10%.
    case zoom
    /// Rotate by up to ±36 degrees.
    case rotate
}

/// Applies a set of augmentations with a caller's random stream (package-only: `FineTuneSession` uses it).
package struct Augmenter: Sendable {
    package var kinds: Set<Augmentation>
    package init(_ kinds: Set<Augmentation>) { self.kinds = kinds }

    /// Augments an H x W x 3 image in place.
    package func apply(_ x: inout [Float], height h: Int, width w: Int, rng: inout SplitMix64) {
        if kinds.contains(.flip), rng.nextFloat() < 0.5 {
            for y in 0..<h {
                for i in 0..<(w / 2) {
                    for c in 0..<3 { x.swapAt((y * w + i) * 3 + c, (y * w + (w - 1 - i)) * 3 + c) }
                }
            }
        }
        // One affine map from output to source coordinates: crop, zoom and rotation combined.
        var scale: Float = 1, cx = Float(w - 1) / 2, cy = Float(h - 1) / 2, angle: Float = 0
        var geometric = false
        if kinds.contains(.crop) {
            let f = 0.8 + 0.2 * rng.nextFloat()
            scale *= f
            cx = Float(w - 1) / 2 + (rng.nextFloat() - 0.5) * Float(w) * (1 - f)
            cy = Float(h - 1) / 2 + (rng.nextFloat() - 0.5) * Float(h) * (1 - f)
            geometric = true
        }
        if kinds.contains(.zoom) { scale *= 0.9 + 0.2 * rng.nextFloat(); geometric = true }
        if kinds.contains(.rotate) { angle = (rng.nextFloat() * 2 - 1) * 0.1 * 2 * .pi; geometric = true }
        guard geometric else { return }
        let src = x
        let cosA = cos(angle), sinA = sin(angle)
        let ox = Float(w - 1) / 2, oy = Float(h - 1) / 2
        func reflect(_ v: Float, _ n: Int) -> Float {
            let m = Float(max(n - 1, 1))
            var t = v.truncatingRemainder(dividingBy: 2 * m)
            if t < 0 { t += 2 * m }
            return t > m ? 2 * m - t : t
        }
        for y in 0..<h {
            for xx in 0..<w {
                let dx = (Float(xx) - ox) * scale, dy = (Float(y) - oy) * scale
                let sx = reflect(cx + cosA * dx - sinA * dy, w), sy = reflect(cy + sinA * dx + cosA * dy, h)
                let x0 = Int(sx), y0 = Int(sy), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                let fx = sx - Float(x0), fy = sy - Float(y0)
                for c in 0..<3 {
                    let a = src[(y0 * w + x0) * 3 + c], b = src[(y0 * w + x1) * 3 + c]
                    let d = src[(y1 * w + x0) * 3 + c], e = src[(y1 * w + x1) * 3 + c]
                    let top = a + (b - a) * fx, bottom = d + (e - d) * fx
                    x[(y * w + xx) * 3 + c] = top + (bottom - top) * fy
                }
            }
        }
    }
}
