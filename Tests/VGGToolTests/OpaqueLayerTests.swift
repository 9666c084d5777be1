import Foundation
import KerasImport
import ModelFile
import ModelGraph
import Runtime
import Testing
import VGGTool

/// Layers vggtool does not interpret (custom classes, a custom block with sub-layers, a Lambda), in files
/// saved by the real tf-keras 2.17 and Keras 3.15 (gen_layer_fixtures.py's custom_layers): the inspector
/// shows them as Keras does; convert refuses them by name.
@Suite struct OpaqueLayerTests {
    /// Rows of a tf-keras text table: name and class, output shape, params (continuation lines joined).
    static func rows(_ table: String) -> [(String, String, String)] {
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("=") }) else { return [] }
        var rows: [(String, String, String)] = []
        for line in lines[(start + 1)...] {
            if line.hasPrefix("=") { break }
            let cells = [line.prefix(29), line.dropFirst(29).prefix(26), line.dropFirst(55).prefix(10)].map { $0.trimmingCharacters(in: .whitespaces) }
            if cells.allSatisfy(\.isEmpty) { continue }
            if cells[1].isEmpty, cells[2].isEmpty, let last = rows.popLast() { rows.append((last.0 + cells[0], last.1, last.2)); continue }
            rows.append((cells[0], cells[1], cells[2]))
        }
        return rows
    }

    /// tf-keras's file records no shapes: every row has Keras's name, class and parameter count, shapes up
    /// to the first custom layer are Keras's and the rest `?`; the totals and the trainable split are Keras's
    /// (weights are counted from the file).
    @Test func tfKerasFileSummarizesWithUnknownShapes() throws {
        let ours = try loadAnalysis(path: TestSupport.fixture("custom_layers.tfkeras.full.h5"), options: .init()).summary(style: .keras2)
        let keras = try TestSupport.golden("custom_layers.keras2.txt")
        let (a, b) = (Self.rows(ours), Self.rows(keras))
        try #require(a.count == b.count && a.count == 7)
        var unknown = false
        for (o, k) in zip(a, b) {
            #expect(o.0 == k.0 && o.2 == k.2, "\(o) vs \(k)")
            if o.0.contains("(Scale)") { unknown = true }
            #expect(o.1 == (unknown ? "?" : k.1), "\(o) vs \(k)")
        }
        let totals = { (t: String) in t.split(separator: "\n").filter { $0.contains("params:") } }
        #expect(totals(ours) == totals(keras))
    }

    /// Keras 3's config records every tensor's shape: the table is Keras's, row for row and in total; the
    /// weights file does not say which variables train, so all count as trainable.
    @Test func keras3FileSummarizesAsKeras() throws {
        let analysis = try loadAnalysis(path: TestSupport.fixture("custom_layers.keras3.keras"), options: .init())
        let ours = analysis.summary(style: .keras3).split(separator: "\n")
        let keras = try TestSupport.golden("custom_layers.keras3.txt").split(separator: "\n")
        #expect(ours.count == keras.count)
        for (o, k) in zip(ours, keras) where !o.contains("rainable params:") { #expect(o == k) }
        #expect(analysis.trainableParams == analysis.totalParams)
        let block = try #require(analysis.info("block"))
        #expect(block.layer.op.className == "Block" && block.params == 246 && block.outputShape == [nil, 6, 6, 6])
        #expect(analysis.info("double")?.layer.op.className == "Lambda")
    }

    /// Convert refuses both files, naming the first layer it cannot interpret and its class.
    @Test(arguments: ["custom_layers.tfkeras.full.h5", "custom_layers.keras3.keras"])
    func convertRefusesNamingTheLayer(file: String) throws {
        #expect(throws: ImportError.self) { _ = try KerasFile(path: TestSupport.fixture(file)) }
        do { _ = try KerasFile(path: TestSupport.fixture(file)) } catch let e as ImportError {
            #expect(e.description.contains("layer 'scale'") && e.description.contains("Scale"))
        }
    }

    /// An opaque layer is never read from vggtool's JSON (nothing may claim to be one in a .vggm).
    @Test func jsonRefusesOpaqueLayers() throws {
        let op = OpaqueLayer(kerasClass: "Scale", reason: "custom", weights: [WeightSpec(name: "w", shape: [4])]).op
        let graph = ModelGraph(name: "m", layers: [Layer(name: "x", InputLayer(shape: [4]), inbound: []), Layer(name: "s", op: op, inbound: ["x"])],
                               inputs: ["x"], outputs: ["s"], isSequential: false)
        #expect(throws: (any Error).self) { _ = try GraphCodec.decode(GraphCodec.encode(graph)) }
        var json = GraphCodec.encode(graph)
        var layers = json["layers"] as! [[String: Any]]
        layers[1]["class"] = "OpaqueLayer"
        json["layers"] = layers
        #expect(throws: (any Error).self) { _ = try GraphCodec.decode(json) }
    }

    /// The CLI: summary prints the custom rows and exits 0; convert fails in one line naming the layer and
    /// class, and leaves nothing.
    @Test func cliSummarizesAndConvertRefuses() async throws {
        let file = TestSupport.fixture("custom_layers.tfkeras.full.h5")
        let s = try await CLI.run(["summary", file, "--flops"])
        #expect(s.status == 0)
        #expect(s.stdout.contains(" block (Block) ") && s.stdout.contains("layers of unknown cost"))
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try await CLI.run(["convert", file, "-o", dir + "/m.vggm"])
        #expect(c.status != 0)
        #expect(c.stderr.split(separator: "\n").count == 1 && c.stderr.contains("layer 'scale'") && c.stderr.contains("'Scale'"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    /// Masking in a functional model (gen_layer_fixtures.py's masked): Keras 3 records the masks as NotEqual
    /// and Any operation layers given to the next layers as their `mask`, listed among their connections;
    /// both tables are Keras's. Convert refuses the operation layers; the tf-keras file converts, and the
    /// runtime refuses its Embedding's mask_zero.
    @Test func maskedModelsSummarizeAsKeras() throws {
        let tf = try loadAnalysis(path: TestSupport.fixture("masked.tfkeras.full.h5"), options: .init())
        #expect(tf.summary(style: .keras2) == (try TestSupport.golden("masked.keras2.txt")))
        let k3 = try loadAnalysis(path: TestSupport.fixture("masked.keras3.keras"), options: .init())
        #expect(k3.summary(style: .keras3) == (try TestSupport.golden("masked.keras3.txt")))
        #expect(k3.info("lstm")?.layer.maskInbound == ["any"] && k3.info("gru")?.layer.maskInbound == ["not_equal_1"])
        #expect { _ = try KerasFile(path: TestSupport.fixture("masked.keras3.keras")) } throws: { "\($0)".contains("'NotEqual'") }
        // tf-keras's masks are implicit: the runtime carries Masking's, and refuses Embedding's mask_zero.
        let engine = try Engine(model: try TestSupport.convertAndOpen(TestSupport.fixture("masked.tfkeras.full.h5")))
        let x = Tensor(shape: [1, 5, 3], values: Array(repeating: 0.5, count: 15)), ids = Tensor(shape: [1, 6], values: [1, 2, 0, 3, 0, 0])
        #expect { _ = try engine.run([x, ids]) } throws: { "\($0)".contains("layer 'embed'") && "\($0)".contains("mask_zero") }
    }

    /// A mask edge survives vggtool's JSON (written only when there is one) and makes the file format 1.2.
    @Test func maskEdgesRoundTrip() throws {
        let layers = [Layer(name: "x", InputLayer(shape: [5, 3]), inbound: []), Layer(name: "m", Masking(maskValue: 0), inbound: ["x"]),
                      Layer(name: "g", op: GlobalAveragePooling1D().op, inbound: ["m"], maskInbound: ["x"])]
        let graph = ModelGraph(name: "m", layers: layers, inputs: ["x"], outputs: ["g"], isSequential: false)
        let json = GraphCodec.encode(graph)
        #expect(try GraphCodec.decode(json).layers == graph.layers)
        #expect((json["layers"] as! [[String: Any]]).filter { $0["mask_inbound"] != nil }.count == 1)
        #expect(VGGMFormat.minor(for: graph) == 2)
        #expect(!(try graph.analyze().isSequentialLike))
    }
}
