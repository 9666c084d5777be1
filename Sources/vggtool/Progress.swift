import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The progress display of a long phase (the frozen pass, an epoch, evaluate, convert): on a terminal, one
/// line redrawn in place, `label [=====.....] done/total  rate  ETA`; off a terminal (a pipe, a file, CI)
/// nothing, so the commands' plain lines stay as they are; nothing either with `--quiet`.
final class ProgressBar {
    let label: String
    let unit: Unit
    let enabled: Bool
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false

    /// How counts are shown: items (`images`) or bytes (shown in MB).
    enum Unit {
        case items(String)
        case bytes
    }

    /// Whether progress is drawn: stdout is a terminal and the command is not quiet.
    static func shouldDraw(quiet: Bool) -> Bool { !quiet && isatty(STDOUT_FILENO) == 1 }

    init(_ label: String, unit: Unit, enabled: Bool) {
        self.label = label
        self.unit = unit
        self.enabled = enabled
    }

    /// Redraws the line (at most 10 times a second, and always at the end).
    func update(_ done: Int, of total: Int) {
        guard enabled else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        drawn = true
        FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + Self.line(label, done: done, total: total, seconds: now.timeIntervalSince(start), unit: unit)).utf8))
    }

    /// Clears the line, so what is printed next starts at the left.
    func finish() {
        guard enabled, drawn else { return }
        FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
        drawn = false
    }

    /// `label [=====.....] done/total  rate  ETA`.
    static func line(_ label: String, done: Int, total: Int, seconds: Double, unit: Unit, width: Int = 24) -> String {
        let filled = total > 0 ? min(width, width * done / total) : width
        let bar = String(repeating: "=", count: filled) + String(repeating: ".", count: width - filled)
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let eta = rate > 0 ? Double(max(0, total - done)) / rate : 0
        let count: String, speed: String
        switch unit {
        case .items(let name):
            count = "\(done)/\(total) \(name)"
            speed = String(format: "%.1f %@/s", rate, name)
        case .bytes:
            count = String(format: "%.0f/%.0f MB", Double(done) / 1e6, Double(total) / 1e6)
            speed = String(format: "%.0f MB/s", rate / 1e6)
        }
        return "\(label) [\(bar)] \(count)  \(speed)  ETA \(String(format: "%.0f", eta))s"
    }
}
