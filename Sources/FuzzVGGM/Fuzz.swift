// libFuzzer harness: the .vggm reader (open with full validation, then verify every tensor). See scripts/fuzz.sh.
import CFuzzDriver
import Foundation
import ModelFile

let path = NSTemporaryDirectory() + "/vggtool-fuzz-\(getpid()).vggm"

@_cdecl("FuzzVGGM_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { vgg_fuzz_main(argc, argv) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    if let f = try? VGGMFile(path: path) {
        _ = f.verifyTensors()
        _ = f.analysis.totalParams
    }
    return 0
}
