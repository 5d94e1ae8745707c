"""Shape manipulation: dimshuffle/transpose, reshape, shape, broadcast, join, split, ..."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["dimshuffle", "shape"]

from ..basic import OPERATORS, Apply, Op, Variable, as_variable
from ..types import TensorType


@dataclass(frozen=True)
class DimShuffle(Op):
    """Permute axes, insert broadcastable axes ('x') and drop size-1 axes.

    ``new_order[j]`` is the input axis that becomes output axis j, or 'x' for a new
    axis of length 1. Input axes not mentioned are dropped; they must have static size 1.
    """

    new_order: tuple[int | str, ...]

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        axes = [a for a in self.new_order if a != "x"]
        if any(not isinstance(a, int) or not 0 <= a < x.ndim for a in axes) or \
                len(set(axes)) != len(axes):
            raise ValueError(f"dimshuffle(): invalid order {self.new_order} for a "
                             f"{x.ndim}-d input {x.describe()}")
        for a in range(x.ndim):
            if a not in axes and x.type.shape[a] != 1:
                raise ValueError(f"dimshuffle(): cannot drop axis {a} of {x.describe()}: "
                                 f"only axes of static length 1 can be dropped")
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def perform(self, node, inputs):
        (x,) = inputs
        axes = [a for a in self.new_order if a != "x"]
        dropped = tuple(a for a in range(x.ndim) if a not in axes)
        if any(x.shape[a] != 1 for a in dropped):
            raise ValueError(f"dimshuffle(): axis to drop has length != 1 in shape {x.shape}")
        y = np.transpose(x.reshape([s for a, s in enumerate(x.shape) if a in axes]
                                   if dropped else x.shape),
                         [sorted(axes).index(a) for a in axes])
        shape = []
        it = iter(y.shape)
        for a in self.new_order:
            shape.append(1 if a == "x" else next(it))
        return [y.reshape(shape)]

    def infer_shape(self, node, input_shapes, input_values=()):
        (s,) = input_shapes
        return [tuple(1 if a == "x" else s[a] for a in self.new_order)]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if not x.type.is_float:
            return [None]
        order = tuple(self.new_order.index(i) if i in self.new_order else "x"
                      for i in range(x.ndim))
        return [DimShuffle(order)(output_grads[0])]

    def R_op(self, inputs, outputs, eval_points):
        return [None if eval_points[0] is None else DimShuffle(self.new_order)(eval_points[0])]

    def __str__(self):
        return "DimShuffle{" + ",".join(str(a) for a in self.new_order) + "}"


def dimshuffle(x: Any, *order: Any) -> Variable:
    """x with axes permuted/inserted/dropped: dimshuffle(x, (1, 'x', 0)) or (x, 1, 'x', 0)."""
    x = as_variable(x)
    if len(order) == 1 and isinstance(order[0], (tuple, list)):
        order = tuple(order[0])
    order = tuple(a if a == "x" else int(a) for a in order)
    if order == tuple(range(x.ndim)):
        return x
    return DimShuffle(order)(x)


@dataclass(frozen=True)
class Shape(Op):
    """The runtime shape of x as an int64 vector."""

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))])

    def perform(self, node, inputs):
        return [np.array(inputs[0].shape, dtype="int64")]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [(len(input_shapes[0]),)]

    def L_op(self, inputs, outputs, output_grads):
        return [None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


def shape(x: Any) -> Variable:
    """The symbolic shape of x (an int64 vector)."""
    return Shape()(as_variable(x))


OPERATORS["dimshuffle"] = dimshuffle
OPERATORS["shape"] = shape
