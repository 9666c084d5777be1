import Foundation
import Training

/// `vggtool finetune`'s work: drives a `FineTuneSession` through the recipe's steps (prepare and compose,
/// resume with `options.resume`, features, the epochs with early stopping, best checkpoints) and reports
/// each step to `events`; what to show of them is the caller's business.
public func fineTune(basePath: String, dataDir: String, output: String, options: FineTuneOptions,
                     events: (FineTuneEvent) -> Void = { _ in }) throws -> FineTuneResult {
    try fineTune(try FineTuneSession(basePath: basePath, dataDir: dataDir, output: output, options: options), events: events)
}

/// Runs a prepared session to its end (see `fineTune(basePath:dataDir:output:options:events:)`).
func fineTune(_ session: FineTuneSession, events: (FineTuneEvent) -> Void) throws -> FineTuneResult {
    let options = session.options, output = session.output
    events(.composed(session.composition.analysis))
    if options.resume {
        let last = try session.resume()
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
