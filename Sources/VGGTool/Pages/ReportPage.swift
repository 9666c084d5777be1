import Foundation
import ImageData
import ModelFile
import ModelGraph
import Training

/// What a training or evaluation report shows, apart from what the model file itself holds (its summary and
/// provenance). `finetune` saves it beside the checkpoint as `OUT.report.json` (`ReportData.path(beside:)`),
/// so `vggtool report OUT.vggm` can rebuild the page later.
public struct ReportData: Codable, Sendable, Equatable {
    /// One epoch of training.
    public struct Epoch: Codable, Sendable, Equatable {
        /// The epoch's number, from 1.
        public var epoch: Int
        /// Training cross-entropy and accuracy (0...1).
        public var loss: Double, accuracy: Double
        /// Validation cross-entropy and accuracy (0...1), when there were validation images.
        public var valLoss: Double?, valAccuracy: Double?
        /// Wall-clock seconds of the epoch.
        public var seconds: Double
    }

    /// The training run, for a fine-tuned model.
    public struct Training: Codable, Sendable, Equatable {
        /// Every epoch, in order.
        public var history: [Epoch]
        /// The epoch whose weights the checkpoint holds.
        public var bestEpoch: Int?
        /// Images trained and validated on.
        public var trainImages: Int, validationImages: Int
        /// Seconds computing the frozen part's features (the frozen pass).
        public var featureSeconds: Double
        /// Seconds of the epochs (training and validation).
        public var trainingSeconds: Double
        /// Whether early stopping ended the run.
        public var stoppedEarly: Bool
    }

    /// An evaluation on a folder of labelled images.
    public struct EvaluationPart: Codable, Sendable, Equatable {
        /// The folder evaluated.
        public var folder: String
        /// Class names, in the confusion matrix's order.
        public var classes: [String]
        /// Images evaluated.
        public var images: Int
        /// Mean cross-entropy, accuracy and top-k accuracy (0...1).
        public var loss: Double, accuracy: Double, topK: Int, topKAccuracy: Double
        /// confusion[true][predicted].
        public var confusion: [[Int]]
        /// The most confidently wrong images, most confident first.
        public var mistakes: [Evaluation.Misclassified]
        /// Their thumbnails as `data:image/png;base64,...` URIs (nil where the image could not be read again or
        /// was over the size cap), in `mistakes`' order.
        public var thumbnails: [String?]
    }

    /// The command line that made the report.
    public var commandLine: [String]
    /// vggtool's version.
    public var version: String
    /// When the report data was made (ISO 8601).
    public var created: String
    /// The machine it was made on: the operating system and the number of cores (nil in data from before it
    /// was recorded).
    public var platform: String?
    /// The training run, for `finetune`.
    public var training: Training?
    /// The evaluation, for `evaluate` (and `finetune` with a validation folder).
    public var evaluation: EvaluationPart?

    /// Largest thumbnail kept, in bytes of PNG (larger ones are left out).
    public static let maxThumbnailBytes = 48 << 10

    /// Report data from its parts.
    public init(commandLine: [String], version: String = vggtoolVersion, created: Date = Date(), training: Training? = nil, evaluation: EvaluationPart? = nil) {
        self.commandLine = commandLine
        self.version = version
        self.created = ISO8601DateFormatter().string(from: created)
        self.platform = "\(ProcessInfo.processInfo.operatingSystemVersionString), \(ProcessInfo.processInfo.activeProcessorCount) cores"
        self.training = training
        self.evaluation = evaluation
    }

    /// The training part of a finished `fineTune`.
    public static func training(_ r: FineTuneResult) -> Training {
        Training(history: r.history.map { Epoch(epoch: $0.epoch, loss: $0.loss, accuracy: $0.accuracy, valLoss: $0.valLoss, valAccuracy: $0.valAccuracy, seconds: $0.seconds) },
                 bestEpoch: r.bestEpoch, trainImages: r.trainImages, validationImages: r.validationImages, featureSeconds: r.featureSeconds,
                 trainingSeconds: r.history.reduce(0) { $0 + $1.seconds }, stoppedEarly: r.stoppedEarly)
    }

    /// The evaluation part of `e` (of the images in `folder`), with thumbnails (at most 96 pixels a side) of its
    /// most confidently wrong images.
    public static func evaluation(_ e: Evaluation, folder: String) -> EvaluationPart {
        let thumbs = e.confidentlyWrong.map { m -> String? in
            guard let png = try? ImageDecoder.thumbnailPNG(path: m.path), png.count <= maxThumbnailBytes else { return nil }
            return "data:image/png;base64," + Data(png).base64EncodedString()
        }
        return EvaluationPart(folder: folder, classes: e.classes, images: e.images, loss: e.loss, accuracy: e.accuracy, topK: e.topK,
                              topKAccuracy: e.topKAccuracy, confusion: e.confusion, mistakes: e.confidentlyWrong, thumbnails: thumbs)
    }

    /// Where `finetune` keeps the report data of the checkpoint at `checkpoint`: `checkpoint.report.json`.
    public static func path(beside checkpoint: String) -> String { checkpoint + ".report.json" }

    /// Writes the data as JSON to `path` (atomically).
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(self)), to: path)
    }

    /// The data beside the checkpoint at `checkpoint`: its `.report.json`, else (a run of an older vggtool) the
    /// epochs of its `.history.csv`. Throws `ToolError` when neither can be read.
    public static func load(beside checkpoint: String) throws -> ReportData {
        let json = path(beside: checkpoint)
        if let data = FileManager.default.contents(atPath: json) {
            do { return try JSONDecoder().decode(ReportData.self, from: data) } catch {
                throw ToolError(json, .unreadable, "is not vggtool report data (\(error))")
            }
        }
        let csv = checkpoint + ".history.csv"
        guard let text = FileManager.default.contents(atPath: csv).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw ToolError(checkpoint, .unreadable, "has no report data beside it (\(json) or \(csv), written by finetune)")
        }
        var lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { throw ToolError(csv, .unreadable, "is empty") }
        lines.removeFirst()
        func column(_ name: String, _ row: [String]) -> Double? { header.firstIndex(of: name).flatMap { $0 < row.count ? Double(row[$0]) : nil } }
        var history: [Epoch] = []
        for row in lines {
            guard let e = column("epoch", row), let loss = column("loss", row), let acc = column("accuracy", row) else {
                throw ToolError(csv, .unreadable, "has a malformed row: \(row.joined(separator: ","))")
            }
            history.append(Epoch(epoch: Int(e) + 1, loss: loss, accuracy: acc, valLoss: column("val_loss", row), valAccuracy: column("val_accuracy", row), seconds: 0))
        }
        let monitor = history.contains { $0.valLoss != nil } ? history.map { $0.valLoss ?? .infinity } : history.map(\.loss)
        let best = monitor.indices.min { monitor[$0] < monitor[$1] }.map { history[$0].epoch }
        return ReportData(commandLine: [], version: "", training: Training(history: history, bestEpoch: best, trainImages: 0, validationImages: 0,
                                                                             featureSeconds: 0, trainingSeconds: 0, stoppedEarly: false))
    }
}

/// The report page of `finetune --report`, `evaluate --report` and `vggtool report`: a self-contained HTML
/// page (inline CSS and SVG plots, thumbnails as data URIs, no script, nothing from the network) with the
/// loss and accuracy per epoch (best epoch marked), the confusion matrix as a heatmap with counts, per-class
/// precision, recall and F1, the most confidently wrong images, the model's summary, the time in the frozen
/// pass and in training, the command line, versions and provenance. Every string from a file or a folder
/// name is escaped.
public enum ReportPage {
    /// The page for `data` about the model in `model` (its summary and provenance).
    public static func render(_ data: ReportData, model: VGGMFile, title: String) -> String {
        let e = HTMLText.escape
        var body = "<header><h1>\(e(title))</h1><p>\(e(model.graph.name)) · \(GraphPage.count(model.analysis.totalParams)) parameters · vggtool \(e(data.version.isEmpty ? vggtoolVersion : data.version))</p></header>\n"
        if let t = data.training {
            body += "<section id=\"training\"><h2>Training</h2>\n"
            body += "<table class=\"facts\"><tr><th>epochs</th><td>\(t.history.count)\(t.stoppedEarly ? " (stopped early)" : "")</td></tr>"
            if let b = t.bestEpoch { body += "<tr><th>best epoch</th><td id=\"best-epoch\">\(b)</td></tr>" }
            body += "<tr><th>images</th><td>\(t.trainImages) training, \(t.validationImages) validation</td></tr>"
            body += "<tr><th>frozen pass</th><td id=\"frozen-seconds\">\(String(format: "%.2f s", t.featureSeconds))</td></tr>"
            body += "<tr><th>training</th><td id=\"training-seconds\">\(String(format: "%.2f s", t.trainingSeconds))</td></tr></table>\n"
            body += "<div class=\"plots\">"
            body += plot(id: "loss", title: "Loss (cross-entropy)", t.history, train: \.loss, val: \.valLoss, best: t.bestEpoch, unit: false)
            body += plot(id: "accuracy", title: "Accuracy", t.history, train: \.accuracy, val: \.valAccuracy, best: t.bestEpoch, unit: true)
            body += "</div>\n"
            body += "<table class=\"history\"><tr><th>epoch</th><th>loss</th><th>accuracy</th><th>val_loss</th><th>val_accuracy</th><th>seconds</th></tr>"
            for h in t.history {
                body += "<tr class=\"epoch\(h.epoch == t.bestEpoch ? " best" : "")\"><td>\(h.epoch)</td><td>\(f4(h.loss))</td><td>\(f4(h.accuracy))</td>"
                body += "<td>\(h.valLoss.map(f4) ?? "—")</td><td>\(h.valAccuracy.map(f4) ?? "—")</td><td>\(String(format: "%.2f", h.seconds))</td></tr>"
            }
            body += "</table></section>\n"
        }
        if let ev = data.evaluation { body += evaluation(ev) }
        body += "<section id=\"model\"><h2>Model</h2><pre class=\"summary\">\(e(model.analysis.summary(style: .keras2)))</pre></section>\n"
        let p = model.manifest.provenance
        body += "<section id=\"provenance\"><h2>Provenance</h2><table class=\"facts\">"
        body += "<tr><th>command line</th><td><code id=\"command-line\">\(e(data.commandLine.map(shellQuoted).joined(separator: " ")))</code></td></tr>"
        body += "<tr><th>report made</th><td>\(e(data.created)) by vggtool \(e(data.version))</td></tr>"
        if let platform = data.platform { body += "<tr><th>platform</th><td>\(e(platform))</td></tr>" }
        body += "<tr><th>model file</th><td>\(e(model.path))</td></tr>"
        body += "<tr><th>source</th><td>\(e(p.sourceFile)) (\(e(p.sourceLayout)), keras \(e(p.kerasVersion ?? "unknown")))</td></tr>"
        body += "<tr><th>source SHA-256</th><td>\(e(p.sourceSHA256.isEmpty ? "not recorded" : p.sourceSHA256))</td></tr>"
        body += "<tr><th>written by</th><td>\(e(p.converter)), \(e(p.created))</td></tr>"
        body += "<tr><th>classes</th><td>\(e((model.manifest.classNames ?? []).joined(separator: ", ")))</td></tr></table></section>\n"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title)) — vggtool report</title>
            <style>\(css)</style>
            </head>
            <body>
            \(body)</body>
            </html>

            """
    }

    /// The page `vggtool report` rebuilds for the checkpoint at `checkpoint` from the files beside it.
    public static func rebuild(checkpoint: String) throws -> String {
        let model = try VGGMFile(path: checkpoint)
        return render(try ReportData.load(beside: checkpoint), model: model, title: URL(fileURLWithPath: checkpoint).lastPathComponent)
    }

    static func f4(_ x: Double) -> String { String(format: "%.4f", x) }

    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=,:@+".contains($0) }) && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A line plot of training (and validation) values per epoch: one `<circle class="point">` per value, the
    /// best epoch as a dashed line.
    static func plot(id: String, title: String, _ h: [ReportData.Epoch], train: KeyPath<ReportData.Epoch, Double>,
                     val: KeyPath<ReportData.Epoch, Double?>, best: Int?, unit: Bool) -> String {
        let W = 460.0, H = 260.0, left = 52.0, right = 16.0, top = 28.0, bottom = 36.0
        let values = h.map { $0[keyPath: train] } + h.compactMap { $0[keyPath: val] }
        let finite = values.filter(\.isFinite)
        var lo = unit ? 0 : (finite.min() ?? 0), hi = unit ? 1 : (finite.max() ?? 1)
        if !unit { lo = min(lo, 0) }
        if hi - lo < 1e-9 { hi = lo + 1 }
        let n = HTMLText.num
        let epochs = h.map(\.epoch)
        let e0 = Double(epochs.min() ?? 1), e1 = Double(max(epochs.max() ?? 1, (epochs.min() ?? 1) + 1))
        func x(_ epoch: Int) -> Double { left + (Double(epoch) - e0) / (e1 - e0) * (W - left - right) }
        func y(_ v: Double) -> Double { top + (1 - (min(max(v, lo), hi) - lo) / (hi - lo)) * (H - top - bottom) }
        var s = "<figure class=\"plot\"><svg id=\"plot-\(id)\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(W)) \(n(H))\" width=\"\(n(W))\" height=\"\(n(H))\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\">"
        s += "<text x=\"\(n(left))\" y=\"18\" class=\"plot-title\">\(HTMLText.escape(title))</text>"
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            s += "<line class=\"grid\" x1=\"\(n(left))\" x2=\"\(n(W - right))\" y1=\"\(n(y(v)))\" y2=\"\(n(y(v)))\"/>"
            s += "<text class=\"tick\" x=\"\(n(left - 6))\" y=\"\(n(y(v) + 4))\" text-anchor=\"end\">\(String(format: "%.2f", v))</text>"
        }
        let step = max(1, epochs.count / 10)
        for (k, ep) in epochs.enumerated() where k % step == 0 || k == epochs.count - 1 {
            s += "<text class=\"tick\" x=\"\(n(x(ep)))\" y=\"\(n(H - bottom + 16))\" text-anchor=\"middle\">\(ep)</text>"
        }
        s += "<text class=\"tick\" x=\"\(n((left + W - right) / 2))\" y=\"\(n(H - 4))\" text-anchor=\"middle\">epoch</text>"
        if let best, epochs.contains(best) {
            s += "<line class=\"best\" x1=\"\(n(x(best)))\" x2=\"\(n(x(best)))\" y1=\"\(n(top))\" y2=\"\(n(H - bottom))\"/>"
            let atRight = x(best) > W - right - 50
            s += "<text class=\"best-label\" x=\"\(n(x(best) + (atRight ? -4 : 4)))\" y=\"\(n(H - bottom - 6))\" text-anchor=\"\(atRight ? "end" : "start")\">best epoch \(best)</text>"
        }
        let trainValues: [Double?] = h.map { $0[keyPath: train] }, valValues: [Double?] = h.map { $0[keyPath: val] }
        for (series, column) in [("train", trainValues), ("val", valValues)] {
            let pts = zip(h, column).compactMap { r, v in v.flatMap { $0.isFinite ? (r.epoch, $0) : nil } }
            guard !pts.isEmpty else { continue }
            s += "<polyline class=\"line \(series)\" points=\"\(pts.map { "\(n(x($0.0))),\(n(y($0.1)))" }.joined(separator: " "))\"/>"
            for (ep, v) in pts {
                s += "<circle class=\"point \(series)\" data-epoch=\"\(ep)\" cx=\"\(n(x(ep)))\" cy=\"\(n(y(v)))\" r=\"3.5\"><title>epoch \(ep): \(f4(v))</title></circle>"
            }
        }
        s += "<g class=\"legend\"><rect class=\"swatch train\" x=\"\(n(W - 150))\" y=\"10\" width=\"10\" height=\"10\"/><text x=\"\(n(W - 136))\" y=\"19\">training</text>"
        s += "<rect class=\"swatch val\" x=\"\(n(W - 80))\" y=\"10\" width=\"10\" height=\"10\"/><text x=\"\(n(W - 66))\" y=\"19\">validation</text></g>"
        return s + "</svg></figure>"
    }

    /// The evaluation: totals, the confusion heatmap (`<td class="cell">` per pair, with its count), per-class
    /// figures, the most confidently wrong images.
    static func evaluation(_ ev: ReportData.EvaluationPart) -> String {
        let e = HTMLText.escape
        var s = "<section id=\"evaluation\"><h2>Evaluation</h2>\n<p>\(ev.images) images in \(e(ev.folder)): loss \(f4(ev.loss)), accuracy \(f4(ev.accuracy)), top-\(ev.topK) accuracy \(f4(ev.topKAccuracy))</p>\n"
        let maxCount = max(1, ev.confusion.flatMap { $0 }.max() ?? 1)
        s += "<h3>Confusion matrix</h3><table class=\"confusion\"><tr><th class=\"corner\">true \\ predicted</th>"
        for c in ev.classes { s += "<th class=\"col\" title=\"\(e(c))\">\(e(HTMLText.truncate(c, 18)))</th>" }
        s += "</tr>"
        for (i, row) in ev.confusion.enumerated() {
            s += "<tr><th class=\"row\" title=\"\(e(ev.classes[i]))\">\(e(HTMLText.truncate(ev.classes[i], 24)))</th>"
            for (j, v) in row.enumerated() {
                let a = Double(v) / Double(maxCount)
                let colour = i == j ? "rgba(38, 120, 70, \(String(format: "%.3f", 0.08 + 0.8 * a)))" : "rgba(200, 60, 50, \(String(format: "%.3f", v == 0 ? 0 : 0.08 + 0.8 * a)))"
                s += "<td class=\"cell\(i == j ? " diagonal" : "")\" data-true=\"\(i)\" data-predicted=\"\(j)\" style=\"background: \(colour)\(a > 0.55 ? "; color: #fff" : "")\">\(v)</td>"
            }
            s += "</tr>"
        }
        s += "</table>\n<h3>Per class</h3><table class=\"per-class\"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
        let metrics = Evaluation(classes: ev.classes, probabilities: [], labels: [], topK: 1)
        var withConfusion = metrics
        withConfusion.confusion = ev.confusion
        for (c, m) in zip(ev.classes, withConfusion.perClass) {
            s += "<tr class=\"class-row\"><td>\(e(c))</td><td>\(f4(m.precision))</td><td>\(f4(m.recall))</td><td>\(f4(m.f1))</td><td>\(m.support)</td></tr>"
        }
        s += "</table>\n<h3>Most confidently wrong</h3>"
        if ev.mistakes.isEmpty { s += "<p>No image was classified wrongly.</p>" }
        s += "<div class=\"mistakes\">"
        for (k, m) in ev.mistakes.enumerated() {
            let name = URL(fileURLWithPath: m.path).lastPathComponent
            s += "<figure class=\"mistake\">"
            if k < ev.thumbnails.count, let uri = ev.thumbnails[k], uri.hasPrefix("data:image/png;base64,") {
                s += "<img src=\"\(e(uri))\" alt=\"\(e(name))\">"
            } else {
                s += "<div class=\"no-thumbnail\">no thumbnail</div>"
            }
            let t = m.trueClass < ev.classes.count ? ev.classes[m.trueClass] : "?", p = m.predicted < ev.classes.count ? ev.classes[m.predicted] : "?"
            s += "<figcaption><span class=\"file\" title=\"\(e(m.path))\">\(e(HTMLText.truncate(name, 28)))</span><br>true: \(e(t))<br>predicted: \(e(p)) (\(String(format: "%.3f", m.confidence)))</figcaption></figure>"
        }
        return s + "</div></section>\n"
    }

    static let css = """
        body { margin: 0 auto; max-width: 1100px; padding: 12px 24px 40px; font: 14px system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; }
        h1 { font-size: 22px; margin: 8px 0 2px; } h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 28px; }
        h3 { font-size: 15px; } header p { color: #555; margin: 0; }
        table { border-collapse: collapse; } th, td { padding: 3px 8px; text-align: left; }
        table.facts th { color: #555; font-weight: 500; } table.history td, table.per-class td { text-align: right; font-variant-numeric: tabular-nums; }
        table.history tr.best { background: #fff5d6; font-weight: 600; } table.history, table.per-class { margin-top: 8px; }
        table.history th, table.per-class th { border-bottom: 1px solid #ccc; }
        .plots { display: flex; flex-wrap: wrap; gap: 16px; } figure.plot { margin: 8px 0; border: 1px solid #e4e4e4; border-radius: 6px; }
        .plot-title { font-weight: 600; font-size: 13px; } .tick { font-size: 11px; fill: #555; } .grid { stroke: #eee; }
        .line { fill: none; stroke-width: 2; } .line.train, .point.train, .swatch.train { stroke: #2f6fbf; fill: #2f6fbf; }
        .line.train { fill: none; } .line.val { fill: none; stroke: #e07b24; } .point.val, .swatch.val { fill: #e07b24; }
        .best { stroke: #8a8a8a; stroke-dasharray: 4 3; } .best-label { font-size: 11px; fill: #555; } .legend text { font-size: 11px; }
        table.confusion td.cell { width: 56px; height: 36px; text-align: center; border: 1px solid #fff; font-variant-numeric: tabular-nums; }
        table.confusion th.col { max-width: 80px; overflow: hidden; font-size: 12px; } .corner { font-size: 11px; color: #777; }
        .mistakes { display: flex; flex-wrap: wrap; gap: 12px; } figure.mistake { margin: 0; width: 120px; font-size: 12px; }
        figure.mistake img { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated; border: 1px solid #ccc; display: block; background: #f4f4f4; }
        .no-thumbnail { width: 96px; height: 96px; background: #eee; color: #888; display: flex; align-items: center; justify-content: center; font-size: 11px; }
        table.per-class td:first-child { text-align: left; }
        .file { color: #555; word-break: break-all; }
        pre.summary { font-size: 12px; background: #f7f7f7; padding: 10px; overflow-x: auto; }
        code { word-break: break-all; }

        """
}
