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

Then ``fuse_into_reduction``: a sum/prod/max/min/all/any whose input is computed by an
Elemwise node (a fused group or a single op) becomes one FusedReduce node over that
node's inputs, so the kernel computes each element inside the reduction loop and the
elementwise result is never stored. Only when the reduction is that result's ONLY
client and it is not a graph output: otherwise it must exist in memory anyway, and
computing it twice would cost more than reading it. Nothing before the producer is
absorbed: its inputs (e.g. a broadcast column ``exp(c)``, its own group because of the
shape rule above) are read from memory with stride 0, never recomputed per element.
"""

from __future__ import annotations

from ..graph.basic import Apply, Constant, Variable, constant
from ..graph.fg import FunctionGraph
from ..graph.ops.composite import composite_from_graph
from ..graph.ops.elemwise import Elemwise
from ..graph.ops.fused_reduce import FUSABLE_REDUCTIONS, fuse_reduction
from ..graph.ops.reduce import AxesSize
from .rewriter import GraphIndex, apply_replacement

FUSE_ELEMWISE = "fuse_elemwise"
FUSE_INTO_REDUCTION = "fuse_into_reduction"
NAMES = (FUSE_ELEMWISE, FUSE_INTO_REDUCTION)


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


# --------------------------------------------------------------------------------------
# An elementwise producer into the reduction that consumes it


def fuse_into_reduction(fg: FunctionGraph, phase: str) -> int:
    """Replace reduce(elemwise(...)) by one FusedReduce where the elementwise result has
    no other use; return the number of replacements.

    A mean's element count (``AxesSize`` of the result, when its shape is not static)
    only reads the shape: it is re-pointed to the producer's inputs first.
    """
    index = GraphIndex(fg)
    count = 0
    for node in fg.toposort():
        sizes = _other_clients_if_sizes(fg, node)
        if sizes is None or node.outputs[0] not in fg.variables:
            continue
        producer = node.inputs[0].owner
        for size_node in sizes:
            new = _axes_size_from_inputs(producer, size_node.op.axis)
            apply_replacement(fg, index, size_node.outputs[0], new, FUSE_INTO_REDUCTION,
                              phase)
        apply_replacement(fg, index, node.outputs[0], fuse_reduction(node.outputs[0]),
                          FUSE_INTO_REDUCTION, phase)
        count += 1 + len(sizes)
    return count


def _other_clients_if_sizes(fg: FunctionGraph, node: Apply) -> list[Apply] | None:
    """For a fusable reduction of an Elemwise result that no other op reads except for
    its size (AxesSize): those AxesSize nodes. None when fusing is not possible."""
    if not isinstance(node.op, FUSABLE_REDUCTIONS):
        return None
    x = node.inputs[0]
    if x.owner is None or not is_fusable(x.owner):
        return None
    sizes: list[Apply] = []
    for client, position in fg.clients.get(x, []):
        if client is node:
            continue
        if client == "output" or not isinstance(client.op, AxesSize):
            return None
        sizes.append(client)
    return sizes


def _axes_size_from_inputs(producer: Apply, axes: tuple[int, ...]) -> Variable:
    """The element count of ``axes`` of the producer's output, read from its inputs.

    Under strict broadcasting an unknown dim of the output equals that dim of every
    input that does not broadcast there (static size not 1); static dims are constants.
    """
    out = producer.outputs[0]
    per_input: dict[Variable, list[int]] = {}
    static = 1
    for a in axes:
        if out.type.shape[a] is not None:
            static *= out.type.shape[a]
            continue
        inp = next(v for v in producer.inputs
                   if a >= out.ndim - v.ndim and v.type.shape[a - out.ndim + v.ndim] != 1)
        per_input.setdefault(inp, []).append(a - out.ndim + inp.ndim)
    factors: list[Variable] = [AxesSize(tuple(ax))(inp) for inp, ax in per_input.items()]
    if static != 1 or not factors:
        factors.append(constant(static, dtype="int64"))
    total = factors[0]
    for factor in factors[1:]:
        total = total * factor
    return total
