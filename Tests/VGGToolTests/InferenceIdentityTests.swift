import Foundation
import ModelFile
import ModelGraph
import Runtime
import Testing

/// The layers that only act in training (spatial and alpha dropout, Identity) run as the identity: the
/// model's output is its input, bit for bit, whatever the rank.
@Suite struct InferenceIdentityTests {
    @Test func dropoutsAndIdentityPassTheirInputThrough() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sequence = ModelGraph(name: "seq", layers: [
            Layer(name: "x", InputLayer(shape: [5, 3]), inbound: []),
            Layer(name: "sd1", SpatialDropout1D(rate: 0.5), inbound: ["x"]),
            Layer(name: "ad", AlphaDropout(rate: 0.3), inbound: ["sd1"]),
            Layer(name: "id", Identity(), inbound: ["ad"]),
        ], inputs: ["x"], outputs: ["id"], isSequential: false)
        let volume = ModelGraph(name: "vol", layers: [
            Layer(name: "x", InputLayer(shape: [2, 3, 2, 4]), inbound: []),
            Layer(name: "sd3", SpatialDropout3D(rate: 0.5), inbound: ["x"]),
        ], inputs: ["x"], outputs: ["sd3"], isSequential: false)
        for (graph, shape) in [(sequence, [2, 5, 3]), (volume, [1, 2, 3, 2, 4])] {
            try TestSupport.writeKeras(dir + "/\(graph.name).h5", graph: graph)
            let engine = try Engine(model: try TestSupport.convertAndOpen(dir + "/\(graph.name).h5"))
            let x = Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { Float($0) * 0.25 - 3 })
            #expect(try engine.run(x)[0] == x, "\(graph.name)")
        }
    }
}
