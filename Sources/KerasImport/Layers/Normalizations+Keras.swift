import Foundation
import ModelGraph

/// The axis of a normalization: only the last (-1, or the input's last index when Keras wrote it) is accepted.
private func checkLastAxis(_ c: KerasLayerConfig, _ cls: String) throws {
    guard let axis = c["axis"] else { return }
    let list = (axis as? [Any]) ?? [axis]
    guard list.count == 1 else { throw c.error("\(cls) over axes \(list) is not supported (last axis only)") }
    let ax = try c.int(list[0], "axis")
    guard ax == -1 || ax == 3 else { throw c.error("\(cls) over axis \(ax) is not supported (last axis only)") }
}

extension LayerNormalization: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        try checkLastAxis(c, "LayerNormalization")
        if c.bool("rms_scaling", default: false) { throw c.error("LayerNormalization with rms_scaling is not supported") }
        self.init(epsilon: c.double("epsilon", default: 1e-3), center: c.bool("center", default: true), scale: c.bool("scale", default: true))
    }

    func tfKerasConfig() -> [String: Any] { ["axis": [-1], "epsilon": epsilon, "center": center, "scale": scale] }
}

extension Normalization: KerasLayer {
    /// Statistics given in the config (`mean`, `variance`) instead of adapted weights are refused by name.
    init(keras c: KerasLayerConfig) throws {
        try checkLastAxis(c, "Normalization")
        if c["mean"] != nil || c["variance"] != nil { throw c.error("Normalization with mean and variance in its config is not supported (adapted weights only)") }
        self.init(invert: c.bool("invert", default: false))
    }

    func tfKerasConfig() -> [String: Any] { ["axis": [-1], "mean": NSNull(), "variance": NSNull(), "invert": invert] }
}

extension PReLU: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        let shared = c["shared_axes"]
        let axes = try (shared as? [Any])?.map { try c.int($0, "shared_axes") } ?? (shared as? NSNumber).map { [try c.int($0, "shared_axes")] } ?? []
        self.init(sharedAxes: axes)
    }

    func tfKerasConfig() -> [String: Any] { ["shared_axes": sharedAxes.isEmpty ? NSNull() : sharedAxes as Any] }
}
