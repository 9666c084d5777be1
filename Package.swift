// swift-tools-version:6.0
import PackageDescription

// Targets and what each depends on (docs/architecture.md; data flows one way, no target reaches upward):
//   ModelGraph                                   layer types, graph, shape inference, summaries (no dependency)
//   HDF5         <- CHDF5, CVGGSupport            the libhdf5 wrapper
//   KerasImport  <- HDF5, ModelGraph, CZlib       Keras files in every layout and dialect; the Keras HDF5 writer
//   ModelFile    <- ModelGraph, CVGGSupport, CCrypto                 the .vggm format
//   Runtime      <- ModelGraph, ModelFile, CKernels (<- CBLAS), CBLAS  the CPU engine
//   ImageData    <- ModelFile, CImage (<- CTurboJPEG, CPNG, CGIF), CZlib   images and datasets
//   Cluster      <- CMPI                          MPI jobs: launch detection, Open MPI (dlopen'ed) collectives
//   Training     <- ModelGraph, ModelFile, Runtime, ImageData, Cluster, CKernels, CBLAS   fine-tuning
//   ONNXExport   <- ModelGraph, ModelFile                           ONNX export (each layer type's ONNXLayer form)
//   VGGTool      <- all of the above, swift-subprocess (+ swift-system)  the commands' work and the `Model` front door
//   vggtool      <- VGGTool, swift-argument-parser                   the thin executable
let package = Package(
    name: "vggtool",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vggtool", targets: ["vggtool"]),
        .library(name: "VGGTool", targets: ["VGGTool"]),
        .library(name: "ModelFile", targets: ["ModelFile"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .library(name: "ImageData", targets: ["ImageData"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "ONNXExport", targets: ["ONNXExport"]),
        .library(name: "KerasImport", targets: ["KerasImport"]),
        .library(name: "ModelGraph", targets: ["ModelGraph"]),
        .library(name: "HDF5", targets: ["HDF5"]),
        .library(name: "Cluster", targets: ["Cluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Child processes (the isolated HDF5 probe; the tests' runs of the built binary). See docs/architecture.md.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        // `swift package generate-documentation --target VGGTool` (DocC; see README.md's Layout).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System library: libhdf5 (serial) through pkg-config, with a shim for its macros and globals.
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Small C helpers: CRC-32C (hardware accelerated when the CPU has SSE4.2), half conversions.
        .target(name: "CVGGSupport", cSettings: [.unsafeFlags(["-O3"])]),
        // OpenBLAS's CBLAS (pthread build; the runtime sets it to one thread and splits work itself).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // The runtime's CPU kernels (im2col + GEMM, Winograd F(2x2/4x4/6x6,3x3), pooling, activations), optimized
        // even in debug builds so tests run at useful speed.
        .target(name: "CKernels", dependencies: ["CBLAS"], cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CGIF", pkgConfig: "libgif", providers: [.apt(["libgif-dev"])]),
        // JPEG/PNG/GIF decoding (libpng reports errors by longjmp, so this is C) and Keras-exact resizing.
        .target(name: "CImage", dependencies: ["CTurboJPEG", "CPNG", "CGIF"], cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        // Open MPI, loaded with dlopen only when launched by mpirun/srun (docs/distributed.md): mpi.h at build
        // time for the types (libopenmpi-dev; without it every call reports that), no libmpi at link time.
        .target(name: "CMPI", cSettings: [.unsafeFlags(["-I/usr/lib/x86_64-linux-gnu/openmpi/include", "-I/usr/lib/openmpi/include"])]),
        .target(name: "Cluster", dependencies: ["CMPI"]),
        .target(name: "HDF5", dependencies: ["CHDF5", "CVGGSupport"]),
        .target(name: "ModelGraph"),
        .target(name: "KerasImport", dependencies: ["HDF5", "ModelGraph", "CZlib"]),
        .target(name: "ModelFile", dependencies: ["ModelGraph", "CVGGSupport", "CCrypto"]),
        .target(name: "Runtime", dependencies: ["ModelGraph", "ModelFile", "CKernels", "CBLAS"]),
        .target(name: "ImageData", dependencies: ["ModelFile", "CImage", "CZlib"]),
        .target(name: "ONNXExport", dependencies: ["ModelGraph", "ModelFile"]),
        .target(name: "Training", dependencies: ["ModelGraph", "ModelFile", "Runtime", "ImageData", "Cluster", "CKernels", "CBLAS"]),
        .target(name: "VGGTool", dependencies: ["HDF5", "ModelGraph", "KerasImport", "ModelFile", "Runtime", "ImageData", "Training", "ONNXExport", "Cluster", "CVGGSupport", "CCrypto", "CZlib",
                                                .product(name: "Subprocess", package: "swift-subprocess"),
                                                .product(name: "SystemPackage", package: "swift-system")]),
        .executableTarget(
            name: "vggtool",
            dependencies: [
                "VGGTool",
                "CVGGSupport",
                "Cluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "VGGToolTests",
            dependencies: ["HDF5", "ModelGraph", "KerasImport", "ModelFile", "Runtime", "ImageData", "Training", "ONNXExport", "Cluster", "VGGTool"],
            resources: []
        ),
    ]
)

// libFuzzer harnesses, only when building for fuzzing (scripts/fuzz.sh sets VGGTOOL_FUZZ=1 and builds with
// -sanitize=fuzzer,address): each executable's main (named by SwiftPM) runs libFuzzer's driver.
if Context.environment["VGGTOOL_FUZZ"] != nil {
    package.targets.append(.target(name: "CFuzzDriver"))
    for (name, deps) in [("FuzzVGGM", ["ModelFile"]), ("FuzzKerasConfig", ["KerasImport", "ModelGraph"]), ("FuzzKerasFile", ["KerasImport"]),
                         ("FuzzNumPy", ["Runtime"]), ("FuzzImage", ["ImageData"])] {
        package.targets.append(.executableTarget(
            name: name, dependencies: (deps + ["CFuzzDriver"]).map { .target(name: $0) },
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
