// libFuzzer harness: the .npy reader. See scripts/fuzz.sh.
import CFuzzDriver
import Foundation
import Runtime

@_cdecl("FuzzNumPy_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { vgg_fuzz_main(argc, argv) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let t = try? NumPy.parse(Data(bytes: data, count: size), path: "fuzz") {
        _ = NumPy.encode(t)
    }
    return 0
}
