import Foundation
import Testing

/// Memory does not grow with the number of images: each command's (finetune, also with a bf16 frozen pass;
/// evaluate; predict; quantize's calibration) peak resident memory (the binary's VmHWM,
/// written at exit to `VGGTOOL_PEAK_RSS_FILE`) on 384 images is within 24 MB of its peak on 48. A leak of any
/// per-image buffer would show: one decoded 320x240 image is 0.23 MB as bytes and 0.9 MB as floats, so leaking
/// it for each of the 336 extra images adds 77 MB or more. What legitimately grows (the tiny model's features
/// and resized images, the names) is a few MB.
@Suite struct MemoryFlatnessTests {
    /// A 24-bit BMP of `width` x `height` with a pattern that depends on `seed`.
    static func bmp(width: Int, height: Int, seed: Int) -> [UInt8] {
        let rowBytes = (width * 3 + 3) / 4 * 4
        var d: [UInt8] = []
        func u16(_ v: Int) { d += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16) }
        d += [0x42, 0x4D]; u32(54 + rowBytes * height); u32(0); u32(54)
        u32(40); u32(width); u32(height); u16(1); u16(24); u32(0); u32(rowBytes * height); u32(2835); u32(2835); u32(0); u32(0)
        for y in 0..<height {
            for x in 0..<width { d += [UInt8((x * 3 + seed * 40) & 0xFF), UInt8((y * 5 + seed * 17) & 0xFF), UInt8((x ^ y ^ seed) & 0xFF)] }
            d += [UInt8](repeating: 0, count: rowBytes - width * 3)
        }
        return d
    }

    /// Class folders `a` and `b` of `perClass` images each under `dir`, hard links to 8 distinct 320x240 BMPs.
    static func folder(_ dir: String, perClass: Int, sources: [String]) throws {
        for c in ["a", "b"] {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(c)", withIntermediateDirectories: true)
            for i in 0..<perClass { try FileManager.default.linkItem(atPath: sources[i % sources.count], toPath: "\(dir)/\(c)/\(i).bmp") }
        }
    }

    /// The command's peak resident memory in kB.
    static func peakKB(_ args: [String], scratch: String) async throws -> Int {
        let file = scratch + "/peak-\(UUID().uuidString)"
        let r = try await CLI.run(args, env: ["VGGTOOL_PEAK_RSS_FILE": file])
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return Int(try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    @Test func peakMemoryIsFlatInTheNumberOfImages() async throws {
        let (dir, base) = try await FinetuneCLITests.base()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sources = try (0..<8).map { i -> String in
            let path = "\(dir)/src\(i).bmp"
            try Data(Self.bmp(width: 320, height: 240, seed: i)).write(to: URL(fileURLWithPath: path))
            return path
        }
        try Self.folder(dir + "/small", perClass: 24, sources: sources)
        try Self.folder(dir + "/large", perClass: 192, sources: sources)
        let tune = ["--input-size", "32", "--head", "8", "--epochs", "1", "--batch-size", "8", "--seed", "1"]
        let tuned = dir + "/tuned.vggm"
        _ = try await Self.peakKB(["finetune", base, "--data", dir + "/small", "-o", tuned] + tune, scratch: dir)
        let commands: [(String, (String) -> [String])] = [
            ("finetune", { ["finetune", base, "--data", dir + "/\($0)", "-o", dir + "/\($0).vggm"] + tune }),
            ("finetune --augment", { ["finetune", base, "--data", dir + "/\($0)", "-o", dir + "/\($0)-aug.vggm", "--augment", "flip,zoom"] + tune }),
            ("finetune --precision bf16", { ["finetune", base, "--data", dir + "/\($0)", "-o", dir + "/\($0)-bf16.vggm", "--precision", "bf16"] + tune }),
            ("evaluate", { ["evaluate", tuned, "--data", dir + "/\($0)"] }),
            // Calibration keeps per-layer histograms only (issue 18), whatever the number of images.
            ("quantize", { ["quantize", tuned, "--calibration", dir + "/\($0)", "-o", dir + "/\($0).int8.vggm", "-q"] }),
            ("predict -o .npz", { size in
                ["predict", tuned, "-o", dir + "/\(size).npz", "--batch-size", "8"]
                    + ["a", "b"].flatMap { c in TestSupport.files(in: "\(dir)/\(size)/\(c)").map { "\(dir)/\(size)/\(c)/\($0)" } }
            }),
        ]
        for (name, args) in commands {
            let small = try await Self.peakKB(args("small"), scratch: dir)
            let large = try await Self.peakKB(args("large"), scratch: dir)
            #expect(small > 0 && large - small < 24 << 10, "\(name): peak \(small / 1024) MB on 48 images, \(large / 1024) MB on 384")
        }
    }
}
