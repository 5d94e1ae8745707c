"""Op cases for FusedReduce: a reduction of an elementwise expression in one op.

Each case builds the FusedReduce directly (the fuse phase never runs here: the
reference evaluator runs ``perform``, and gradients go through its L_op/R_op), over a
single scalar op (``fuse_reduction`` of an ordinary graph) or a Composite
(``fused_reduce_of``). References are plain NumPy expressions.
"""

from __future__ import annotations

import warnings

import numpy as np
from opcases import OpCase, random_array

import tensorjit as tj
from tensorjit.graph.ops.fused_reduce import fuse_reduction, fused_reduce_of

FLOATS = ("float64", "float32")
INTS = ("int32", "int64")
SUM_RTOL = {"float32": 1e-5, "float64": 1e-12}


def fused(reduction, expr, **kw):
    """build(*xs): ``reduction(expr(*xs), **kw)`` as ONE FusedReduce over a Composite."""
    def build(*xs):
        out = reduction(expr(*xs), **kw)
        return fused_reduce_of(out.owner.op, xs, out.owner.inputs[0])
    return build


def quiet(fn):
    """fn with NumPy's empty-slice warnings silenced (the values are compared)."""
    def call(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args)
    return call


def positive_first(rng, shapes, dtypes):
    """Input 0 in (0.1, 2] (a log's argument), the others in [-2, 2]."""
    first = random_array(rng, shapes[0], dtypes[0], (0.1, 2.0))
    return [first] + [random_array(rng, s, d) for s, d in zip(shapes[1:], dtypes[1:])]


def fused_mean(p, t):
    """mean(log(p) * t) over every axis: a fused sum divided by the element count."""
    total = fused(tj.sum, lambda a, b: tj.log(a) * b)(p, t)
    count = tj.cast(tj.prod(tj.shape(p)), total.dtype)  # p is never the broadcast one
    return total / count


def softmax_denominator(x, m):
    return np.sum(np.exp(x - m), axis=1)


SUM_CASES = [
    OpCase("fused_sum_of_squares", ("FusedReduce",),
           lambda x: fuse_reduction(tj.sum(x * x, axis=-1)),
           lambda x: np.sum(np.square(x), axis=-1),
           (((3, 4),), ((0, 3),), ((3, 0),), ((2, 3, 4),), ((5,),), ((1, 6),)),
           FLOATS, rtol=SUM_RTOL, grad_order=2),
    OpCase("fused_sum_all_0d", ("FusedReduce",),
           lambda x: fuse_reduction(tj.sum(x * x)), lambda x: np.sum(x * x),
           (((),), ((3, 4),), ((0,),)), FLOATS, rtol=SUM_RTOL, grad_order=2),
    # a broadcast column (the row max of a softmax) read with stride 0
    OpCase("fused_sum_exp_shift", ("FusedReduce",),
           fused(tj.sum, lambda x, m: tj.exp(x - m), axis=1), softmax_denominator,
           (((3, 4), (3, 1)), ((0, 3), (0, 1)), ((2, 5), (2, 1)), ((4, 1), (4, 1))),
           FLOATS, rtol=SUM_RTOL, grad_order=2, grad_shapes=((3, 4), (3, 1))),
    # sums over leading axes (the reduced-major kernel), a broadcast row
    OpCase("fused_sum_axis0_broadcast", ("FusedReduce",),
           fused(tj.sum, lambda x, y: x * y + tj.exp(y), axis=0),
           lambda x, y: np.sum(x * y + np.exp(y), axis=0),
           (((3, 4), (4,)), ((3, 4), (1, 4)), ((0, 4), (4,)), ((5, 1), (1,))),
           FLOATS, rtol=SUM_RTOL, grad_order=2, grad_shapes=((3, 4), (4,))),
    OpCase("fused_sum_tuple_axes_keepdims", ("FusedReduce",),
           fused(tj.sum, lambda x, y: tj.tanh(x) * y, axis=(0, 2), keepdims=True),
           lambda x, y: np.sum(np.tanh(x) * y, axis=(0, 2), keepdims=True),
           (((2, 3, 4), (3, 1)), ((2, 3, 4), (2, 3, 4)), ((2, 1, 4), (1, 3, 4)),
            ((2, 0, 4), (1, 4))),
           FLOATS, rtol=SUM_RTOL, grad_order=2, grad_shapes=((2, 3, 4), (3, 1))),
    OpCase("fused_mean_log_times_target", ("FusedReduce",), fused_mean,
           quiet(lambda p, t: np.mean(np.log(p) * t)),
           (((3, 4), (3, 4)), ((5,), (1,)), ((), ())), FLOATS, rtol=SUM_RTOL,
           make_inputs=positive_first, grad_order=2),
    OpCase("fused_sum_ints", ("FusedReduce",),
           fused(tj.sum, lambda x, y: x * y - 3, axis=1),
           lambda x, y: np.sum(x * y - 3, axis=1, dtype="int64"),
           (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 0), (0,))), INTS + ("uint8",),
           domain=(0, 9), grad_order=0),
    OpCase("fused_sum_bool", ("FusedReduce",),
           lambda x, y: fuse_reduction(tj.sum(x > y, axis=0)),
           lambda x, y: np.sum(x > y, axis=0, dtype="int64"),
           (((3, 4), (3, 4)), ((3, 4), (1, 4))), FLOATS, grad_order=0),
]

OTHER_CASES = [
    OpCase("fused_max_abs_diff", ("FusedReduce",),
           fused(tj.max, lambda x, y: abs(x - y)), lambda x, y: np.max(np.abs(x - y)),
           (((3, 4), (3, 4)), ((3, 4), (4,)), ((), ()), ((1, 5), (1, 5))), FLOATS,
           grad_order=1),
    OpCase("fused_min_axis_keepdims", ("FusedReduce",),
           fused(tj.min, lambda x, y: x * y + 1, axis=0, keepdims=True),
           lambda x, y: np.min(x * y + 1, axis=0, keepdims=True),
           (((3, 4), (3, 4)), ((3, 4), (3, 1)), ((2, 3, 4), (4,))), FLOATS,
           grad_order=1, grad_shapes=((3, 4), (3, 1))),
    OpCase("fused_max_rows_ints", ("FusedReduce",),
           fused(tj.max, lambda x, y: x - 2 * y, axis=-1),
           lambda x, y: np.max(x - 2 * y, axis=-1), (((3, 4), (3, 4)), ((3, 4), (3, 1))),
           INTS, domain=(-9, 9), grad_order=0),
    OpCase("fused_prod", ("FusedReduce",),
           fused(tj.prod, lambda x: 1 + x * x, axis=-1), lambda x: np.prod(1 + x * x, -1),
           (((3, 4),), ((0, 3),), ((3, 0),), ((2, 1, 3),)), FLOATS,
           domain=(-1.0, 1.0), rtol={"float32": 1e-5, "float64": 1e-12}, grad_order=2),
    OpCase("fused_any_greater", ("FusedReduce",),
           fused(tj.any, lambda x, y: (x > y) & (y > 0), axis=1),
           lambda x, y: np.any((x > y) & (y > 0), axis=1),
           (((3, 4), (3, 4)), ((3, 4), (4,)), ((0, 3), (3,)), ((3, 0), (0,))), FLOATS,
           grad_order=0),
    OpCase("fused_all_small", ("FusedReduce",),
           fused(tj.all, lambda x: abs(x) < 1.8, axis=(0, 1)),
           lambda x: np.all(np.abs(x) < 1.8, axis=(0, 1)),
           (((3, 4),), ((2, 5, 3),), ((0, 2),)), FLOATS, grad_order=0),
]

CASES = SUM_CASES + OTHER_CASES
