import Foundation

/// Escaping for the pages vggtool writes (`graph`, the training report). Every string that comes from a file
/// or a folder name (layer names, class names, paths, configs) goes through one of these before it reaches
/// HTML or SVG, so a class folder named `<script>alert(1)</script>` is shown as text.
package enum HTMLText {
    /// `s` as HTML or XML text, or as a double- or single-quoted attribute value: `&`, `<`, `>`, `"` and `'`
    /// become character references; control characters other than tab and line feed become U+FFFD (XML
    /// forbids them).
    package static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(u)
            default:
                if u.value < 0x20 || u.value == 0x7F || (0xFFFE...0xFFFF).contains(u.value) { out += "\u{FFFD}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }

    /// `object` (a JSONSerialization tree) as JSON safe to embed in `<script type="application/json">`:
    /// `<`, `>` and `&` (which only occur inside JSON strings) are written as `\u003c`, `\u003e`, `\u0026`, so
    /// neither `</script>` nor `<!--` can end or change the block; U+2028 and U+2029 are escaped too.
    package static func scriptJSON(_ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])) ?? Data("null".utf8)
        var out = ""
        for u in String(decoding: data, as: UTF8.self).unicodeScalars {
            switch u {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// A number for SVG coordinates: at most two decimals, no exponent.
    package static func num(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(format: "%.2f", r)
    }

    /// `s` cut to `max` characters, with an ellipsis when it was longer.
    package static func truncate(_ s: String, _ max: Int) -> String {
        s.count <= max ? s : String(s.prefix(max - 1)) + "…"
    }
}
