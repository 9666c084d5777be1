import Foundation
import ModelFile
import Testing
import VGGTool

/// The training and evaluation report (`finetune --report`, `evaluate --report`, `vggtool report`): the data
/// beside the checkpoint, escaping of class folder names, self-containment, and the page in headless Chromium
/// (every epoch's points, every confusion cell, no console message).
@Suite(.serialized) struct ReportPageTests {
    /// Names a class folder can have (no `/`) that would run script if they reached HTML unescaped.
    static let hostile = ["<script>alert(1)<!--", "<img src=x onerror=alert(2)>"]

    /// A copy of the evaluation images whose first two class folders have hostile names.
    static func hostileData(in dir: String) throws -> String {
        let data = dir + "/data"
        try FileManager.default.copyItem(atPath: TestSupport.fixture("images/eval"), toPath: data)
        let classes = try FileManager.default.contentsOfDirectory(atPath: data).sorted()
        for (name, new) in zip(classes, hostile) { try FileManager.default.moveItem(atPath: data + "/" + name, toPath: data + "/" + new) }
        return data
    }

    static func checkEscaped(_ html: String) {
        #expect(!html.contains("<script") && !html.contains("<img src=x"), "a name reached the page as markup")
        #expect(html.contains("&lt;script&gt;alert(1)&lt;!--") && html.contains("&lt;img src=x onerror=alert(2)&gt;"))
        // Self-contained: nothing to fetch (the only URL is the SVG namespace).
        #expect(!html.contains("src=\"http") && !html.contains("href=") && !html.contains("url(http"))
    }

    @Test func finetuneReportEvaluateReportAndRebuild() async throws {
        let dir = try TestSupport.tempDir()
        let data = try Self.hostileData(in: dir)
        let base = dir + "/base.vggm"
        #expect(try await CLI.run(["convert", TestSupport.fixture("tiny_vgg16.tfkeras.full.h5"), "-o", base]).status == 0)
        let epochs = 4
        let r = try await CLI.run(["finetune", base, "--data", data, "--val", data, "-o", dir + "/t.vggm", "--input-size", "32", "--head", "8,8",
                                   "--epochs", "\(epochs)", "--batch-size", "4", "--seed", "3", "--report", dir + "/report.html"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        Self.checkEscaped(html)
        let saved = try ReportData.load(beside: dir + "/t.vggm")
        #expect(saved.training?.history.count == epochs && saved.evaluation?.classes.count == 5)
        #expect(saved.commandLine.contains("--report") && saved.version == vggtoolVersion)
        #expect(saved.evaluation?.thumbnails.allSatisfy { $0?.hasPrefix("data:image/png;base64,") == true } == true)
        // Rebuilt later from the files beside the checkpoint: the same page.
        let rb = try await CLI.run(["report", dir + "/t.vggm", "-o", dir + "/rebuilt.html"])
        #expect(rb.status == 0, "\(rb.stderr)")
        #expect(try String(contentsOfFile: dir + "/rebuilt.html", encoding: .utf8) == html)
        // Without the JSON (an older run): the epochs from the history CSV.
        try FileManager.default.removeItem(atPath: ReportData.path(beside: dir + "/t.vggm"))
        let old = try ReportData.load(beside: dir + "/t.vggm")
        #expect(old.training?.history.map(\.epoch) == Array(1...epochs) && old.training?.bestEpoch == saved.training?.bestEpoch)
        let ev = try await CLI.run(["evaluate", dir + "/t.vggm", "--data", data, "--report", dir + "/eval.html"])
        #expect(ev.status == 0, "\(ev.stderr)")
        let evalHTML = try String(contentsOfFile: dir + "/eval.html", encoding: .utf8)
        Self.checkEscaped(evalHTML)
        #expect(!evalHTML.contains("id=\"training\""))
        let none = try await CLI.run(["report", base, "-o", dir + "/none.html"])
        #expect(none.status == 1 && none.stderr.contains("has no report data beside it"), "\(none.stderr)")

        // With a validation split, the report evaluates the split's images.
        let split = try await CLI.run(["finetune", base, "--data", data, "-o", dir + "/s.vggm", "--input-size", "32", "--head", "8",
                                       "--epochs", "2", "--batch-size", "4", "--validation-split", "0.4", "--report", dir + "/split.html"])
        #expect(split.status == 0, "\(split.stderr)")
        let splitData = try ReportData.load(beside: dir + "/s.vggm")
        #expect(splitData.evaluation?.images == splitData.training?.validationImages && splitData.evaluation?.folder.hasPrefix("the validation split") == true)
        Self.checkEscaped(try String(contentsOfFile: dir + "/split.html", encoding: .utf8))

        guard Browser.enabled else { return }
        let shot = Browser.screenshotDir.map { "\($0)/report.png" }
        let page = try await Browser.open(dir + "/report.html", screenshot: shot, size: "1200,2400")
        #expect(page.console.isEmpty, "\(page.console)")
        #expect(Browser.count("<script", in: page.dom) == 0 && !page.dom.contains("<img src=\"x\""))
        for plot in ["loss", "accuracy"] {
            #expect(page.dom.contains("id=\"plot-\(plot)\""))
        }
        for series in ["train", "val"] {
            #expect(Browser.count("class=\"point \(series)\"", in: page.dom) == 2 * epochs, "\(series) points")
            for e in 1...epochs { #expect(Browser.count("class=\"point \(series)\" data-epoch=\"\(e)\"", in: page.dom) == 2) }
        }
        #expect(Browser.count("<line class=\"best\"", in: page.dom) == 2, "the best epoch marked on both plots")
        #expect(Browser.count("<tr class=\"epoch", in: page.dom) == epochs)
        for i in 0..<5 { for j in 0..<5 { #expect(page.dom.contains("data-true=\"\(i)\" data-predicted=\"\(j)\""), "cell \(i),\(j)") } }
        #expect(Browser.count("class=\"cell", in: page.dom) == 25)
        #expect(Browser.count("<tr class=\"class-row\"", in: page.dom) == 5)
        #expect(Browser.count("<figure class=\"mistake\"", in: page.dom) == (saved.evaluation?.mistakes.count ?? -1))
        #expect(page.dom.contains("&lt;script&gt;alert(1)&lt;!--"))
        let e = try await Browser.open(dir + "/eval.html")
        #expect(e.console.isEmpty && Browser.count("class=\"cell", in: e.dom) == 25)
    }
}
