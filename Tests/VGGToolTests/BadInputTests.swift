import Foundation
import HDF5
import KerasImport
import ModelGraph
import Testing
import VGGTool

/// Bad Keras input: a one-line error naming the file and the object at fault.
@Suite struct BadInputTests {
    func importError(_ path: String, _ options: KerasFile.Options = .init()) -> String? {
        do { _ = try KerasFile(path: path, options: options); return nil } catch { return "\(error)" }
    }

    func temp(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = try TestSupport.tempDir() + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    @Test func nonHDF5AndEmptyFiles() throws {
        #expect(importError(try temp("x.h5", Array("hello, not a model".utf8)))?.contains("not a Keras model file") == true)
        #expect(importError(try temp("e.h5", []))?.contains("is empty") == true)
        #expect(importError("/nonexistent/file.h5")?.contains("no such file") == true)
    }

    @Test func truncatedHDF5() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("tiny_vgg16.tfkeras.full.h5")))
        for cut in [100, 2000, data.count / 2, data.count - 100] {
            let p = try temp("t.h5", Array(data.prefix(cut)))
            let e = importError(p)
            #expect(e != nil && e!.hasPrefix(p) && !e!.contains("\n"), "cut \(cut): \(e ?? "no error")")
        }
    }

    @Test func wrongDtypeIsNamed() throws {
        let e = importError(TestSupport.fixture("tiny_vgg16.i32.legacy_weights.h5"), .init(configJSON: try TestSupport.config("tiny_vgg16.config.json")))
        #expect(e?.contains("layer 'block1_conv1' weight 'kernel'") == true && e?.contains("int32") == true)
    }

    @Test func mismatchedShapesNameLayerAndShapes() throws {
        let e = importError(TestSupport.fixture("tiny_vgg16.tfkeras.legacy_weights.h5"), .init(architecture: .vgg16))
        #expect(e != nil)
        // The tiny file's layer names are a subset of VGG16's: matched by name, the first difference named.
        let e2 = importError(TestSupport.fixture("tiny_vgg16.tfkeras.legacy_weights.h5"),
                             .init(configJSON: try TestSupport.config("tiny_vgg16.config.json"), inputShape: [64, 64, 3]))
        #expect(e2?.contains("layer 'fc1' weight 'kernel'") == true && e2?.contains("file has (128, 16), model expects (512, 16)") == true)
    }

    @Test func missingWeightsAreNamed() throws {
        // A no-top weights file loaded into the model with a top.
        let e = importError(TestSupport.fixture("tiny_vgg16_notop.tfkeras.legacy_weights.h5"), .init(configJSON: try TestSupport.config("tiny_vgg16.config.json")))
        #expect(e?.contains("layer 'fc1'") == true && e?.contains("has no weights in the file") == true)
    }

    @Test func lambdaAndCustomClassesAreRefused() throws {
        let e = importError(TestSupport.fixture("lambda.tfkeras.full.h5"))
        #expect(e?.contains("layer 'double'") == true && e?.contains("Lambda") == true)
        let custom = #"{"class_name": "Functional", "config": {"name": "m", "layers": [{"module": "my_package.layers", "class_name": "Evil", "config": {"name": "e"}, "name": "e", "inbound_nodes": []}], "input_layers": [["e", 0, 0]], "output_layers": [["e", 0, 0]]}}"#
        #expect(throws: ImportError.self) { try KerasConfig.parse(json: custom, file: "f") }
        do { _ = try KerasConfig.parse(json: custom, file: "f") } catch { #expect("\(error)".contains("my_package.layers")) }
    }

    func functional(_ layers: String) -> String {
        #"{"class_name": "Functional", "config": {"name": "m", "layers": [\#(layers)], "input_layers": [["in", 0, 0]], "output_layers": [["b", 0, 0]]}}"#
    }

    @Test func cyclesUnknownClassesBadJSONAndHugeDimensions() throws {
        let input = #"{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4]}, "name": "in", "inbound_nodes": []}"#
        let cyc = functional(input + #", {"class_name": "Dense", "config": {"units": 2}, "name": "a", "inbound_nodes": [[["b", 0, 0, {}]]]}, {"class_name": "Dense", "config": {"units": 2}, "name": "b", "inbound_nodes": [[["a", 0, 0, {}]]]}"#)
        #expect(throws: ImportError.self) { try KerasConfig.parse(json: cyc, file: "f") }
        do { _ = try KerasConfig.parse(json: cyc, file: "f") } catch { #expect("\(error)".contains("cycle")) }
        let unknown = functional(input + #", {"class_name": "ConvLSTM2D", "config": {}, "name": "b", "inbound_nodes": [[["in", 0, 0, {}]]]}"#)
        do { _ = try KerasConfig.parse(json: unknown, file: "f"); Issue.record("accepted") } catch { #expect("\(error)".contains("'ConvLSTM2D' is not supported")) }
        do { _ = try KerasConfig.parse(json: "{\"class_name\": ", file: "f"); Issue.record("accepted") } catch { #expect("\(error)".contains("not valid JSON")) }
        let huge = functional(input + #", {"class_name": "Dense", "config": {"units": 1e15}, "name": "b", "inbound_nodes": [[["in", 0, 0, {}]]]}"#)
        do { _ = try KerasConfig.parse(json: huge, file: "f"); Issue.record("accepted") } catch { #expect("\(error)".contains("units")) }
        let dangling = functional(input + #", {"class_name": "Dense", "config": {"units": 2}, "name": "b", "inbound_nodes": [[["ghost", 0, 0, {}]]]}"#)
        do { _ = try KerasConfig.parse(json: dangling, file: "f"); Issue.record("accepted") } catch { #expect("\(error)".contains("'ghost' does not exist")) }
    }

    @Test func badJSONInsideAnH5IsNamed() throws {
        let p = try TestSupport.tempDir() + "/badjson.h5"
        let file = try HDF5File.create(path: p)
        try file.root().setAttribute("model_config", strings: ["{not json"], fixedLength: false, scalar: true)
        try file.root().createGroup("model_weights").setAttribute("layer_names", strings: [], fixedLength: true)
        try file.flush()
        #expect(importError(p)?.contains("model config: is not valid JSON") == true)
    }

    @Test func layerNamesPointingNowhere() throws {
        let p = try TestSupport.tempDir() + "/missing.h5"
        let file = try HDF5File.create(path: p)
        try file.root().setAttribute("keras_version", strings: ["2.17.0"], fixedLength: false, scalar: true)
        try file.root().setAttribute("layer_names", strings: ["block1_conv1"], fixedLength: true)
        try file.flush()
        let e = importError(p, .init(architecture: .vgg16))
        #expect(e?.contains("names layer 'block1_conv1' but there is no group") == true)
    }

    /// A zip archive of entries (name, method, bytes as stored, declared uncompressed size).
    func zip(_ entries: [(String, Int, [UInt8], Int)]) -> [UInt8] {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16(v >> 16 & 0xFFFF) }
        var locals: [UInt8] = [], central: [UInt8] = []
        for (name, method, data, size) in entries {
            let n = Array(name.utf8)
            let offset = locals.count
            locals += le32(0x04034b50) + le16(20) + le16(0) + le16(method) + le32(0) + le32(0) + le32(data.count) + le32(size) + le16(n.count) + le16(0) + n + data
            central += le32(0x02014b50) + le16(20) + le16(20) + le16(0) + le16(method) + le32(0) + le32(0) + le32(data.count) + le32(size)
                + le16(n.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + n
        }
        let end = le32(0x06054b50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count) + le32(central.count) + le32(locals.count) + le16(0)
        return locals + central + end
    }

    /// A zip archive with one stored entry.
    func zip(_ name: String, _ content: [UInt8]) -> [UInt8] { zip([(name, 0, content, content.count)]) }

    /// `bytes` as a raw deflate stream of stored blocks (no compression needed to build one by hand).
    func deflateStored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        repeat {
            let n = min(65535, bytes.count - i)
            let final: UInt8 = i + n == bytes.count ? 1 : 0
            out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)] + bytes[i..<(i + n)]
            i += n
        } while i < bytes.count
        return out
    }

    @Test func compressionBombsAreRefusedBeforeInflating() throws {
        let config = Array(#"{"class_name": "Sequential", "config": {"name": "m", "layers": []}}"#.utf8)
        // An entry declaring far more than deflate can produce from its compressed bytes.
        let bomb = zip([("config.json", 8, deflateStored(config), 3_000_000_000)])
        let e = importError(try temp("bomb.keras", bomb))
        #expect(e?.contains("zip entry 'config.json'") == true && e?.contains("cap") == true, "\(e ?? "accepted")")
        let weights = zip([("config.json", 0, config, config.count), ("model.weights.h5", 8, deflateStored(Array(repeating: 0, count: 100)), 1 << 30)])
        let e2 = importError(try temp("bomb2.keras", weights))
        #expect(e2?.contains("more than deflate can produce") == true, "\(e2 ?? "accepted")")
        // Data that inflates past its declared size.
        let liar = zip([("config.json", 8, deflateStored(config), 10)])
        let e3 = importError(try temp("liar.keras", liar))
        #expect(e3?.contains("inflates to more than its declared 10 bytes") == true, "\(e3 ?? "accepted")")
        // Corrupt deflate data, and an unknown method.
        let corrupt = zip([("config.json", 8, [0xFF, 0xFF, 0xFF, 0xFF], 50)])
        #expect(importError(try temp("corrupt.keras", corrupt))?.contains("deflate data is corrupt") == true)
        let bzip = zip([("config.json", 12, config, config.count)])
        #expect(importError(try temp("bzip.keras", bzip))?.contains("compression method 12") == true)
    }

    @Test func hugeDeclaredDatasetDimensionsAreRefused() throws {
        let e = importError(TestSupport.fixture("tiny_vgg16.huge_dims.legacy_weights.h5"),
                            .init(configJSON: try TestSupport.config("tiny_vgg16.config.json")))
        #expect(e?.contains("block1_conv1") == true && e?.contains("kernel") == true, "\(e ?? "accepted")")
        #expect(e.map { !$0.contains("\n") } == true)
    }

    @Test func zipEntriesWithDotDotOrAbsolutePathsAreRefused() throws {
        for bad in ["../evil.h5", "/etc/passwd", "a/../../b"] {
            let e = importError(try temp("m.keras", zip(bad, Array("x".utf8))))
            #expect(e?.contains("unsafe path") == true, "\(bad): \(e ?? "accepted")")
        }
        let e = importError(try temp("m.keras", zip("metadata.json", Array("{}".utf8))))
        #expect(e?.contains("config.json") == true)
        // Truncated archive.
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("tiny_vgg16.keras3.keras")))
        #expect(importError(try temp("t.keras", Array(data.prefix(data.count - 30)))) != nil)
    }

    /// Offsets past the end of the archive and a missing end record are refused with one line, at once (the
    /// cases where ZIPFoundation 0.9.20's in-memory reader traps or scans the whole file: docs/architecture.md).
    @Test func zipOffsetsPastTheEndAndMissingEndRecordsAreRefused() throws {
        let archive = zip("config.json", Array("{}".utf8))
        let end = archive.count - 22, central = end - (46 + "config.json".utf8.count)
        var local = archive  // the entry's local header offset (central directory entry, byte 42) past the end
        local.replaceSubrange((central + 42)..<(central + 46), with: [0x00, 0x00, 0x98, 0x00])
        let e = importError(try temp("local.keras", local))
        #expect(e?.contains("zip entry 'config.json'") == true && e?.contains("local header at offset 9961472") == true, "\(e ?? "accepted")")
        var directory = archive  // the central directory's offset (end record, byte 16) past the end
        directory.replaceSubrange((end + 16)..<(end + 20), with: [0x00, 0x00, 0x98, 0x00])
        #expect(importError(try temp("cd.keras", directory))?.contains("lies outside the file") == true)
        let start = Date()
        let noEnd = importError(try temp("noend.keras", [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 16 << 20)))
        #expect(noEnd?.contains("no end-of-central-directory record") == true, "\(noEnd ?? "accepted")")
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test func hdf5ExternalLinksAreRefusedNotFollowed() throws {
        let dir = try TestSupport.tempDir()
        let target = dir + "/target.h5"
        try TestSupport.writeKeras(target, graph: Architecture.vgg16Notop.graph(inputShape: [32, 32, 3]), layout: .weightsOnly)
        // A weights file whose block1_conv1 group is an external link into another file.
        let p = dir + "/links.h5"
        let f = try HDF5File.create(path: p)
        let root = try f.root()
        try root.setAttribute("keras_version", strings: ["2.17.0"], fixedLength: false, scalar: true)
        try root.setAttribute("layer_names", strings: ["block1_conv1"], fixedLength: true)
        try root.createExternalLink("block1_conv1", file: target, path: "/block1_conv1")
        try f.flush()
        let e = importError(p, .init(architecture: .vgg16Notop))
        #expect(e?.contains("external link") == true, "\(e ?? "accepted")")
        let (text, _) = try Inspector.inspect(path: p)
        #expect(text.contains("block1_conv1 -> \(target):/block1_conv1 (external link, not followed)"))
    }
}
