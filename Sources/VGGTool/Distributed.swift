import Cluster
import Foundation
import ImageData
import ModelFile
import Runtime

// `evaluate` and `predict` as ranks of an MPI job (docs/distributed.md). The images are split into the
// batches a single process would run (`batchSize` each, in order) and batch b goes to rank b % size, so
// every rank's batches are the single process's batches. Setting up is agreed (a rank that cannot open the
// model or the folder stops every rank, named); rank 0 alone combines, prints and writes.

/// The batches of `count` items (ranges of `batchSize`) that are `rank`'s among `size` ranks: b % size == rank.
func rankBatches(count: Int, batchSize: Int, rank: Int, size: Int) -> [Range<Int>] {
    let step = max(1, batchSize)
    return stride(from: 0, to: count, by: step).enumerated().compactMap { b, start in
        b % size == rank ? start..<min(count, start + step) : nil
    }
}

/// What one rank sends rank 0 about its share of an evaluation.
struct EvaluationPart: Codable {
    var images: Int, lossSum: Double, correct: Int, correctK: Int
    var confusion: [[Int]]
    var skipped: [[String]]
    var wrong: [Evaluation.Misclassified]
}

/// `evaluate(modelPath:dataDir:...)` as one rank of an MPI job: the folder's images are sharded by batch over
/// the ranks, each rank classifies its share (with `threads` worker threads), and the losses, counts,
/// confusion matrices, skipped files and most confidently wrong images are combined on rank 0, which returns
/// the evaluation (the other ranks return nil). Counts equal a single process's; the loss is the same sum
/// taken in another order. `progress` reports this rank's share.
public func evaluate(modelPath: String, dataDir: String, inputSize: Int? = nil, batchSize: Int = 16, topK: Int = 5,
                     interpolation: Interpolation = .bilinear, exifOrientation: ExifOrientation = .ignore,
                     communicator comm: Communicator, threads: Int? = nil,
                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> Evaluation? {
    let (p, set) = try comm.agree {
        let p = try Predictor(modelPath: modelPath, inputSize: inputSize, interpolation: interpolation, threads: threads, exifOrientation: exifOrientation)
        return (p, try evaluationSet(predictor: p, modelPath: modelPath, dataDir: dataDir))
    }
    let mine = rankBatches(count: set.items.count, batchSize: batchSize, rank: comm.rank, size: comm.size).flatMap { set.items[$0] }
    let e = try classify(predictor: p, items: mine, classes: set.classes, topK: topK, batchSize: batchSize, progress: progress)
    let part = EvaluationPart(images: e.images, lossSum: e.sums.loss, correct: e.sums.correct, correctK: e.sums.correctK, confusion: e.confusion,
                              skipped: e.skipped.map { [$0.path, $0.reason] }, wrong: e.confidentlyWrong)
    let parts = try comm.gather(Array(try JSONEncoder().encode(part)))
    return try comm.agree(decidedBy: 0) { () -> Evaluation? in
        guard let parts else { return nil }
        let decoded = try parts.map { try JSONDecoder().decode(EvaluationPart.self, from: Data($0)) }
        // Skipped files in the order of the folder, as a single process lists them.
        let position = Dictionary(set.items.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { a, _ in a })
        let skipped = decoded.flatMap(\.skipped).sorted { (position[$0[0]] ?? 0) < (position[$1[0]] ?? 0) }
            .map { SkippedFile(path: $0[0], reason: $0[1]) }
        var result = Evaluation(classes: set.classes, topK: topK, skipped: skipped)
        for d in decoded { result.combine(sums: (d.lossSum, d.correct, d.correctK), images: d.images, confusion: d.confusion) }
        result.confidentlyWrong = Array(decoded.flatMap(\.wrong).sorted { ($0.confidence, $1.path) > ($1.confidence, $0.path) }.prefix(Evaluation.mistakesKept))
        try set.checkEveryClassRead(result, dataDir: dataDir)
        return result
    }
}

/// One rank's batch of a distributed prediction, as sent to rank 0: a JSON header (the readable inputs, the
/// skipped files, each output's shape) and the outputs' float32 values, in output order.
struct PredictionPart: Codable {
    var names: [String], skipped: [[String]], shapes: [[Int]]

    static func encode(_ part: PredictionPart, outputs: [Tensor]) throws -> [UInt8] {
        let header = Array(try JSONEncoder().encode(part))
        var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header
        for t in outputs { t.values.withUnsafeBytes { bytes += $0 } }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> (PredictionPart, [Tensor]) {
        let n = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let part = try JSONDecoder().decode(PredictionPart.self, from: Data(bytes[8..<(8 + n)]))
        var at = 8 + n
        let tensors = part.shapes.map { shape -> Tensor in
            let count = shape.reduce(1, *)
            let values = bytes[at..<(at + count * 4)].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            at += count * 4
            return Tensor(shape: shape, values: values)
        }
        return (part, tensors)
    }
}

/// `predict(modelPath:images:...)` on image files as one rank of an MPI job: batch b of the images goes to
/// rank b % size; after each round of batches rank 0 gathers them and handles them in input order exactly as
/// a single process does (`onBatch`, the `-o` rows written as they come, an `.npz`'s arrays through scratch
/// files, the skipped files), so its output file is byte for byte a single process's. Rank 0 returns the report, the other ranks nil; a failure of
/// rank 0's part (an unreadable image with `outputPath` and without `skipUnreadable`) is thrown on every rank.
public func predict(modelPath: String, images: [String], inputSize: Int?, batchSize: Int = 8,
                    interpolation: Interpolation = .bilinear, exifOrientation: ExifOrientation = .ignore, outputPath: String? = nil,
                    skipUnreadable: Bool = false, communicator comm: Communicator, threads: Int? = nil,
                    onBatch: ((_ inputs: [String], _ outputs: [Tensor]) throws -> Void)? = nil) throws -> PredictionReport? {
    let root = comm.rank == 0
    let p = try comm.agree { () -> Predictor in
        guard !images.isEmpty else { throw ToolError(.noInput, message: "no input: give image files or a preprocessed .npy batch") }
        if root, let outputPath { try AtomicFile.checkWritable(outputPath) }
        let p = try Predictor(modelPath: modelPath, inputSize: inputSize, interpolation: interpolation, threads: threads, exifOrientation: exifOrientation)
        try checkOutputPath(outputPath, file: p.file, images: images, skipUnreadable: skipUnreadable)
        return p
    }
    let step = max(1, batchSize)
    let batches = Array(stride(from: 0, to: images.count, by: step)).map { $0..<min(images.count, $0 + step) }
    let strict = outputPath != nil && !skipUnreadable
    let out = ImagePredictionOutput(outputPath: outputPath, maxRows: images.count, outputNames: p.file.graph.outputs, onBatch: onBatch)
    var skipped: [SkippedFile] = []
    var failure: Error? = nil  // rank 0's, raised after the last round so no rank is left waiting
    for round in stride(from: 0, to: batches.count, by: comm.size) {
        var payload: [UInt8] = []
        if round + comm.rank < batches.count {
            let chunk = Array(images[batches[round + comm.rank]])
            let (values, bad) = p.loader.loadBatch(chunk)
            let ok = zip(chunk, values).compactMap { path, v in v.map { (path, $0) } }
            let y = ok.isEmpty ? [] : try p.runAll(Tensor(shape: [ok.count, p.height, p.width, 3], values: ok.flatMap(\.1)))
            payload = try PredictionPart.encode(PredictionPart(names: ok.map(\.0), skipped: bad.map { [$0.path, $0.reason] }, shapes: y.map(\.shape)),
                                                outputs: y)
        }
        guard let gathered = try comm.gather(payload), failure == nil else { continue }
        do {
            for bytes in gathered where !bytes.isEmpty {
                let (part, y) = try PredictionPart.decode(bytes)
                skipped += part.skipped.map { SkippedFile(path: $0[0], reason: $0[1]) }
                guard !part.names.isEmpty, !(strict && !skipped.isEmpty) else { continue }
                try out.add(names: part.names, outputs: y)
            }
        } catch { failure = error }
    }
    return try comm.agree(decidedBy: 0) { () -> PredictionReport? in
        guard root else { return nil }
        if let failure { throw failure }
        return try out.finish(predictor: p, imageCount: images.count, skipped: skipped, strict: strict, skipUnreadable: skipUnreadable)
    }
}
