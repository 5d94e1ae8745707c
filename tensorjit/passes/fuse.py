"""Fuse: groups of elementwise nodes become one Elemwise(Composite) node, one loop.

Grouping is greedy from the outputs back (reverse topological order): a node joins the
group of its consumers when

- it is an Elemwise node with one output that is not a graph output,
- every client of that output is in ONE group (so a value used twice inside the
  group, e.g. ``e = exp(x); e * e`` or a diamond, is computed once inside the fused
  loop and never needed outside it), and
- its output has the same static shape as the group's output. Under the strict
  broadcasting rule equal static shapes mean equal runtime shapes, so every member
  runs once per output element: fusing ``exp(column)`` into a (n, m) consumer would
  instead compute the exp m times per row.

A value with clients in two groups, or outside any group (a reduction, a dot, a graph
output), ends its group: it is the group's output, and the consumers read it from
memory. Composites have a single output, so such a value is computed once, never
recomputed; multi-output composites (one loop writing several arrays) would need
Elemwise to grow several outputs, which buys less than it costs here. No path leaves
a group and re-enters it (every member except the output has all its clients inside),
so fusing never creates a cycle. Non-elementwise ops are never crossed.

Size-1 constants inside a group become literals of the Composite (the loop sees
constants, not loads), unless dropping them would change the output's rank.
"""

from __future__ import annotations

from ..graph.basic import Apply, Constant, Variable
from ..graph.fg import FunctionGraph
from ..graph.ops.composite import composite_from_graph
from ..graph.ops.elemwise import Elemwise
from .rewriter import GraphIndex, apply_replacement

FUSE_ELEMWISE = "fuse_elemwise"
NAMES = (FUSE_ELEMWISE,)


def fuse_elemwise(fg: FunctionGraph, phase: str) -> int:
    """Replace every group of >= 2 fusable elementwise nodes by one fused node."""
    groups = elemwise_groups(fg)
    index = GraphIndex(fg)
    count = 0
    for root, members in groups.items():
        if len(members) < 2 or root.outputs[0] not in fg.variables:
            continue
        new = fused_output(root, members)
        if new is None:
            continue
        apply_replacement(fg, index, root.outputs[0], new, FUSE_ELEMWISE, phase)
        count += 1
    return count


def is_fusable(node: Apply) -> bool:
    """An elementwise node with one output."""
    return isinstance(node.op, Elemwise) and len(node.outputs) == 1


def elemwise_groups(fg: FunctionGraph) -> dict[Apply, list[Apply]]:
    """Group root -> members (root first), for every fusable node of fg."""
    root_of: dict[Apply, Apply] = {}
    groups: dict[Apply, list[Apply]] = {}
    for node in reversed(fg.toposort()):
        if not is_fusable(node):
            continue
        root = _consumer_group(fg, node, root_of)
        if root is None:
            root = node
            groups[root] = []
        root_of[node] = root
        groups[root].append(node)
    return groups


def _consumer_group(fg: FunctionGraph, node: Apply,
                    root_of: dict[Apply, Apply]) -> Apply | None:
    """The root of the one group all of node's clients are in, if node may join it."""
    out = node.outputs[0]
    clients = fg.clients.get(out, [])
    if not clients or any(client == "output" for client, _ in clients):
        return None
    roots = {root_of.get(client) for client, _ in clients}
    if len(roots) != 1:
        return None
    root = roots.pop()
    if root is None or root.outputs[0].type.shape != out.type.shape:
        return None
    return root


def group_inputs(members: list[Apply]) -> list[Variable]:
    """Variables the group reads but does not compute, in first-use order."""
    inside = {o for n in members for o in n.outputs}
    seen: dict[Variable, None] = {}
    for node in reversed(members):  # members are root first: inputs first here
        for v in node.inputs:
            if v not in inside:
                seen.setdefault(v, None)
    return list(seen)


def fused_output(root: Apply, members: list[Apply]) -> Variable | None:
    """The output of one Elemwise(Composite) computing the group, or None if it can't."""
    inputs = group_inputs(members)
    target = root.outputs[0].type
    for fold in (True, False):
        kept = _drop_literals(inputs) if fold else inputs
        if not kept:
            return None  # all constant: constant folding's job, not ours
        composite = composite_from_graph(kept, root.outputs[0])
        out = Elemwise(composite)(*kept)
        if out.type == target:
            return out
    return None


def _drop_literals(inputs: list[Variable]) -> list[Variable]:
    """Inputs without the size-1 constants that can become literals (rank kept)."""
    def literal(v: Variable) -> bool:
        return isinstance(v, Constant) and v.data.size == 1
    rank = max((v.ndim for v in inputs if not literal(v)), default=0)
    return [v for v in inputs if not (literal(v) and v.ndim <= rank)]
