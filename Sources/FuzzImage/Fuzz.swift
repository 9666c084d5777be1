// libFuzzer harness: the image decoders (JPEG via TurboJPEG, CMYK and YCCK included; PNG via libpng; GIF via giflib;
// BMP), EXIF orientation and resizing. Seeds: every image in Fixtures/images. See scripts/fuzz.sh.
import CFuzzDriver
import Foundation
import ImageData

@_cdecl("FuzzImage_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { vgg_fuzz_main(argc, argv) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let img = try? ImageDecoder.decode(data: Data(bytes: data, count: size), path: "fuzz", exifOrientation: .apply) {
        _ = ImageDecoder.resize(img, height: 7, width: 5)
        _ = ImageDecoder.resize(img, height: 3, width: 9, .nearest)
    }
    return 0
}
