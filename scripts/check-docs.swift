// Fails when a public declaration of vggtool's libraries has no documentation comment.
//
//     swift package dump-symbol-graph --minimum-access-level public
//     swift scripts/check-docs.swift .build/x86_64-unknown-linux-gnu/symbolgraph
//
// Reads the symbol graphs of the library modules (the C modules, tests and extension graphs of other
// modules are skipped) and lists every public or open symbol that is declared in the source (synthesized
// members such as `hashValue` have no location) and has no doc comment of its own or inherited from the
// protocol requirement it implements. Exit status 1 when there are any.
import Foundation

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : ".build/x86_64-unknown-linux-gnu/symbolgraph"
let libraries = ["HDF5", "ModelGraph", "KerasImport", "ModelFile", "Runtime", "ImageData", "Training", "ONNXExport", "Cluster", "VGGTool"]
var missing: [String] = []
var checked = 0
for module in libraries {
    let url = URL(fileURLWithPath: directory).appendingPathComponent("\(module).symbols.json")
    guard let data = try? Data(contentsOf: url),
          let graph = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let symbols = graph["symbols"] as? [[String: Any]] else {
        FileHandle.standardError.write(Data("check-docs: cannot read \(url.path)\n".utf8))
        exit(2)
    }
    for symbol in symbols {
        guard let access = symbol["accessLevel"] as? String, access == "public" || access == "open",
              let location = symbol["location"] as? [String: Any], let uri = location["uri"] as? String else { continue }
        checked += 1
        if symbol["docComment"] != nil { continue }
        let path = (symbol["pathComponents"] as? [String] ?? []).joined(separator: ".")
        let line = ((location["position"] as? [String: Any])?["line"] as? Int).map { $0 + 1 } ?? 0
        let file = uri.replacingOccurrences(of: "file://", with: "")
        let relative = file.range(of: "/Sources/").map { "Sources/" + file[$0.upperBound...] } ?? file
        missing.append("\(relative):\(line): \(module).\(path) is public and undocumented")
    }
}
for m in missing.sorted() { print(m) }
print("check-docs: \(checked) public declarations, \(missing.count) undocumented")
exit(missing.isEmpty ? 0 : 1)
