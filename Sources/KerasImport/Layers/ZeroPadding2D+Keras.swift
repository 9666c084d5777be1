import Foundation
import ModelGraph

extension ZeroPadding2D: KerasLayer {
    /// `padding`: one integer (all sides), `[h, w]` (symmetric) or `[[top, bottom], [left, right]]`; default 1.
    init(keras c: KerasLayerConfig) throws {
        let df = try c.channelOrder()
        let p = c["padding"] ?? 1
        if let n = p as? NSNumber {
            let v = try c.int(n, "padding")
            self.init(top: v, bottom: v, left: v, right: v, dataFormat: df)
            return
        }
        guard let l = p as? [Any], l.count == 2 else { throw c.error("ZeroPadding2D padding is malformed") }
        if let tb = l[0] as? [Any], let lr = l[1] as? [Any], tb.count == 2, lr.count == 2 {
            self.init(top: try c.int(tb[0], "padding"), bottom: try c.int(tb[1], "padding"),
                      left: try c.int(lr[0], "padding"), right: try c.int(lr[1], "padding"), dataFormat: df)
            return
        }
        let h = try c.int(l[0], "padding"), w = try c.int(l[1], "padding")
        self.init(top: h, bottom: h, left: w, right: w, dataFormat: df)
    }

    func tfKerasConfig() -> [String: Any] { ["padding": [[top, bottom], [left, right]], "data_format": dataFormat.rawValue] }
}
