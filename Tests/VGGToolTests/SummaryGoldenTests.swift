import Foundation
import KerasImport
@testable import ModelGraph
import Testing
import VGGTool

/// `summary` output equals, line for line, what tf-keras 2.17 and Keras 3.15 printed (Fixtures/summaries).
@Suite struct SummaryGoldenTests {
    @Test(arguments: [
        ("tiny_vgg16", "tiny_vgg16.tfkeras.full.h5"), ("tiny_vgg16", "tiny_vgg16.keras3.keras"), ("tiny_vgg16", "tiny_vgg16.keras1.full.h5"),
        ("tiny_vgg16", "tiny_vgg16.keras3.legacy.h5"),
        ("layers_zoo", "layers_zoo.tfkeras.full.h5"), ("layers_zoo", "layers_zoo.keras3.keras"),
        ("branching", "branching.tfkeras.full.h5"), ("branching", "branching.keras3.keras"),
    ])
    func fixtureSummariesMatchKeras(model: String, file: String) throws {
        let analysis = try loadAnalysis(path: TestSupport.fixture(file), options: .init())
        #expect(analysis.summary(style: .keras2) == (try TestSupport.golden("\(model).keras2.txt")))
        #expect(analysis.summary(style: .keras3) == (try TestSupport.golden("\(model).keras3.txt")))
    }

    @Test(arguments: [
        ("vgg16", Architecture.vgg16, [224, 224, 3] as [Int?]), ("vgg16_notop", .vgg16Notop, [nil, nil, 3]),
        ("vgg16_notop_250", .vgg16Notop, [250, 250, 3]), ("vgg19", .vgg19, [224, 224, 3]), ("vgg19_notop", .vgg19Notop, [nil, nil, 3]),
    ])
    func fullSizeArchitecturesMatchKeras(golden: String, arch: Architecture, input: [Int?]) throws {
        let keras2 = try arch.graph(inputShape: input, inputName: "input_1").analyze()
        #expect(keras2.summary(style: .keras2) == (try TestSupport.golden("\(golden).keras2.txt")))
        let keras3 = try arch.graph(inputShape: input, inputName: "input_layer").analyze()
        #expect(keras3.summary(style: .keras3) == (try TestSupport.golden("\(golden).keras3.txt")))
    }

    @Test(arguments: ["vgg16", "vgg16_notop", "vgg16_notop_250", "vgg19", "vgg19_notop"])
    func tfKerasConfigsOfFullSizeModelsParse(golden: String) throws {
        let json = try String(contentsOfFile: TestSupport.fixture("summaries/\(golden).tfkeras.config.json"), encoding: .utf8)
        let graph = try KerasConfig.parse(json: json, file: golden)
        #expect(try graph.analyze().summary(style: .keras2) == (try TestSupport.golden("\(golden).keras2.txt")))
    }

    @Test func vgg16ParameterCounts() throws {
        #expect(try Architecture.vgg16.graph().analyze().totalParams == 138_357_544)
        #expect(try Architecture.vgg16Notop.graph().analyze().totalParams == 14_714_688)
        // About 15.5 G multiply-adds per 224x224 image.
        let macs = try Architecture.vgg16.graph().analyze().totalMACs
        #expect(macs > 15_300_000_000 && macs < 15_600_000_000)
    }

    @Test func inputShapeReinfersShapes() throws {
        let a = try loadAnalysis(path: TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), options: .init(inputShape: [64, 64, 3]))
        #expect(a.info("block3_pool")?.outputShape == [nil, 8, 8, 8])
        #expect(a.info("fc1")?.weights.first?.shape == [512, 16])
    }

    @Test func rich_wrapping_matches_rich() {
        // A cell's lines, left-justified (padded to the width); more in Keras3SummaryWidthTests.
        func cell(_ text: String, _ width: Int) -> [String] {
            RichText.wrap(text, width: width, justify: .left, fold: false).map { String($0.reversed().drop { $0 == " " }.reversed()) }
        }
        #expect(cell("branch_a[0][0], branch_b[0][0]", 26) == ["branch_a[0][0],", "branch_b[0][0]"])
        #expect(cell("probs_with_a_rather_long_layer_name (Dense)", 29) == ["probs_with_a_rather_long_lay…", "(Dense)"])
    }
}
