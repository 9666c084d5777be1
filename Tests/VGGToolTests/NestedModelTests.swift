import Foundation
import KerasImport
import ModelFile
import ModelGraph
import Runtime
import Testing
import Training
import VGGTool

/// Models nested in models, as transfer learning saves them (scripts/fixtures/gen_nested_fixtures.py, made
/// by the real tf-keras 2.17 and Keras 3.15): a frozen base in a Sequential model, a base called inside a
/// functional model, a branching model around a base, and two levels of nesting.
@Suite struct NestedModelTests {
    static let models = ["nested_seq", "nested_func", "nested_branch", "nested_deep"]

    /// summary and summary(expand_nested=True) as each Keras printed them, trainable counts included.
    @Test(arguments: models)
    func summariesMatchKeras(model: String) throws {
        for (file, style) in [("tfkeras.full.h5", SummaryStyle.keras2), ("keras3.keras", .keras3)] {
            let analysis = try loadAnalysis(path: TestSupport.fixture("\(model).\(file)"), options: .init())
            #expect(analysis.summary(style: style) == (try TestSupport.golden("\(model).\(style.rawValue).txt")), "\(model).\(file)")
            #expect(analysis.summary(style: style, expandNested: true) == (try TestSupport.golden("\(model).\(style.rawValue).expanded.txt")),
                    "\(model).\(file) expanded")
        }
    }

    /// Converted from each layout (tf-keras model.save, Keras 3 .keras, Keras 3 .weights.h5 with its
    /// config), the model computes what Keras computed; the file keeps the nesting as format 1.1.
    @Test(arguments: models)
    func convertsAndRunsAsKeras(model: String) throws {
        let x = try TestSupport.tensor("\(model).input.npy")
        let config = try String(contentsOfFile: TestSupport.fixture("\(model).keras3.config.json"), encoding: .utf8)
        for (file, golden, options) in [("tfkeras.full.h5", "tfkeras", KerasFile.Options()), ("keras3.keras", "keras3", .init()),
                                         ("keras3.weights.h5", "keras3", .init(configJSON: config))] {
            let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("\(model).\(file)"), options: options)
            #expect(vggm.graph.hasNestedModels)
            let minor = try FileHandle(forReadingFrom: URL(fileURLWithPath: vggm.path)).readToEnd()!.dropFirst(10).prefix(2)
            #expect(Array(minor) == [1, 0], "\(model).\(file): written as 1.\(Array(minor))")
            let y = try Engine(model: vggm).run(x)[0]
            let expected = try TestSupport.tensor("\(model).\(golden).output.npy")
            #expect(y.shape == expected.shape)
            #expect(TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4, "\(model).\(file)")
        }
    }

    /// A nested model with BatchNormalization layers: tf-keras's .h5 stores the nested model's weights
    /// trainable first (every kernel, gamma and beta, then the moving statistics), so they are matched to the
    /// model's weights by name; Keras 3's layouts store them per layer. Each converts and computes what Keras
    /// computed, and the summaries are Keras's.
    @Test func nestedBatchNormalizationMatchesByName() throws {
        let model = "nested_bn"
        let x = try TestSupport.tensor("\(model).input.npy")
        let config = try String(contentsOfFile: TestSupport.fixture("\(model).keras3.config.json"), encoding: .utf8)
        for (file, golden, options) in [("tfkeras.full.h5", "tfkeras", KerasFile.Options()), ("keras3.keras", "keras3", .init()),
                                         ("keras3.weights.h5", "keras3", .init(configJSON: config))] {
            let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("\(model).\(file)"), options: options)
            let y = try Engine(model: vggm).run(x)[0]
            let expected = try TestSupport.tensor("\(model).\(golden).output.npy")
            #expect(y.shape == expected.shape)
            #expect(TestSupport.relativeError(y.values[...], expected.values[...]) < 1e-4, "\(model).\(file)")
        }
        let analysis = try loadAnalysis(path: TestSupport.fixture("\(model).tfkeras.full.h5"), options: .init())
        #expect(analysis.summary(style: .keras2) == (try TestSupport.golden("\(model).keras2.txt")))
    }

    /// A model without nesting is still written as 1.0, which older readers accept.
    @Test func flatModelsStayVersion10() throws {
        let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"))
        let header = try FileHandle(forReadingFrom: URL(fileURLWithPath: vggm.path)).read(upToCount: 12)!
        #expect(Array(header.suffix(4)) == [1, 0, 0, 0])
    }

    /// Flattening names inner layers by path, wires them to what the nested model was given, keeps the
    /// nested model's frozenness, and its names are the tensors' names.
    @Test func flatteningNamesLayersByPath() throws {
        let vggm = try TestSupport.convertAndOpen(TestSupport.fixture("nested_deep.tfkeras.full.h5"))
        let flat = vggm.graph.flattened()
        #expect(flat.layers.map(\.name) == ["x", "base/stem", "base/block/inner_conv", "base/block/inner_pool", "head/flat", "head/fc", "head/out"])
        #expect(flat.layer(named: "base/stem")?.inbound == ["x"])
        #expect(flat.layer(named: "head/flat")?.inbound == ["base/block/inner_pool"])
        #expect(flat.outputs == ["head/out"])
        #expect(Set(vggm.manifest.tensors.map(\.name)) == ["base/stem/kernel", "base/stem/bias", "base/block/inner_conv/kernel",
                                                             "base/block/inner_conv/bias", "head/fc/kernel", "head/fc/bias", "head/out/kernel", "head/out/bias"])
        let frozen = try TestSupport.convertAndOpen(TestSupport.fixture("nested_seq.tfkeras.full.h5"))
        let flatFrozen = frozen.graph.flattened()
        #expect(flatFrozen.layers.filter { $0.name.hasPrefix("vgg16/") }.allSatisfy { !$0.trainable })
        #expect(flatFrozen.layer(named: "dense")?.trainable == true)
        // The nesting survives vggtool's JSON.
        #expect(try GraphCodec.decode(GraphCodec.encode(frozen.graph)) == frozen.graph)
    }

    /// Exported back to a tf-keras HDF5 model, a nested model reads again with the same graph and outputs
    /// (weights in the nested model's group by their inner layer's name, as tf-keras stores them).
    @Test func exportsToKerasH5AndBack() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vggm = dir + "/deep.vggm"
        _ = try convert(input: TestSupport.fixture("nested_deep.tfkeras.full.h5"), output: vggm, options: .init(), hashSource: false)
        _ = try export(model: vggm, to: .kerasH5, output: dir + "/deep.h5")
        let back = try TestSupport.convertAndOpen(dir + "/deep.h5")
        let original = try VGGMFile(path: vggm)
        #expect(back.graph == original.graph)
        let x = try TestSupport.tensor("nested_deep.input.npy")
        #expect(try Engine(model: back).run(x) == (try Engine(model: original).run(x)))
    }

    /// Fine-tuning a model whose base is nested: the feature layer is found inside it, a layer inside it
    /// can be named as the first to train, and the tuned checkpoint opens and runs.
    @Test func fineTunesFromANestedBase() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try Model(contentsOf: URL(fileURLWithPath: TestSupport.fixture("nested_seq.tfkeras.full.h5")))
        var options = FineTuneOptions()
        options.inputSize = 32
        options.head = [8]
        options.epochs = 1
        options.batchSize = 4
        options.trainableFrom = "block3_conv2"
        var composed: GraphAnalysis?
        let result = try base.fineTune(on: URL(fileURLWithPath: TestSupport.fixture("images/eval")), saveTo: URL(fileURLWithPath: dir + "/t.vggm"),
                                       options: options) { if case .composed(let a) = $0 { composed = a } }
        let trainable = composed?.layers.filter { $0.layer.trainable && $0.layer.op.inputShape == nil }.map(\.layer.name)
        #expect(trainable?.first == "vgg16/block3_conv2")
        #expect(composed?.graph.layer(named: "vgg16/block3_conv1")?.trainable == false)
        #expect(result.history.count == 1)
        #expect(try Model(contentsOf: URL(fileURLWithPath: dir + "/t.vggm")).classify(imageAt: URL(fileURLWithPath: TestSupport.fixture("images/rgb.png"))).count > 0)
    }

    /// `vggtool summary --expand-nested` on the built binary.
    @Test func summaryCommandExpandsNested() async throws {
        let r = try await CLI.run(["summary", TestSupport.fixture("nested_deep.keras3.keras"), "--style", "keras3", "--expand-nested"],
                           env: ["COLUMNS": "200"])  // Keras's default width (a pipe is 80 columns)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try TestSupport.golden("nested_deep.keras3.expanded.txt")))
    }

    /// Nesting deeper than the cap is refused in vggtool's JSON as in Keras configs.
    @Test func nestingDepthIsCapped() throws {
        var graph = ModelGraph(name: "m", layers: [Layer(name: "x", InputLayer(shape: [4]), inbound: []), Layer(name: "d", Dense(units: 2), inbound: ["x"])],
                               inputs: ["x"], outputs: ["d"], isSequential: false)
        for i in 0...NestedModel.maxDepth {
            graph = ModelGraph(name: "n\(i)", layers: [Layer(name: "x\(i)", InputLayer(shape: [4]), inbound: []),
                                                       Layer(name: "m\(i)", NestedModel(graph: graph), inbound: ["x\(i)"])],
                               inputs: ["x\(i)"], outputs: ["m\(i)"], isSequential: false)
        }
        do {
            _ = try GraphCodec.decode(GraphCodec.encode(graph))
            Issue.record("accepted nesting \(NestedModel.maxDepth + 2) deep")
        } catch {
            #expect("\(error)".contains("nests models more than \(NestedModel.maxDepth) deep"))
        }
    }
}
