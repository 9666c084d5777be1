import Foundation
import ModelGraph

/// The axis of a normalization: nil for -1 (the last), else the positive axis Keras wrote (tf-keras writes the
/// input's last index: 2 for sequences, 3 for images), checked against the input's rank by shape inference.
private func normalizationAxis(_ c: KerasLayerConfig, _ cls: String) throws -> Int? {
    guard let axis = c["axis"] else { return nil }
    let list = (axis as? [Any]) ?? [axis]
    guard list.count == 1 else { throw c.error(.unsupported, "\(cls) over several axes \(list) is not supported") }
    let ax = try c.int(list[0], "axis")
    if ax == -1 { return nil }
    guard ax >= 1 && ax <= 8 else { throw c.error(.unsupported, "\(cls) over axis \(ax) is not supported (-1, or 1 to 8)") }
    return ax
}

extension LayerNormalization: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let axis = try normalizationAxis(c, "LayerNormalization")
        if c.bool("rms_scaling", default: false) { throw c.error("LayerNormalization with rms_scaling is not supported") }
        self.init(epsilon: c.double("epsilon", default: 1e-3), center: c.bool("center", default: true), scale: c.bool("scale", default: true), axis: axis)
    }

    func tfKerasConfig() -> [String: Any] { ["axis": [axis ?? -1], "epsilon": epsilon, "center": center, "scale": scale] }
}

extension Normalization: KerasLayer {
    /// Statistics given in the config (`mean`, `variance`) instead of adapted weights are refused by name.
    init(keras c: KerasLayerConfig) throws {
        let axis = try normalizationAxis(c, "Normalization")
        if c["mean"] != nil || c["variance"] != nil { throw c.error("Normalization with mean and variance in its config is not supported (adapted weights only)") }
        self.init(invert: c.bool("invert", default: false), axis: axis)
    }

    func tfKerasConfig() -> [String: Any] { ["axis": [axis ?? -1], "mean": NSNull(), "variance": NSNull(), "invert": invert] }
}

extension PReLU: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let shared = c["shared_axes"]
        let axes = try (shared as? [Any])?.map { try c.int($0, "shared_axes") } ?? (shared as? NSNumber).map { [try c.int($0, "shared_axes")] } ?? []
        self.init(sharedAxes: axes)
    }

    func tfKerasConfig() -> [String: Any] { ["shared_axes": sharedAxes.isEmpty ? NSNull() : sharedAxes as Any] }
}
