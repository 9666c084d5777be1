import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import KerasImport
import ModelGraph
import Testing
import VGGTool

/// `vggtool graph`: the layout (no overlaps, ranks follow the edges), escaping, the SVG's well-formedness, and the
/// pages in headless Chromium (every layer box and edge in the DOM after the script ran, the side panel, no
/// console message).
@Suite struct GraphPageTests {
    /// A branching model of 106 layers: a stem, then 26 blocks of two convolutions side by side, their sum, and a
    /// residual sum with the block's input (an edge over two ranks).
    static func branchingModel(blocks: Int = 26) -> ModelGraph {
        var layers = [Layer(name: "image", InputLayer(shape: [32, 32, 3]), inbound: []),
                      Layer(name: "stem", Conv2D(filters: 8, kernel: 3, padding: .same), inbound: ["image"])]
        var x = "stem"
        for b in 0..<blocks {
            layers += [Layer(name: "b\(b)_1x1", Conv2D(filters: 8, kernel: 1), inbound: [x]),
                       Layer(name: "b\(b)_3x3", Conv2D(filters: 8, kernel: 3, padding: .same), inbound: [x]),
                       Layer(name: "b\(b)_sum", Add(), inbound: ["b\(b)_1x1", "b\(b)_3x3"]),
                       Layer(name: "b\(b)_out", Add(), inbound: ["b\(b)_sum", x])]
            x = "b\(b)_out"
        }
        return ModelGraph(name: "branching_106", layers: layers, inputs: ["image"], outputs: [x], isSequential: false)
    }

    /// Layers drawn (nested models opened) and connections, counted from the analysis.
    static func expected(_ a: GraphAnalysis, fed: Bool = false) -> (layers: Int, edges: Int) {
        var layers = 0, edges = 0
        for info in a.layers {
            if let nested = info.nested {
                let inner = expected(nested, fed: true)
                layers += inner.layers; edges += inner.edges
            } else {
                layers += 1
                edges += info.layer.connections.count + (fed && a.graph.inputs.contains(info.layer.name) ? 1 : 0)
            }
        }
        return (layers, edges)
    }

    @Test func layoutKeepsBoxesApartAndEdgesDownwards() throws {
        let a = try Self.branchingModel().analyze()
        #expect(a.layers.count == 106)
        let layout = GraphLayout(a, lines: 4)
        #expect(layout.nodes.count == 106 && layout.edges.count == Self.expected(a).edges)
        for (i, p) in layout.nodes.enumerated() {
            for q in layout.nodes[(i + 1)...] where p.rank == q.rank {
                #expect(abs(p.x - q.x) >= layout.nodeWidth, "\(p.path) and \(q.path) overlap")
            }
        }
        for e in layout.edges {
            #expect(layout.nodes[e.from].rank < layout.nodes[e.to].rank)
            #expect(e.points.count == 2 * (layout.nodes[e.to].rank - layout.nodes[e.from].rank))
        }
        // Branches side by side: the two convolutions of a block share a rank.
        let r = Dictionary(uniqueKeysWithValues: layout.nodes.map { ($0.path, $0.rank) })
        #expect(r["b3_1x1"] == r["b3_3x3"])
    }

    @Test func svgIsWellFormedAndEscapesNames() throws {
        var g = Self.branchingModel(blocks: 2)
        let hostile = "<script>alert(1)</script>&\"'"
        g.layers[2].name = hostile
        for i in g.layers.indices { g.layers[i].inbound = g.layers[i].inbound.map { $0 == "b0_1x1" ? hostile : $0 } }
        let a = try g.analyze()
        let svg = GraphPage.render(a, title: "<b>title</b>", format: .svg)
        #expect(!svg.contains("<script") && !svg.contains("<b>"))
        #expect(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"))
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(String(describing: parser.parserError))")
        let html = GraphPage.render(a, title: "<b>title</b>", format: .html)
        #expect(Browser.count("<script", in: html) == 2, "only the page's own two script blocks")
        #expect(!html.contains("</script>alert") && !html.contains("<b>title"))
    }

    /// The command: SVG by the file name, a file vggtool cannot convert still drawn (weights' shapes only, no
    /// statistics), one-line errors.
    @Test func graphCommand() async throws {
        let dir = try TestSupport.tempDir()
        let svg = try await CLI.run(["graph", TestSupport.fixture("nested_branch.tfkeras.full.h5"), "-o", dir + "/g.svg", "--flops"])
        #expect(svg.status == 0 && svg.stdout == "wrote \(dir)/g.svg\n", "\(svg.stderr)")
        let text = try String(contentsOfFile: dir + "/g.svg", encoding: .utf8)
        #expect(text.hasPrefix("<svg") && !text.contains("<script") && text.contains("MACs"))
        #expect(XMLParser(data: Data(text.utf8)).parse())
        let custom = try await CLI.run(["graph", TestSupport.fixture("custom_layers.keras3.keras"), "-o", dir + "/c.html"])
        #expect(custom.status == 0, "\(custom.stderr)")
        let html = try String(contentsOfFile: dir + "/c.html", encoding: .utf8)
        #expect(html.contains("\"stats\":false"), "not convertible: no statistics")
        let missing = try await CLI.run(["graph", dir + "/none.h5", "-o", dir + "/x.html"])
        #expect(missing.status == 1 && missing.stderr == "vggtool: error: \(dir)/none.h5: no such file\n", "\(missing.stderr)")
        let noFolder = try await CLI.run(["graph", TestSupport.fixture("tiny_vgg16.vggm"), "-o", dir + "/no/x.html"])
        #expect(noFolder.status == 1 && noFolder.stderr.contains("output folder"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.html"))
    }

    @Test(.enabled(if: Browser.enabled)) func graphPagesInBrowser() async throws {
        let dir = try TestSupport.tempDir()
        let cases: [(file: String, select: String, flops: Bool)] = [
            ("tiny_vgg16.tfkeras.full.h5", "block1_conv1", true), ("nested_deep.vggm", "base/block/inner_conv", false),
            ("branching.tfkeras.full.h5", "concat", false), ("masked.keras3.keras", "", false),
        ]
        for c in cases {
            let out = dir + "/\(c.file).html"
            let r = try await CLI.run(["graph", TestSupport.fixture(c.file), "-o", out] + (c.flops ? ["--flops"] : []))
            #expect(r.status == 0, "\(r.stderr)")
            let a = try loadAnalysis(path: TestSupport.fixture(c.file), options: .init())
            let shot = Browser.screenshotDir.map { "\($0)/graph-\(c.file).png" }
            let page = try await Browser.open(out, fragment: c.select.isEmpty ? "" : "#layer=\(c.select)", screenshot: shot)
            try check(page, expected: Self.expected(a), name: c.file)
            if !c.select.isEmpty {
                #expect(page.dom.contains("<h2>\(c.select)</h2>"), "\(c.file): the side panel shows \(c.select)")
                #expect(page.dom.contains("<h3>Config</h3>"))
            }
            if c.select.contains("conv") { #expect(page.dom.contains("<th>mean</th>"), "\(c.file): weight statistics") }
        }
    }

    func check(_ page: Browser.Page, expected: (layers: Int, edges: Int), name: String) throws {
        #expect(page.console.isEmpty, "\(name): console: \(page.console)")
        #expect(page.dom.contains("data-ready=\"graph\""), "\(name): the page's script did not finish")
        #expect(Browser.count("<g class=\"layer ", in: page.dom) == expected.layers, "\(name): layer boxes")
        for i in 0..<expected.layers { #expect(page.dom.contains("id=\"layer-\(i)\""), "\(name): layer \(i)") }
        #expect(Browser.count("<path class=\"edge", in: page.dom) == expected.edges, "\(name): edges")
    }

    @Test(.enabled(if: Browser.enabled)) func bigBranchingAndHostilePagesInBrowser() async throws {
        let dir = try TestSupport.tempDir()
        let big = try Self.branchingModel().analyze()
        try GraphPage.render(big, title: "branching_106", flops: true, format: .html).write(toFile: dir + "/big.html", atomically: false, encoding: .utf8)
        let shot = Browser.screenshotDir.map { "\($0)/graph-branching_106.png" }
        let page = try await Browser.open(dir + "/big.html", fragment: "#layer=b7_sum", screenshot: shot)
        try check(page, expected: Self.expected(big), name: "branching_106")
        #expect(page.dom.contains("<h2>b7_sum</h2>"))

        var g = Self.branchingModel(blocks: 1)
        let hostile = "<script>alert(1)</script><!--"
        g.layers[2].name = hostile
        for i in g.layers.indices { g.layers[i].inbound = g.layers[i].inbound.map { $0 == "b0_1x1" ? hostile : $0 } }
        try GraphPage.render(try g.analyze(), title: "</title><script>alert(2)</script>", format: .html)
            .write(toFile: dir + "/hostile.html", atomically: false, encoding: .utf8)
        let h = try await Browser.open(dir + "/hostile.html", fragment: "#layer=" + hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        try check(h, expected: Self.expected(try g.analyze()), name: "hostile")
        #expect(Browser.count("<script", in: h.dom) == 2, "no script element from a name")
        #expect(h.dom.contains("<h2>&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--</h2>"), "the name shown as text in the panel")
    }

    /// Full-size VGG16 (the architecture, without weights: the panel shows the weights' shapes): 23 boxes in
    /// one column, readable at the page's first zoom (the README's picture comes from this test with
    /// VGGTOOL_SCREENSHOTS set).
    @Test(.enabled(if: Browser.enabled)) func vgg16GraphInBrowser() async throws {
        let dir = try TestSupport.tempDir()
        let a = try Architecture.vgg16.graph().analyze()
        let layout = GraphLayout(a, lines: 5)
        #expect(Set(layout.nodes.map(\.x)).count == 1, "a chain is drawn straight")
        try GraphPage.render(a, title: "VGG16", flops: true, format: .html).write(toFile: dir + "/vgg16.html", atomically: false, encoding: .utf8)
        let shot = Browser.screenshotDir.map { "\($0)/graph-vgg16.png" }
        let page = try await Browser.open(dir + "/vgg16.html", fragment: "#layer=block1_conv2", screenshot: shot)
        try check(page, expected: Self.expected(a), name: "vgg16")
        #expect(page.dom.contains("<h2>block1_conv2</h2>") && page.dom.contains("no statistics (weights not read)"))
    }

    /// Folding a nested model (`#fold=base`): its layers and inner groups hidden, the edges into and out of it
    /// re-drawn to its box, and the edges inside hidden.
    @Test(.enabled(if: Browser.enabled)) func foldedNestedModelInBrowser() async throws {
        let dir = try TestSupport.tempDir()
        let a = try loadAnalysis(path: TestSupport.fixture("nested_deep.vggm"), options: .init())
        try GraphPage.render(a, title: "nested", format: .html).write(toFile: dir + "/n.html", atomically: false, encoding: .utf8)
        let page = try await Browser.open(dir + "/n.html", fragment: "#fold=base")
        let layout = GraphLayout(a, lines: 4)
        #expect(page.console.isEmpty, "\(page.console)")
        let base = try #require(layout.groups.firstIndex { $0.path == "base" })
        #expect(page.dom.contains("class=\"group collapsed\" id=\"group-\(base)\""), "the group is folded")
        let inside = layout.nodes.indices.filter { layout.nodes[$0].groups.contains(base) }
        #expect(!inside.isEmpty)
        for i in layout.nodes.indices {
            let hidden = page.dom.contains("hidden\" id=\"layer-\(i)\"")
            #expect(hidden == inside.contains(i), "layer \(layout.nodes[i].path)")
        }
        for (k, e) in layout.edges.enumerated() {
            let within = inside.contains(e.from) && inside.contains(e.to)
            #expect(page.dom.contains("class=\"edge hidden\" id=\"edge-\(k)\"") == within, "edge \(k)")
        }
        // An edge into the folded model now ends at the top of its box.
        let r = layout.groups[base].rect
        #expect(page.dom.contains(",\(HTMLText.num(r.y))\" marker-end") || page.dom.contains(",\(Int(r.y))\" marker-end"), "an edge ends at the folded box")
    }

    /// The check itself: a page that logs or throws is caught.
    @Test(.enabled(if: Browser.enabled)) func browserCheckSeesConsoleErrors() async throws {
        let dir = try TestSupport.tempDir()
        try "<!DOCTYPE html><p>x</p><script>console.error('bad'); null.f();</script>".write(toFile: dir + "/bad.html", atomically: false, encoding: .utf8)
        let page = try await Browser.open(dir + "/bad.html")
        #expect(page.console.count == 2, "\(page.console)")
    }
}
