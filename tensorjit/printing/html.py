"""A self-contained HTML page of a graph: inline SVG laid out here, details on hover/click.

No Graphviz and no network are needed to write or open it: nodes are placed in layers
(topological generations) and ordered within a layer by the barycenter heuristic.
"""

from __future__ import annotations

import html
import json
from typing import Any

import networkx as nx

from .dot import STYLES, to_networkx

CHAR_W, LINE_H, PAD, GAP_X, GAP_Y = 7.2, 15, 10, 28, 62


def _layer_of(g: nx.MultiDiGraph) -> dict[str, int]:
    """Longest-path layers; a leaf sits just above its first consumer, not at the top."""
    layer: dict[str, int] = {}
    for n in nx.topological_sort(g):
        preds = list(g.predecessors(n))
        layer[n] = max((layer[p] + 1 for p in preds), default=0)
    for n in g:
        if g.in_degree(n) == 0 and g.out_degree(n):
            layer[n] = min(layer[s] for s in g.successors(n)) - 1
    return layer


def _with_dummies(g: nx.MultiDiGraph, layer: dict[str, int]):
    """Split edges spanning several layers with dummy points so they route around nodes."""
    chains: list[tuple[list[str], str]] = []
    order: dict[int, list[str]] = {}
    for n in g:
        order.setdefault(layer[n], []).append(n)
    for k, (a, b, data) in enumerate(g.edges(data=True)):
        chain = [a]
        for ly in range(layer[a] + 1, layer[b]):
            d = f"_d{k}_{ly}"
            layer[d] = ly
            order.setdefault(ly, []).append(d)
            chain.append(d)
        chain.append(b)
        chains.append((chain, data["label"]))
    return [order[ly] for ly in sorted(order)], chains


def _sort_layers(layers: list[list[str]], chains) -> None:
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for chain, _ in chains:
        for a, b in zip(chain, chain[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    pos = {n: i for layer in layers for i, n in enumerate(layer)}
    for _ in range(6):  # barycenter sweeps reduce edge crossings
        for seq, nbrs in ((layers[1:], up), (list(reversed(layers[:-1])), down)):
            for layer in seq:
                layer.sort(key=lambda n: _mean([pos[p] for p in nbrs.get(n, [])], pos[n]))
                pos.update({n: i for i, n in enumerate(layer)})


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _box(label: str) -> tuple[float, float]:
    lines = label.split("\n")
    return max(len(s) for s in lines) * CHAR_W + 2 * PAD, len(lines) * LINE_H + 2 * PAD - 4


def layout(g: nx.MultiDiGraph):
    """Boxes (center x, center y, width, height) of nodes and dummies, edge chains, size."""
    layers, chains = _with_dummies(g, _layer_of(g))
    _sort_layers(layers, chains)
    sizes = {n: (_box(g.nodes[n]["label"]) if n in g else (12.0, 0.0))
             for layer in layers for n in layer}
    widths = [sum(sizes[n][0] for n in layer) + GAP_X * (len(layer) - 1) for layer in layers]
    canvas_w = max(widths, default=0) + 2 * GAP_X
    boxes: dict[str, tuple[float, float, float, float]] = {}
    y = GAP_Y / 2
    for layer, width in zip(layers, widths):
        h = max(sizes[n][1] for n in layer)
        x = (canvas_w - width) / 2
        for n in layer:
            w, hn = sizes[n]
            boxes[n] = (x + w / 2, y + h / 2, w, hn)
            x += w + GAP_X
        y += h + GAP_Y
    return boxes, chains, canvas_w, y


def _svg_node(n: str, data: dict, box: tuple[float, float, float, float]) -> str:
    cx, cy, w, h = box
    style = STYLES[data["kind"]]
    fill = style.get("fillcolor", "#fff")
    dash = ' stroke-dasharray="5,3"' if "dashed" in style.get("style", "") else ""
    if style["shape"] in ("ellipse", "doubleoctagon"):
        shape = (f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" '
                 f'fill="{fill}" stroke="#333"{dash}/>')
    else:
        shape = (f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" '
                 f'height="{h:.1f}" rx="4" fill="{fill}" stroke="#333"{dash}/>')
    lines = data["label"].split("\n")
    top = cy - (len(lines) - 1) * LINE_H / 2 + 4
    texts = "".join(f'<text x="{cx:.1f}" y="{top + i * LINE_H:.1f}">{html.escape(s)}</text>'
                    for i, s in enumerate(lines))
    return (f'<g class="node {data["kind"]}" data-id="{n}"><title>'
            f'{html.escape(data["details"])}</title>{shape}{texts}</g>')


def _svg_edge(points: list[tuple[float, float, float, float]], label: str) -> str:
    """A smooth path from the bottom of the first box through dummies to the last's top."""
    first, last = points[0], points[-1]
    xy = [(first[0], first[1] + first[3] / 2)] + [(p[0], p[1]) for p in points[1:-1]] + [
        (last[0], last[1] - last[3] / 2 - 6)]
    d = f"M{xy[0][0]:.1f},{xy[0][1]:.1f}"
    for (x1, y1), (x2, y2) in zip(xy, xy[1:]):
        mid = (y1 + y2) / 2
        d += f" C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"
    lx, ly = xy[-2] if len(xy) > 2 else ((xy[0][0] + xy[1][0]) / 2, (xy[0][1] + xy[1][1]) / 2)
    return (f'<g class="edge"><path d="{d}" marker-end="url(#arrow)"/>'
            f'<text class="elabel" x="{lx + 4:.1f}" y="{ly:.1f}">{html.escape(label)}</text>'
            f'</g>')


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 0; display: flex; }}
#canvas {{ flex: 1; overflow: auto; height: 100vh; }}
#panel {{ width: 340px; border-left: 1px solid #ccc; padding: 12px; height: 100vh;
         box-sizing: border-box; overflow: auto; background: #fafafa; }}
#panel pre {{ white-space: pre-wrap; font-size: 12px; }}
svg text {{ font-size: 12px; text-anchor: middle; pointer-events: none; }}
svg .elabel {{ font-size: 9px; fill: #666; text-anchor: start; }}
svg .edge path {{ fill: none; stroke: #777; }}
svg .node {{ cursor: pointer; }}
svg .node:hover rect, svg .node:hover ellipse, svg .node.selected rect,
svg .node.selected ellipse {{ stroke: #d62728; stroke-width: 2.5; }}
.legend span {{ display: inline-block; padding: 1px 6px; margin: 2px; border: 1px solid #999;
               font-size: 11px; }}
</style></head><body>
<div id="canvas"><svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}">
<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="6" refY="4" orient="auto">
<path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>
{edges}
{nodes}
</svg></div>
<div id="panel"><h3>{title}</h3><div class="legend">{legend}</div>
<p id="hint">Hover or click a node for its details.</p><pre id="details"></pre></div>
<script>
const details = {details};
const out = document.getElementById("details");
for (const g of document.querySelectorAll("g.node")) {{
  g.addEventListener("mouseenter", () => {{ out.textContent = details[g.dataset.id]; }});
  g.addEventListener("click", () => {{
    document.querySelectorAll("g.node.selected").forEach(e => e.classList.remove("selected"));
    g.classList.add("selected");
    out.textContent = details[g.dataset.id];
  }});
}}
</script></body></html>
"""


def to_html(obj: Any, title: str = "tensorjit graph") -> str:
    """One self-contained HTML page showing the graph, with details on hover and click."""
    g = to_networkx(obj)
    boxes, chains, w, h = layout(g)
    edges = "\n".join(_svg_edge([boxes[n] for n in chain], label) for chain, label in chains)
    nodes = "\n".join(_svg_node(n, d, boxes[n]) for n, d in g.nodes(data=True))
    legend = "".join(f'<span style="background:{s.get("fillcolor", "#fff")}">{k}</span>'
                     for k, s in STYLES.items())
    details = json.dumps({n: d["details"] for n, d in g.nodes(data=True)})
    return PAGE.format(title=html.escape(title), w=w, h=h, edges=edges, nodes=nodes,
                       legend=legend, details=details.replace("</", "<\\/"))
