"""Merge: equal constants become one, and so do nodes with the same op and inputs.

Ops are frozen dataclasses, so "the same op" is equality and a node's identity is
the dictionary key (op, inputs). Visiting in topological order merges whole identical
subgraphs in one sweep: by the time a node is reached, its inputs are already merged.
"""

from __future__ import annotations

from ..graph.basic import Apply, Constant
from ..graph.fg import FunctionGraph

MERGE_CONSTANTS = "merge_equal_constants"
MERGE_NODES = "merge_duplicate_nodes"
NAMES = (MERGE_CONSTANTS, MERGE_NODES)


def merge_equal_constants(fg: FunctionGraph, phase: str) -> int:
    """Replace every constant by the first constant of equal type and value."""
    seen: dict[tuple, Constant] = {}
    count = 0
    constants = [v for node in fg.toposort() for v in node.inputs if isinstance(v, Constant)]
    for c in constants:
        if c not in fg.variables:
            continue
        first = seen.setdefault(c.signature(), c)
        if first is not c:
            fg.replace(c, first, reason=MERGE_CONSTANTS, phase=phase)
            count += 1
    return count


def merge_duplicate_nodes(fg: FunctionGraph, phase: str) -> int:
    """Replace every node by the first node with the same op and the same inputs."""
    seen: dict[tuple, Apply] = {}
    count = 0
    for node in fg.toposort():
        if node not in fg.apply_nodes:
            continue
        key = (_op_key(node), tuple(id(v) for v in node.inputs))
        first = seen.setdefault(key, node)
        if first is node:
            continue
        for old, new in zip(node.outputs, first.outputs):
            if old in fg.variables:
                fg.replace(old, new, reason=MERGE_NODES, phase=phase)
                count += 1
    return count


def _op_key(node: Apply) -> object:
    """The op itself when hashable (equal ops merge), else its identity."""
    try:
        hash(node.op)
    except TypeError:
        return id(node.op)
    return node.op
