// libFuzzer harness: the Keras model-config parser (Keras 1/2/3 dialects) and shape inference. See scripts/fuzz.sh.
import CFuzzDriver
import KerasImport
import ModelGraph

@_cdecl("FuzzKerasConfig_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { vgg_fuzz_main(argc, argv) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // As convert reads configs, and as the inspector does (unknown classes become opaque layers).
    for inspect in [false, true] {
        if let graph = try? KerasConfig.parse(json: text, file: "fuzz", inspect: inspect) {
            if let a = try? graph.analyze() { _ = a.summary(style: .keras2); _ = a.summary(style: .keras3) }
        }
    }
    return 0
}
