import ArgumentParser
import VGGTool

extension VGGToolCommand {
    /// The isolated child of `HDF5Isolation`: parses a Keras file's structure and exits (0 = parsed).
    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "_probe", abstract: "(internal) parse a Keras file's structure in isolation.",
                                                        shouldDisplay: false)
        @Argument var model: String
        @OptionGroup var modelOptions: ModelOptions

        func run() throws {
            do { try HDF5Isolation.runProbe(model, options: try modelOptions.options()) } catch { throw ExitCode(1) }
        }
    }
}
