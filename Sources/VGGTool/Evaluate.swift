import Foundation
import ImageData
import ModelFile
import Runtime

/// Classification metrics over a labelled set, as Keras computes them (categorical cross-entropy on
/// softmax outputs: probabilities renormalized and clipped to [1e-7, 1 - 1e-7]).
public struct Evaluation: Sendable {
    /// Class names, in the order of the model's outputs and the confusion matrix.
    public var classes: [String]
    /// Images evaluated (readable ones only), or rows of `.npy` batches (`unit`).
    public var images: Int
    /// What `images` counts as `text()` prints it: "images", or "rows" for an evaluation of `.npy` batches.
    public var unit = "images"
    /// Mean categorical cross-entropy.
    public var loss: Double
    /// Fraction (0...1) of images whose most likely class is the true one.
    public var accuracy: Double
    /// The k of `topKAccuracy`.
    public var topK: Int
    /// Fraction (0...1) of images whose true class is among the `topK` most likely.
    public var topKAccuracy: Double
    /// confusion[true][predicted]
    public var confusion: [[Int]]
    /// Image files that could not be read, skipped.
    public var skipped: [SkippedFile]
    /// The most confidently wrong predictions, most confident first (at most `Evaluation.mistakesKept`;
    /// filled by `evaluate`, empty when the evaluation was built from probabilities alone).
    public var confidentlyWrong: [Misclassified] = []

    /// How many of the most confidently wrong predictions `evaluate` keeps.
    public static let mistakesKept = 12

    /// An image the model classified wrongly.
    public struct Misclassified: Sendable, Codable, Equatable {
        /// The image file.
        public var path: String
        /// Indices into `classes` of its true class and of the predicted one.
        public var trueClass: Int, predicted: Int
        /// The model's output for the predicted class (a probability for softmax outputs).
        public var confidence: Double

        /// A wrong prediction.
        public init(path: String, trueClass: Int, predicted: Int, confidence: Double) {
            self.path = path; self.trueClass = trueClass; self.predicted = predicted; self.confidence = confidence
        }
    }

    /// One class's figures, from the confusion matrix.
    public struct PerClass: Sendable {
        /// Precision, recall and F1 (0...1; 0 when undefined) and support (images of the class).
        public var precision: Double, recall: Double, f1: Double, support: Int
    }

    /// Per-class precision, recall, F1 and support, in `classes` order.
    public var perClass: [PerClass] {
        classes.indices.map { c in
            let tp = confusion[c][c]
            let predicted = confusion.reduce(0) { $0 + $1[c] }
            let actual = confusion[c].reduce(0, +)
            let p = predicted > 0 ? Double(tp) / Double(predicted) : 0
            let r = actual > 0 ? Double(tp) / Double(actual) : 0
            return PerClass(precision: p, recall: r, f1: p + r > 0 ? 2 * p * r / (p + r) : 0, support: actual)
        }
    }

    // The running sums behind `loss` and the accuracies (batches are added as they come).
    private var lossSum = 0.0, correct = 0, correctK = 0

    /// Accumulates metrics from probabilities (rows of `classes.count`) and labels.
    public init(classes: [String], probabilities: [Float], labels: [Int], topK: Int, skipped: [SkippedFile] = []) {
        self.init(classes: classes, topK: topK, skipped: skipped)
        add(probabilities: probabilities, labels: labels)
    }

    /// An evaluation of no image yet, to `add` batches to.
    public init(classes: [String], topK: Int, skipped: [SkippedFile] = []) {
        self.classes = classes
        self.images = 0
        self.topK = min(topK, classes.count)
        self.skipped = skipped
        self.loss = 0
        self.accuracy = 0
        self.topKAccuracy = 0
        self.confusion = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
    }

    /// Adds a batch: probabilities (rows of `classes.count`) and the true labels. The figures are those of
    /// every image added so far (the same, to the bit, whatever the batches).
    public mutating func add(probabilities: [Float], labels: [Int]) {
        let k = classes.count
        let eps: Float = 1e-7
        for (i, label) in labels.enumerated() {
            let row = probabilities[(i * k)..<((i + 1) * k)]
            let sum = row.reduce(0, +)
            let p = min(max(row[row.startIndex + label] / (sum > 0 ? sum : 1), eps), 1 - eps)
            lossSum -= Double(log(p))
            let ranked = VGGTool.topK(row, self.topK).map(\.index)
            if ranked.first == label { correct += 1 }
            if ranked.contains(label) { correctK += 1 }
            confusion[label][ranked.first ?? 0] += 1
        }
        images += labels.count
        let n = Double(max(images, 1))
        loss = lossSum / n
        accuracy = Double(correct) / n
        topKAccuracy = Double(correctK) / n
    }

    /// The running sums behind the figures (summed loss, correct and top-k correct images), to combine the
    /// evaluations of parts of a set (`combine(sums:images:confusion:)`).
    package var sums: (loss: Double, correct: Int, correctK: Int) { (lossSum, correct, correctK) }

    /// Adds the figures of another part of the set (its `sums`, images and confusion matrix): the figures are
    /// then those of both parts. Skipped files and mistakes are the caller's to merge.
    package mutating func combine(sums other: (loss: Double, correct: Int, correctK: Int), images count: Int, confusion matrix: [[Int]]) {
        lossSum += other.loss
        correct += other.correct
        correctK += other.correctK
        for (i, row) in matrix.enumerated() { for (j, v) in row.enumerated() { confusion[i][j] += v } }
        images += count
        let n = Double(max(images, 1))
        loss = lossSum / n
        accuracy = Double(correct) / n
        topKAccuracy = Double(correctK) / n
    }

    /// The evaluation as pretty-printed JSON with sorted keys (`vggtool evaluate --json`).
    public func json() throws -> String {
        let per = perClass
        let obj: [String: Any] = [
            "classes": classes, "images": images, "loss": loss, "accuracy": accuracy,
            "top_k": topK, "top_k_accuracy": topKAccuracy, "confusion_matrix": confusion,
            "per_class": Dictionary(uniqueKeysWithValues: zip(classes, per).map { name, m in
                (name, ["precision": m.precision, "recall": m.recall, "f1": m.f1, "support": m.support] as [String: Any])
            }),
            "skipped": skipped.map { ["file": $0.path, "reason": $0.reason] },
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self)
    }

    /// The evaluation as `vggtool evaluate` prints it: totals, the confusion matrix, per-class figures.
    public func text() -> String {
        var lines = [String(format: "\(unit): %d   loss: %.4f   accuracy: %.4f   top-%d accuracy: %.4f", images, loss, accuracy, topK, topKAccuracy)]
        let width = max(10, (classes.map(\.count).max() ?? 0) + "[\(max(classes.count - 1, 0))] ".count + 2)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted)")
        let colW = max(6, (confusion.flatMap { $0 }.max() ?? 0).description.count + 2)
        lines.append(pad("", width) + classes.indices.map { lpad("[\($0)]", colW) }.joined())
        for (i, row) in confusion.enumerated() {
            lines.append(pad("[\(i)] \(classes[i])", width) + row.map { lpad("\($0)", colW) }.joined())
        }
        lines.append("")
        lines.append(pad("class", width) + "  precision  recall      f1  support")
        for (name, m) in zip(classes, perClass) {
            lines.append(pad(name, width) + String(format: "  %9.4f  %6.4f  %6.4f  %7d", m.precision, m.recall, m.f1, m.support))
        }
        if !skipped.isEmpty {
            lines.append("")
            lines.append("skipped \(skipped.count) file(s) that could not be read:")
            for s in skipped.prefix(20) { lines.append("  \(s.path): \(s.reason)") }
            if skipped.count > 20 { lines.append("  ... and \(skipped.count - 20) more") }
        }
        return lines.joined(separator: "\n")
    }
}

/// Evaluates a classifier on a class-folder dataset. The folder's classes are matched to the model's class
/// names by name when the model has them; otherwise folder order is used and the counts must agree. JPEGs are
/// turned upright by their EXIF orientation only with `exifOrientation: .apply` (Keras does not).
/// `progress`, when given, is called after each batch with the images done and the total.
public func evaluate(modelPath: String, dataDir: String, inputSize: Int? = nil, batchSize: Int = 16, topK: Int = 5,
                     interpolation: Interpolation = .bilinear, exifOrientation: ExifOrientation = .ignore, precision: Precision? = nil,
                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> Evaluation {
    try evaluate(predictor: try Predictor(modelPath: modelPath, inputSize: inputSize, interpolation: interpolation, exifOrientation: exifOrientation,
                                          precision: precision),
                 modelPath: modelPath,
                 dataDir: dataDir, batchSize: batchSize, topK: topK, progress: progress)
}

/// `evaluate` with a predictor already made.
func evaluate(predictor p: Predictor, modelPath: String, dataDir: String, batchSize: Int, topK: Int,
              progress: ((Int, Int) -> Void)? = nil) throws -> Evaluation {
    let set = try evaluationSet(predictor: p, modelPath: modelPath, dataDir: dataDir)
    let e = try classify(predictor: p, items: set.items, classes: set.classes, topK: topK, batchSize: batchSize, progress: progress)
    try set.checkEveryClassRead(e, dataDir: dataDir)
    return e
}

/// A class-folder dataset matched to a classifier: the folder, its images with labels as output indices, the
/// class names (the model's, else the folder's) and each folder's output index.
struct EvaluationSet {
    var folder: ImageFolder, items: [ImageFolder.Item], classes: [String], mapping: [Int]

    /// Throws when no image of some class folder could be read (its row of the confusion matrix is empty).
    func checkEveryClassRead(_ e: Evaluation, dataDir: String) throws {
        for (i, c) in folder.classNames.enumerated() where e.confusion[mapping[i]].reduce(0, +) == 0 {
            throw ToolError(dataDir + "/" + c, .unreadableClass(skipped: e.skipped.count), "no image in this class folder could be read (\(e.skipped.count) file(s) skipped)")
        }
    }
}

/// Reads `dataDir` and matches its class folders to the model's outputs (by name when the model has class
/// names, else by order, when the counts agree).
func evaluationSet(predictor p: Predictor, modelPath: String, dataDir: String) throws -> EvaluationSet {
    let folder = try ImageFolder(root: dataDir)
    guard !folder.items.isEmpty else { throw ToolError(dataDir, .noImages, "has no images (jpg, jpeg, png, bmp or gif) in its class folders") }
    let units = p.file.analysis.info(p.file.graph.outputs[0])?.outputShape
    guard units?.count == 2, let k = units?[1] ?? nil else { throw ToolError(modelPath, .notAClassifier, "is not a classifier (its output is not (batch, classes))") }
    // Map folder labels to output indices.
    var mapping: [Int]
    if let names = p.file.manifest.classNames {
        mapping = []
        for c in folder.classNames {
            guard let i = names.firstIndex(of: c) else {
                throw ToolError(dataDir, .unknownClass(c), "class folder '\(c)' is not one of the model's classes (\(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", ..." : ""))")
            }
            mapping.append(i)
        }
    } else {
        guard folder.classNames.count == k else {
            throw ToolError(dataDir, .classCountMismatch(folders: folder.classNames.count, outputs: k), "has \(folder.classNames.count) class folders, the model outputs \(k) classes and records no class names")
        }
        mapping = Array(0..<k)
    }
    let classes = p.file.manifest.classNames ?? folder.classNames
    for (i, n) in folder.counts.enumerated() where n == 0 {
        throw ToolError(dataDir + "/" + folder.classNames[i], .emptyClassFolder, "class folder has no images")
    }
    let items = folder.items.map { ImageFolder.Item(path: $0.path, label: mapping[$0.label]) }
    return EvaluationSet(folder: folder, items: items, classes: classes, mapping: mapping)
}

/// Evaluates the classifier at `modelPath` on `images` (labels are indices of the model's outputs), as
/// `evaluate(modelPath:dataDir:...)` does for a folder: a fine-tuning run's validation images for its report.
public func evaluate(modelPath: String, images: [ImageFolder.Item], classes: [String], batchSize: Int = 16, topK: Int = 5,
                     exifOrientation: ExifOrientation = .ignore, progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> Evaluation {
    let p = try Predictor(modelPath: modelPath, inputSize: nil, interpolation: .bilinear, exifOrientation: exifOrientation)
    guard let units = p.file.analysis.info(p.file.graph.outputs[0])?.outputShape, units.count == 2, let k = units[1], k == classes.count else {
        throw ToolError(modelPath, .notAClassifier, "is not a classifier of \(classes.count) classes")
    }
    let e = try classify(predictor: p, items: images, classes: classes, topK: topK, batchSize: batchSize, progress: progress)
    guard e.images > 0 else { throw ToolError(modelPath, .noImages, "no validation image could be read") }
    return e
}

/// The evaluation of labelled images (labels index `classes`, the model's outputs), run through the predictor
/// in batches decoded one batch ahead; unreadable files are skipped. Only the figures and the most confidently
/// wrong images are kept, so memory does not grow with the number of images.
func classify(predictor p: Predictor, items: [ImageFolder.Item], classes: [String], topK: Int, batchSize: Int,
              progress: ((Int, Int) -> Void)?) throws -> Evaluation {
    var e = Evaluation(classes: classes, topK: topK)
    let loader = p.loader
    try forEachChunkLoadedAhead(items, step: batchSize, load: { chunk in loader.loadBatch(chunk.map(\.path)) }) { start, chunk, loaded in
        let (values, bad) = loaded
        e.skipped += bad
        defer { progress?(start + chunk.count, items.count) }
        let ok = zip(chunk, values).compactMap { item, v in v.map { (item, $0) } }
        guard !ok.isEmpty else { return }
        let y = try p.run(Tensor(shape: [ok.count, p.height, p.width, 3], values: ok.flatMap(\.1)))
        e.add(probabilities: y.values, labels: ok.map(\.0.label), names: ok.map(\.0.path))
    }
    return e
}

extension Evaluation {
    /// `add(probabilities:labels:)`, keeping the most confidently wrong rows (named by `names`).
    mutating func add(probabilities y: [Float], labels: [Int], names: [String]) {
        let k = classes.count
        add(probabilities: y, labels: labels)
        var wrong = confidentlyWrong
        for (i, (label, name)) in zip(labels, names).enumerated() {
            let row = y[(i * k)..<((i + 1) * k)]
            guard let best = VGGTool.topK(row, 1).first, best.index != label else { continue }
            wrong.append(.init(path: name, trueClass: label, predicted: best.index, confidence: Double(best.value)))
        }
        confidentlyWrong = Array(wrong.sorted { ($0.confidence, $1.path) > ($1.confidence, $0.path) }.prefix(Evaluation.mistakesKept))
    }
}

/// Evaluates a classifier on preprocessed batches: `npyInputs` one `.npy` per model input (in the model's input
/// order, as `predict --input` reads them) and `labelsPath` an `.npy` of the true class of each row (shape (N) or
/// (N, 1), whole numbers). The output is (batch, classes) probabilities, or (batch, 1), a sigmoid's probability
/// of class 1 (two classes: below or over 0.5). Class names are the model's, else the class indices. Rows run
/// in batches of `batchSize`.
public func evaluate(modelPath: String, npyInputs: [String], labelsPath: String, batchSize: Int = 16, topK: Int = 5, precision: Precision? = nil,
                     progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> Evaluation {
    let f = try VGGMFile(path: modelPath)
    guard let units = f.analysis.info(f.graph.outputs[0])?.outputShape, units.count == 2, let width = units[1] else {
        throw ToolError(modelPath, .notAClassifier, "is not a classifier (its output is not (batch, classes))")
    }
    let k = width == 1 ? 2 : width
    let classes = f.manifest.classNames.flatMap { $0.count == k ? $0 : nil } ?? (0..<k).map(String.init)
    let inputs = try readInputBatches(npyInputs, file: f)
    let rows = inputs[0].shape[0]
    let y = try NumPy.read(path: labelsPath)
    guard y.shape.count == 1 || (y.shape.count == 2 && y.shape[1] == 1), y.shape[0] == rows else {
        throw ToolError(labelsPath, .badInputShape(y.shape), "expected one label per row of the inputs, shape (\(rows)) or (\(rows), 1); the array is \(y.shape)")
    }
    let labels = try y.values.enumerated().map { i, v in
        guard v.rounded() == v, v >= 0, v < Float(k) else {
            throw ToolError(labelsPath, .badInputShape(y.shape), "label \(i) is \(v); labels are class indices 0..<\(k)")
        }
        return Int(v)
    }
    let engine = try Engine(model: f, options: .init(precision: precision ?? defaultPrecision(f)))
    defer { engine.releaseMemory() }
    var e = Evaluation(classes: classes, topK: topK)
    e.unit = "rows"
    for picked in rankBatches(count: rows, batchSize: batchSize, rank: 0, size: 1) {
        var p = try engine.run(inputs.map { $0.rows(picked) })[0].values
        if width == 1 {
            if let (i, v) = p.enumerated().first(where: { !($0.element >= 0 && $0.element <= 1) }) {
                throw ToolError(modelPath, .notAClassifier, "output \(v) for row \(picked.lowerBound + i) is not a probability: a (batch, 1) output is read as a sigmoid's")
            }
            p = p.flatMap { [1 - $0, $0] }
        }
        e.add(probabilities: p, labels: Array(labels[picked]), names: picked.map { "\(npyInputs[0])[\($0)]" })
        progress?(picked.upperBound, rows)
    }
    return e
}
