"""Op cases for Composite (a fused elementwise expression), built directly from graphs.

Each case builds ``Elemwise(composite_from_graph(...))`` over the inputs, so the
reference evaluator runs Composite.impl, the gradients go through Composite.grad, and
the LLVM backend emits the inner DAG inline. References are plain NumPy expressions.
"""

from __future__ import annotations

import numpy as np
from opcases import OpCase

import tensorjit as tj
from tensorjit.graph.ops.composite import composite_from_graph
from tensorjit.graph.ops.elemwise import Elemwise

FLOATS = ("float64", "float32")
UNARY_SHAPES = (((3, 4),), ((),), ((0, 3),), ((2, 1, 3),))
BINARY_SHAPES = (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (1, 4, 1)), ((), (5,)),
                 ((0, 3), (3,)))


def fused(expr):
    """build(*xs): expr over fresh inputs of the same types, as ONE Composite node."""
    def build(*xs):
        inner = [tj.tensor(x.dtype, x.type.shape) for x in xs]
        composite = composite_from_graph(inner, expr(*inner))
        return Elemwise(composite)(*xs)
    return build


def workload(x):
    return tj.exp(-x * x / 2) * tj.sin(3 * x) + tj.log1p(abs(x)) * tj.tanh(x)


def ref_workload(x):
    return np.exp(-(x ** 2) / 2) * np.sin(3 * x) + np.log1p(np.abs(x)) * np.tanh(x)


def diamond(x):
    e = tj.exp(x)  # used twice inside the composite: computed once
    return e * e + tj.sin(e)


def ref_diamond(x):
    return np.exp(2 * x) + np.sin(np.exp(x))


def positive_divisor(rng, shapes, dtypes):
    x = rng.integers(-50, 50, size=shapes[0]).astype(dtypes[0])
    y = rng.integers(1, 7, size=shapes[1]) * rng.choice([-1, 1], size=shapes[1])
    return [x, y.astype(dtypes[1])]


CASES = [
    OpCase("composite_workload", ("Composite", "Elemwise"), fused(workload), ref_workload,
           UNARY_SHAPES, FLOATS, grad_order=2),
    OpCase("composite_binary_broadcast", ("Composite",),
           fused(lambda x, y: x * y + tj.exp(x - y) / (1 + y * y)),
           lambda x, y: x * y + np.exp(x - y) / (1 + y ** 2), BINARY_SHAPES, FLOATS,
           grad_shapes=((2, 1, 3), (4, 1)), grad_order=2),
    OpCase("composite_diamond", ("Composite",), fused(diamond), ref_diamond, UNARY_SHAPES,
           FLOATS, domain=(-1.0, 1.0), grad_order=2),
    OpCase("composite_int", ("Composite",),
           fused(lambda x, y: tj.maximum(x // y * 2, x % y) - abs(y)),
           lambda x, y: np.maximum(np.floor_divide(x, y) * 2, np.mod(x, y)) - np.abs(y),
           BINARY_SHAPES, ("int32", "int64"), make_inputs=positive_divisor, grad_order=0),
    OpCase("composite_mixed_dtypes", ("Composite",),
           fused(lambda x, n: x * tj.cast(n, "float64") + tj.where(x > 0, x, 0.0)),
           lambda x, n: x * n + np.where(x > 0, x, 0.0), BINARY_SHAPES,
           (("float64", "int32"),), grad_order=1),
    OpCase("composite_bool_output", ("Composite",),
           fused(lambda x, y: tj.logical_and(x > 0, y < x) | tj.isnan(x)),
           lambda x, y: ((x > 0) & (y < x)) | np.isnan(x), BINARY_SHAPES, FLOATS,
           grad_order=0),
]
