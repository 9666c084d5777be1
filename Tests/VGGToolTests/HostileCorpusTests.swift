import Foundation
import KerasImport
import Testing

/// Every file of the hostile corpus (Fixtures/hostile, from scripts/fixtures/gen_hostile.py) through the
/// built binary: a non-zero exit with a one-line error naming the file and the problem (or, for valid but
/// unusual files, success), within the bounds docs/hostile-input.md states (10 s, 4 GB of address space),
/// no crash, no output file left behind and nothing written anywhere else.
@Suite struct HostileCorpusTests {
    struct Case: Decodable { var file: String; var command: String; var expect: String?; var accept: String?; var args: [String]?; var seconds: Double? }

    static let cases: [Case] = {
        let url = URL(fileURLWithPath: TestSupport.fixture("hostile/cases.json"))
        return (try? JSONDecoder().decode([Case].self, from: Data(contentsOf: url))) ?? []
    }()

    @Test func corpusIsThere() { #expect(Self.cases.count >= 140) }

    /// Library callers parse in process (no isolated probe): the global heap check still refuses, at once, the
    /// corrupt collections that make libhdf5 spin forever or read out of bounds.
    @Test func globalHeapCheckProtectsInProcessCallers() throws {
        for (name, words) in [("hdf5_global_heap_spin.h5", "free-space object has size 0"), ("hdf5_global_heap_overrun.h5", "overruns the collection")] {
            let path = TestSupport.fixture("fuzz-found/" + name)
            #expect { _ = try KerasFile(path: path) } throws: { "\($0)".contains("global heap collection at byte 2048 is corrupt") && "\($0)".contains(words) }
        }
    }

    /// Paths that are not regular files (a FIFO blocks its opener until a writer appears; /dev/zero never ends)
    /// are refused by every reader with one line, before anything is opened.
    @Test func nonRegularFilesAreRefusedWithoutBlocking() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/tiny.vggm"
        #expect(try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", model]).status == 0)
        let fifo = dir + "/pipe.h5"
        try #require(mkfifo(fifo, 0o600) == 0)
        for (path, words) in [(fifo, "FIFO"), ("/dev/zero", "device"), (dir, "directory")] {
            let commands: [[String]] = [["convert", path, "-o", dir + "/out.vggm"], ["summary", path], ["inspect", path], ["verify", path],
                                        ["predict", path, TestSupport.fixture("images/gray.jpg")], ["predict", model, path],
                                        ["predict", model, "--input", path], ["export", path, "--to", "onnx", "-o", dir + "/out.onnx"]]
            for args in commands {
                let r = try await CLI.run(args, timeout: 30)
                #expect(!r.timedOut, "\(args): hung")
                #expect(r.status == 1 && r.stderr.hasPrefix("vggtool: error: \(path): ") && r.stderr.contains(words), "\(args): \(r.stderr)")
                #expect(r.stderr.filter { $0 == "\n" }.count == 1, "\(args): \(r.stderr)")
            }
        }
        #expect(Set(TestSupport.files(in: dir)) == ["tiny.vggm", "pipe.h5"])
    }

    @Test(arguments: cases.map(\.file))
    func hostileFile(_ name: String) async throws {
        let c = Self.cases.first { $0.file == name }!
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = TestSupport.fixture("hostile/" + c.file)
        try #require(FileManager.default.fileExists(atPath: file), "\(name) is missing from Fixtures/hostile")
        var before: [String] = []
        var args: [String]
        let extra = (c.args ?? []).map { $0.hasSuffix(".json") ? TestSupport.fixture($0) : $0 }
        switch c.command {
        case "convert": args = ["convert", file, "-o", dir + "/out.vggm"] + extra
        case "verify": args = ["verify", file]
        case "summary": args = ["summary", file] + extra
        default:
            let model = dir + "/tiny.vggm"
            let conv = try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", model])
            #expect(conv.status == 0)
            before = ["tiny.vggm"]
            args = c.command == "predict-input" ? ["predict", model, "--input", file, "-o", dir + "/y.npy"] : ["predict", model, file]
        }
        let hostileBefore = TestSupport.files(in: TestSupport.fixture("hostile"))
        // (Sanitizer runs reserve terabytes of shadow memory: no address-space limit there.)
        let limit = ProcessInfo.processInfo.environment["VGGTOOL_TEST_NO_ULIMIT"] == nil ? 4 << 20 : nil
        let bound = c.seconds ?? 10
        let r = try await CLI.run(args, cwd: dir, memoryKB: limit, timeout: bound * 3)
        let seconds = r.seconds
        #expect(!r.signaled, "\(name): killed by a signal\(r.timedOut ? " (hung: killed after \(bound * 3) s)" : "")")
        #expect(seconds < bound, "\(name): took \(seconds) s")
        if let accept = c.accept {
            #expect(r.status == 0 && (r.stdout + r.stderr).contains(accept), "\(name): \(r.stdout) \(r.stderr)")
        } else {
            let words = c.expect ?? ""
            #expect(r.status != 0, "\(name): accepted")
            let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
            #expect(lines.count == 1 && r.stderr.hasPrefix("vggtool: error: "), "\(name): \(r.stderr)")
            #expect(r.stderr.contains(c.file), "\(name): the error does not name the file: \(r.stderr)")
            #expect(words.isEmpty || r.stderr.contains(words), "\(name): expected '\(words)' in: \(r.stderr)")
            #expect(TestSupport.files(in: dir) == before, "\(name): left \(TestSupport.files(in: dir))")
            if c.command == "convert" {  // export --to onnx reads Keras files through convert: the same refusal
                let e = try await CLI.run(["export", file, "--to", "onnx", "-o", dir + "/out.onnx"] + extra, cwd: dir, memoryKB: limit, timeout: bound * 3)
                #expect(!e.signaled && e.status == 1, "\(name): export: \(e.stderr)")
                #expect(e.stderr.filter { $0 == "\n" }.count == 1 && e.stderr.contains(c.file), "\(name): export: \(e.stderr)")
                #expect(words.isEmpty || e.stderr.contains(words), "\(name): export: expected '\(words)' in: \(e.stderr)")
                #expect(TestSupport.files(in: dir) == before, "\(name): export left \(TestSupport.files(in: dir))")
            }
        }
        #expect(TestSupport.files(in: TestSupport.fixture("hostile")) == hostileBefore, "\(name): wrote beside the input")
    }
}
