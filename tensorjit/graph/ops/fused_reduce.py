"""FusedReduce: a reduction of an elementwise expression, computed in one pass.

The fuse phase (passes/fuse.py, ``fuse_into_reduction``) replaces ``reduce(elemwise(
*inputs))`` by ``FusedReduce(scalar_op, reduce_op)(*inputs)`` when nothing else reads
the elementwise result. A backend then folds the scalar expression of each element
straight into the reduction's accumulator: the inputs are read once (broadcasting ones
with stride 0) and the elementwise result never exists as a buffer.

The op is defined by its two parts, and every rule is theirs composed:

- the type: ``Elemwise(scalar_op)`` on the inputs (dtype checks, strict static
  broadcasting), then ``reduce_op`` (one of Sum, Prod, Max, Min, All, Any) on that;
- ``perform``: the elementwise reference, then the reduction's reference;
- ``L_op``/``R_op``: the two ops' rules chained through a re-built elementwise node,
  so gradients are ordinary graph again (and can be differentiated again).
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..basic import Apply, Op, Variable
from .composite import composite_from_graph
from .elemwise import Elemwise, ScalarOp
from .reduce import All, Any, Max, Min, Prod, Sum, _Reduce, reduced_shape

__all__: list[str] = []

# The reductions a FusedReduce may wrap (argmax/argmin read their row twice).
FUSABLE_REDUCTIONS: tuple[type[_Reduce], ...] = (Sum, Prod, Max, Min, All, Any)


@dataclass(frozen=True)
class FusedReduce(Op):
    """``reduce_op(Elemwise(scalar_op)(*inputs))`` as one op (see the module docstring)."""

    scalar_op: ScalarOp
    reduce_op: _Reduce

    def __post_init__(self) -> None:
        if not isinstance(self.reduce_op, FUSABLE_REDUCTIONS):
            names = ", ".join(c.__name__ for c in FUSABLE_REDUCTIONS)
            raise TypeError(f"FusedReduce: reduce_op must be one of {names}, got "
                            f"{self.reduce_op!r}")
        if not isinstance(self.scalar_op, ScalarOp):
            raise TypeError(f"FusedReduce: scalar_op must be a ScalarOp, got "
                            f"{self.scalar_op!r}")

    def elemwise_node(self, inputs: Sequence[typing.Any]) -> Apply:
        """The (unfused) elementwise node of these inputs, outside any graph."""
        return Elemwise(self.scalar_op).make_node(*inputs)

    def make_node(self, *inputs: typing.Any) -> Apply:
        inner = self.elemwise_node(inputs)  # dtype and broadcasting errors are its own
        reduced = self.reduce_op.make_node(inner.outputs[0])
        return Apply(self, inner.inputs, [reduced.outputs[0].type])

    def perform(self, node, inputs):
        inner = self.elemwise_node(node.inputs)
        (value,) = inner.op.perform(inner, inputs)
        reduced = self.reduce_op.make_node(inner.outputs[0])
        return self.reduce_op.perform(reduced, [value])

    def elemwise_shape(self, input_shapes: Sequence[tuple]) -> tuple:
        """The runtime shape of the elementwise result."""
        return tuple(np.broadcast_shapes(*[tuple(s) for s in input_shapes]))

    def infer_shape(self, node, input_shapes, input_values=()):
        op = self.reduce_op
        return [reduced_shape(self.elemwise_shape(input_shapes), op.axis, op.keepdims)]

    def check_runtime_shapes(self, node: Apply, input_shapes) -> None:
        """Raise ValueError (before any kernel runs) on a broadcast the static types forbid
        and, for max/min, on an empty reduced axis."""
        inner = self.elemwise_node(node.inputs)
        inner.op.check_runtime_shapes(inner, input_shapes)
        check = getattr(self.reduce_op, "check_runtime_shapes", None)
        if check is not None:
            check(None, [self.elemwise_shape(input_shapes)])

    def L_op(self, inputs, outputs, output_grads):
        elem = Elemwise(self.scalar_op)
        e = elem(*inputs)
        (g_e,) = self.reduce_op.L_op([e], outputs, output_grads)
        if g_e is None:
            return [None] * len(inputs)
        return elem.L_op(inputs, [e], [g_e])

    def R_op(self, inputs, outputs, eval_points):
        if all(t is None for t in eval_points):
            return [None]
        elem = Elemwise(self.scalar_op)
        e = elem(*inputs)
        (t_e,) = elem.R_op(inputs, [e], eval_points)
        if t_e is None:
            return [None]
        return self.reduce_op.R_op([e], outputs, [t_e])

    def __str__(self) -> str:
        op = self.reduce_op
        keep = ", keepdims" if op.keepdims else ""
        return f"FusedReduce{{{op.fname}(axis={op.axis}{keep}) of {self.scalar_op}}}"


def fuse_reduction(out: Variable) -> Variable:
    """The FusedReduce computing ``out``: a reduction of one Elemwise node's output.

    Raises ValueError when ``out`` is not such a reduction. The elementwise node's own
    inputs become the FusedReduce's inputs (nothing before them is absorbed).
    """
    node = out.owner
    producer = node.inputs[0].owner if node is not None else None
    if (node is None or not isinstance(node.op, FUSABLE_REDUCTIONS) or producer is None
            or not isinstance(producer.op, Elemwise) or len(producer.outputs) != 1):
        raise ValueError(f"fuse_reduction(): {out.describe()} is not a sum, prod, max, "
                         f"min, all or any of an elementwise result")
    return FusedReduce(producer.op.scalar_op, node.op)(*producer.inputs)


def fused_reduce_of(reduce_op: _Reduce, inputs: Sequence[Variable],
                    expression: Variable) -> Variable:
    """``reduce_op`` of ``expression`` (an elementwise graph over ``inputs``), fused.

    The expression becomes one Composite; size-1 constants in it become literals.
    """
    scalar_op = composite_from_graph(list(inputs), expression)
    return FusedReduce(scalar_op, reduce_op)(*inputs)
