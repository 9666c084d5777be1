import Foundation
import ModelFile
import Runtime
import Testing
import VGGTool

/// The runtime against outputs the real Keras computed for the same weights and inputs.
@Suite struct RuntimeTests {
    /// Largest |a - b| relative to the largest |b| (outputs near zero do not make the check meaningless).
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        let scale = max(b.map { abs($0) }.max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    @Test(arguments: [true, false])
    func tinyVGG16MatchesKeras(winograd: Bool) throws {
        let model = try TestSupport.convertAndOpen(TestSupport.fixture("tiny_vgg16.keras3.keras"))
        let engine = try Engine(model: model)
        engine.winograd = winograd
        engine.winogradMinChannels = 1
        let x = try NumPy.read(path: TestSupport.fixture("tiny_vgg16.input.npy"))
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("tiny_vgg16.expected.json")))) as! [String: Any]
        let rows = (expected["predictions"] as! [[Double]]).flatMap { $0.map(Float.init) }
        let y = try engine.run(x)
        #expect(y[0].shape == [2, 5])
        #expect(Self.relativeError(y[0].values, rows) < 1e-4, "\(y[0].values) vs \(rows)")
    }
}
