"""Reductions over axes: sum, mean, prod, max, min, argmax, argmin, all, any, var, std."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["sum"]

from ..basic import OPERATORS, Apply, Op, Variable, as_variable
from ..types import FLOAT_DTYPES, TensorType
from .elemwise import Elemwise, Second, cast


def normalize_axis(axis: int | Sequence[int] | None, ndim: int, fname: str) -> tuple[int, ...]:
    """Axis argument -> sorted tuple of non-negative axes (None = all axes)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{fname}(): axis must be an int, a tuple of ints or None, "
                            f"got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{fname}(): axis {a} is out of range for a {ndim}-d input")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}(): repeated axis in {axis!r}")
    return tuple(sorted(out))


def reduced_shape(shape: tuple, axes: tuple[int, ...], keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def sum_dtype(dtype: str) -> str:
    """The accumulator/output dtype NumPy uses for sum/prod (uint8 -> int64 here)."""
    return dtype if dtype in FLOAT_DTYPES else "int64"


def expand_reduced(g: Variable, axes: tuple[int, ...], keepdims: bool) -> Variable:
    """Re-insert reduced axes (as broadcastable) into g when keepdims was False."""
    if keepdims or not axes:
        return g
    from .shape import dimshuffle
    order: list[int | str] = []
    src = 0
    for i in range(g.ndim + len(axes)):
        if i in axes:
            order.append("x")
        else:
            order.append(src)
            src += 1
    return dimshuffle(g, tuple(order))


@dataclass(frozen=True)
class Sum(Op):
    """Sum over ``axis`` (a sorted tuple of axes)."""

    axis: tuple[int, ...]
    keepdims: bool = False

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        if builtins.any(a >= x.ndim for a in self.axis):
            raise ValueError(f"sum(): axis {self.axis} out of range for {x.ndim}-d input")
        shape = reduced_shape(x.type.shape, self.axis, self.keepdims)
        return Apply(self, [x], [TensorType(sum_dtype(x.dtype), shape)])

    def perform(self, node, inputs):
        out = np.sum(inputs[0], axis=self.axis, keepdims=self.keepdims,
                     dtype=node.outputs[0].dtype)
        return [np.asarray(out)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [reduced_shape(input_shapes[0], self.axis, self.keepdims)]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if not x.type.is_float:
            return [None]
        g = expand_reduced(output_grads[0], self.axis, self.keepdims)
        return [cast(Elemwise(Second())(x, cast(g, x.dtype)), x.dtype)]

    def R_op(self, inputs, outputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [Sum(self.axis, self.keepdims)(eval_points[0])]


def sum(x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Variable:
    """Sum of elements over the given axes."""
    x = as_variable(x)
    return Sum(normalize_axis(axis, x.ndim, "sum"), bool(keepdims))(x)


OPERATORS["sum"] = sum
