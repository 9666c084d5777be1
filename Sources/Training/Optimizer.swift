import CKernels
import Foundation
import Runtime

/// Optimizers as tf-keras 2.17 (Keras 3 alike) defines them.
public enum OptimizerKind: String, Sendable, CaseIterable {
    /// Adam (beta1 0.9, beta2 0.999, epsilon 1e-7), learning rate 0.001 by default.
    case adam
    /// Stochastic gradient descent, with optional momentum; learning rate 0.01 by default.
    case sgd
}

/// Adam or SGD (with momentum) updates of `Parameter`s, as tf-keras computes them. Package-only: the public
/// way to train is `FineTuneSession`.
package final class Optimizer {
    package let kind: OptimizerKind
    package var learningRate: Float
    package let beta1: Float, beta2: Float, epsilon: Float
    package let momentum: Float
    /// Steps taken (Adam's bias correction uses it).
    package private(set) var iterations = 0
    /// Adam's m and v, or SGD's momentum buffer (in `m`), per parameter.
    var m: [[Float]] = []
    var v: [[Float]] = []

    /// Worker threads for the updates.
    package var threads = ProcessInfo.processInfo.activeProcessorCount

    package init(kind: OptimizerKind, learningRate: Float? = nil, momentum: Float = 0,
                beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7) {
        self.kind = kind
        self.learningRate = learningRate ?? (kind == .adam ? 0.001 : 0.01)
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// One update of every parameter from its gradient.
    ///
    /// Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); w -= m * alpha / (sqrt(v) + eps) with
    /// alpha = lr * sqrt(1 - b2^t) / (1 - b1^t). SGD: with momentum, m = momentum * m - lr * g and w += m;
    /// without, w -= lr * g.
    package func step(_ params: [Parameter]) {
        beginStep(params)
        for (i, p) in params.enumerated() {
            p.grad.withUnsafeBufferPointer { update(i, of: p, at: 0, gradient: $0) }
        }
    }

    /// The backward pass from d loss / d logits of `network`'s last forward pass, and one update of its
    /// parameters: those that stream their gradient (`Parameter.streamsGradient`) block by block as the pass
    /// computes it, the others after it. The same values as `backward` then `step`.
    package func backwardAndStep(_ network: Network, _ dlogits: [Float]) {
        try! backwardAndStep(network, dlogits, reduce: nil)  // nothing to reduce: nothing that throws
    }

    /// `backwardAndStep(_:_:)` in a data-parallel run: `reduce`, when given, replaces each gradient (a streamed block, or a whole gradient) by its sum over the
    /// ranks of a data-parallel run before it is used: every rank calls it in the same order with the same
    /// sizes (blocks in the backward pass's order, then the other parameters in order). Its first failure
    /// stops the updates and is thrown.
    package func backwardAndStep(_ network: Network, _ dlogits: [Float],
                                 reduce: ((UnsafeMutableBufferPointer<Float>) throws -> Void)?) throws {
        let params = network.parameters
        let index = Dictionary(uniqueKeysWithValues: params.enumerated().map { (ObjectIdentifier($0.element), $0.offset) })
        beginStep(params)
        if reduce == nil {
            // One process: the streamed gradients go straight into the update, from every thread at once.
            network.concurrentUpdate = { p, body in self.withBlockUpdate(index[ObjectIdentifier(p)]!, of: p, body) }
        }
        defer { network.concurrentUpdate = nil }
        var failure: Error? = nil
        network.backward(dlogits, inputGradient: false) { p, offset, block in
            guard failure == nil else { return }
            // The block is the backward pass's own scratch, handed over for this call: summed in place.
            do { try reduce?(UnsafeMutableBufferPointer(mutating: block)) } catch { failure = error; return }
            self.update(index[ObjectIdentifier(p)]!, of: p, at: offset, gradient: block)
        }
        if let failure { throw failure }
        for (i, p) in params.enumerated() where !p.streamsGradient {
            if let reduce { try p.grad.withUnsafeMutableBufferPointer { try reduce($0) } }
            p.grad.withUnsafeBufferPointer { update(i, of: p, at: 0, gradient: $0) }
        }
    }

    /// Starts an update of `params` (their slots are allocated on the first): every element of each is then
    /// given its gradient once through `update(_:of:at:gradient:)`, in any order and in any blocks.
    package func beginStep(_ params: [Parameter]) {
        if m.count != params.count {
            m = params.map { [Float](repeating: 0, count: $0.value.count) }
            v = kind == .adam ? params.map { [Float](repeating: 0, count: $0.value.count) } : []
        }
        iterations += 1
    }

    /// Updates elements `offset ..< offset + gradient.count` of parameter `p` (the `i`th given to `beginStep`)
    /// from their gradient.
    package func update(_ i: Int, of p: Parameter, at offset: Int, gradient: UnsafeBufferPointer<Float>) {
        let count = gradient.count
        guard count > 0 else { return }
        precondition(offset >= 0 && offset + count <= p.value.count, "\(p.name): update out of range")
        let gs = UnsafeSendable(gradient.baseAddress!)
        switch kind {
        case .adam:
            let t = Float(iterations)
            let alpha = learningRate * (1 - pow(beta2, t)).squareRoot() / (1 - pow(beta1, t))
            let c1 = 1 - beta1, c2 = 1 - beta2, eps = epsilon
            m[i].withUnsafeMutableBufferPointer { mm in
                v[i].withUnsafeMutableBufferPointer { vv in
                    p.value.withUnsafeMutableBufferPointer { w in
                        let ws = UnsafeSendable(w.baseAddress! + offset)
                        let ms = UnsafeSendable(mm.baseAddress! + offset), vs = UnsafeSendable(vv.baseAddress! + offset)
                        parallelParts(count, threads, minChunk: 1 << 15) { a, b, _ in
                            vgg_adam(ws.value + a, gs.value + a, ms.value + a, vs.value + a, b - a, alpha, c1, c2, eps)
                        }
                    }
                }
            }
        case .sgd:
            let lr = learningRate, mom = momentum
            m[i].withUnsafeMutableBufferPointer { mm in
                p.value.withUnsafeMutableBufferPointer { w in
                    let ws = UnsafeSendable(w.baseAddress! + offset), ms = UnsafeSendable(mm.baseAddress! + offset)
                    parallelParts(count, threads, minChunk: 1 << 15) { a, b, _ in
                        vgg_sgd(ws.value + a, gs.value + a, ms.value + a, b - a, lr, mom)
                    }
                }
            }
        }
    }

    /// Runs `body` with an update of parameter `p` (the `i`th given to `beginStep`) that threads may apply
    /// at once to disjoint ranges: the same values as `update`.
    package func withBlockUpdate(_ i: Int, of p: Parameter, _ body: (BlockUpdate) -> Void) {
        let t = Float(iterations)
        let alpha = kind == .adam ? learningRate * (1 - pow(beta2, t)).squareRoot() / (1 - pow(beta1, t)) : learningRate
        let kind = kind, c1 = 1 - beta1, c2 = 1 - beta2, eps = epsilon, mom = momentum
        m[i].withUnsafeMutableBufferPointer { mm in
            p.value.withUnsafeMutableBufferPointer { w in
                if kind == .adam {
                    v[i].withUnsafeMutableBufferPointer { vv in
                        body(BlockUpdate(kind: kind, w: w.baseAddress!, m: mm.baseAddress!, v: vv.baseAddress, count: w.count,
                                         alpha: alpha, c1: c1, c2: c2, epsilon: eps, momentum: mom))
                    }
                } else {
                    body(BlockUpdate(kind: kind, w: w.baseAddress!, m: mm.baseAddress!, v: nil, count: w.count,
                                     alpha: alpha, c1: c1, c2: c2, epsilon: eps, momentum: mom))
                }
            }
        }
    }

    /// The optimizer's state, for checkpoints: iterations and the slot arrays.
    package var state: (iterations: Int, m: [[Float]], v: [[Float]]) { (iterations, m, v) }

    package func restore(iterations: Int, m: [[Float]], v: [[Float]]) {
        self.iterations = iterations
        self.m = m
        self.v = v
    }
}

/// One step's update of one parameter, applied a block of its elements at a time from any thread: the blocks of
/// one call must not overlap. Valid only inside `Optimizer.withBlockUpdate`.
package struct BlockUpdate: @unchecked Sendable {
    let kind: OptimizerKind
    let w: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>?
    let count: Int
    let alpha: Float, c1: Float, c2: Float, epsilon: Float, momentum: Float

    /// The parameter's values, for reading elements no `apply` of this call has updated yet.
    package var values: UnsafePointer<Float> { UnsafePointer(w) }

    /// Updates elements `offset ..< offset + n` from their gradient `g`.
    package func apply(at offset: Int, gradient g: UnsafePointer<Float>, count n: Int) {
        precondition(offset >= 0 && n >= 0 && offset + n <= count, "update out of range")
        switch kind {
        case .adam: vgg_adam(w + offset, g, m + offset, v! + offset, n, alpha, c1, c2, epsilon)
        case .sgd: vgg_sgd(w + offset, g, m + offset, n, alpha, momentum)
        }
    }
}
