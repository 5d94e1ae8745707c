"""Shape agreement between arguments, derived once per function from the graph.

Broadcasting is strict (an axis broadcasts only where its static shape says 1), so
every axis that elementwise ops combine must have one size at run time. Following
dimensions through Elemwise and DimShuffle nodes gives classes of input axes that must
agree; checking them before the run turns "add() failed deep inside the graph" into
"input 1 'y' has shape (4,) but input 0 'x' has shape (3,)". Other ops are opaque
here: their own runtime checks (which name the op and the line) cover them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from ..graph.ops.elemwise import Elemwise
from ..graph.ops.shape import DimShuffle
from ..graph.types import shape_str
from .args import describe_input

Axis = tuple[int, int]  # (input position, axis)


@dataclass(frozen=True)
class AxisClass:
    """Input axes that must share one size (``size`` when a static size is known)."""

    members: tuple[Axis, ...]
    size: int | None
    node: Apply  # the first node that tied them together (for the message)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}
        self.size: dict[object, int] = {}
        self.node: dict[object, Apply] = {}

    def find(self, key: object) -> object:
        parent = self.parent
        root = key
        while parent.get(root, root) is not root:
            root = parent[root]
        while key is not root:  # path compression
            key, parent[key] = parent[key], root
        return root

    def union(self, a: object, b: object, node: Apply) -> object:
        ra, rb = self.find(a), self.find(b)
        if ra is rb:
            return ra
        self.parent[rb] = ra
        if rb in self.size:
            self.size.setdefault(ra, self.size[rb])
        self.node.setdefault(ra, self.node.get(rb, node))
        return ra

    def fix_size(self, key: object, size: int, node: Apply) -> None:
        root = self.find(key)
        self.size.setdefault(root, size)
        self.node.setdefault(root, node)


class _Dim:
    """An unknown runtime size (one per input axis or opaque op output axis)."""

    __slots__ = ("axis",)

    def __init__(self, axis: Axis | None = None) -> None:
        self.axis = axis


def axis_classes(fg: FunctionGraph) -> list[AxisClass]:
    """The classes of input axes that elementwise ops require to be equal."""
    uf = _UnionFind()
    dims: dict[Variable, list[object]] = {}
    input_dims: list[_Dim] = []
    for k, v in enumerate(fg.inputs):
        row: list[object] = []
        for d, s in enumerate(v.type.shape):
            if s is None:
                dim = _Dim((k, d))
                input_dims.append(dim)
                row.append(dim)
            else:
                row.append(s)
        dims[v] = row
    for node in fg.toposort():
        _visit(node, dims, uf)
    return _collect(input_dims, uf)


def _dims_of(v: Variable, dims: dict[Variable, list[object]]) -> list[object]:
    if v not in dims:
        dims[v] = [_Dim() if s is None else s for s in v.type.shape]
    return dims[v]


def _visit(node: Apply, dims: dict[Variable, list[object]], uf: _UnionFind) -> None:
    op = node.op
    if isinstance(op, Elemwise):
        out = node.outputs[0]
        n = out.ndim
        row: list[object] = []
        for axis in range(n):
            term: object = out.type.shape[axis]
            for x in node.inputs:
                off = n - x.ndim
                if axis < off or x.type.shape[axis - off] == 1:
                    continue  # broadcast (statically) along this axis
                t = _dims_of(x, dims)[axis - off]
                term = _unify(term, t, uf, node)
            row.append(_Dim() if term is None else term)
        dims[out] = row
    elif isinstance(op, DimShuffle):
        src = _dims_of(node.inputs[0], dims)
        dims[node.outputs[0]] = [1 if a == "x" else src[a] for a in op.new_order]


def _unify(a: object, b: object, uf: _UnionFind, node: Apply) -> object:
    """Tie two axis sizes together; ints are static sizes, _Dims unknown ones."""
    if a is None:
        return b
    if isinstance(a, int) and isinstance(b, int):
        return a  # make_node already checked static sizes
    if isinstance(a, int):
        uf.fix_size(b, a, node)
        return b
    if isinstance(b, int):
        uf.fix_size(a, b, node)
        return a
    uf.union(a, b, node)
    return a


def _collect(input_dims: list[_Dim], uf: _UnionFind) -> list[AxisClass]:
    groups: dict[object, list[Axis]] = {}
    for dim in input_dims:
        groups.setdefault(uf.find(dim), []).append(dim.axis)
    out = []
    for root, members in groups.items():
        size = uf.size.get(root)
        if len(members) > 1 or size is not None:
            out.append(AxisClass(tuple(members), size, uf.node[root]))
    return out


def check_axis_classes(classes: Sequence[AxisClass], values: Sequence[np.ndarray],
                       inputs: Sequence[Variable], fname: str) -> None:
    """Raise ValueError naming the inputs if the arguments break an axis class."""
    for cls in classes:
        first_k, first_d = cls.members[0]
        want = cls.size if cls.size is not None else values[first_k].shape[first_d]
        for k, d in cls.members:
            if values[k].shape[d] != want:
                _raise_mismatch(cls, values, inputs, fname, (k, d))


def _raise_mismatch(cls: AxisClass, values: Sequence[np.ndarray],
                    inputs: Sequence[Variable], fname: str, bad: Axis) -> None:
    k, d = bad
    where = f" (created at {cls.node.source_line})" if cls.node.source_line else ""
    head = (f"{fname}: {describe_input(inputs[k], k)} has shape "
            f"{shape_str(values[k].shape)}")
    if cls.size is not None:
        msg = (f"{head}; axis {d} must have size {cls.size}, the static size it is "
               f"combined with by {cls.node.op}{where}")
    else:
        k0, d0 = cls.members[0]
        other = describe_input(inputs[k0], k0)
        msg = (f"{head}, but {other} has shape {shape_str(values[k0].shape)}: "
               f"axis {d} of input {k} must equal axis {d0} of input {k0}, as "
               f"{cls.node.op}{where} combines them")
    raise ValueError(msg + "; an axis broadcasts only where its static shape is 1 "
                     "(declare it, e.g. tj.tensor('float64', shape=(None, 1)))")
