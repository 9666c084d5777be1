import Foundation

/// Which Keras's `model.summary()` to reproduce.
public enum SummaryStyle: String, Sendable, CaseIterable {
    /// tf-keras 2.x: 65-character text table (98 with a "Connected to" column for branching graphs).
    case keras2
    /// Keras 3: box-drawn table as rich renders it at Keras's default line length (88, or 108 with
    /// "Connected to").
    case keras3
}

extension GraphAnalysis {
    /// The text Keras prints for `model.summary()`, line for line, ending with a newline;
    /// `expandNested` prints what `model.summary(expand_nested=True)` prints (nested models' layers under
    /// their row).
    public func summary(style: SummaryStyle, expandNested: Bool = false) -> String {
        switch style {
        case .keras2: return Keras2Summary(self, expandNested: expandNested).render()
        case .keras3: return Keras3Summary(self, expandNested: expandNested).render()
        }
    }

    /// Layers as Keras's summary lists them: a Sequential model omits its InputLayer.
    var summaryLayers: [LayerInfo] {
        graph.isSequential ? layers.filter { $0.layer.op.inputShape == nil } : layers
    }

    /// Weight bytes as Keras counts them (float32 variables: 4 bytes per parameter).
    var totalBytes: Int { totalParams * 4 }
}

/// Python's `"{:.2f} {unit}".format(...)` over 1024-steps, as both Keras versions print sizes.
func readableMemorySize(_ bytes: Int, byteUnit: String) -> String {
    let units = [byteUnit, "KB", "MB", "GB", "TB", "PB"]
    var size = Double(bytes)
    for unit in units {
        if size / 1024 < 1 { return String(format: "%.2f %@", size, unit) }
        size /= 1024
    }
    return String(format: "%.2f %@", size, units.last!)
}

/// Python's `f"{n:,}"`.
func thousands(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// Port of tf-keras 2.x `layer_utils.print_summary` (no nesting, no trainable column).
struct Keras2Summary {
    let analysis: GraphAnalysis
    let expandNested: Bool
    let sequentialLike: Bool
    let lineLength: Int
    let positions: [Int]

    init(_ analysis: GraphAnalysis, expandNested: Bool = false) {
        self.analysis = analysis
        self.expandNested = expandNested
        sequentialLike = analysis.isSequentialLike
        let length = sequentialLike ? 65 : 98
        let fractions = sequentialLike ? [0.45, 0.85, 1.0] : [0.3, 0.6, 0.70, 1.0]
        lineLength = length
        positions = fractions.map { Int(Double(length) * $0) }
    }

    func row(_ fields: [String], nestedLevel level: Int = 0, into out: inout [String]) {
        var left = fields.map { Array($0) }
        let breaks: [[Character]] = ["),", "},", "],", "',"].map { Array($0) }
        while left.contains(where: { !$0.isEmpty }) {
            var line: [Character] = []
            for col in 0..<left.count {
                let start = col > 0 ? positions[col - 1] : 0
                let end = positions[col]
                let space = col != positions.count - 1 ? 2 : 0
                var cutoff = end - start - space
                if col != positions.count - 1 { cutoff -= 1 }
                if col == 0 { cutoff -= level }
                var fit = Array(left[col].prefix(max(0, cutoff)))
                var candidates: [Int] = []
                for b in breaks {
                    if let i = find(b, in: fit) { candidates.append(i + b.count) }
                }
                if let m = candidates.min() {
                    cutoff = m
                    fit = Array(fit.prefix(m))
                }
                if col == 0 { line += Array(repeating: "|", count: level) + [" "] }
                line += fit
                if space > 0 { line += Array(repeating: " ", count: space) }
                left[col] = Array(left[col].dropFirst(max(0, cutoff)))
                let pad = positions[col] - line.count - (level > 0 && col == positions.count - 1 ? level : 0)
                if pad > 0 { line += Array(repeating: " ", count: pad) }
            }
            out.append(String(line) + String(repeating: "|", count: level))
        }
    }

    func find(_ needle: [Character], in hay: [Character]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    /// tf-keras's `print_layer`: the row, then (expanded) the nested model's layers between borders, then
    /// a spacer unless the row is the last of its nested model or was expanded.
    func printLayer(_ info: LayerInfo, level: Int, isNestedLast: Bool, into out: inout [String]) {
        let shape: String
        if info.layer.op.inputShape != nil { shape = "[" + ShapeFormat.tuple(info.outputShape) + "]" } else { shape = ShapeFormat.tuple(info.outputShape) }
        var fields = ["\(info.layer.name) (\(info.layer.op.className))", shape, String(info.params)]
        if !sequentialLike {
            // Layers inside a nested model have no connections in the outer model's graph.
            fields.append("[" + (level > 0 ? [] : info.layer.inbound.map { "'\($0)[0][0]'" }).joined(separator: ", ") + "]")
        }
        row(fields, nestedLevel: level, into: &out)
        var last = isNestedLast
        if expandNested, let nested = info.nested, !nested.summaryLayers.isEmpty {
            let inner = nested.summaryLayers
            out.append(String(repeating: "|", count: level + 1) + String(repeating: "¯", count: lineLength - 2 * level - 2) + String(repeating: "|", count: level + 1))
            for (i, l) in inner.enumerated() { printLayer(l, level: level + 1, isNestedLast: i == inner.count - 1, into: &out) }
            out.append(String(repeating: "|", count: level) + String(repeating: "¯", count: lineLength - 2 * level) + String(repeating: "|", count: level))
            last = true  // as tf-keras, whose loop leaves its flag set
        }
        if !last {
            out.append(String(repeating: "|", count: level) + String(repeating: " ", count: lineLength - 2 * level) + String(repeating: "|", count: level))
        }
    }

    func render() -> String {
        var out: [String] = []
        out.append("Model: \"\(analysis.graph.name)\"")
        out.append(String(repeating: "_", count: lineLength))
        row(sequentialLike ? ["Layer (type)", "Output Shape", "Param #"] : ["Layer (type)", "Output Shape", "Param #", "Connected to"], into: &out)
        out.append(String(repeating: "=", count: lineLength))
        for info in analysis.summaryLayers { printLayer(info, level: 0, isNestedLast: false, into: &out) }
        out.append(String(repeating: "=", count: lineLength))
        let a = analysis
        out.append("Total params: \(a.totalParams) (\(readableMemorySize(a.totalParams * 4, byteUnit: "Byte")))")
        out.append("Trainable params: \(a.trainableParams) (\(readableMemorySize(a.trainableParams * 4, byteUnit: "Byte")))")
        out.append("Non-trainable params: \(a.nonTrainableParams) (\(readableMemorySize(a.nonTrainableParams * 4, byteUnit: "Byte")))")
        out.append(String(repeating: "_", count: lineLength))
        return out.joined(separator: "\n") + "\n"
    }
}

/// Keras 3's `summary_utils.print_summary` as rich renders it to a non-terminal at the default line
/// length: a HEAVY_HEAD box table with a rule between rows, cells word-wrapped with rich's algorithm and
/// over-long words cut with an ellipsis.
struct Keras3Summary {
    let analysis: GraphAnalysis
    let expandNested: Bool
    let sequentialLike: Bool
    /// Cell widths inside the borders, including one space of padding either side. rich's column layout
    /// for Keras's positions ([0.45, 0.80, 1.0] of 88; [0.3, 0.56, 0.74, 1.0] of 108).
    let widths: [Int]
    let rightAligned: [Bool]

    init(_ analysis: GraphAnalysis, expandNested: Bool = false) {
        self.analysis = analysis
        self.expandNested = expandNested
        sequentialLike = analysis.isSequentialLike
        widths = sequentialLike ? [38, 29, 17] : [31, 27, 17, 28]
        rightAligned = sequentialLike ? [false, false, true] : [false, false, true, false]
    }

    /// rich's `divide_line` (fold off) followed by per-line rstrip and ellipsis overflow.
    static func wrap(_ text: String, width: Int) -> [String] {
        let chars = Array(text)
        // Words: optional leading whitespace, non-space run, trailing whitespace (rich's `words`).
        var words: [(start: Int, word: [Character])] = []
        var i = 0
        while i < chars.count {
            let start = i
            while i < chars.count, chars[i].isWhitespace { i += 1 }
            while i < chars.count, !chars[i].isWhitespace { i += 1 }
            while i < chars.count, chars[i].isWhitespace { i += 1 }
            words.append((start, Array(chars[start..<i])))
        }
        var breaks: [Int] = []
        var offset = 0
        for (start, word) in words {
            var trimmed = word
            while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
            let remaining = width - offset
            if remaining >= trimmed.count {
                offset += word.count
            } else if trimmed.count > width {
                // Too long for any line (no folding): it gets a line of its own, cut with an ellipsis.
                if offset > 0 { breaks.append(start) }
                offset = word.count
            } else if remaining != 0 {  // Python truthiness: a negative remainder also breaks
                breaks.append(start)
                offset = word.count
            }
        }
        var lines: [String] = []
        var prev = 0
        for b in breaks + [chars.count] {
            var line = Array(chars[prev..<b])
            while let last = line.last, last.isWhitespace { line.removeLast() }
            if line.count > width { line = Array(line.prefix(width - 1)) + ["…"] }
            lines.append(String(line))
            prev = b
        }
        return lines.isEmpty ? [""] : lines
    }

    func renderRow(_ cells: [String], into out: inout [String], vertical: String) {
        let wrapped = cells.enumerated().map { Keras3Summary.wrap($1, width: widths[$0] - 2) }
        let height = wrapped.map(\.count).max() ?? 1
        for r in 0..<height {
            var line = vertical
            for (c, lines) in wrapped.enumerated() {
                let text = r < lines.count ? lines[r] : ""
                let pad = String(repeating: " ", count: max(0, widths[c] - 2 - text.count))
                line += " " + (rightAligned[c] ? pad + text : text + pad) + " " + vertical
            }
            out.append(line)
        }
    }

    func rule(_ left: String, _ fill: String, _ mid: String, _ right: String) -> String {
        left + widths.map { String(repeating: fill, count: $0) }.joined(separator: mid) + right
    }

    func render() -> String {
        var out: [String] = []
        out.append("Model: \"\(analysis.graph.name)\"")
        out.append(rule("┏", "━", "┳", "┓"))
        renderRow(sequentialLike ? ["Layer (type)", "Output Shape", "Param #"] : ["Layer (type)", "Output Shape", "Param #", "Connected to"], into: &out, vertical: "┃")
        out.append(rule("┡", "━", "╇", "┩"))
        // Keras's print_layer: a nested model's layers follow its row when expanded, prefixed by depth.
        var layers: [(info: LayerInfo, level: Int)] = []
        func add(_ info: LayerInfo, _ level: Int) {
            layers.append((info, level))
            if expandNested, let nested = info.nested { for l in nested.summaryLayers { add(l, level + 1) } }
        }
        for info in analysis.summaryLayers { add(info, 0) }
        for (i, (info, level)) in layers.enumerated() {
            let prefix = level > 0 ? String(repeating: "   ", count: level) + "└ " : ""
            var cells = ["\(prefix)\(info.layer.name) (\(info.layer.op.className))", ShapeFormat.tuple(info.outputShape), thousands(info.params)]
            if !sequentialLike {
                // Layers inside a nested model have no connections in the outer model's graph.
                cells.append(info.layer.inbound.isEmpty || level > 0 ? "-" : info.layer.inbound.map { "\($0)[0][0]" }.joined(separator: ", "))
            }
            renderRow(cells, into: &out, vertical: "│")
            out.append(i == layers.count - 1 ? rule("└", "─", "┴", "┘") : rule("├", "─", "┼", "┤"))
        }
        if layers.isEmpty { out.append(rule("└", "─", "┴", "┘")) }
        let a = analysis
        out.append(" Total params: \(thousands(a.totalParams)) (\(readableMemorySize(a.totalParams * 4, byteUnit: "B")))")
        out.append(" Trainable params: \(thousands(a.trainableParams)) (\(readableMemorySize(a.trainableParams * 4, byteUnit: "B")))")
        out.append(" Non-trainable params: \(thousands(a.nonTrainableParams)) (\(readableMemorySize(a.nonTrainableParams * 4, byteUnit: "B")))")
        return out.joined(separator: "\n") + "\n"
    }
}
