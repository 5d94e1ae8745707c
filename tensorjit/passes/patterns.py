"""Small helpers that rewrites use to look at graphs: matching, constants, signs."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Apply, Constant, Variable, constant
from ..graph.ops.elemwise import Cast, Elemwise, Mul, ScalarOp, Second, TrueDiv
from ..graph.ops.nn import Softmax
from ..graph.ops.reduce import Max, Min, Prod, Sum
from ..graph.ops.scalar_arith import Abs, Maximum, Pow, Reciprocal, Relu, Square
from ..graph.ops.scalar_math import Cosh, Exp, Exp2, Sigmoid, Softplus, Sqrt
from ..graph.ops.shape import DimShuffle


def scalar_op(v: Variable) -> ScalarOp | None:
    """The ScalarOp of the Elemwise that computes v, else None."""
    node = v.owner
    if node is not None and isinstance(node.op, Elemwise):
        return node.op.scalar_op
    return None


def elemwise_of(v: Variable, *classes: type) -> Apply | None:
    """v's owner if it is an Elemwise of one of the given ScalarOp classes."""
    op = scalar_op(v)
    if op is not None and isinstance(op, classes):
        return v.owner
    return None


def op_of(v: Variable, *classes: type) -> Apply | None:
    """v's owner if its op is an instance of one of the classes."""
    node = v.owner
    if node is not None and isinstance(node.op, classes):
        return node
    return None


def scalar_value(v: Variable) -> float | None:
    """The value of a 0-d numeric constant, else None."""
    if isinstance(v, Constant) and v.data.ndim == 0 and v.data.dtype.kind in "iuf":
        return float(v.data)
    return None


def uniform_value(v: Variable) -> float | None:
    """The single value of a non-empty constant whose elements are all equal, else None."""
    if not isinstance(v, Constant) or v.data.size == 0 or v.data.dtype.kind not in "iufb":
        return None
    first = v.data.flat[0]
    if v.data.size > 1 and not np.all(v.data == first):
        return None
    return float(first)


def is_value(v: Variable, value: float) -> bool:
    """Whether v is a constant equal to ``value`` everywhere (any broadcastable shape)."""
    return uniform_value(v) == value


def const_like(value: Any, like: Variable) -> Constant:
    """A 0-d constant of like's dtype."""
    return constant(np.asarray(value, dtype=like.dtype), dtype=like.dtype)


def same_broadcasting(a: Variable, b: Variable) -> bool:
    """Same ndim and the same static size-1 axes (then runtime shapes agree in elemwise)."""
    return a.ndim == b.ndim and a.type.broadcastable == b.type.broadcastable


def fill_to(v: Variable, like: Variable, carriers: list[Variable]) -> Variable | None:
    """v broadcast to like's broadcasting pattern using shape carriers, or None."""
    if v.ndim < like.ndim and all(like.broadcastable[:like.ndim - v.ndim]):
        v = DimShuffle(("x",) * (like.ndim - v.ndim) + tuple(range(v.ndim)))(v)
    for carrier in carriers:
        if same_broadcasting(v, like):
            break
        v = Elemwise(Second())(carrier, v)
    if not same_broadcasting(v, like) or v.dtype != like.dtype:
        return None
    return v


# --------------------------------------------------------------------------------------
# Signs, known mathematically (not numerically: exp(-1000) is positive although it
# rounds to 0). Cancelling x / x = 1 is exact wherever x is mathematically nonzero.

_POSITIVE_SCALARS = (Exp, Exp2, Sigmoid, Softplus, Cosh)
_DEPTH = 8


def known_positive(v: Variable, depth: int = _DEPTH) -> bool:
    """Whether v is mathematically > 0 everywhere, judged from how it is computed."""
    if isinstance(v, Constant):
        return v.data.size > 0 and v.data.dtype.kind in "iuf" and bool(np.all(v.data > 0))
    node = v.owner
    if node is None or depth == 0:
        return False
    op = node.op
    if isinstance(op, Softmax):
        return True
    if isinstance(op, (Sum, Prod, Max, Min, DimShuffle)):
        return known_positive(node.inputs[0], depth - 1)
    if not isinstance(op, Elemwise):
        return False
    sop = op.scalar_op
    if isinstance(sop, _POSITIVE_SCALARS):
        return True
    if isinstance(sop, (Mul, TrueDiv, Reciprocal)) or type(sop).__name__ == "Add":
        return all(known_positive(i, depth - 1) for i in node.inputs)
    if isinstance(sop, (Pow, Second)):
        return known_positive(node.inputs[0 if isinstance(sop, Pow) else 1], depth - 1)
    if isinstance(sop, Cast):
        return v.type.is_float and known_positive(node.inputs[0], depth - 1)
    if isinstance(sop, Maximum):
        return any(known_positive(i, depth - 1) for i in node.inputs)
    return False


def known_nonnegative(v: Variable, depth: int = _DEPTH) -> bool:
    """Whether v is mathematically >= 0 everywhere, judged from how it is computed."""
    if isinstance(v, Constant):
        return v.data.dtype.kind in "iufb" and bool(np.all(v.data >= 0))
    if v.dtype in ("bool", "uint8") or known_positive(v, depth):
        return True
    node = v.owner
    if node is None or depth == 0:
        return False
    op = node.op
    if isinstance(op, (Sum, Max, Min, DimShuffle, Prod)):
        return known_nonnegative(node.inputs[0], depth - 1)
    sop = scalar_op(v)
    if isinstance(sop, (Abs, Sqrt, Relu, Square)):
        return True
    if isinstance(sop, (Mul, TrueDiv)) and node.inputs[0] is node.inputs[1]:
        return True
    if isinstance(sop, (Mul, TrueDiv)) or type(sop).__name__ == "Add":
        return all(known_nonnegative(i, depth - 1) for i in node.inputs)
    if isinstance(sop, Second):
        return known_nonnegative(node.inputs[1], depth - 1)
    if isinstance(sop, Maximum):
        return any(known_nonnegative(i, depth - 1) for i in node.inputs)
    if isinstance(sop, Pow):
        exponent = scalar_value(node.inputs[1])
        return exponent is not None and exponent % 2 == 0 or known_nonnegative(
            node.inputs[0], depth - 1)
    return False


def known_nonzero(v: Variable) -> bool:
    """Whether v is mathematically nonzero everywhere (so v / v = 1 exactly)."""
    if isinstance(v, Constant):
        return v.data.size > 0 and bool(np.all(v.data != 0))
    return known_positive(v)
