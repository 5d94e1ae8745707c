"""debugprint: a graph as an indented text tree, one line per variable.

Example (``ids="short"``: only nodes used more than once get an id)::

    Elemwise{add} [id A] 'z' float64[?,]
     |Elemwise{exp} [id B] float64[?,]
     | |x float64[?,] (input)
     |Elemwise{exp} [id B] (see above)

The text depends only on the graph's structure, names and types, never on object
identities, so the same graph always prints the same way.
"""

from __future__ import annotations

import sys
from typing import IO, Any, Iterable, Sequence

import numpy as np

from ..graph.basic import Apply, Constant, SharedVariable, Variable
from ..graph.fg import FunctionGraph

IDS = ("short", "all", "none")


def debugprint(obj: Any, file: IO[str] | str | None = None, rewrites: bool = False,
               shapes: bool = True, ids: str = "short") -> str:
    """Print a graph as an indented tree and return the text.

    Parameters
    ----------
    obj : a Variable, a list of Variables, a FunctionGraph, or a compiled Function
        (its optimized ``fgraph``; update expressions are labelled with the shared
        variable they update).
    file : None prints to stdout; ``"str"`` only returns the text; any object with a
        ``write`` method receives the text.
    rewrites : also list the rewrites that were applied (Function / FunctionGraph).
    shapes : show each variable's static shape (``float64[?, 3]``), not just its dtype.
    ids : ``"short"`` gives an ``[id A]`` to every node used more than once, printed in
        full the first time and as ``(see above)`` later; ``"all"`` gives every node an
        id; ``"none"`` gives none and prints shared subtrees in full each time.

    Returns
    -------
    str
        The printed text (ending with a newline).
    """
    if ids not in IDS:
        raise ValueError(f"debugprint(): ids must be one of {IDS}, got {ids!r}")
    roots, labels, inputs, events = _unpack(obj)
    printer = _TreePrinter(roots, inputs, shapes, ids)
    lines: list[str] = []
    for root, label in zip(roots, labels):
        printer.tree(root, label, lines)
    if rewrites:
        lines.extend(_rewrite_lines(events))
    text = "\n".join(lines) + "\n"
    if file is None:
        sys.stdout.write(text)
    elif file != "str":
        file.write(text)
    return text


def _unpack(obj: Any) -> tuple[list[Variable], list[str | None], list[Variable], list]:
    """(roots, per-root label, graph inputs, rewrite events) for any accepted object."""
    fgraph = getattr(obj, "fgraph", None)
    if isinstance(fgraph, FunctionGraph):  # a compiled Function
        n = obj.n_outputs
        labels: list[str | None] = [f"output {i}" if n > 1 else None for i in range(n)]
        labels += [f"update of {_leaf_name(sv)}" for sv, _ in obj.updates]
        events = obj.rewrites if _are_events(obj.rewrites) else fgraph.events
        return list(fgraph.outputs), labels, list(fgraph.inputs), list(events)
    if isinstance(obj, FunctionGraph):
        labels = [f"output {i}" if len(obj.outputs) > 1 else None
                  for i in range(len(obj.outputs))]
        return list(obj.outputs), labels, list(obj.inputs), list(obj.events)
    if isinstance(obj, Variable):
        return [obj], [None], [], []
    if isinstance(obj, (list, tuple)) and all(isinstance(v, Variable) for v in obj):
        return list(obj), [None] * len(obj), [], []
    raise TypeError(f"debugprint(): expected a Variable, a list of Variables, a "
                    f"FunctionGraph or a compiled Function, got {type(obj).__name__}")


def _are_events(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and all(hasattr(e, "rewrite") for e in x)


class _TreePrinter:
    """Walks the graph depth-first (inputs in order) and writes one line per visit."""

    def __init__(self, roots: Sequence[Variable], inputs: Sequence[Variable],
                 shapes: bool, ids: str) -> None:
        self.inputs = {v: k for k, v in enumerate(inputs)}
        self.shapes = shapes
        self.ids = ids
        self.shared_nodes = _nodes_used_twice(roots) if ids == "short" else set()
        self.names: dict[Apply, str] = {}
        self.printed: set[Apply] = set()

    def tree(self, root: Variable, label: str | None, lines: list[str]) -> None:
        # An explicit stack: gradient graphs are deeper than Python's recursion limit.
        stack: list[tuple[Variable, int]] = [(root, 0)]
        while stack:
            var, depth = stack.pop()
            prefix = " |" * depth
            text = self.line(var)
            if depth == 0 and label:
                text = f"{text}  <- {label}"
            lines.append(prefix + text)
            node = var.owner
            if node is None or (node in self.printed and self.ids != "none"):
                continue
            self.printed.add(node)
            for inp in reversed(node.inputs):
                stack.append((inp, depth + 1))

    def line(self, var: Variable) -> str:
        node = var.owner
        if node is None:
            return self.leaf(var)
        head = str(node.op)
        if len(node.outputs) > 1:
            head += f".{var.index}"
        ident = self.ident(node)
        if ident and node in self.printed:
            return f"{head} {ident} (see above)"
        parts = [head, ident, repr(var.name) if var.name else "", self.type_text(var)]
        return " ".join(p for p in parts if p)

    def ident(self, node: Apply) -> str:
        if self.ids == "all" or node in self.shared_nodes:
            if node not in self.names:
                self.names[node] = _letters(len(self.names))
            return f"[id {self.names[node]}]"
        return ""

    def leaf(self, var: Variable) -> str:
        type_text = self.type_text(var)
        if isinstance(var, Constant):
            return f"{_constant_text(var)} {type_text} (constant)"
        if isinstance(var, SharedVariable):
            return f"{_leaf_name(var)} {type_text} (shared)"
        if var in self.inputs:
            k = self.inputs[var]
            return f"{var.name or f'<input {k}>'} {type_text} (input {k})"
        return f"{var.name or '<unnamed>'} {type_text} (input)"

    def type_text(self, var: Variable) -> str:
        return str(var.type) if self.shapes else var.dtype


def _nodes_used_twice(roots: Iterable[Variable]) -> set[Apply]:
    """Nodes reached more than once when every node's inputs are walked once."""
    seen: set[Apply] = set()
    twice: set[Apply] = set()
    stack = list(roots)
    while stack:
        node = stack.pop().owner
        if node is None:
            continue
        if node in seen:
            twice.add(node)
            continue
        seen.add(node)
        stack.extend(node.inputs)
    return twice


def _letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, ... (spreadsheet column names)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("A") + r) + out
    return out


def _leaf_name(v: Variable) -> str:
    return v.name if v.name else "<unnamed>"


def _constant_text(c: Constant) -> str:
    if c.name:
        return c.name
    if c.data.ndim == 0:
        return repr(c.data.item())
    if c.data.size <= 4:
        return np.array2string(c.data, separator=", ")
    return f"<{c.data.size} values>"


def _rewrite_lines(events: Sequence[Any]) -> list[str]:
    if not events:
        return ["rewrites: none"]
    lines = [f"rewrites ({len(events)}):"]
    for e in events:
        where = f" (node created at {e.source_line})" if e.source_line else ""
        new = e.new
        by = str(new.owner.op) if new.owner is not None else _leaf_name(new)
        lines.append(f"  {e.phase}: {e.rewrite or '?'} replaced {e.node_str} by {by}{where}")
    return lines
