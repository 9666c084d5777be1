import Foundation
import ModelGraph

extension ReLU: KerasLayer {
    init(keras c: KerasLayerConfig) throws {
        self.init(maxValue: (c["max_value"] as? NSNumber)?.doubleValue, negativeSlope: c.double("negative_slope", default: 0),
                  threshold: c.double("threshold", default: 0))
    }

    func tfKerasConfig() -> [String: Any] {
        ["max_value": jsonValue(maxValue), "negative_slope": negativeSlope, "threshold": threshold]
    }
}
