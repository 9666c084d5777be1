import Cluster
import Foundation
import Training

/// `vggtool finetune`'s work: drives a `FineTuneSession` through the recipe's steps (prepare and compose,
/// resume with `options.resume`, features, the epochs with early stopping, best checkpoints) and reports
/// each step to `events`; what to show of them is the caller's business.
///
/// With `communicator`, this process is one rank of a data-parallel run (docs/distributed.md): every rank calls
/// this with the same arguments; preparing is agreed (a rank that cannot start stops them all, named), each
/// rank computes the frozen features of its share of the images, batches are split over the ranks and their
/// gradients summed, and rank 0 alone writes the checkpoint, history and state. Every rank gets the result
/// and the events (a caller shows rank 0's).
public func fineTune(basePath: String, dataDir: String, output: String, options: FineTuneOptions, communicator: Communicator? = nil,
                     events: (FineTuneEvent) -> Void = { _ in }) throws -> FineTuneResult {
    let make = { try FineTuneSession(basePath: basePath, dataDir: dataDir, output: output, options: options, communicator: communicator) }
    return try fineTune(try communicator.map { try $0.agree(make) } ?? make(), events: events)
}

/// Runs a prepared session to its end (see `fineTune(basePath:dataDir:output:options:events:)`).
func fineTune(_ session: FineTuneSession, events: (FineTuneEvent) -> Void) throws -> FineTuneResult {
    let options = session.options, output = session.output
    events(.composed(session.composition.analysis))
    if options.resume {
        let last: Int
        if let comm = session.communicator {
            // Rank 0 first: loading may finish a save that was interrupted (renaming the state files); then
            // the others read what it left.
            let first = try comm.agree(decidedBy: 0) { comm.rank == 0 ? try session.resume() : 0 }
            let rest = try comm.agree { comm.rank == 0 ? first : try session.resume() }
            last = comm.rank == 0 ? first : rest
        } else {
            last = try session.resume()
        }
        events(.resumed(afterEpoch: last, best: session.best))
    }
    let features = try session.extractFeatures { set, done, total in events(.extracting(set, done: done, total: total)) }
    events(.featuresReady(features))
    var epochsWithoutImprovement = 0, stoppedEarly = false
    for epoch in session.firstEpoch...max(session.firstEpoch, options.epochs) where epoch <= options.epochs {
        let (record, improved) = try session.trainEpoch(epoch) { events(.batch($0)) }
        events(.epochEnded(record, epochs: options.epochs))
        if improved {
            epochsWithoutImprovement = 0
            try session.saveCheckpoint()
            events(.checkpointSaving(epoch: epoch, path: output, monitor: session.monitor))
        } else {
            epochsWithoutImprovement += 1
            if let patience = options.patience, epochsWithoutImprovement >= patience, let best = session.bestEpoch {
                events(.stoppedEarly(patience: patience, bestEpoch: best, path: output, monitor: session.monitor))
                stoppedEarly = true
                break
            }
        }
    }
    return try session.finish(stoppedEarly: stoppedEarly)
}
