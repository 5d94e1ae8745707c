"""Tensor creation: broadcast_to/zeros/ones/full (one Alloc op), arange, eye, one_hot.

Shapes may be given as ints, 0-d integer variables or integer vectors (see
``shape.as_shape_vector``); static output shapes are inferred from the entries known
when the graph is built. ``zeros_like``/``ones_like``/``full_like`` live in elemwise.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = ["arange", "broadcast_to", "eye", "full", "one_hot", "ones", "zeros"]

from ..basic import Apply, Op, Variable, as_variable, constant
from ..types import FLOAT_DTYPES, INT_DTYPES, TensorType, normalize_dtype, shape_str
from .elemwise import cast, mul, sum_to, zeros_like
from .shape import ShapeI, as_shape_vector, static_int_values


def _static_alloc_shape(value: Variable, target: tuple[int | None, ...],
                        fname: str) -> tuple[int | None, ...]:
    """Static shape of value broadcast to target, or ValueError for a known conflict."""
    lead = len(target) - value.ndim
    if lead < 0:
        raise ValueError(f"{fname}(): cannot broadcast {value.describe()} to "
                         f"{len(target)} dimensions")
    if any(t is not None and t < 0 for t in target):
        raise ValueError(f"{fname}(): negative size in shape {shape_str(target)}")
    out: list[int | None] = []
    for k, t in enumerate(target):
        v = value.type.shape[k - lead] if k >= lead else 1
        if t is not None and v not in (None, 1, t):
            raise ValueError(f"{fname}(): cannot broadcast {value.describe()} to shape "
                             f"{shape_str(target)} (axis {k}: {v} vs {t})")
        out.append(t if t is not None else (v if v != 1 else None))
    return tuple(out)


@dataclass(frozen=True)
class Alloc(Op):
    """``value`` broadcast to the shape given by an int64 vector (a new array).

    Broadcasting is strict, as in Elemwise: an axis of ``value`` stretches only where
    its static shape says 1; elsewhere its length must equal the target's.
    """

    shape_value_inputs: ClassVar[tuple[int, ...]] = (1,)

    def make_node(self, value: Any, shp: Any) -> Apply:
        value = as_variable(value)
        shp = as_variable(shp)
        if shp.ndim != 1 or shp.dtype not in INT_DTYPES or shp.type.shape[0] is None:
            raise TypeError(f"broadcast_to(): input 1 must be an integer vector of static "
                            f"length, got {shp.describe()}")
        out = _static_alloc_shape(value, static_int_values(shp), "broadcast_to")
        return Apply(self, [value, shp], [TensorType(value.dtype, out)])

    def perform(self, node, inputs):
        value, shp = inputs
        target = tuple(int(s) for s in shp)
        _check_alloc(node.inputs[0], value.shape, target)
        out = np.empty(target, dtype=node.outputs[0].dtype)
        out[...] = value
        return [out]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(int(s) for s in input_values[1])]

    def L_op(self, inputs, outputs, output_grads):
        value = inputs[0]
        if not value.type.is_float:
            return [None, None]
        return [sum_to(output_grads[0], value), None]

    def R_op(self, inputs, outputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [Alloc()(eval_points[0], inputs[1])]


def _check_alloc(value: Variable, vshape: tuple[int, ...], target: tuple[int, ...]) -> None:
    if any(s < 0 for s in target):
        raise ValueError(f"broadcast_to(): negative size in shape {target}")
    lead = len(target) - len(vshape)
    for k, (v, t) in enumerate(zip(vshape, target[lead:])):
        if v != t and value.type.shape[k] != 1:
            hint = (" (a size-1 axis broadcasts only where the variable's static shape "
                    "says 1)") if v == 1 else ""
            raise ValueError(f"broadcast_to(): value of shape {vshape} does not broadcast "
                             f"to shape {target} at axis {lead + k}{hint}")


def broadcast_to(x: Any, shape: Any) -> Variable:
    """x broadcast to ``shape`` (ints, 0-d int variables or an int vector).

    The gradient sums back over the broadcast axes. As everywhere in tensorjit, an axis
    stretches only where x's static shape says 1.
    """
    return Alloc()(as_variable(x), as_shape_vector(shape, "broadcast_to"))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Variable:
    """A new tensor of the given shape filled with ``fill_value`` (broadcast)."""
    value = as_variable(fill_value)
    if dtype is not None:
        value = cast(value, normalize_dtype(dtype))
    return Alloc()(value, as_shape_vector(shape, "full"))


def zeros(shape: Any, dtype: Any = "float64") -> Variable:
    """A new tensor of zeros (shape: ints, 0-d int variables or an int vector)."""
    return full(shape, constant(0, dtype=normalize_dtype(dtype)))


def ones(shape: Any, dtype: Any = "float64") -> Variable:
    """A new tensor of ones (shape: ints, 0-d int variables or an int vector)."""
    return full(shape, constant(1, dtype=normalize_dtype(dtype)))


# --------------------------------------------------------------------------------------
# arange


def _arange_length(start: float, stop: float, step: float) -> int:
    if step == 0:
        raise ValueError("arange(): step must not be 0")
    if all(isinstance(v, (int, np.integer)) for v in (start, stop, step)):
        return max(0, -((int(start) - int(stop)) // int(step)))
    return max(0, math.ceil((stop - start) / step))


@dataclass(frozen=True)
class ARange(Op):
    """start, start + step, ... (< stop for step > 0), from three 0-d inputs of ``dtype``."""

    dtype: str
    shape_value_inputs: ClassVar[tuple[int, ...]] = (0, 1, 2)

    def make_node(self, start: Any, stop: Any, step: Any) -> Apply:
        ins = [as_variable(v) for v in (start, stop, step)]
        for k, v in enumerate(ins):
            if v.ndim != 0 or v.dtype != self.dtype:
                raise TypeError(f"arange(): input {k} must be a 0-d {self.dtype}, got "
                                f"{v.describe()}")
        vals = [_scalar_value(v) for v in ins]
        n = None if None in vals else _arange_length(*vals)
        return Apply(self, ins, [TensorType(self.dtype, (n,))])

    def perform(self, node, inputs):
        start, stop, step = (v.item() for v in inputs)
        _arange_length(start, stop, step)  # the clear error for step == 0
        return [np.arange(start, stop, step, dtype=self.dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [(_arange_length(*(v.item() for v in input_values)),)]

    def L_op(self, inputs, outputs, output_grads):
        if self.dtype not in FLOAT_DTYPES:
            return [None, None, None]
        g = output_grads[0]
        from .reduce import sum as tsum
        # out[k] = start + k * step; the length changes only at jumps, so d/dstop = 0
        return [tsum(g), zeros_like(inputs[1]), tsum(mul(g, _positions(outputs[0])))]

    def R_op(self, inputs, outputs, eval_points):
        t_start, _, t_step = eval_points
        if self.dtype not in FLOAT_DTYPES or (t_start is None and t_step is None):
            return [None]
        out = outputs[0]
        total = zeros_like(out)
        if t_start is not None:
            total = total + t_start
        if t_step is not None:
            total = total + mul(_positions(out), t_step)
        return [total]


def _positions(out: Variable) -> Variable:
    """0, 1, ..., len(out) - 1 in out's dtype."""
    n = cast(ShapeI(0)(out), out.dtype)
    zero, one = constant(0, dtype=out.dtype), constant(1, dtype=out.dtype)
    return ARange(out.dtype)(zero, n, one)


def _scalar_value(v: Variable) -> Any:
    """The value of a 0-d variable known at build time, or None."""
    if v.dtype in INT_DTYPES:
        vals = static_int_values(v)
        return None if vals is None else vals[0]
    data = getattr(v, "data", None)
    return None if data is None else data.item()


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Variable:
    """Evenly spaced values in [start, stop) as NumPy's arange.

    Parameters
    ----------
    start, stop, step : Python numbers or 0-d variables (``arange(n)`` counts 0..n-1;
        ``tj.arange(y.shape[0])`` works).
    dtype : the result dtype; by default int64 for integer arguments, else the
        promoted float dtype (Python floats are weak: a float32 start stays float32).
    """
    if stop is None:
        start, stop = 0, start
    args = [start, stop, step]
    for k, a in enumerate(args):
        if isinstance(a, Variable) and a.ndim != 0:
            raise TypeError(f"arange(): argument {k} must be 0-d, got {a.describe()}")
    if dtype is None:
        dtype = _arange_dtype(args)
    dtype = normalize_dtype(dtype)
    return ARange(dtype)(*[cast(a, dtype) for a in args])


def _arange_dtype(args: list) -> str:
    strong = [np.dtype(a.dtype) for a in args if isinstance(a, Variable)]
    weak = [a for a in args if not isinstance(a, Variable)]
    dtype = np.result_type(*strong, *weak).name
    if dtype in INT_DTYPES or dtype == "bool":
        return "int64"
    return dtype if dtype in FLOAT_DTYPES else "float64"


# --------------------------------------------------------------------------------------
# eye and one_hot (not differentiable: their inputs are integers)


@dataclass(frozen=True)
class Eye(Op):
    """An n x m matrix of ``dtype`` with ones on diagonal k (inputs: int64 n, m, k)."""

    dtype: str
    shape_value_inputs: ClassVar[tuple[int, ...]] = (0, 1)

    def make_node(self, n: Any, m: Any, k: Any) -> Apply:
        ins = [as_variable(v) for v in (n, m, k)]
        for i, v in enumerate(ins):
            if v.ndim != 0 or v.dtype not in INT_DTYPES:
                raise TypeError(f"eye(): input {i} must be a 0-d integer, got "
                                f"{v.describe()}")
        dims = tuple(static_int_values(v)[0] for v in ins[:2])
        if any(d is not None and d < 0 for d in dims):
            raise ValueError(f"eye(): negative dimension in {shape_str(dims)}")
        return Apply(self, ins, [TensorType(self.dtype, dims)])

    def perform(self, node, inputs):
        n, m, k = (int(v) for v in inputs)
        if n < 0 or m < 0:
            raise ValueError(f"eye(): negative dimension in ({n}, {m})")
        return [np.eye(n, m, k, dtype=self.dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [(int(input_values[0]), int(input_values[1]))]

    def L_op(self, inputs, outputs, output_grads):
        return [None, None, None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


def eye(n: Any, m: Any = None, k: Any = 0, dtype: Any = "float64") -> Variable:
    """An n x m (default n x n) matrix with ones on the k-th diagonal, zeros elsewhere."""
    m = n if m is None else m
    ins = [_int_arg(v, "eye", i) for i, v in enumerate((n, m, k))]
    return Eye(normalize_dtype(dtype))(*ins)


def _int_arg(v: Any, fname: str, k: int) -> Variable:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, Variable)):
        raise TypeError(f"{fname}(): argument {k} must be an int or a 0-d integer "
                        f"variable, got {v!r}")
    v = as_variable(v, dtype="int64" if not isinstance(v, Variable) else None)
    if v.ndim != 0 or v.dtype not in INT_DTYPES:
        raise TypeError(f"{fname}(): argument {k} must be an int or a 0-d integer "
                        f"variable, got {v.describe()}")
    return v


@dataclass(frozen=True)
class OneHot(Op):
    """indices (int, any shape) -> indices.shape + (depth,) with 1 at each index.

    Indices outside [0, depth) are an error at run time (no wrapping, no zero rows).
    """

    dtype: str
    shape_value_inputs: ClassVar[tuple[int, ...]] = (1,)

    def make_node(self, indices: Any, depth: Any) -> Apply:
        indices, depth = as_variable(indices), as_variable(depth)
        if indices.dtype not in INT_DTYPES:
            raise TypeError(f"one_hot(): input 0 (indices) must be integer, got "
                            f"{indices.describe()}")
        if depth.ndim != 0 or depth.dtype not in INT_DTYPES:
            raise TypeError(f"one_hot(): input 1 (depth) must be a 0-d integer, got "
                            f"{depth.describe()}")
        d = static_int_values(depth)[0]
        if d is not None and d < 0:
            raise ValueError(f"one_hot(): depth must be >= 0, got {d}")
        return Apply(self, [indices, depth],
                     [TensorType(self.dtype, (*indices.type.shape, d))])

    def perform(self, node, inputs):
        indices, depth = inputs
        depth = int(depth)
        if indices.size and (indices.min() < 0 or indices.max() >= depth):
            bad = indices[(indices < 0) | (indices >= depth)].reshape(-1)[0]
            raise ValueError(f"one_hot(): index {bad} is out of range [0, {depth})")
        out = np.zeros((*indices.shape, depth), dtype=self.dtype)
        np.put_along_axis(out, indices[..., None].astype(np.intp), 1, axis=-1)
        return [out]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [(*input_shapes[0], int(input_values[1]))]

    def L_op(self, inputs, outputs, output_grads):
        return [None, None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


def one_hot(indices: Any, depth: Any, dtype: Any = "float64") -> Variable:
    """One-hot encoding: a new last axis of length ``depth`` (no gradient to indices)."""
    return OneHot(normalize_dtype(dtype))(as_variable(indices), _int_arg(depth, "one_hot", 1))
