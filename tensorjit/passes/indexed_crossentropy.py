"""Stabilize: the cross-entropy spelled by indexing, ``log_softmax(z)[arange(n), y]``, and
its gradient, into the fused integer-label cross-entropy op and its fused gradient.

The classic spelling ``-mean(log(softmax(z))[arange(y.shape[0]), y])`` is first
stabilized to an indexed log_softmax; its gradient wrt z, once the canonical algebra
has cancelled softmax / softmax, is ``A - softmax(z) * sum(A, 1)`` with A the scatter
of the upstream gradient into zeros at (arange(n), y). Both become one row kernel each.

Exactness (the rewrites must not change any result, error or value):

- NumPy broadcasts the two index arrays, so ``x[arange(n), y]`` is the per-row pick only
  where ``len(y) == n``; the rewrites fire only where that is provable (n is
  ``y.shape[0]``, or both lengths are static and equal).
- n may be smaller than z's row count (the first n rows are picked). Unless n is
  provably the row count, the fused ops see ``z[:n]`` and the gradient is padded with
  zero rows. n > rows fails either way: the original with IndexError, the rewritten
  form with the fused op's ValueError (labels of length n for fewer rows).
- Indexing counts a negative label from the end of the row (-1 is the last class); the
  fused ops reject negative labels. So labels in [-classes, 0) are wrapped first
  (exactly what indexing does), and every other out-of-range label still reaches the
  fused op unchanged, which raises IndexError naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph.basic import Apply, Constant, Variable, constant
from ..graph.fg import FunctionGraph
from ..graph.ops.crossentropy import (
    SoftmaxCrossEntropyGrad,
    SoftmaxCrossEntropyWithIntegerLabels,
)
from ..graph.ops.creation import ARange
from ..graph.ops.elemwise import Add, Cast, Elemwise, Neg, Second, Sub, zeros_like
from ..graph.ops.indexing import (
    AdvancedIncSubtensor,
    AdvancedSubtensor,
    IncSubtensor,
    Subtensor,
    getitem,
)
from ..graph.ops.nn import LogSoftmax, Softmax
from ..graph.ops.reduce import Sum
from ..graph.ops.scalar_logic import Ge, LogicalAnd, Lt, Where
from ..graph.ops.shape import Shape, ShapeI, static_int_values
from . import canonicalize
from .algebra import SumTerms, build_sum, flatten_product, flatten_sum
from .patterns import elemwise_of, is_value, known_nonnegative, op_of
from .rewriter import local_rewrite

# the key of x[rows, labels]: two integer arrays on the first two axes, nothing else
_ROWS_AND_LABELS = (("array",), ("array",))
_FIRST_ROWS = (("slice", None, "?", None),)  # x[:n] for a symbolic n


@dataclass(frozen=True)
class RowPick:
    """What the fused ops compute for ``log_softmax(z)[arange(n), y]``."""

    logits: Variable  # z, or z[:n] where n may be fewer than z's rows
    labels: Variable  # y with negative labels wrapped as indexing wraps them
    n: Variable
    all_rows: bool  # n is provably z's row count (logits is z)


def _known_int(v: Variable) -> int | None:
    values = static_int_values(v)
    return values[0] if values is not None and len(values) == 1 else None


def _length_source(n: Variable) -> Variable | None:
    """v if n is ``v.shape[0]`` (spelled Shape(v)[0] or shape_i(v, 0)), else None."""
    node = n.owner
    if node is None:
        return None
    if isinstance(node.op, ShapeI):
        return node.inputs[0] if node.op.i == 0 else None
    if isinstance(node.op, Subtensor) and node.op.idx_list == (("int", 0),):
        shape = op_of(node.inputs[0], Shape)
        return None if shape is None else shape.inputs[0]
    return None


def _same_shape(v: Variable, z: Variable) -> bool:
    """Whether v is z or a softmax-family image of z (which keeps z's shape)."""
    node = op_of(v, Softmax, LogSoftmax)
    return v is z or (node is not None and node.inputs[0] is z)


def _is_length_of(n: Variable, v: Variable, same: bool = False) -> bool:
    """Whether n is provably len(v) (with same=True: also via a same-shaped image)."""
    source = _length_source(n)
    if source is v or (same and source is not None and _same_shape(source, v)):
        return True
    known = _known_int(n)
    return known is not None and known == v.type.shape[0]


def _arange_stop(v: Variable) -> Variable | None:
    """n if v is arange(n), arange(0, n), arange(0, n, 1) or its folded constant."""
    if isinstance(v, Constant):
        data = v.data
        if data.ndim == 1 and np.array_equal(data, np.arange(data.size)):
            return constant(data.size, dtype="int64")
        return None
    node = op_of(v, ARange)
    if node is None:
        return None
    start, stop, step = node.inputs
    if _known_int(start) != 0 or _known_int(step) != 1:
        return None
    return stop


def row_pick(z: Variable, rows: Variable, y: Variable) -> RowPick | None:
    """The fused form of ``log_softmax(z, 1)[rows, y]``, or None where it is not exact."""
    if z.ndim != 2 or y.ndim != 1 or rows.ndim != 1:
        return None
    n = _arange_stop(rows)
    if n is None or not _is_length_of(n, y):
        return None  # len(y) != n: the index arrays broadcast, it is no per-row pick
    labels = wrap_negative_labels(y, z)
    if _is_length_of(n, z, same=True):
        return RowPick(z, labels, n, True)
    known_n, known_rows = _known_int(n), z.type.shape[0]
    if known_n is not None and known_rows is not None and known_n > known_rows:
        return None  # the original fails at run time; z[:n] would fail to build here
    return RowPick(getitem(z, slice(None, n)), labels, n, False)


def wrap_negative_labels(y: Variable, z: Variable) -> Variable:
    """y + classes where -classes <= y < 0 (as indexing reads them); other labels as is."""
    if known_nonnegative(y):
        return y
    labels = y if y.dtype == "int64" else Elemwise(Cast("int64"))(y)
    classes = z.type.shape[1]
    width = ShapeI(1)(z) if classes is None else constant(classes, dtype="int64")
    zero = constant(0, dtype="int64")
    wraps = Elemwise(LogicalAnd())(Elemwise(Lt())(labels, zero),
                                   Elemwise(Ge())(labels, Elemwise(Neg())(width)))
    return Elemwise(Where())(wraps, Elemwise(Add())(labels, width), labels)


# --------------------------------------------------------------------------------------
# the loss


@local_rewrite(AdvancedSubtensor)
def indexed_log_softmax_to_crossentropy(fg: FunctionGraph,
                                        node: Apply) -> list[Variable] | None:
    """log_softmax(z, 1)[arange(n), y] -> -softmax_cross_entropy_with_integer_labels."""
    if node.op.idx_list != _ROWS_AND_LABELS:
        return None
    ls, rows, y = node.inputs
    ls_node = op_of(ls, LogSoftmax)
    if ls_node is None or ls_node.op.axis != (1,):
        return None
    pick = row_pick(ls_node.inputs[0], rows, y)
    if pick is None:
        return None
    loss = SoftmaxCrossEntropyWithIntegerLabels(1)(pick.logits, pick.labels)
    return [Elemwise(Neg())(loss)]


# --------------------------------------------------------------------------------------
# its gradient: A - softmax(z) * sum(A, 1), A = zeros with A[arange(n), y] = g


def _scatter_rows(a: Variable, z: Variable) -> tuple[Variable, RowPick] | None:
    """(g, pick) if a is zeros shaped like z with g added at (arange(n), y), else None."""
    node = op_of(a, AdvancedIncSubtensor)
    if node is None or node.op.idx_list != _ROWS_AND_LABELS:
        return None
    base, g, rows, y = node.inputs
    fill = elemwise_of(base, Second)
    if fill is None or not is_value(fill.inputs[1], 0.0) or \
            not _same_shape(fill.inputs[0], z):
        return None
    if g.ndim > 1 or g.dtype != z.dtype:
        return None
    pick = row_pick(z, rows, y)
    return None if pick is None else (g, pick)


def _is_row_sum_of(v: Variable, a: Variable) -> bool:
    node = op_of(v, Sum)
    return node is not None and node.inputs[0] is a and node.op.axis == (1,) and \
        node.op.keepdims


def _softmax_times_row_sum(term: Variable, a: Variable) -> tuple[Variable, float] | None:
    """(z, c) if term is c * softmax(z, 1) * sum(a, 1, keepdims), else None."""
    prod = flatten_product(term)
    if prod.downs or len(prod.ups) != 2 or any(k != 1 for k in prod.ups.values()):
        return None
    first, second = prod.ups
    for soft, summed in ((first, second), (second, first)):
        node = op_of(soft, Softmax)
        if node is not None and node.op.axis == (1,) and _is_row_sum_of(summed, a):
            return node.inputs[0], prod.coeff
    return None


def _fused_grad(g: Variable, pick: RowPick, like: Variable) -> Variable:
    """-g * (softmax - onehot) on the picked rows, as a tensor shaped like z."""
    if g.ndim == 0 or g.type.shape[0] == 1:
        g = Elemwise(Second())(pick.labels, g)  # strict broadcasting in the fused op
    part = SoftmaxCrossEntropyGrad(1)(pick.logits, pick.labels, Elemwise(Neg())(g))
    if pick.all_rows:
        return part
    # rows past n got nothing from the scatter, so their gradient is exactly zero
    return IncSubtensor(_FIRST_ROWS, True)(zeros_like(like), part, pick.n)


def _find_pair(terms: SumTerms) -> tuple[Variable, Variable, Variable] | None:
    """(A, its partner term, the fused gradient replacing weight(A) * (A - s * sum A))."""
    for a, weight in terms.terms.items():
        if op_of(a, AdvancedIncSubtensor) is None:
            continue
        for partner, w in terms.terms.items():
            found = _softmax_times_row_sum(partner, a) if partner is not a else None
            if found is None or found[1] * w != -weight:
                continue
            scatter = _scatter_rows(a, found[0])
            if scatter is not None:
                return a, partner, _fused_grad(*scatter, like=found[0])
    return None


@local_rewrite(scalar=(Add, Sub))
def log_softmax_grad_of_indexed_to_crossentropy_grad(
        fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """A - softmax(z) * sum(A, 1), A = scatter of g at (arange(n), y) into zeros ->
    softmax_cross_entropy_grad(z, y, -g), the fused gradient of the indexed loss."""
    out = node.outputs[0]
    if not out.type.is_float or canonicalize._all_clients_in(fg, out, (Add, Sub, Neg)):
        return None
    terms = flatten_sum(out)
    found = _find_pair(terms)
    if found is None:
        return None
    a, partner, fused = found
    weight = terms.terms.pop(a)
    del terms.terms[partner]
    terms.terms[fused] = weight
    new = build_sum(terms, out)
    return None if new is None or not new.type.is_compatible(out.type) else [new]
