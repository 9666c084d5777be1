import ModelGraph

// Layers that pass values through unchanged in training: reshapes, and activation-only layers (the
// network applies and differentiates the activation).

extension Differentiable {
    func identityForward(_ x: [Float]) -> (out: [Float], saved: [Float]) { (x, []) }
}

extension Flatten: Differentiable {
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) { identityForward(x) }
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? { g }
}

extension Reshape: Differentiable {
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) { identityForward(x) }
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? { g }
}

extension ActivationLayer: Differentiable {
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) { identityForward(x) }
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? { g }
}

/// Only the plain ReLU (no bound, slope or threshold) is trained: the dispatch point refuses the others.
extension ReLU: Differentiable {
    var trainingActivation: Activation { .relu }
    func forward(_ x: [Float], node: TrainingNode, n: Int, training: Bool, net: Network) -> (out: [Float], saved: [Float]) { identityForward(x) }
    func backward(_ g: [Float], x: [Float], saved: [Float], node: TrainingNode, n: Int, net: Network, inputGradient: Bool) -> [Float]? { g }
}
