import ArgumentParser
import Foundation
import VGGTool

extension VGGToolCommand {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the raw structure of an .h5, .keras or .vggm file, with per-tensor statistics.",
            discussion: "HDF5 soft and external links are listed, never followed.")

        @Argument(help: "The file.") var file: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            try VGGToolCommand.guarded {
                let (text, object) = try Inspector.inspect(path: file, isolation: VGGToolCommand.isolation)
                if json {
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print(text, terminator: "")
                }
            }
        }
    }
}
