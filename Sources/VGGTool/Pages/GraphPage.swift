import Foundation
import KerasImport
import ModelFile
import ModelGraph

/// What `vggtool graph` writes.
public enum PageFormat: String, Sendable, CaseIterable {
    /// A self-contained HTML page: the SVG drawing, pan and zoom, nested models that fold, and a side panel
    /// with the selected layer's config and weight statistics.
    case html
    /// The drawing alone, as a standalone SVG file (everything unfolded, no script).
    case svg

    /// The format a file name asks for: `.svg` gives `.svg`, anything else HTML.
    public init(path: String) { self = path.lowercased().hasSuffix(".svg") ? .svg : .html }
}

/// `vggtool graph`: the model drawn as a layered graph, one box per layer (class, output shape, parameters
/// and, with `flops`, multiply-accumulates per image), an edge per connection, nested models as groups.
public enum GraphPage {
    /// The page for the model at `path` (anything `summary` reads). Weight statistics (as `inspect` computes
    /// them) come from the `.vggm`'s tensors; a Keras file is converted to a temporary `.vggm` for them, and
    /// when it cannot be converted (a layer vggtool cannot run) the panel shows the weights' shapes only.
    public static func render(modelPath path: String, options: KerasFile.Options = .init(), isolation: HDF5Isolation? = nil,
                              flops: Bool = false, format: PageFormat) throws -> String {
        let analysis = try loadAnalysis(path: path, options: options, isolation: isolation)
        var file: VGGMFile?
        if isVGGM(path) {
            file = try VGGMFile(path: path)
        } else {
            let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("vggtool-graph-\(getpid())-\(UUID().uuidString).vggm").path
            defer { unlink(temporary) }
            if (try? convert(input: path, output: temporary, options: options, hashSource: false, isolation: isolation)) != nil { file = try? VGGMFile(path: temporary) }
        }
        let title = URL(fileURLWithPath: path).lastPathComponent
        return render(analysis, title: title, weights: file, flops: flops, format: format)
    }

    /// The page for `analysis`; `weights`, when given, supplies each weight's statistics (tensors named
    /// `layer path/weight`); `title` heads the page (the file's name).
    public static func render(_ analysis: GraphAnalysis, title: String, weights: VGGMFile? = nil, flops: Bool = false, format: PageFormat) -> String {
        let layout = GraphLayout(analysis, lines: flops ? 5 : 4)
        let svg = drawing(layout, flops: flops, standalone: format == .svg, title: title)
        switch format {
        case .svg: return svg
        case .html: return html(layout, svg: svg, data: panelData(layout, weights: weights), title: title, analysis: analysis)
        }
    }

    /// The CSS class of a layer's box colour.
    static func family(_ className: String) -> String {
        switch className {
        case let c where c.contains("Conv"): return "conv"
        case let c where c.contains("Pool"): return "pool"
        case "Dense", "EinsumDense": return "dense"
        case "InputLayer": return "input"
        case let c where c.contains("Normalization"): return "norm"
        case "Add", "Concatenate", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot": return "merge"
        case "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout": return "dropout"
        case "LSTM", "GRU", "SimpleRNN", "Bidirectional", "MultiHeadAttention", "Attention", "Embedding": return "seq"
        default: return "other"
        }
    }

    static func count(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() { if i > 0 && (s.count - i) % 3 == 0 { out += "," }; out.append(ch) }
        return out
    }

    static func macsText(_ info: LayerInfo) -> String { macsText(info.macs, known: info.costsKnown) }

    static func macsText(_ macs: Int, known: Bool) -> String {
        guard known else { return "? MACs" }
        let units = ["", "K", "M", "G", "T"]
        var v = Double(macs), i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(macs) MACs" : String(format: "%.2f %@MACs", v, units[i])
    }

    /// The SVG: groups, edges, then boxes. Every text is escaped; each box is `<g class="layer">` with its
    /// index in `data-index`, each edge `<path class="edge">`.
    static func drawing(_ layout: GraphLayout, flops: Bool, standalone: Bool, title: String) -> String {
        let b = layout.bounds
        let e = HTMLText.escape, n = HTMLText.num
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"graph\" viewBox=\"\(n(b.x)) \(n(b.y)) \(n(b.width)) \(n(b.height))\""
        s += standalone ? " width=\"\(n(b.width))\" height=\"\(n(b.height))\">\n<title>\(e(title))</title>\n<style>\(svgCSS)</style>\n" : ">\n"
        s += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"arrowhead\"/></marker></defs>\n"
        s += "<rect class=\"background\" x=\"\(n(b.x))\" y=\"\(n(b.y))\" width=\"\(n(b.width))\" height=\"\(n(b.height))\"/>\n<g id=\"viewport\">\n<g class=\"groups\">\n"
        for (g, group) in layout.groups.enumerated() {
            let r = group.rect, info = group.info
            s += "<g class=\"group\" id=\"group-\(g)\" data-group=\"\(g)\" data-path=\"\(e(group.path))\">"
            s += "<title>\(e(group.path)) (\(e(info.layer.op.className)))</title>"
            s += "<rect class=\"group-box\" x=\"\(n(r.x))\" y=\"\(n(r.y))\" width=\"\(n(r.width))\" height=\"\(n(r.height))\" rx=\"8\"/>"
            s += "<text class=\"group-title\" x=\"\(n(r.x + 10))\" y=\"\(n(r.y + 19))\"><tspan class=\"toggle\">▾ </tspan>\(e(HTMLText.truncate(group.info.layer.name, 40))) (\(e(info.layer.op.className)))</text>"
            s += "<text class=\"group-summary\" x=\"\(n(r.x + 10))\" y=\"\(n(r.y + 38))\">\(e(ShapeFormat.tuple(info.outputShape))) · \(count(info.params)) params</text>"
            s += "</g>\n"
        }
        s += "</g>\n<g class=\"edges\">\n"
        for (i, edge) in layout.edges.enumerated() {
            s += "<path class=\"edge\(edge.isMask ? " mask" : "")\" id=\"edge-\(i)\" data-from=\"\(edge.from)\" data-to=\"\(edge.to)\" d=\"\(GraphLayout.pathData(edge.points))\" marker-end=\"url(#arrow)\"/>\n"
        }
        s += "</g>\n<g class=\"nodes\">\n"
        let w = layout.nodeWidth, h = layout.nodeHeight
        for (i, node) in layout.nodes.enumerated() {
            let info = node.info, cls = info.layer.op.className
            let frozen = info.params > 0 && info.trainableParams == 0 ? " frozen" : ""
            s += "<g class=\"layer \(family(cls))\(frozen)\" id=\"layer-\(i)\" data-index=\"\(i)\" data-path=\"\(e(node.path))\" transform=\"translate(\(n(node.x - w / 2)),\(n(node.y - h / 2)))\">"
            s += "<title>\(e(node.path))</title><rect width=\"\(n(w))\" height=\"\(n(h))\" rx=\"5\"/>"
            var lines = [("name", HTMLText.truncate(info.layer.name, 27)), ("class", cls), ("shape", ShapeFormat.tuple(info.outputShape)),
                         ("params", "\(count(info.params)) params")]
            if flops { lines.append(("macs", macsText(info))) }
            for (k, line) in lines.enumerated() {
                s += "<text class=\"\(line.0)\" x=\"10\" y=\"\(18 + 14 * k)\">\(e(line.1))</text>"
            }
            s += "</g>\n"
        }
        s += "</g>\n</g>\n</svg>\n"
        return s
    }

    /// Per node and per group: what the side panel shows (JSON values).
    static func panelData(_ layout: GraphLayout, weights: VGGMFile?) -> [String: Any] {
        func shape(_ s: Shape) -> Any { s.isKnownShape ? s.map { $0.map { $0 as Any } ?? NSNull() } : NSNull() }
        var tensors: [String: TensorEntry] = [:]
        if let weights { for t in weights.manifest.tensors { tensors[t.name] = t } }
        func weight(_ spec: WeightSpec, path: String) -> [String: Any] {
            var w: [String: Any] = ["name": spec.name, "shape": spec.shape, "trainable": spec.trainable]
            if let weights, let t = tensors["\(path)/\(spec.name)"], let values = weights.floats(t.name) {
                let stats = values.withUnsafeBufferPointer { TensorStats($0) }
                w["stats"] = stats.json
                w["dtype"] = t.dtype.rawValue
            }
            return w
        }
        func layer(_ info: LayerInfo, path: String) -> [String: Any] {
            var d: [String: Any] = ["path": path, "name": info.layer.name, "class": info.layer.op.className, "output_shape": shape(info.outputShape),
                                    "input_shapes": info.inputShapes.map(shape), "inbound": info.layer.inbound, "params": info.params,
                                    "trainable_params": info.trainableParams, "trainable": info.layer.trainable,
                                    "macs": info.costsKnown ? info.macs as Any : NSNull()]
            if !info.layer.maskInbound.isEmpty { d["mask_inbound"] = info.layer.maskInbound }
            if let nested = info.nested {
                d["layers"] = nested.layers.count
            } else {
                d["config"] = GraphCodec.config(info.layer.op)
                d["weights"] = info.weights.map { weight($0, path: path) }
            }
            return d
        }
        return ["nodes": layout.nodes.map { n -> [String: Any] in
                    var d = layer(n.info, path: n.path)
                    d["groups"] = n.groups
                    return d
                },
                "groups": layout.groups.map { g -> [String: Any] in
                    var d = layer(g.info, path: g.path)
                    d["parents"] = g.parents
                    d["rect"] = [g.rect.x, g.rect.y, g.rect.width, g.rect.height]
                    return d
                },
                "edges": layout.edges.map { [$0.from, $0.to] },
                "node_size": [layout.nodeWidth, layout.nodeHeight],
                "stats": weights != nil]
    }

    static func html(_ layout: GraphLayout, svg: String, data: [String: Any], title: String, analysis: GraphAnalysis) -> String {
        let e = HTMLText.escape
        let heading = "\(analysis.graph.name): \(count(analysis.totalParams)) parameters (\(count(analysis.trainableParams)) trainable), "
            + "\(layout.nodes.count) layers drawn, \(macsText(analysis.totalMACs, known: true)) per image"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title)) — vggtool graph</title>
            <style>\(pageCSS)\(svgCSS)</style>
            </head>
            <body>
            <header><h1>\(e(title))</h1><p id="heading">\(e(heading))</p>
            <nav><button type="button" id="fit">Fit</button><button type="button" id="zoom-in">+</button><button type="button" id="zoom-out">−</button>
            <span class="hint">drag to pan, wheel to zoom, click a layer for details, click a nested model's title to fold it</span></nav></header>
            <main>
            <div id="canvas">
            \(svg)</div>
            <aside id="panel"><p class="placeholder">Select a layer.</p></aside>
            </main>
            <script type="application/json" id="graph-data">\(HTMLText.scriptJSON(data))</script>
            <script>\(graphScript)</script>
            </body>
            </html>

            """
    }

    static let svgCSS = """
        #graph { font: 12px system-ui, -apple-system, "Segoe UI", sans-serif; }
        #graph .background { fill: #fbfbfd; }
        #graph .edge { fill: none; stroke: #7a8699; stroke-width: 1.4; }
        #graph .edge.mask { stroke-dasharray: 4 3; }
        #graph .arrowhead { fill: #7a8699; }
        #graph .layer rect { fill: #eef0f4; stroke: #5c6675; stroke-width: 1; }
        #graph .layer.conv rect { fill: #dbe8fb; } #graph .layer.pool rect { fill: #dcf2e1; }
        #graph .layer.dense rect { fill: #fde6cf; } #graph .layer.input rect { fill: #e6e6e6; }
        #graph .layer.norm rect { fill: #efe1f7; } #graph .layer.merge rect { fill: #fff4c2; }
        #graph .layer.seq rect { fill: #d6f1f1; } #graph .layer.dropout rect { fill: #f3f3f3; }
        #graph .layer.frozen rect { stroke-dasharray: 5 3; }
        #graph .layer.selected rect { stroke: #d0342c; stroke-width: 3; }
        #graph .layer text { fill: #333; } #graph .layer text.name { font-weight: 600; fill: #111; }
        #graph .layer text.class { fill: #375a9e; }
        #graph .group-box { fill: rgba(120, 140, 200, 0.06); stroke: #8c9bc4; stroke-width: 1.2; stroke-dasharray: 6 3; }
        #graph .group-title { font-weight: 600; fill: #3b4a78; }
        #graph .group-summary { display: none; fill: #3b4a78; }
        #graph .group.collapsed .group-box { fill: #e3e8f7; stroke-dasharray: none; }
        #graph .group.collapsed .group-summary { display: inline; }
        #graph .group.selected .group-box { stroke: #d0342c; stroke-width: 3; }
        #graph .hidden { display: none; }
        """

    static let pageCSS = """
        html, body { margin: 0; height: 100%; font: 14px system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; }
        body { display: flex; flex-direction: column; }
        header { padding: 8px 16px; border-bottom: 1px solid #ddd; background: #fff; }
        header h1 { font-size: 18px; margin: 0; } header p { margin: 2px 0 6px; color: #555; }
        nav button { margin-right: 4px; min-width: 32px; } .hint { color: #777; font-size: 12px; margin-left: 8px; }
        main { flex: 1; display: flex; min-height: 0; }
        #canvas { flex: 1; position: relative; overflow: hidden; cursor: grab; background: #fbfbfd; }
        #canvas svg { width: 100%; height: 100%; display: block; user-select: none; }
        #panel { width: 360px; overflow: auto; border-left: 1px solid #ddd; padding: 10px 14px; background: #fff; }
        #panel h2 { font-size: 16px; margin: 4px 0; word-break: break-all; } #panel h3 { font-size: 13px; margin: 12px 0 4px; }
        #panel table { border-collapse: collapse; font-size: 12px; width: 100%; }
        #panel td, #panel th { border-bottom: 1px solid #eee; padding: 2px 4px; text-align: left; vertical-align: top; }
        #panel pre { font-size: 11px; background: #f6f6f6; padding: 6px; white-space: pre-wrap; word-break: break-all; }
        .placeholder { color: #888; }

        """

    /// The page's script: pan and zoom on the SVG's viewBox, folding nested models (edges re-drawn to the
    /// folded box), and the side panel, built with DOM text nodes only (never innerHTML).
    static let graphScript = #"""
        "use strict";
        (function () {
          const data = JSON.parse(document.getElementById("graph-data").textContent);
          const svg = document.getElementById("graph");
          const canvas = document.getElementById("canvas");
          const panel = document.getElementById("panel");
          const full = svg.viewBox.baseVal;
          const home = { x: full.x, y: full.y, w: full.width, h: full.height };
          let view = { x: 0, y: 0, w: 1, h: 1 };
          function apply() { svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h); }
          function aspect() { const r = canvas.getBoundingClientRect(); return (r.height || 1) / (r.width || 1); }
          function fit() {
            const a = aspect();
            if (home.h / home.w > a) { view = { x: home.x - (home.h / a - home.w) / 2, y: home.y, w: home.h / a, h: home.h }; }
            else { view = { x: home.x, y: home.y - (home.w * a - home.h) / 2, w: home.w, h: home.w * a }; }
            apply();
          }
          function start() {
            // Readable at first: actual size (or what fits across), from the top.
            const r = canvas.getBoundingClientRect();
            const w = Math.max(home.w, r.width || home.w);
            view = { x: home.x + (home.w - w) / 2, y: home.y, w: w, h: w * aspect() };
            if (view.h >= home.h) { fit(); } else { apply(); }
          }
          function zoom(factor, cx, cy) {
            cx = cx === undefined ? view.x + view.w / 2 : cx; cy = cy === undefined ? view.y + view.h / 2 : cy;
            view = { x: cx - (cx - view.x) * factor, y: cy - (cy - view.y) * factor, w: view.w * factor, h: view.h * factor };
            apply();
          }
          function toUser(ev) {
            const r = svg.getBoundingClientRect();
            return { x: view.x + (ev.clientX - r.left) / r.width * view.w, y: view.y + (ev.clientY - r.top) / r.height * view.h };
          }
          canvas.addEventListener("wheel", function (ev) {
            ev.preventDefault();
            const p = toUser(ev);
            zoom(Math.exp(ev.deltaY * 0.0015), p.x, p.y);
          }, { passive: false });
          let drag = null;
          canvas.addEventListener("pointerdown", function (ev) { drag = { x: ev.clientX, y: ev.clientY, view: view, moved: false }; });
          window.addEventListener("pointermove", function (ev) {
            if (!drag) { return; }
            const r = svg.getBoundingClientRect();
            const dx = (ev.clientX - drag.x) / r.width * drag.view.w, dy = (ev.clientY - drag.y) / r.height * drag.view.h;
            if (Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3) { drag.moved = true; canvas.style.cursor = "grabbing"; }
            view = { x: drag.view.x - dx, y: drag.view.y - dy, w: drag.view.w, h: drag.view.h };
            apply();
          });
          window.addEventListener("pointerup", function () { setTimeout(function () { drag = null; }, 0); canvas.style.cursor = ""; });
          document.getElementById("fit").addEventListener("click", fit);
          document.getElementById("zoom-in").addEventListener("click", function () { zoom(1 / 1.25); });
          document.getElementById("zoom-out").addEventListener("click", function () { zoom(1.25); });

          function el(tag, text, cls) {
            const e = document.createElement(tag);
            if (text !== undefined && text !== null) { e.textContent = String(text); }
            if (cls) { e.className = cls; }
            return e;
          }
          function shape(s) { return s === null ? "?" : "(" + s.map(function (d) { return d === null ? "None" : d; }).join(", ") + (s.length === 1 ? ",)" : ")"); }
          function num(x) { return x === null || x === undefined ? "—" : (typeof x === "number" ? Number(x.toPrecision(4)).toString() : String(x)); }
          function row(t, k, v) { const tr = el("tr"); tr.appendChild(el("th", k)); tr.appendChild(el("td", v)); t.appendChild(tr); }
          function show(d) {
            panel.replaceChildren();
            panel.appendChild(el("h2", d.path));
            const t = el("table");
            row(t, "class", d["class"]);
            row(t, "output shape", shape(d.output_shape));
            row(t, "input shapes", d.input_shapes.map(shape).join(", ") || "—");
            row(t, "connected to", d.inbound.join(", ") || "—");
            if (d.mask_inbound) { row(t, "mask from", d.mask_inbound.join(", ")); }
            row(t, "parameters", d.params.toLocaleString("en-US") + " (" + d.trainable_params.toLocaleString("en-US") + " trainable)");
            row(t, "MACs per image", d.macs === null ? "?" : d.macs.toLocaleString("en-US"));
            if (d.layers !== undefined) { row(t, "layers", d.layers); }
            panel.appendChild(t);
            if (d.weights && d.weights.length) {
              // One column per weight, one row per statistic (as inspect computes them).
              panel.appendChild(el("h3", "Weights"));
              const w = el("table", null, "weights");
              const head = el("tr");
              head.appendChild(el("th", ""));
              d.weights.forEach(function (x) { head.appendChild(el("th", x.name + (x.trainable ? "" : " (not trained)"))); });
              w.appendChild(head);
              const rows = [["shape", function (x) { return "(" + x.shape.join(", ") + ")"; }]];
              if (d.weights.some(function (x) { return x.stats; })) {
                ["min", "max", "mean", "std", "zeros"].forEach(function (k) { rows.push([k, function (x) { return x.stats ? num(x.stats[k]) : "—"; }]); });
                rows.push(["NaN / Inf", function (x) { return x.stats ? x.stats.nan + " / " + x.stats.inf : "—"; }]);
              }
              rows.forEach(function (r) {
                const tr = el("tr");
                tr.appendChild(el("th", r[0]));
                d.weights.forEach(function (x) { tr.appendChild(el("td", r[1](x))); });
                w.appendChild(tr);
              });
              panel.appendChild(w);
              if (!d.weights.some(function (x) { return x.stats; })) { panel.appendChild(el("p", "no statistics (weights not read)", "placeholder")); }
            }
            if (d.config) {
              panel.appendChild(el("h3", "Config"));
              panel.appendChild(el("pre", JSON.stringify(d.config, null, 2)));
            }
          }
          let selected = null;
          function select(node) {
            if (selected) { selected.classList.remove("selected"); }
            selected = node; node.classList.add("selected");
          }
          svg.querySelectorAll("g.layer").forEach(function (g) {
            g.addEventListener("click", function () {
              if (drag && drag.moved) { return; }
              select(g); show(data.nodes[Number(g.dataset.index)]);
            });
          });

          // Folding: a folded group hides what it holds; edges go to and from its box.
          const collapsed = new Set();
          const groupEls = Array.from(svg.querySelectorAll("g.group"));
          const [nw, nh] = data.node_size;
          function visible(i) {
            const gs = data.nodes[i].groups;
            for (let k = 0; k < gs.length; k++) { if (collapsed.has(gs[k])) { return { group: gs[k] }; } }
            return { node: i };
          }
          function box(v) {
            if (v.group !== undefined) { const r = data.groups[v.group].rect; return { x: r[0] + r[2] / 2, top: r[1], bottom: r[1] + r[3] }; }
            const g = svg.getElementById("layer-" + v.node), m = g.transform.baseVal.consolidate().matrix;
            return { x: m.e + nw / 2, top: m.f, bottom: m.f + nh };
          }
          const original = new Map();
          function refold() {
            groupEls.forEach(function (g) {
              const i = Number(g.dataset.group);
              const hiddenBy = data.groups[i].parents.some(function (p) { return collapsed.has(p); });
              g.classList.toggle("hidden", hiddenBy);
              g.classList.toggle("collapsed", collapsed.has(i));
              g.querySelector(".toggle").textContent = collapsed.has(i) ? "▸ " : "▾ ";
            });
            svg.querySelectorAll("g.layer").forEach(function (g) {
              g.classList.toggle("hidden", visible(Number(g.dataset.index)).group !== undefined);
            });
            svg.querySelectorAll("path.edge").forEach(function (p) {
              if (!original.has(p)) { original.set(p, p.getAttribute("d")); }
              const a = visible(Number(p.dataset.from)), b = visible(Number(p.dataset.to));
              if (a.node !== undefined && b.node !== undefined) { p.setAttribute("d", original.get(p)); p.classList.remove("hidden"); return; }
              if (a.group !== undefined && a.group === b.group) { p.classList.add("hidden"); return; }
              const s = box(a), t = box(b), my = (s.bottom + t.top) / 2;
              p.setAttribute("d", "M" + s.x + "," + s.bottom + " C" + s.x + "," + my + " " + t.x + "," + my + " " + t.x + "," + t.top);
              p.classList.remove("hidden");
            });
          }
          groupEls.forEach(function (g) {
            const i = Number(g.dataset.group);
            g.querySelector(".group-title").addEventListener("click", function (ev) {
              ev.stopPropagation();
              if (drag && drag.moved) { return; }
              if (collapsed.has(i)) { collapsed.delete(i); } else { collapsed.add(i); }
              refold();
              select(g); show(data.groups[i]);
            });
            g.querySelector(".group-box").addEventListener("click", function () {
              if (drag && drag.moved) { return; }
              select(g); show(data.groups[i]);
            });
          });
          // #layer=PATH selects a layer on opening (links, screenshots); #fold=PATH folds a nested model.
          const fold = decodeURIComponent((location.hash.match(/^#fold=(.*)$/) || [])[1] || "");
          if (fold) {
            data.groups.forEach(function (g, i) { if (g.path === fold) { collapsed.add(i); } });
            refold();
          }
          const wanted = decodeURIComponent((location.hash.match(/^#layer=(.*)$/) || [])[1] || "");
          if (wanted) {
            data.nodes.forEach(function (d, i) { if (d.path === wanted) { select(svg.getElementById("layer-" + i)); show(d); } });
          }
          // A resize keeps the top left corner and the scale.
          window.addEventListener("resize", function () { view.h = view.w * aspect(); apply(); });
          start();
          if (selected && view.h < home.h) {
            // Bring the selected layer into view, a third of the way down.
            const m = selected.transform.baseVal.consolidate().matrix;
            view.y = Math.min(Math.max(home.y, m.f - view.h / 3), home.y + home.h - view.h);
            apply();
          }
          document.body.dataset.ready = "graph";
        })();
        """#
}
