// swift-tools-version:6.0
// An example of using vggtool as a library: classify an image with a Keras model, in about ten lines.
//
//     swift run --package-path Examples/ClassifyImage classify-image MODEL IMAGE
import PackageDescription

let package = Package(
    name: "ClassifyImage",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "vggtool", path: "../..")],
    targets: [
        .executableTarget(name: "classify-image", dependencies: [.product(name: "VGGTool", package: "vggtool")], path: "Sources/ClassifyImage"),
    ]
)
