import Foundation
import KerasImport
@testable import ModelGraph
import Testing
import VGGTool

#if canImport(Glibc)
import Glibc
#endif

/// Keras 3 summaries sized to the console as Keras 3.15 + rich 15 size them: goldens printed by the real Keras
/// into a pipe with COLUMNS set (Fixtures/summaries/<model>.keras3.w<N>.txt, or .error.txt where Keras refuses
/// the width), with COLUMNS unset (.pipe.txt) and with a 50-column terminal on stdin (.pipe-tty50.txt); the nested
/// models with expand_nested=True (<model>.keras3.expanded.*); made by scripts/fixtures/gen_summary_widths.py.
@Suite struct Keras3SummaryWidthTests {
    /// Model and whether its nested models are expanded, as gen_summary_widths.py's CASES.
    static let cases: [(model: String, expandNested: Bool)] = [
        ("tiny_vgg16", false), ("layers_zoo", false), ("branching", false), ("leaky_relu", false),
        ("nested_seq", true), ("nested_func", true), ("nested_branch", true), ("nested_deep", true),
    ]
    static let widths = [24, 30, 40, 60, 80, 100, 200]

    static func analysis(_ model: String) throws -> GraphAnalysis {
        try loadAnalysis(path: TestSupport.fixture("\(model).keras3.keras"), options: .init())
    }

    static func golden(_ model: String, _ expandNested: Bool, _ suffix: String) -> String {
        "\(model).keras3\(expandNested ? ".expanded" : "").\(suffix)"
    }

    @Test(arguments: cases, widths)
    func everyModelAtEveryWidthMatchesKeras(model: (model: String, expandNested: Bool), columns: Int) throws {
        let analysis = try Self.analysis(model.model)
        let console = SummaryConsole(columns: columns)
        let errorGolden = TestSupport.fixture("summaries/" + Self.golden(model.model, model.expandNested, "w\(columns).error.txt"))
        if FileManager.default.fileExists(atPath: errorGolden) {
            #expect(try String(contentsOfFile: errorGolden, encoding: .utf8) == "Insufficient console width to print summary.\n")
            #expect(throws: SummaryWidthError.self) { try analysis.summary(style: .keras3, console: console, expandNested: model.expandNested) }
        } else {
            let text = try analysis.summary(style: .keras3, console: console, expandNested: model.expandNested)
            #expect(text == (try TestSupport.golden(Self.golden(model.model, model.expandNested, "w\(columns).txt"))))
        }
    }

    @Test(arguments: cases)
    func pipesAndTerminalsMatchKeras(model: (model: String, expandNested: Bool)) throws {
        let analysis = try Self.analysis(model.model)
        func summary(_ console: SummaryConsole) throws -> String {
            try analysis.summary(style: .keras3, console: console, expandNested: model.expandNested)
        }
        // A pipe: 80 columns for Keras and rich alike.
        #expect(try summary(.pipe) == (try TestSupport.golden(Self.golden(model.model, model.expandNested, "pipe.txt"))))
        // stdout a pipe, stdin a 50-column terminal: Keras's table is 76 wide, rich crops it and wraps to 50.
        let tty50 = SummaryConsole(columns: 80, richWidth: 50)
        #expect(try summary(tty50) == (try TestSupport.golden(Self.golden(model.model, model.expandNested, "pipe-tty50.txt"))))
        // A wide console gives Keras's defaults, the existing goldens; tf-keras 2 ignores the console.
        #expect(try summary(.wide) == analysis.summary(style: .keras3, expandNested: model.expandNested))
        #expect(try analysis.summary(style: .keras2, console: .init(columns: 30)) == analysis.summary(style: .keras2))
    }

    @Test func columnWidthsFollowKerasAndRich() throws {
        // Keras: int(p * L) - previous; rich: each column + 2 padding, less (3n + 1) taken evenly, half to even.
        #expect(try Keras3Summary.kerasWidths(lineLength: 88, sequentialLike: true) == [39, 31, 18])
        #expect(Keras3Summary.richWidths(tableWidth: 88, fixed: [39, 31, 18]) == [38, 29, 17])
        #expect(try Keras3Summary.kerasWidths(lineLength: 108, sequentialLike: false) == [32, 28, 19, 29])
        #expect(Keras3Summary.richWidths(tableWidth: 108, fixed: [32, 28, 19, 29]) == [31, 27, 17, 28])
        #expect(try Keras3Summary.kerasWidths(lineLength: 36, sequentialLike: true) == [16, 12, 8])
        #expect(Keras3Summary.richWidths(tableWidth: 36, fixed: [16, 12, 8]) == [15, 10, 7])
        #expect(throws: SummaryWidthError(lineLength: 20, columnWidths: [6, 5, 3])) {
            try Keras3Summary.kerasWidths(lineLength: 20, sequentialLike: false)
        }
    }

    @Test func cellsWrapAsRich15Does() {
        // A word meeting a line filled exactly goes to the next line (rich 13 kept it and cut it with '…').
        #expect(RichText.wrap("abc, defg", width: 5, justify: .left, fold: false) == ["abc, ", "defg "])
        // A word longer than any line gets its own lines: cut with an ellipsis in cells, folded elsewhere.
        #expect(RichText.wrap("a probs_with_a_long_name (Dense)", width: 8, justify: .left, fold: false)
                == ["a       ", "probs_w…", "(Dense) "])
        #expect(RichText.wrap("ab abcdefghij", width: 4, justify: .default, fold: true) == ["ab ", "abcd", "efgh", "ij"])
        // Right-justified cells lose trailing spaces; whitespace is dropped only beyond the width.
        #expect(RichText.wrap("Param #", width: 4, justify: .right, fold: false) == ["Par…", "   #"])
        #expect(RichText.wrap(" Total params: 3,997 (15.61 KB)", width: 24, justify: .default, fold: true)
                == [" Total params: 3,997 ", "(15.61 KB)"])
        #expect(RichText.wrap(" Total params: 3,997 (15.61 KB)", width: 20, justify: .default, fold: true)
                == [" Total params: 3,997", "(15.61 KB)"])
    }
}

/// `vggtool summary --style keras3` through a pipe measures the console as Keras does.
@Suite(.serialized) struct Keras3SummaryWidthCLITests {
    /// Runs the binary with stdout and stderr to files, stdin from `stdin`, and exactly `environment`'s COLUMNS
    /// and LINES (unset when absent), so the test runner's terminal does not leak in.
    static func run(_ args: [String], columns: String?, stdin: String = "/dev/null") async throws -> CLI.Result {
        let scratch = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var environment = ProcessInfo.processInfo.environment
        environment["COLUMNS"] = columns
        environment["LINES"] = nil
        environment["VGGTOOL_TEST_IN"] = stdin
        environment["VGGTOOL_TEST_OUT"] = scratch + "/stdout"
        environment["VGGTOOL_TEST_ERR"] = scratch + "/stderr"
        let script = "exec \"$0\" \"$@\" <\"$VGGTOOL_TEST_IN\" >\"$VGGTOOL_TEST_OUT\" 2>\"$VGGTOOL_TEST_ERR\""
        let status = try await ChildProcess.run(["/bin/sh", "-c", script, CLI.binary] + args, environment: environment, timeout: 120)
        let out = FileManager.default.contents(atPath: scratch + "/stdout") ?? Data()
        let err = FileManager.default.contents(atPath: scratch + "/stderr") ?? Data()
        return CLI.Result(status: status.signal ?? status.code ?? -1, stdout: String(decoding: out, as: UTF8.self),
                          stderr: String(decoding: err, as: UTF8.self), signaled: status.signal != nil, timedOut: status.timedOut)
    }

    static func summary(_ model: String) -> [String] {
        ["summary", TestSupport.fixture("\(model).keras3.keras"), "--style", "keras3"]
    }

    @Test(arguments: ["tiny_vgg16", "branching"], [30, 40, 60, 80, 100, 200])
    func pipeWithColumnsMatchesKeras(model: String, columns: Int) async throws {
        let r = try await Self.run(Self.summary(model), columns: String(columns))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try TestSupport.golden("\(model).keras3.w\(columns).txt")))
    }

    @Test func nestedModelsExpandAtAnyWidth() async throws {
        let r = try await Self.run(Self.summary("nested_deep") + ["--expand-nested"], columns: "40")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try TestSupport.golden("nested_deep.keras3.expanded.w40.txt")))
    }

    @Test(arguments: ["tiny_vgg16", "branching"])
    func plainPipeIs80ColumnsAndWidthOptionIsColumns(model: String) async throws {
        let pipe = try await Self.run(Self.summary(model), columns: nil)
        #expect(pipe.status == 0, "\(pipe.stderr)")
        #expect(pipe.stdout == (try TestSupport.golden("\(model).keras3.pipe.txt")))
        // COLUMNS that Python cannot read as a positive number is ignored by both.
        #expect(try await Self.run(Self.summary(model), columns: "wide").stdout == pipe.stdout)
        // --width N is COLUMNS=N, whatever the environment says.
        let width = try await Self.run(Self.summary(model) + ["--width", "40"], columns: "200")
        #expect(width.stdout == (try TestSupport.golden("\(model).keras3.w40.txt")))
    }

    @Test func terminalOnStdinNarrowsRichOnly() async throws {
        // stdout a file, stdin a 50-column terminal: Keras's table is 76 wide (shutil looks at stdout), rich's
        // console 50 (it looks at stdin first), so the table is cropped and the other lines wrapped at 50.
        // A pseudo-terminal through /dev/ptmx (posix_openpt and friends are not visible from Swift's Glibc):
        // unlock the slave (TIOCSPTLCK) and ask its number (TIOCGPTN); the values are Linux's.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        try #require(master >= 0, "no pseudo-terminal")
        defer { close(master) }
        var unlock: Int32 = 0, number: UInt32 = 0
        try #require(ioctl(master, 0x4004_5431, &unlock) == 0 && ioctl(master, 0x8004_5430, &number) == 0)
        let slave = "/dev/pts/\(number)"
        var size = winsize(ws_row: 24, ws_col: 50, ws_xpixel: 0, ws_ypixel: 0)
        try #require(ioctl(master, UInt(TIOCSWINSZ), &size) == 0)
        for model in ["tiny_vgg16", "branching"] {
            let r = try await Self.run(Self.summary(model), columns: nil, stdin: slave)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == (try TestSupport.golden("\(model).keras3.pipe-tty50.txt")))
        }
    }

    @Test func tooNarrowIsOneLineErrorAndBadWidthsAreUsageErrors() async throws {
        let narrow = try await Self.run(Self.summary("branching"), columns: "24")
        #expect(narrow.status == 1 && narrow.stdout.isEmpty)
        #expect(narrow.stderr == "vggtool: error: insufficient console width to print the Keras 3 summary: a line length "
                + "of 20 gives columns of 6, 5, 3 characters (Keras needs at least 4 each)\n")
        let zero = try await Self.run(Self.summary("tiny_vgg16") + ["--width", "0"], columns: nil)
        #expect(zero.status == 64 && zero.stderr.contains("--width must be at least 1"))
        let keras2 = try await Self.run(["summary", TestSupport.fixture("tiny_vgg16.keras3.keras"), "--width", "40"], columns: nil)
        #expect(keras2.status == 64 && keras2.stderr.contains("--width applies to --style keras3"))
        // tf-keras 2 tables do not follow the console.
        let k2 = try await Self.run(["summary", TestSupport.fixture("tiny_vgg16.keras3.keras")], columns: "30")
        #expect(k2.stdout == (try TestSupport.golden("tiny_vgg16.keras2.txt")))
    }
}
