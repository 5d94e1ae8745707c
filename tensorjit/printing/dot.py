"""Pictures of graphs: a networkx model of the graph, Graphviz DOT text, and render()."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING, Any, Sequence

from ..graph.basic import Apply, Constant, SharedVariable, Variable, toposort
from ..graph.fg import FunctionGraph
from .pprint import leaf_text

if TYPE_CHECKING:
    import networkx as nx

GRAD_TAG = "created_by"

STYLES: dict[str, dict[str, str]] = {
    "input": {"shape": "ellipse", "style": "filled", "fillcolor": "#c7e9c0"},
    "shared": {"shape": "ellipse", "style": "filled", "fillcolor": "#c6dbef",
               "peripheries": "2"},
    "constant": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eeeeee",
                 "fontsize": "10"},
    "op": {"shape": "box", "style": "filled", "fillcolor": "#ffffff"},
    "grad_op": {"shape": "box", "style": "filled,dashed", "fillcolor": "#fdd0a2"},
    "fused": {"shape": "box", "style": "filled,bold", "fillcolor": "#dadaeb"},
    "fused_grad": {"shape": "box", "style": "filled,bold,dashed", "fillcolor": "#dadaeb",
                   "color": "#e6550d"},
    "output": {"shape": "doubleoctagon", "style": "filled", "fillcolor": "#fee391"},
    "update": {"shape": "doubleoctagon", "style": "filled", "fillcolor": "#fcbba1"},
}


class GraphSource:
    """What a picture shows: outputs, their labels, and the update targets."""

    def __init__(self, obj: Any) -> None:
        self.inputs: list[Variable] = []
        self.labels: list[str] = []
        if isinstance(obj, Variable):
            self.outputs = [obj]
        elif isinstance(obj, FunctionGraph):
            self.outputs, self.inputs = list(obj.outputs), list(obj.inputs)
        elif hasattr(obj, "fgraph"):
            fg = obj.fgraph
            self.outputs, self.inputs = list(fg.outputs), list(fg.inputs)
            n = getattr(obj, "n_outputs", len(fg.outputs))
            updates = getattr(obj, "updates", [])
            self.labels = [f"out {k}" for k in range(n)] + [
                f"update {sv.name or 'shared'}" for sv, _ in updates]
        elif isinstance(obj, (list, tuple)) and all(isinstance(v, Variable) for v in obj):
            self.outputs = list(obj)
        else:
            raise TypeError(f"expected a Variable, a list of them, a FunctionGraph or a "
                            f"compiled function, got {type(obj).__name__}")
        if not self.labels:
            self.labels = [v.name or f"out {k}" for k, v in enumerate(self.outputs)]


def fused_expression(node: Apply) -> str | None:
    """The inner scalar expression of a fused kernel (Elemwise of a Composite), if any."""
    inner = getattr(node.op, "scalar_op", node.op)
    expr = getattr(inner, "expression", None)
    return expr() if callable(expr) else expr


def node_kind(node: Apply) -> str:
    grad = bool(node.tag.get(GRAD_TAG))
    if type(node.op).__name__.startswith("Fused") or fused_expression(node):
        return "fused_grad" if grad else "fused"
    return "grad_op" if grad else "op"


def leaf_kind(v: Variable) -> str:
    if isinstance(v, SharedVariable):
        return "shared"
    return "constant" if isinstance(v, Constant) else "input"


def op_label(node: Apply) -> str:
    expr = fused_expression(node)
    if expr:
        return f"fused {type(node.op).__name__}\n{expr}"
    return str(node.op)


def to_networkx(obj: Any) -> nx.MultiDiGraph:
    """The graph as a MultiDiGraph: nodes carry kind/label/details, edges dtype+shape."""
    src = GraphSource(obj)
    import networkx as nx  # here: a ~0.1 s import that only pictures need
    g = nx.MultiDiGraph()
    ids: dict[Any, str] = {}

    def nid(x: Any) -> str:
        if x not in ids:
            ids[x] = f"n{len(ids)}"
        return ids[x]

    def source_of(v: Variable) -> str:
        if v.owner is not None:
            return nid(v.owner)
        key = nid(v)
        if key not in g:
            g.add_node(key, kind=leaf_kind(v), label=leaf_text(v),
                       details=_leaf_details(v))
        return key

    for node in toposort(src.outputs, blockers=src.inputs):
        g.add_node(nid(node), kind=node_kind(node), label=op_label(node),
                   details=_node_details(node))
        fused = fused_expression(node) is not None
        for k, v in enumerate(node.inputs):
            # A fused kernel's expression names its inputs i0, i1, ...: so do its edges.
            label = f"i{k}: {_edge_label(v)}" if fused else _edge_label(v)
            g.add_edge(source_of(v), nid(node), label=label, index=v.index or 0)
    for k, (v, label) in enumerate(zip(src.outputs, src.labels)):
        out_id = f"out{k}"
        kind = "update" if label.startswith("update") else "output"
        g.add_node(out_id, kind=kind, label=label, details=f"{label}: {v.type}")
        g.add_edge(source_of(v), out_id, label=_edge_label(v), index=v.index or 0)
    return g


def _edge_label(v: Variable) -> str:
    return str(v.type)


def _leaf_details(v: Variable) -> str:
    where = f"\ncreated at {v.source_line}" if v.source_line else ""
    return f"{leaf_kind(v)} {leaf_text(v)}: {v.type}{where}"


def _node_details(node: Apply) -> str:
    lines = [str(node.op),
             "inputs: " + ", ".join(str(v.type) for v in node.inputs),
             "outputs: " + ", ".join(str(v.type) for v in node.outputs)]
    if node.tag.get(GRAD_TAG):
        lines.append(f"created by {node.tag[GRAD_TAG]}")
    if node.source_line:
        lines.append(f"created at {node.source_line}")
    for event in node.tag.get("rewrites", ()):
        lines.append(f"rewrite: {event}")
    return "\n".join(lines)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(obj: Any, name: str = "tensorjit", rankdir: str = "TB",
           edge_labels: bool = True) -> str:
    """Graphviz DOT text of a Variable, list of Variables, FunctionGraph or Function.

    Inputs, shared variables, constants, ops, gradient ops (dashed, orange), fused
    kernels, outputs and updates have distinct styles; edges carry dtype and shape.
    """
    g = to_networkx(obj)
    lines = [f"digraph {_quote(name)} {{", f"  rankdir={rankdir};",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    for n, data in g.nodes(data=True):
        attrs = dict(STYLES[data["kind"]], label=data["label"], tooltip=data["details"])
        lines.append(f"  {n} [{_attrs(attrs)}];")
    for a, b, data in g.edges(data=True):
        attrs = {"label": data["label"]} if edge_labels else {}
        lines.append(f"  {a} -> {b}" + (f" [{_attrs(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items())


FORMATS = ("svg", "png", "pdf", "dot", "html")


def render(obj: Any, path: str | os.PathLike, **kwargs: Any) -> str:
    """Write a picture of the graph; the format is the file's extension.

    .svg/.png/.pdf run Graphviz's ``dot`` program; .dot writes the DOT text; .html writes
    one self-contained page (no network needed) with node details on hover and click.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in FORMATS:
        raise ValueError(f"render(): unknown format {ext!r} of {path!r}; expected one of "
                         f"{', '.join('.' + f for f in FORMATS)}")
    if ext == "html":
        from .html import to_html
        text = to_html(obj, **kwargs)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    dot_text = to_dot(obj, **kwargs)
    if ext == "dot":
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(dot_text)
        return path
    run_dot(dot_text, ext, path)
    return path


def dot_program() -> str:
    """The path of Graphviz's dot, or a clear error saying how to install it."""
    exe = shutil.which("dot")
    if exe is None:
        raise FileNotFoundError(
            "render(): Graphviz's 'dot' program is not installed (needed for .svg/.png/.pdf);"
            " install it with the Debian package graphviz (apt-get install graphviz), or "
            "render to .html or .dot, which need nothing")
    return exe


def run_dot(dot_text: str, fmt: str, path: str, args: Sequence[str] = ()) -> None:
    proc = subprocess.run([dot_program(), f"-T{fmt}", "-o", path, *args],
                          input=dot_text.encode(), capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"render(): dot failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
