import Foundation

/// Which Keras's `model.summary()` to reproduce.
public enum SummaryStyle: String, Sendable, CaseIterable {
    /// tf-keras 2.x: 65-character text table (98 with a "Connected to" column for branching graphs), whatever
    /// the console.
    case keras2
    /// Keras 3: box-drawn table as rich renders it, sized to the console (see `SummaryConsole`): at most 88
    /// characters wide, or 108 with "Connected to".
    case keras3
}

/// The console a Keras 3 summary is printed on, measured the two ways Keras 3 measures it.
///
/// Keras sizes the table from `shutil.get_terminal_size().columns` (`columns`); rich, which draws it, wraps
/// and crops lines to its own console width (`richWidth`). The two agree except when stdout is not a terminal
/// but stdin or stderr is (Python looks at stdout only, rich at stdin, stdout and stderr in turn). Widths are
/// in character cells.
public struct SummaryConsole: Sendable, Equatable {
    /// What `shutil.get_terminal_size().columns` reports: COLUMNS if it is a positive integer, else the width
    /// of the terminal on stdout, else 80. The table is `min(88 or 108, columns - 4)` wide.
    public var columns: Int
    /// rich's console width: COLUMNS if it is all digits, else the width of the first terminal among stdin,
    /// stdout and stderr, else 80. Longer lines are cropped (the table) or wrapped (the other lines) to it.
    public var richWidth: Int

    /// A console as Keras measures it; `richWidth` defaults to `columns` (what setting COLUMNS gives both).
    public init(columns: Int, richWidth: Int? = nil) {
        self.columns = columns
        self.richWidth = richWidth ?? columns
    }

    /// A console wide enough for Keras's default line lengths (88, or 108 with "Connected to").
    public static let wide = SummaryConsole(columns: 200)

    /// What a pipe or a file gets when COLUMNS is unset and no terminal is attached: 80 columns.
    public static let pipe = SummaryConsole(columns: 80)
}

/// Keras 3 refused to print a summary: the console leaves a column fewer than 4 characters
/// (Keras's `ValueError: Insufficient console width to print summary.`).
public struct SummaryWidthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The table's line length Keras derived from the console.
    public var lineLength: Int
    /// The columns' widths from Keras's positions, the first one under 4 last.
    public var columnWidths: [Int]

    /// States the line length and the column that does not fit.
    public var description: String {
        "insufficient console width to print the Keras 3 summary: a line length of \(lineLength) gives columns "
            + "of \(columnWidths.map(String.init).joined(separator: ", ")) characters (Keras needs at least 4 each)"
    }
}

extension GraphAnalysis {
    /// The text Keras prints for `model.summary()`, line for line, ending with a newline; `expandNested`
    /// prints what `model.summary(expand_nested=True)` prints (nested models' layers under their row). Keras 3
    /// summaries are those of a console wide enough for the default line length (`SummaryConsole.wide`).
    public func summary(style: SummaryStyle, expandNested: Bool = false) -> String {
        switch style {
        case .keras2: return Keras2Summary(self, expandNested: expandNested).render()
        case .keras3:
            do { return try Keras3Summary(self, console: .wide, expandNested: expandNested).render() } catch {
                preconditionFailure("Keras's default line lengths leave every column 4 characters or more: \(error)")
            }
        }
    }

    /// The text Keras prints for `model.summary()` (with `expand_nested=True` if `expandNested`) on
    /// `console`. tf-keras 2 ignores the console; Keras 3 sizes the table to it and throws `SummaryWidthError`
    /// where Keras raises (a column under 4 characters).
    public func summary(style: SummaryStyle, console: SummaryConsole, expandNested: Bool = false) throws -> String {
        switch style {
        case .keras2: return Keras2Summary(self, expandNested: expandNested).render()
        case .keras3: return try Keras3Summary(self, console: console, expandNested: expandNested).render()
        }
    }

    /// Layers as Keras's summary lists them: a Sequential model omits its InputLayer.
    var summaryLayers: [LayerInfo] {
        graph.isSequential ? layers.filter { $0.layer.op.inputShape == nil } : layers
    }

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
            fields.append("[" + (level > 0 ? [] : info.layer.connections.map { "'\($0)[0][0]'" }).joined(separator: ", ") + "]")
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
        out.append("Total params: \(a.totalParams) (\(readableMemorySize(a.totalBytes, byteUnit: "Byte")))")
        out.append("Trainable params: \(a.trainableParams) (\(readableMemorySize(a.trainableBytes, byteUnit: "Byte")))")
        out.append("Non-trainable params: \(a.nonTrainableParams) (\(readableMemorySize(a.nonTrainableBytes, byteUnit: "Byte")))")
        out.append(String(repeating: "_", count: lineLength))
        return out.joined(separator: "\n") + "\n"
    }
}

/// Keras 3's `summary_utils.print_summary` as rich 15 renders it on a console that is not a terminal (no
/// colours, no bold): the title, a HEAVY_HEAD box table with a rule between rows, and the parameter lines.
///
/// Widths, as Keras and rich derive them:
/// - line length L = min(88, or 108 with "Connected to"; `console.columns` - 4);
/// - Keras's column widths from its positions ([0.45, 0.80, 1.0], or [0.3, 0.56, 0.74, 1.0]):
///   `int(p * L)` minus the previous position, each at least 4 (else Keras raises);
/// - rich's table of width L: every column asks for its width + 2 (padding), the borders take n + 1, and the
///   excess is taken from the columns evenly (`Table._calculate_column_widths`: fixed-width columns do not
///   collapse, so the "last resort" `ratio_reduce`, with Python's round-half-even);
/// - cells are wrapped to their width - 2 (`Text.wrap`, `divide_line` without folding: Keras's columns
///   overflow with an ellipsis), the header row aligned to the bottom, the other rows to the top;
/// - the title and parameter lines are wrapped to rich's console width (folding long words) and the table's
///   lines cropped to it.
struct Keras3Summary {
    let analysis: GraphAnalysis
    let console: SummaryConsole
    let expandNested: Bool
    let sequentialLike: Bool

    init(_ analysis: GraphAnalysis, console: SummaryConsole, expandNested: Bool = false) {
        self.analysis = analysis
        self.console = console
        self.expandNested = expandNested
        sequentialLike = analysis.isSequentialLike
    }

    /// Keras's line length for this console: the default capped at `columns - 4`.
    var lineLength: Int { min(sequentialLike ? 88 : 108, console.columns - 4) }

    /// Keras's column widths for line length `length` (`int(pos * line_length) - current`), or the error Keras
    /// raises when one is under 4.
    static func kerasWidths(lineLength length: Int, sequentialLike: Bool) throws -> [Int] {
        let positions = sequentialLike ? [0.45, 0.80, 1.0] : [0.3, 0.56, 0.74, 1.0]
        var widths: [Int] = []
        var current = 0
        for p in positions {
            let width = Int(p * Double(length)) - current  // Python's int(): truncation toward zero
            widths.append(width)
            if width < 4 { throw SummaryWidthError(lineLength: length, columnWidths: widths) }
            current += width
        }
        return widths
    }

    /// rich's widths for a table of `width` whose columns have the fixed widths `fixed`: each cell's width
    /// including its padding (one space each side), not the borders.
    static func richWidths(tableWidth width: Int, fixed: [Int]) -> [Int] {
        let maxWidth = width - (fixed.count + 1)  // borders: both edges and one between columns
        // _measure_column: fixed width + padding, at most the space available (nothing under 1 column).
        func measure(_ column: Int, _ available: Int) -> Int { available < 1 ? 0 : min(fixed[column] + 2, available) }
        var widths = fixed.indices.map { max(measure($0, maxWidth), 1) }  // `_range.maximum or 1`
        let tableWidth = widths.reduce(0, +)
        if tableWidth > maxWidth {
            // Fixed-width columns are not wrapable, so _collapse_widths changes nothing: reduce evenly.
            widths = ratioReduce(tableWidth - maxWidth, ratios: widths.map { _ in 1 }, maximums: widths, values: widths)
            widths = widths.indices.map { measure($0, widths[$0]) }
        }
        // A table narrower than its width would be padded out (ratio_distribute); Keras's widths always add
        // up to more than the space, so that never happens.
        return widths
    }

    /// rich's `ratio_reduce`: takes `total` from `values` in proportion to `ratios`, at most `maximums` each.
    static func ratioReduce(_ total: Int, ratios: [Int], maximums: [Int], values: [Int]) -> [Int] {
        let ratios = zip(ratios, maximums).map { $1 != 0 ? $0 : 0 }
        var totalRatio = ratios.reduce(0, +)
        guard totalRatio != 0 else { return values }
        var remaining = total
        var result: [Int] = []
        for (i, ratio) in ratios.enumerated() {
            if ratio != 0 && totalRatio > 0 {
                // Python's round() on the true quotient: half to even.
                let share = (Double(ratio * remaining) / Double(totalRatio)).rounded(.toNearestOrEven)
                let distributed = min(maximums[i], Int(share))
                result.append(values[i] - distributed)
                remaining -= distributed
                totalRatio -= ratio
            } else {
                result.append(values[i])
            }
        }
        return result
    }

    enum Justify { case left, right, center, `default` }

    /// A cell's lines as rich draws them in `width` cells: wrapped, justified and padded to `width` (a table
    /// cell's content area). No lines when `width` < 1 (rich renders nothing there).
    static func cellLines(_ text: String, width: Int, justify: Justify) -> [String] {
        guard width >= 1 else { return [] }
        return RichText.wrap(text, width: width, justify: justify, fold: false).map { line in
            // render_lines(pad=True): crop or pad to the width.
            let chars = Array(line.prefix(width))
            return String(chars) + String(repeating: " ", count: width - chars.count)
        }
    }

    func render() throws -> String {
        let length = lineLength
        let kerasWidths = try Keras3Summary.kerasWidths(lineLength: length, sequentialLike: sequentialLike)
        let widths = Keras3Summary.richWidths(tableWidth: length, fixed: kerasWidths)
        let header = sequentialLike ? ["Layer (type)", "Output Shape", "Param #"]
            : ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        let justify: [Justify] = sequentialLike ? [.left, .left, .right] : [.left, .left, .right, .left]

        var table: [String] = []
        func rule(_ left: String, _ fill: String, _ mid: String, _ right: String) -> String {
            left + widths.map { String(repeating: fill, count: $0) }.joined(separator: mid) + right
        }
        func row(_ cells: [String], vertical: String, bottomAligned: Bool) {
            let rendered = cells.indices.map { c -> [String] in
                // Padding (0, 1): the content gets the width less one space each side.
                guard widths[c] >= 1 else { return [] }
                return Keras3Summary.cellLines(cells[c], width: widths[c] - 2, justify: justify[c]).map { " " + $0 + " " }
            }
            let height = max(1, rendered.map(\.count).max() ?? 1)
            for r in 0..<height {
                var line = vertical
                for (c, lines) in rendered.enumerated() {
                    let index = bottomAligned ? r - (height - lines.count) : r
                    line += index >= 0 && index < lines.count ? lines[index] : String(repeating: " ", count: widths[c])
                    line += vertical
                }
                table.append(line)
            }
        }

        table.append(rule("┏", "━", "┳", "┓"))
        row(header, vertical: "┃", bottomAligned: true)
        table.append(rule("┡", "━", "╇", "┩"))
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
                cells.append(info.layer.connections.isEmpty || level > 0 ? "-" : info.layer.connections.map { "\($0)[0][0]" }.joined(separator: ", "))
            }
            row(cells, vertical: "│", bottomAligned: false)
            if i < layers.count - 1 { table.append(rule("├", "─", "┼", "┤")) }
        }
        table.append(rule("└", "─", "┴", "┘"))

        let a = analysis
        let richWidth = console.richWidth
        guard richWidth >= 1 else { return "" }  // rich renders nothing in no columns
        var out: [String] = []
        func text(_ line: String) { out += RichText.wrap(line, width: richWidth, justify: .default, fold: true) }
        text("Model: \"\(a.graph.name)\"")
        out += table.map { String($0.prefix(richWidth)) }  // Console.print crops to the console
        text(" Total params: \(thousands(a.totalParams)) (\(readableMemorySize(a.totalBytes, byteUnit: "B")))")
        text(" Trainable params: \(thousands(a.trainableParams)) (\(readableMemorySize(a.trainableBytes, byteUnit: "B")))")
        text(" Non-trainable params: \(thousands(a.nonTrainableParams)) (\(readableMemorySize(a.nonTrainableBytes, byteUnit: "B")))")
        return out.joined(separator: "\n") + "\n"
    }
}

/// rich 15's text wrapping (`Text.wrap` with `_wrap.divide_line`), for text without newlines or tabs, in
/// which every character takes one cell.
enum RichText {
    /// rich's words: optional leading whitespace, a run of non-space, trailing whitespace (`\s*\S+\s*`), with
    /// their start offsets. All-space text has none.
    static func words(_ chars: [Character]) -> [(start: Int, word: ArraySlice<Character>)] {
        var words: [(Int, ArraySlice<Character>)] = []
        var i = 0
        while i < chars.count {
            let start = i
            while i < chars.count, chars[i].isWhitespace { i += 1 }
            guard i < chars.count else { break }  // trailing whitespace only: no match
            while i < chars.count, !chars[i].isWhitespace { i += 1 }
            while i < chars.count, chars[i].isWhitespace { i += 1 }
            words.append((start, chars[start..<i]))
        }
        return words
    }

    /// rich 15's `divide_line`: offsets at which `chars` breaks to fit `width`. A word too long for any line
    /// gets lines of its own, folded into `width`-sized pieces if `fold`, else kept whole (to be cut with an
    /// ellipsis). Unlike rich 13, a word that meets a line filled exactly goes to the next line.
    static func divideLine(_ chars: [Character], width: Int, fold: Bool) -> [Int] {
        var breaks: [Int] = []
        var offset = 0
        for (wordStart, word) in words(chars) {
            var start = wordStart
            var trimmed = word
            while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
            let remaining = width - offset
            if remaining >= trimmed.count {
                offset += word.count
            } else if trimmed.count > width {
                if fold && width > 0 {
                    // chop_cells: pieces of `width` characters, trailing whitespace included.
                    let pieces = stride(from: 0, to: word.count, by: width).map { min(width, word.count - $0) }
                    for (i, piece) in pieces.enumerated() {
                        if start != 0 { breaks.append(start) }
                        if i == pieces.count - 1 { offset = piece } else { start += piece }
                    }
                } else {
                    if start != 0 { breaks.append(start) }
                    offset = word.count
                }
            } else if offset != 0 && start != 0 {
                breaks.append(start)
                offset = word.count
            }
        }
        return breaks
    }

    /// `Text.wrap` of one line: divided, whitespace beyond the width dropped, justified, then truncated
    /// (ellipsis unless `fold`). `.left` pads lines to `width`; `.default` leaves them as they are.
    static func wrap(_ text: String, width: Int, justify: Keras3Summary.Justify, fold: Bool) -> [String] {
        let chars = Array(text)
        var lines: [[Character]] = []
        var previous = 0
        for b in divideLine(chars, width: width, fold: fold) + [chars.count] {
            lines.append(Array(chars[previous..<b]))
            previous = b
        }
        func truncate(_ line: inout [Character]) {
            guard line.count > width else { return }
            line = fold ? Array(line.prefix(width)) : Array(line.prefix(max(0, width - 1))) + ["…"]
        }
        func rstrip(_ line: inout [Character]) { while let last = line.last, last.isWhitespace { line.removeLast() } }
        return lines.map { original in
            var line = original
            // rstrip_end: trailing whitespace only as far as it is beyond the width.
            if line.count > width {
                var whitespace = 0
                while whitespace < line.count, line[line.count - 1 - whitespace].isWhitespace { whitespace += 1 }
                line.removeLast(min(whitespace, line.count - width))
            }
            switch justify {
            case .left:
                let length = line.count
                truncate(&line)
                if length < width { line += Array(repeating: " ", count: width - length) }
            case .right:
                rstrip(&line)
                truncate(&line)
                line = Array(repeating: " ", count: width - line.count) + line
            case .center:
                rstrip(&line)
                truncate(&line)
                let left = (width - line.count) / 2
                line = Array(repeating: " ", count: left) + line
                line += Array(repeating: " ", count: width - line.count)
            case .default:
                break
            }
            truncate(&line)
            return String(line)
        }
    }
}
