import ArgumentParser
import Foundation
import ModelGraph
import VGGTool

#if canImport(Glibc)
import Glibc
#endif

extension VGGToolCommand {
    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the model's layer table exactly as Keras's model.summary() does.",
            discussion: """
                Works on .vggm, .h5 and .keras files. A nested model (a base model used as one layer) is one row, \
                as Keras prints it; --expand-nested lists its layers under it, as summary(expand_nested=True) does. \
                --flops adds per-layer multiply-adds, FLOPs and activation memory.

                Keras 3 sizes its table to the console, and so does --style keras3: at most 88 columns (108 with \
                'Connected to'), and at most the console's width less 4, where the width is COLUMNS if set, else \
                the width of the terminal on stdout, else 80 (a pipe or a file: a 76-column table). --width N \
                prints what Keras prints with COLUMNS=N. tf-keras 2 tables (--style keras2) have fixed widths.
                """)

        @Argument(help: "A .vggm, .h5 or .keras file.") var model: String
        @Option(help: "keras2 (tf-keras 2.x text table) or keras3 (Keras 3 box table).") var style: SummaryStyle = .keras2
        @Option(help: ArgumentHelp("Console width for --style keras3: the table Keras prints with COLUMNS set to it (default: COLUMNS, else the terminal, else 80).",
                                   valueName: "columns"))
        var width: Int?
        @OptionGroup var modelOptions: ModelOptions
        @Flag(help: "List the layers of nested models under their row, as Keras's summary(expand_nested=True).") var expandNested = false
        @Flag(help: "Also print per-layer MACs, FLOPs and activation memory (per image).") var flops = false
        @Flag(help: "Print JSON instead of the table.") var json = false

        func validate() throws {
            if let width {
                guard width >= 1 else { throw ValidationError("--width must be at least 1 (got \(width)).") }
                guard style == .keras3 else {
                    throw ValidationError("--width applies to --style keras3 (tf-keras 2 tables have fixed widths).")
                }
            }
        }

        func run() throws {
            try VGGToolCommand.guarded {
                let analysis = try loadAnalysis(path: model, options: try modelOptions.options(), isolation: VGGToolCommand.isolation)
                if json {
                    print(summaryJSON(analysis))
                    return
                }
                let console = width.map { SummaryConsole(columns: $0) } ?? .ofThisProcess()
                print(try analysis.summary(style: style, console: console, expandNested: expandNested), terminator: "")
                if flops { print(costTable(analysis), terminator: "") }
                if let table = precisionTable(path: model) { print(table) }
            }
        }
    }
}

extension SummaryConsole {
    /// The console this process prints on, measured as Keras 3 measures it (`columns`: Python's
    /// `shutil.get_terminal_size`) and as rich does (`richWidth`: `rich.console.Console.size`).
    static func ofThisProcess(environment: [String: String] = ProcessInfo.processInfo.environment) -> SummaryConsole {
        // shutil: int(COLUMNS) when it parses and is positive, else the terminal on stdout (0 -> 80), else 80.
        var columns = environment["COLUMNS"].flatMap(pythonInt) ?? 0
        if columns <= 0 {
            columns = terminalWidth(STDOUT_FILENO).flatMap { $0 > 0 ? $0 : nil } ?? 80
        }
        // rich: COLUMNS when all digits, except that a dumb terminal on stdout is 80 wide unless LINES is all
        // digits too; else the first of stdin, stdout and stderr that is a terminal (0 -> 80); else 80.
        let richColumns = environment["COLUMNS"].flatMap(asciiDigits)
        let richWidth: Int
        if let richColumns, environment["LINES"].flatMap(asciiDigits) != nil {
            richWidth = richColumns
        } else if ["dumb", "unknown"].contains((environment["TERM"] ?? "").lowercased()), isatty(STDOUT_FILENO) == 1 {
            richWidth = 80
        } else if let richColumns {
            richWidth = richColumns
        } else {
            let first = [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO].lazy.compactMap(terminalWidth).first
            richWidth = first.flatMap { $0 > 0 ? $0 : nil } ?? 80
        }
        return SummaryConsole(columns: columns, richWidth: richWidth)
    }

    /// `os.get_terminal_size(fd).columns`: the TIOCGWINSZ ioctl; nil when `fd` is not a terminal.
    private static func terminalWidth(_ fd: Int32) -> Int? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Python's `int(s)` for ASCII text: surrounding whitespace, an optional sign, digits with single
    /// underscores between them.
    private static func pythonInt(_ s: String) -> Int? {
        var body = Substring(s.trimmingCharacters(in: .whitespacesAndNewlines))
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        let groups = body.split(separator: "_", omittingEmptySubsequences: false)
        guard !body.isEmpty, groups.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigitCharacter) }),
              let value = Int(groups.joined()) else { return nil }
        return negative ? -value : value
    }

    /// Python's `s.isdigit()` then `int(s)`, for ASCII digits.
    private static func asciiDigits(_ s: String) -> Int? {
        guard !s.isEmpty, s.allSatisfy(\.isASCIIDigitCharacter) else { return nil }
        return Int(s)
    }
}

private extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
