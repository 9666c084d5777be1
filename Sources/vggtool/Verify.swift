import ArgumentParser
import Foundation
import ModelFile
import VGGTool

extension VGGToolCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a .vggm file completely: structure, graph, and every checksum.",
            discussion: "Exit status 0 when the file is intact, 1 otherwise.")

        @Argument(help: "The .vggm file.") var model: String

        func run() throws {
            try VGGToolCommand.guarded {
                let start = Date()
                let f = try VGGMFile(path: model)
                let bad = f.verifyTensors()
                guard bad.isEmpty else {
                    throw ToolError(model, .checksumMismatch(tensors: bad), "checksum mismatch in \(bad.count) tensor(s): \(bad.prefix(5).joined(separator: ", "))")
                }
                print("\(model): OK (\(f.manifest.tensors.count) tensors, \(f.analysis.totalParams) parameters, \(f.fileLength) bytes, checked in \(String(format: "%.2f", Date().timeIntervalSince(start))) s)")
            }
        }
    }
}
