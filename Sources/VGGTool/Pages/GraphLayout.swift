import Foundation
import ModelGraph

/// A layered (Sugiyama-style) drawing of an analysed model graph, the geometry of `vggtool graph`.
///
/// Nested models are opened: their layers become nodes inside a group (at any depth), connected to what
/// feeds the nested model and to what it feeds. Ranks are the longest path from the inputs; an edge that
/// spans several ranks runs straight down beside the boxes of each rank in between (a dummy per rank), so it never crosses a box; the order
/// within a rank follows the barycentre of the neighbours (sweeps down and up); x coordinates pull each
/// node under its predecessors while keeping the order and the spacing. Units are SVG user units (pixels at
/// zoom 1); y grows downwards; (x, y) of a node is its box's centre.
package struct GraphLayout: Sendable {
    /// One drawn layer.
    package struct Node: Sendable {
        /// The layer's path: its name, prefixed by the nested models it sits in (`vgg16/block1_conv1`).
        package var path: String
        /// The layer's facts.
        package var info: LayerInfo
        /// Indices into `groups` of the nested models containing it, outermost first.
        package var groups: [Int]
        /// Rank (0 = top).
        package var rank = 0
        /// Centre of the box.
        package var x = 0.0, y = 0.0
    }

    /// One nested model, drawn as a box around its layers.
    package struct Group: Sendable {
        /// The nested model's path (`vgg16`, `outer/inner`).
        package var path: String
        /// The nested model as a layer of the graph that holds it.
        package var info: LayerInfo
        /// Indices of the groups containing it, outermost first.
        package var parents: [Int]
        /// Its box: left, top, width, height.
        package var rect = (x: 0.0, y: 0.0, width: 0.0, height: 0.0)
    }

    /// A connection between two nodes.
    package struct Edge: Sendable {
        /// Indices into `nodes`.
        package var from: Int, to: Int
        /// Keras 3's mask connection (drawn dashed), not an input of the computation.
        package var isMask: Bool
        /// Points from the source's bottom to the target's top, through the top and bottom of each rank in between.
        package var points: [(x: Double, y: Double)]
    }

    /// Layers, in Keras's order (a nested model's layers where the nested model is).
    package var nodes: [Node] = []
    /// Nested models, outer ones before the ones they hold.
    package var groups: [Group] = []
    /// Connections.
    package var edges: [Edge] = []
    /// Box size of every node.
    package let nodeWidth = 200.0, nodeHeight: Double
    /// The drawing's bounds: left, top, width, height.
    package var bounds = (x: 0.0, y: 0.0, width: 0.0, height: 0.0)

    /// Lays out `analysis`; `lines` is how many lines of text each box holds (its height follows).
    package init(_ analysis: GraphAnalysis, lines: Int) {
        nodeHeight = Double(lines) * 14 + 12
        var preds: [[(Int, Bool)]] = []
        flatten(analysis, prefix: "", parents: [], inbound: [], preds: &preds)
        let depth = groups.map(\.parents.count).max().map { $0 + 1 } ?? 0
        let rankGap = 44.0 + 30.0 * Double(depth)

        // Ranks: longest path from the sources (nodes come in topological order).
        for i in nodes.indices { nodes[i].rank = preds[i].map { nodes[$0.0].rank + 1 }.max() ?? 0 }
        let rankCount = (nodes.map(\.rank).max() ?? -1) + 1

        // Items per rank: nodes, and one dummy per rank an edge passes through.
        struct Item { var node: Int?; var width: Double; var up: [Int] = []; var down: [Int] = []; var x = 0.0 }
        var items: [Item] = nodes.indices.map { Item(node: $0, width: nodeWidth) }
        var rankOf = nodes.map(\.rank)
        var chains: [(from: Int, to: Int, mask: Bool, via: [Int])] = []
        for (to, ps) in preds.enumerated() {
            for (from, mask) in ps {
                var via: [Int] = []
                var last = from
                for r in (nodes[from].rank + 1)..<nodes[to].rank {
                    items.append(Item(node: nil, width: 14))
                    rankOf.append(r)
                    let d = items.count - 1
                    items[last].down.append(d); items[d].up.append(last)
                    via.append(d)
                    last = d
                }
                items[last].down.append(to); items[to].up.append(last)
                chains.append((from, to, mask, via))
            }
        }
        var ranks = [[Int]](repeating: [], count: rankCount)
        for i in items.indices { ranks[rankOf[i]].append(i) }
        var position = [Int](repeating: 0, count: items.count)
        func renumber(_ r: Int) { for (k, i) in ranks[r].enumerated() { position[i] = k } }
        for r in ranks.indices { renumber(r) }
        // Barycentre sweeps.
        for _ in 0..<4 {
            for (range, neighbours) in [(Array(ranks.indices.dropFirst()), \Item.up), (Array(ranks.indices.reversed().dropFirst()), \Item.down)] {
                for r in range {
                    let keyed = ranks[r].map { i -> (Int, Double) in
                        let ns = items[i][keyPath: neighbours]
                        return (i, ns.isEmpty ? Double(position[i]) : Double(ns.map { position[$0] }.reduce(0, +)) / Double(ns.count))
                    }
                    ranks[r] = keyed.enumerated().sorted { ($0.element.1, $0.offset) < ($1.element.1, $1.offset) }.map(\.element.0)
                    renumber(r)
                }
            }
        }
        // x: centred ranks first, then each rank pulled under its predecessors (then above its successors),
        // keeping order and spacing.
        let gap = 28.0
        func place(_ r: Int, desired: [Double]) {
            let row = ranks[r]
            guard !row.isEmpty else { return }
            var xs = desired
            for k in 1..<max(1, row.count) {
                let sep = (items[row[k - 1]].width + items[row[k]].width) / 2 + gap
                xs[k] = max(xs[k], xs[k - 1] + sep)
            }
            // The shift that keeps real boxes where they want to be on average (dummies follow).
            let real = row.indices.filter { items[row[$0]].node != nil }
            let counted = real.isEmpty ? Array(row.indices) : real
            let shift = counted.map { desired[$0] - xs[$0] }.reduce(0, +) / Double(counted.count)
            for k in row.indices { items[row[k]].x = xs[k] + shift }
        }
        for r in ranks.indices {
            let total = ranks[r].map { items[$0].width }.reduce(0, +) + gap * Double(max(0, ranks[r].count - 1))
            var x = -total / 2
            for i in ranks[r] { items[i].x = x + items[i].width / 2; x += items[i].width + gap }
        }
        // The mean x of an item's neighbours, real boxes only when it has any (a long edge does not pull).
        func pull(_ i: Int, _ neighbours: KeyPath<Item, [Int]>) -> Double {
            let all = items[i][keyPath: neighbours]
            let real = all.filter { items[$0].node != nil }
            let ns = real.isEmpty ? all : real
            return ns.isEmpty ? items[i].x : ns.map { items[$0].x }.reduce(0, +) / Double(ns.count)
        }
        for _ in 0..<3 {
            for r in ranks.indices.dropFirst() { place(r, desired: ranks[r].map { pull($0, \.up) }) }
            for r in ranks.indices.reversed().dropFirst() { place(r, desired: ranks[r].map { pull($0, \.down) }) }
        }
        for r in ranks.indices.dropFirst() { place(r, desired: ranks[r].map { pull($0, \.up) }) }
        func y(_ rank: Int) -> Double { Double(rank) * (nodeHeight + rankGap) + nodeHeight / 2 }
        for i in nodes.indices { nodes[i].x = items[i].x; nodes[i].y = y(nodes[i].rank) }
        edges = chains.map { c in
            var pts = [(x: nodes[c.from].x, y: nodes[c.from].y + nodeHeight / 2)]
            pts += c.via.flatMap { [(x: items[$0].x, y: y(rankOf[$0]) - nodeHeight / 2), (x: items[$0].x, y: y(rankOf[$0]) + nodeHeight / 2)] }
            pts.append((x: nodes[c.to].x, y: nodes[c.to].y - nodeHeight / 2))
            return Edge(from: c.from, to: c.to, isMask: c.mask, points: pts)
        }
        // Group boxes, innermost first: the members' boxes with padding and a title bar.
        for g in groups.indices.reversed() {
            var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
            for n in nodes where n.groups.last == g {
                minX = min(minX, n.x - nodeWidth / 2); maxX = max(maxX, n.x + nodeWidth / 2)
                minY = min(minY, n.y - nodeHeight / 2); maxY = max(maxY, n.y + nodeHeight / 2)
            }
            for h in groups.indices where groups[h].parents.last == g {
                let r = groups[h].rect
                minX = min(minX, r.x); maxX = max(maxX, r.x + r.width); minY = min(minY, r.y); maxY = max(maxY, r.y + r.height)
            }
            if !minX.isFinite { minX = 0; maxX = nodeWidth; minY = 0; maxY = nodeHeight }
            groups[g].rect = (x: minX - 12, y: minY - 30, width: maxX - minX + 24, height: maxY - minY + 42)
        }
        var minX = 0.0, minY = 0.0, maxX = nodeWidth, maxY = nodeHeight
        if !nodes.isEmpty {
            minX = nodes.map { $0.x - nodeWidth / 2 }.min()!; maxX = nodes.map { $0.x + nodeWidth / 2 }.max()!
            minY = nodes.map { $0.y - nodeHeight / 2 }.min()!; maxY = nodes.map { $0.y + nodeHeight / 2 }.max()!
        }
        for g in groups {
            minX = min(minX, g.rect.x); maxX = max(maxX, g.rect.x + g.rect.width)
            minY = min(minY, g.rect.y); maxY = max(maxY, g.rect.y + g.rect.height)
        }
        for e in edges { for p in e.points { minX = min(minX, p.x); maxX = max(maxX, p.x) } }
        bounds = (x: minX - 20, y: minY - 20, width: maxX - minX + 40, height: maxY - minY + 40)
    }

    /// Adds `analysis`'s layers as nodes (nested models as groups); `inbound[k]` are the nodes feeding the
    /// analysis's k-th input. Returns the node of the analysis's first output.
    @discardableResult
    private mutating func flatten(_ analysis: GraphAnalysis, prefix: String, parents: [Int], inbound: [Int], preds: inout [[(Int, Bool)]]) -> Int? {
        var exit: [String: Int] = [:]
        for info in analysis.layers {
            let layer = info.layer
            let path = prefix + layer.name
            var feeds = layer.inbound.compactMap { exit[$0] }
            let masks = layer.maskInbound.compactMap { exit[$0] }
            if let k = analysis.graph.inputs.firstIndex(of: layer.name), k < inbound.count { feeds = [inbound[k]] }
            if let nested = info.nested {
                groups.append(Group(path: path, info: info, parents: parents))
                exit[layer.name] = flatten(nested, prefix: path + "/", parents: parents + [groups.count - 1], inbound: feeds, preds: &preds)
                continue
            }
            nodes.append(Node(path: path, info: info, groups: parents))
            preds.append(feeds.map { ($0, false) } + masks.map { ($0, true) })
            exit[layer.name] = nodes.count - 1
        }
        return analysis.graph.outputs.first.flatMap { exit[$0] }
    }

    /// The SVG path of an edge: a smooth curve through its points.
    package static func pathData(_ pts: [(x: Double, y: Double)]) -> String {
        guard let first = pts.first else { return "" }
        var d = "M\(HTMLText.num(first.x)),\(HTMLText.num(first.y))"
        for (a, b) in zip(pts, pts.dropFirst()) {
            let my = (a.y + b.y) / 2
            d += " C\(HTMLText.num(a.x)),\(HTMLText.num(my)) \(HTMLText.num(b.x)),\(HTMLText.num(my)) \(HTMLText.num(b.x)),\(HTMLText.num(b.y))"
        }
        return d
    }
}
