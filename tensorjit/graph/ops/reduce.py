"""Reductions over axes: sum, mean, prod, max, min, argmax, argmin, all, any, var, std.

Ops: Sum, Prod, Max, Min, All, Any (one ``_Reduce`` base: a sorted tuple of axes and
``keepdims``), Argmax/Argmin (NumPy's single-axis form) and AxesSize (the element count
of some axes, for means over axes of unknown length). mean, var and std are composites
of these and elementwise ops, so their derivatives come for free.

Gradient conventions:

- max/min route the output gradient to the positions that attain the extremum, shared
  EQUALLY among ties (a convex combination of the one-hot subgradients, so still a valid
  subgradient); R_op applies the same weights, so it is the exact transpose of L_op.
- prod: d prod / d x_i is the product of the other elements of x_i's group, computed
  without dividing by zero: prod/x_i at non-zero x_i (0 when the group has a zero); at
  a zero, the product of the non-zeros when it is the group's only zero, else 0. The
  gradient graph is built so that second derivatives are exact for any zero pattern;
  third and higher ones assume at most two zeros per group.
"""

from __future__ import annotations

import builtins
import typing
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from ..basic import OPERATORS, Apply, Op, Variable, as_variable, constant
from ..types import FLOAT_DTYPES, TensorType, shape_str
from .elemwise import Elemwise, Second, cast, true_div

__all__ = ["all", "any", "argmax", "argmin", "max", "mean", "min", "prod", "std", "sum",
           "var"]

AxisArg = int | Sequence[int] | None


def normalize_axis(axis: AxisArg, ndim: int, fname: str,
                   var: Variable | None = None) -> tuple[int, ...]:
    """Axis argument -> sorted tuple of non-negative axes (None = all axes)."""
    where = f" ({var.describe()})" if var is not None else ""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if isinstance(axes, (str, bytes)) or not isinstance(axes, (tuple, list)):
        raise TypeError(f"{fname}(): axis must be an int, a tuple of ints or None, "
                        f"got {axis!r}{where}")
    out = []
    for a in axes:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{fname}(): axis must be an int, a tuple of ints or None, "
                            f"got {axis!r}{where}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{fname}(): axis {a} is out of range for a {ndim}-d input "
                             f"(valid axes: {-ndim}..{ndim - 1}){where}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}(): repeated axis in {axis!r}{where}")
    return tuple(sorted(out))


def reduced_shape(shape: tuple, axes: tuple[int, ...], keepdims: bool) -> tuple:
    """The shape left after reducing ``axes`` of ``shape``."""
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def sum_dtype(dtype: str) -> str:
    """The accumulator/output dtype NumPy uses for sum/prod (uint8 -> int64 here)."""
    return dtype if dtype in FLOAT_DTYPES else "int64"


def mean_dtype(dtype: str) -> str:
    """The dtype of mean/var/std: floats keep theirs, bool and ints give float64."""
    return dtype if dtype in FLOAT_DTYPES else "float64"


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


def _called_from(x: Variable) -> str:
    return f" (graph built at {x.source_line})" if x.source_line else ""


# --------------------------------------------------------------------------------------
# Axis reductions with a tuple of axes and keepdims


@dataclass(frozen=True)
class _Reduce(Op):
    """Base of the reductions over a sorted tuple of axes."""

    axis: tuple[int, ...]
    keepdims: bool = False
    fname: ClassVar[str] = ""
    abstract: ClassVar[bool] = True

    def output_dtype(self, dtype: str) -> str:
        return dtype

    def make_node(self, x: typing.Any) -> Apply:
        x = as_variable(x)
        axes = tuple(self.axis)
        if (builtins.any(not 0 <= a < x.ndim for a in axes) or list(axes) != sorted(set(axes))):
            raise ValueError(f"{self.fname}(): axis {self.axis} is not a sorted tuple of "
                             f"distinct axes of the {x.ndim}-d input {x.describe()}")
        shape = reduced_shape(x.type.shape, axes, self.keepdims)
        return Apply(self, [x], [TensorType(self.output_dtype(x.dtype), shape)])

    def infer_shape(self, node, input_shapes, input_values=()):
        return [reduced_shape(tuple(input_shapes[0]), self.axis, self.keepdims)]

    def _check_not_empty(self, shape: tuple) -> None:
        """NumPy's extremum of no elements is undefined; say so in our words."""
        for a in self.axis:
            if shape[a] == 0:
                raise ValueError(
                    f"{self.fname}(): cannot reduce over an empty axis: the input has shape "
                    f"{shape_str(shape)} with length 0 on axis {a}, and the {self.fname} of "
                    f"no elements is undefined")


@dataclass(frozen=True)
class Sum(_Reduce):
    """Sum over ``axis`` (a sorted tuple of axes)."""

    fname: ClassVar[str] = "sum"

    def output_dtype(self, dtype: str) -> str:
        return sum_dtype(dtype)

    def perform(self, node, inputs):
        out = np.sum(inputs[0], axis=self.axis, keepdims=self.keepdims,
                     dtype=node.outputs[0].dtype)
        return [np.asarray(out)]

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


@dataclass(frozen=True)
class Prod(_Reduce):
    """Product over ``axis``; the gradient is exact when the input contains zeros."""

    fname: ClassVar[str] = "prod"

    def output_dtype(self, dtype: str) -> str:
        return sum_dtype(dtype)

    def perform(self, node, inputs):
        out = np.prod(inputs[0], axis=self.axis, keepdims=self.keepdims,
                      dtype=node.outputs[0].dtype)
        return [np.asarray(out)]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if not x.type.is_float:
            return [None]
        g = cast(expand_reduced(output_grads[0], self.axis, self.keepdims), x.dtype)
        return [cast(g * self._partials(x, outputs[0]), x.dtype)]

    def R_op(self, inputs, outputs, eval_points):
        (x,), (t,) = inputs, eval_points
        if t is None or not x.type.is_float:
            return [None]
        partials = self._partials(x, outputs[0])
        return [cast(Sum(self.axis, self.keepdims)(partials * cast(t, x.dtype)), x.dtype)]

    def _partials(self, x: Variable, out: Variable) -> Variable:
        """d prod / d x_i: the product of the other elements of x_i's group.

        Never divides by zero, and is spelled so that its own derivative (the Hessian
        of prod) is exact too for any number of zeros in a group.
        """
        from .scalar_logic import eq, where
        axes = self.axis
        is_zero = eq(x, 0)
        safe = where(is_zero, 1, x)
        n_zeros = Sum(axes, keepdims=True)(cast(is_zero, "int64"))
        # at a non-zero x_i, prod/x_i is exact (0 when the group has a zero), and its
        # derivative w.r.t. a zero x_j flows through prod's own gradient
        at_nonzero = true_div(expand_reduced(out, axes, self.keepdims), safe)
        # at a zero x_j: the non-zeros' product times the other zeros' product. That
        # second factor is 1 (no other zero), the other zero's value S - x_j (one other
        # zero, where S sums x over the zeros), or 0 with a zero derivative (two or more
        # others: every second derivative of prod is 0 then)
        zeros_sum = Sum(axes, keepdims=True)(where(is_zero, x, 0))
        other_zeros = where(eq(n_zeros, 1), 1, where(eq(n_zeros, 2), zeros_sum - x, 0))
        at_zero = Prod(axes, keepdims=True)(safe) * other_zeros
        return cast(where(is_zero, at_zero, at_nonzero), x.dtype)


@dataclass(frozen=True)
class _Extremum(_Reduce):
    """Max or Min: the gradient goes to the arg-extremum, shared equally among ties."""

    abstract: ClassVar[bool] = True

    def perform(self, node, inputs):
        (x,) = inputs
        self._check_not_empty(x.shape)
        reduce = np.max if isinstance(self, Max) else np.min
        return [np.asarray(reduce(x, axis=self.axis, keepdims=self.keepdims))]

    def check_runtime_shapes(self, node, input_shapes) -> None:
        """Raise before a native kernel runs: an empty axis has no extremum."""
        self._check_not_empty(tuple(input_shapes[0]))

    def _weights(self, x: Variable, out: Variable) -> Variable:
        """1/(number of ties) where x attains the extremum of its group, else 0."""
        from .scalar_logic import eq
        hit = cast(eq(x, expand_reduced(out, self.axis, self.keepdims)), x.dtype)
        return true_div(hit, Sum(self.axis, keepdims=True)(hit))

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if not x.type.is_float:
            return [None]
        g = cast(expand_reduced(output_grads[0], self.axis, self.keepdims), x.dtype)
        return [cast(g * self._weights(x, outputs[0]), x.dtype)]

    def R_op(self, inputs, outputs, eval_points):
        (x,), (t,) = inputs, eval_points
        if t is None or not x.type.is_float:
            return [None]
        weighted = self._weights(x, outputs[0]) * cast(t, x.dtype)
        return [cast(Sum(self.axis, self.keepdims)(weighted), x.dtype)]


@dataclass(frozen=True)
class Max(_Extremum):
    """Maximum over ``axis``; raises at run time when reducing an empty axis."""

    fname: ClassVar[str] = "max"


@dataclass(frozen=True)
class Min(_Extremum):
    """Minimum over ``axis``; raises at run time when reducing an empty axis."""

    fname: ClassVar[str] = "min"


@dataclass(frozen=True)
class _Truth(_Reduce):
    """All or Any: bool result, truth of each element as NumPy (non-zero is true)."""

    abstract: ClassVar[bool] = True

    def output_dtype(self, dtype: str) -> str:
        return "bool"

    def perform(self, node, inputs):
        reduce = np.all if isinstance(self, All) else np.any
        return [np.asarray(reduce(inputs[0], axis=self.axis, keepdims=self.keepdims))]

    def L_op(self, inputs, outputs, output_grads):
        return [None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


@dataclass(frozen=True)
class All(_Truth):
    """True where every element of the group is true (non-zero); all of none is True."""

    fname: ClassVar[str] = "all"


@dataclass(frozen=True)
class Any(_Truth):
    """True where some element of the group is true (non-zero); any of none is False."""

    fname: ClassVar[str] = "any"


# --------------------------------------------------------------------------------------
# Argmax / Argmin (NumPy: a single axis, or None for the flat index) and AxesSize


@dataclass(frozen=True)
class _ArgExtremum(Op):
    """Index of the first maximum/minimum along ``axis`` (None: of the flattened input)."""

    axis: int | None = None
    keepdims: bool = False
    fname: ClassVar[str] = ""
    abstract: ClassVar[bool] = True

    def _out_shape(self, shape: tuple) -> tuple:
        if self.axis is None:
            return (1,) * len(shape) if self.keepdims else ()
        return reduced_shape(tuple(shape), (self.axis,), self.keepdims)

    def make_node(self, x: typing.Any) -> Apply:
        x = as_variable(x)
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self.fname}(): axis {self.axis} is out of range for the "
                             f"{x.ndim}-d input {x.describe()}")
        return Apply(self, [x], [TensorType("int64", self._out_shape(x.type.shape))])

    def check_runtime_shapes(self, node, input_shapes) -> None:
        """Raise (also before a native kernel runs) when the searched axis is empty."""
        shape = tuple(input_shapes[0])
        empty = 0 in shape if self.axis is None else shape[self.axis] == 0
        if empty:
            where = "input" if self.axis is None else f"axis {self.axis}"
            raise ValueError(f"{self.fname}(): the {where} of shape {shape_str(shape)} is "
                             f"empty, and an empty sequence has no {self.fname[3:]}imum")

    def perform(self, node, inputs):
        (x,) = inputs
        self.check_runtime_shapes(node, [x.shape])
        find = np.argmax if isinstance(self, Argmax) else np.argmin
        out = find(x, axis=self.axis, keepdims=self.keepdims)
        return [np.asarray(out, dtype="int64")]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [self._out_shape(tuple(input_shapes[0]))]

    def L_op(self, inputs, outputs, output_grads):
        return [None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


@dataclass(frozen=True)
class Argmax(_ArgExtremum):
    """Index of the first maximum along ``axis`` (int64; no gradient)."""

    fname: ClassVar[str] = "argmax"


@dataclass(frozen=True)
class Argmin(_ArgExtremum):
    """Index of the first minimum along ``axis`` (int64; no gradient)."""

    fname: ClassVar[str] = "argmin"


@dataclass(frozen=True)
class AxesSize(Op):
    """The number of elements in the given axes of x (an int64 scalar), for mean/var."""

    axis: tuple[int, ...]

    def make_node(self, x: typing.Any) -> Apply:
        x = as_variable(x)
        if builtins.any(not 0 <= a < x.ndim for a in self.axis):
            raise ValueError(f"AxesSize: axis {self.axis} out of range for {x.describe()}")
        return Apply(self, [x], [TensorType("int64", ())])

    def perform(self, node, inputs):
        shape = np.shape(inputs[0])
        return [np.asarray(np.prod([shape[a] for a in self.axis], dtype="int64"))]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [()]

    def L_op(self, inputs, outputs, output_grads):
        return [None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


def axes_size(x: Variable, axes: tuple[int, ...], dtype: str = "int64") -> Variable:
    """Number of elements in ``axes`` of x: a constant when statically known."""
    dims = [x.type.shape[a] for a in axes]
    if builtins.all(d is not None for d in dims):
        return constant(int(np.prod(dims, dtype="int64")), dtype=dtype)
    return cast(AxesSize(axes)(x), dtype)


# --------------------------------------------------------------------------------------
# The public functions


def _reduction(op_class: type[_Reduce], x: typing.Any, axis: AxisArg,
               keepdims: bool) -> Variable:
    x = as_variable(x)
    return op_class(normalize_axis(axis, x.ndim, op_class.fname, x), bool(keepdims))(x)


def sum(x: typing.Any, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Sum of elements over the given axes.

    Parameters
    ----------
    x : tensor-like.
    axis : int, tuple of ints, or None (all axes); negative axes count from the end.
    keepdims : keep the reduced axes with length 1.

    Returns
    -------
    Variable: x's dtype for floats, int64 for bool and integers. The sum of no elements
    is 0.
    """
    return _reduction(Sum, x, axis, keepdims)


def prod(x: typing.Any, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Product of elements over the given axes (ints: int64; the product of none is 1).

    The gradient is exact in the presence of zeros (it never divides by zero).
    """
    return _reduction(Prod, x, axis, keepdims)


def max(x: typing.Any, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Maximum over the given axes (x's dtype).

    The gradient is routed to the elements equal to the maximum, shared equally among
    ties. Reducing an empty axis raises ValueError at run time, as in NumPy.
    """
    return _reduction(Max, x, axis, keepdims)


def min(x: typing.Any, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Minimum over the given axes; see ``max`` for gradients and empty inputs."""
    return _reduction(Min, x, axis, keepdims)


def all(x: typing.Any, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Whether all elements are true (non-zero) over the given axes (bool)."""
    return _reduction(All, x, axis, keepdims)


def any(x: typing.Any, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Whether any element is true (non-zero) over the given axes (bool)."""
    return _reduction(Any, x, axis, keepdims)


def _arg(op_class: type[_ArgExtremum], x: typing.Any, axis: int | None,
         keepdims: bool) -> Variable:
    x = as_variable(x)
    if axis is not None:
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{op_class.fname}(): axis must be an int or None, got "
                            f"{axis!r} ({x.describe()})")
        axis = normalize_axis(axis, x.ndim, op_class.fname, x)[0]
    return op_class(axis, bool(keepdims))(x)


def argmax(x: typing.Any, axis: int | None = None, keepdims: bool = False) -> Variable:
    """Index (int64) of the first maximum along ``axis``; None: into the flattened x."""
    return _arg(Argmax, x, axis, keepdims)


def argmin(x: typing.Any, axis: int | None = None, keepdims: bool = False) -> Variable:
    """Index (int64) of the first minimum along ``axis``; None: into the flattened x."""
    return _arg(Argmin, x, axis, keepdims)


def mean(x: typing.Any, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Arithmetic mean over the given axes.

    Parameters
    ----------
    x : tensor-like.
    axis : int, tuple of ints, or None (all axes).
    keepdims : keep the reduced axes with length 1.

    Returns
    -------
    Variable: float32 for float32 input, float64 otherwise (bool and integers as in
    NumPy). The mean of no elements is NaN.
    """
    x = as_variable(x)
    axes = normalize_axis(axis, x.ndim, "mean", x)
    dtype = mean_dtype(x.dtype)
    total = Sum(axes, bool(keepdims))(cast(x, dtype))
    return true_div(total, axes_size(x, axes, dtype))


def var(x: typing.Any, axis: AxisArg = None, keepdims: bool = False,
        ddof: float = 0) -> Variable:
    """Variance over the given axes: sum((x - mean)**2) / (N - ddof), as NumPy.

    Parameters
    ----------
    x : tensor-like.
    axis : int, tuple of ints, or None (all axes).
    keepdims : keep the reduced axes with length 1.
    ddof : "delta degrees of freedom"; 0 (the default) is the population variance,
        1 the unbiased sample variance. When N - ddof <= 0 the result is inf or NaN.

    Returns
    -------
    Variable of the dtype ``mean`` would give.
    """
    x = as_variable(x)
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, (int, float, np.number)):
        raise TypeError(f"var(): ddof must be a number, got {ddof!r} ({x.describe()})")
    axes = normalize_axis(axis, x.ndim, "var", x)
    dtype = mean_dtype(x.dtype)
    xf = cast(x, dtype)
    centered = xf - true_div(Sum(axes, True)(xf), axes_size(x, axes, dtype))
    squares = Sum(axes, bool(keepdims))(centered * centered)
    return true_div(squares, _dof(x, axes, ddof, dtype))


def _dof(x: Variable, axes: tuple[int, ...], ddof: float, dtype: str) -> Variable:
    """max(N - ddof, 0) as NumPy divides by, a constant when N is static."""
    dims = [x.type.shape[a] for a in axes]
    if builtins.all(d is not None for d in dims):
        return constant(builtins.max(int(np.prod(dims, dtype="int64")) - ddof, 0), dtype=dtype)
    from .scalar_logic import gt, where
    dof = axes_size(x, axes, dtype) - ddof
    return where(gt(dof, 0), dof, 0)


def std(x: typing.Any, axis: AxisArg = None, keepdims: bool = False,
        ddof: float = 0) -> Variable:
    """Standard deviation: sqrt(var(x, axis, keepdims, ddof)); see ``var``."""
    from .scalar_math import sqrt
    x = as_variable(x)
    normalize_axis(axis, x.ndim, "std", x)  # so that errors name std(), not var()
    return sqrt(var(x, axis, keepdims, ddof))


for _name, _fn in {"sum": sum, "mean": mean, "prod": prod, "max": max, "min": min,
                   "argmax": argmax, "argmin": argmin, "all": all, "any": any,
                   "var": var, "std": std}.items():
    OPERATORS[_name] = _fn
