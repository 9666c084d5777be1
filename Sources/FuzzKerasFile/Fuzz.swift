// libFuzzer harness: the whole Keras import (HDF5 .h5 files and .keras archives: sniffing, the zip reader,
// libhdf5's parsing through vggtool's HDF5 layer, layout detection, config parsing, weight matching, then
// reading every tensor; and the inspector's graph-only reading). Only vggtool's own code is instrumented; a crash inside libhdf5 is still reported
// (as a SEGV/abort), which is what vggtool's isolated probe exists for. See scripts/fuzz.sh.
import CFuzzDriver
import Foundation
import KerasImport

let path = NSTemporaryDirectory() + "/vggtool-fuzz-\(getpid()).model"

@_cdecl("FuzzKerasFile_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { vgg_fuzz_main(argc, argv) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size))
    // The inspector's reading: layers it cannot interpret become opaque, their weights listed from the file.
    if let inspected = try? KerasFile.graphOnly(path: path) { _ = try? inspected.graph.analyze(storedWeights: inspected.storedWeights) }
    guard let file = try? KerasFile(path: path) else { return 0 }
    for t in file.tensors where t.elementCount <= 1 << 24 {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: t.elementCount)
        defer { buffer.deallocate() }
        try? t.read(buffer)
    }
    return 0
}
