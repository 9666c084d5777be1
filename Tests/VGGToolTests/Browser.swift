import Foundation
import Testing
import VGGTool

/// Debian's headless Chromium, to check vggtool's pages in a real browser: the DOM after the page's scripts
/// ran (`--dump-dom`), its console (`--enable-logging=stderr`: every console message and uncaught error is a
/// `CONSOLE` line; vggtool's pages log nothing, so any line fails a check) and screenshots.
///
/// `VGGTOOL_CHROMIUM` names the binary (default: /usr/bin/chromium). Without one the browser tests are
/// skipped, unless `VGGTOOL_BROWSER_CHECK=1` (scripts/test.sh sets it), where they fail.
enum Browser {
    static let path: String? = {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["VGGTOOL_CHROMIUM"], "/usr/bin/chromium"].compactMap { $0 }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Whether the browser tests run: a browser is there, or the check is required (then they fail without one).
    static let enabled = path != nil || required
    static let required = ProcessInfo.processInfo.environment["VGGTOOL_BROWSER_CHECK"] == "1"

    /// Where screenshots go when `VGGTOOL_SCREENSHOTS` names a folder (the docs/images pictures are taken so).
    static let screenshotDir: String? = {
        guard let dir = ProcessInfo.processInfo.environment["VGGTOOL_SCREENSHOTS"] else { return nil }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    struct Page {
        /// The serialized DOM after the scripts ran.
        var dom: String
        /// Console lines (messages and uncaught errors).
        var console: [String]
    }

    /// One browser at a time: each is a few processes and the machine has 2 cores.
    static let slot = CLI.Slots(1)

    /// Opens `file` (with `fragment`, e.g. `#layer=fc1`), returns its DOM and console; with `screenshot`, also
    /// writes a PNG of the page in a `size` window.
    static func open(_ file: String, fragment: String = "", screenshot: String? = nil, size: String = "1400,1000") async throws -> Page {
        let chromium = try #require(path, "no Chromium (apt-get install chromium, or set VGGTOOL_CHROMIUM)")
        let scratch = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let url = URL(fileURLWithPath: file).absoluteString + fragment
        let common = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                      "--user-data-dir=\(scratch)/profile", "--enable-logging=stderr", "--v=0", "--window-size=\(size)"]
        func run(_ extra: [String]) async throws -> (String, [String]) {
            let script = "exec \"$0\" \"$@\" >\"$OUT\" 2>\"$ERR\""
            var env = ProcessInfo.processInfo.environment
            env["OUT"] = scratch + "/out"; env["ERR"] = scratch + "/err"
            await slot.acquire()
            let status: ChildProcess.Status
            do { status = try await ChildProcess.run(["/bin/sh", "-c", script, chromium] + common + extra + [url], environment: env, timeout: 120) } catch {
                await slot.release()
                throw error
            }
            await slot.release()
            #expect(status.code == 0, "chromium exited with \(status)")
            let out = String(decoding: FileManager.default.contents(atPath: scratch + "/out") ?? Data(), as: UTF8.self)
            let err = String(decoding: FileManager.default.contents(atPath: scratch + "/err") ?? Data(), as: UTF8.self)
            return (out, err.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") })
        }
        let (dom, console) = try await run(["--dump-dom"])
        var all = console
        if let screenshot {
            let (_, more) = try await run(["--screenshot=\(screenshot)", "--hide-scrollbars"])
            all += more
        }
        return Page(dom: dom, console: all)
    }

    /// Occurrences of `needle` in `haystack`.
    static func count(_ needle: String, in haystack: String) -> Int { haystack.components(separatedBy: needle).count - 1 }
}
