import Foundation
import ImageData
import ModelFile
import Testing
import Training

/// Per-image data kept within a memory budget: beyond it, records spill to an unnamed scratch file and come
/// back bit for bit; a fine-tuning run with a tiny budget trains exactly as one with everything in memory.
@Suite(.serialized) struct MemoryBudgetTests {
    @Test func spillStoreReturnsEveryRecordBitForBit() throws {
        let dir = try TestSupport.tempDir()
        for budget in [0, 3 * 5 * 4, 1 << 20] {
            let store = SpillStore(recordFloats: 5, budgetBytes: budget, directory: dir)
            var rng = SplitMix64(seed: 9)
            let records = (0..<20).map { _ in (0..<5).map { _ in rng.nextFloat() * 2 - 1 } }
            for r in records { try store.append(r[...]) }
            #expect(store.count == 20)
            #expect(store.spilledRecords == (budget >= 100 * 4 ? 0 : 20 - budget / 20))
            let order = [7, 0, 19, 3, 3, 12]
            #expect(store.gather(order).map(\.bitPattern) == order.flatMap { records[$0] }.map(\.bitPattern))
        }
        // The scratch file has no name: nothing is left in its folder.
        #expect(TestSupport.files(in: dir).isEmpty, "\(TestSupport.files(in: dir))")
    }

    @Test func scratchFileWithoutTmpfileIsUnlinkedAtOnce() async throws {
        // The fallback (a filesystem without O_TMPFILE) names the file for an instant only; a run through the
        // binary with it forced leaves nothing in the cache folder but the feature entries.
        let (dir, model) = try await FinetuneCLITests.base()
        let cache = dir + "/cache"
        let r = try await CLI.run(["finetune", model, "--data", TestSupport.fixture("images/eval"), "-o", dir + "/f.vggm", "--seed", "1",
                                   "--memory-budget", "0", "--cache-dir", cache] + FinetuneCLITests.small,
                                  env: ["VGGTOOL_TEST_NO_TMPFILE": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("beyond it in a scratch file in \(cache)"), "\(r.stdout)")
        #expect(TestSupport.files(in: cache).allSatisfy { $0.hasSuffix(".f32") }, "\(TestSupport.files(in: cache))")
    }

    /// Features (without augmentation) and resized training images (with it) kept in a scratch file give the
    /// same weights, bit for bit, as all in memory.
    @Test(arguments: [[], ["--augment", "flip,zoom"]])
    func tinyBudgetTrainsAsInMemory(_ extra: [String]) async throws {
        let (dir, model) = try await FinetuneCLITests.base()
        let scratch = dir + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let args = ["finetune", model, "--data", TestSupport.fixture("images/eval"), "--seed", "4"] + FinetuneCLITests.small + extra
        let a = try await CLI.run(args + ["-o", dir + "/mem.vggm", "--memory-budget", "1G"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(!a.stdout.contains("scratch file"), "\(a.stdout)")
        let b = try await CLI.run(args + ["-o", dir + "/spill.vggm", "--memory-budget", "64"], env: ["TMPDIR": scratch])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.stdout.contains("memory budget 0 MB") && b.stdout.contains("beyond it in a scratch file in \(scratch)"), "\(b.stdout)")
        #expect(try TestSupport.tensorBits(dir + "/mem.vggm") == TestSupport.tensorBits(dir + "/spill.vggm"))
        let h1 = try String(contentsOfFile: dir + "/mem.vggm.history.csv", encoding: .utf8)
        let h2 = try String(contentsOfFile: dir + "/spill.vggm.history.csv", encoding: .utf8)
        #expect(h1 == h2)
        #expect(TestSupport.files(in: scratch).isEmpty)
    }

    /// Images are resized straight from the decoder's buffer (the full-resolution copy is never kept): the same
    /// values, bit for bit, as decoding and then resizing, for every format, EXIF orientation applied or not.
    @Test(arguments: ["rgb.jpg", "exif6.jpg", "cmyk.jpg", "rgb.png", "palette.png", "rgb.bmp", "anim.gif"])
    func decodeResizedIsDecodeThenResize(_ file: String) throws {
        let path = TestSupport.fixture("images/" + file)
        for exif in ExifOrientation.allCases {
            for method in Interpolation.allCases {
                let a = try ImageDecoder.decodeResized(path: path, height: 13, width: 17, method, exifOrientation: exif)
                let b = ImageDecoder.resize(try ImageDecoder.decode(path: path, exifOrientation: exif), height: 13, width: 17, method)
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(file) \(exif) \(method)")
            }
        }
    }

    @Test func badBudgetIsAUsageError() async throws {
        let r = try await CLI.run(["finetune", "x.vggm", "--data", "d", "-o", "o.vggm", "--memory-budget", "lots"])
        #expect(r.status == 64 && r.stderr.contains("--memory-budget"), "\(r.stderr)")
    }
}
