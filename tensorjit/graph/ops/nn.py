"""Neural-network math as named composite ops: softmax, log_softmax, logsumexp, and the
cross-entropies (categorical with integer or probability targets, binary).

Each is ONE node (not its decomposition) so that the stabilization passes can match it,
e.g. categorical_crossentropy(softmax(x), y) -> softmax_cross_entropy_with_integer_labels.
Every ``perform`` shifts by the maximum before exponentiating, so large logits never
overflow; every L_op/R_op is built from graph ops (this module's and elementwise ones),
so derivatives of any order exist. The fused softmax cross-entropy's gradient wrt the
logits is ``softmax(x) - onehot(labels)``: log(softmax) never appears in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from ..basic import Apply, Op, Variable, as_variable
from ..types import FLOAT_DTYPES, TensorType, float_dtype_for
from .elemwise import cast
from .reduce import expand_reduced, normalize_axis, reduced_shape
from .reduce import sum as tsum

# The cross-entropies live in crossentropy.py and are re-exported at the end.
__all__ = ["softmax", "log_softmax", "logsumexp"]


# --------------------------------------------------------------------------------------
# helpers


def _where(*xs: Variable) -> str:
    for x in xs:
        if x.source_line:
            return f" (graph built at {x.source_line})"
    return ""


def _check_float(fname: str, pos: int, x: Variable) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fname}(): input {pos} has dtype {x.dtype}; expected float32 or "
                        f"float64{_where(x)}")


def _to_float(x: Any) -> Variable:
    """x as a float tensor (integers/bools are converted as exp() would)."""
    x = as_variable(x)
    return cast(x, float_dtype_for(x.dtype))


def _shifted(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(x - m, m) where m is the max over axes (keepdims), 0 where it is not finite.

    Shifting by the max makes exp() of the largest entry exactly 1, so no overflow; a
    non-finite max (all -inf, or +inf entries, or an empty axis) shifts by 0 instead.
    """
    m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
    return x - m, m


def _logsumexp_keep(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    z, m = _shifted(x, axes)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(z), axis=axes, keepdims=True)) + m


def _ssum(x: Variable, axes: Sequence[int], keepdims: bool = True) -> Variable:
    return tsum(x, axis=tuple(axes), keepdims=keepdims)


def _exp(x: Variable) -> Variable:
    from .scalar_math import exp  # written concurrently; resolved at graph-build time
    return exp(x)


def _log(x: Variable) -> Variable:
    from .scalar_math import log
    return log(x)


class _AxesOp(Op):
    """Shared pieces of the ops that act along ``axis`` (a sorted tuple of axes)."""

    abstract = True
    fname: ClassVar[str] = ""

    def _check_axes(self, x: Variable) -> None:
        if any(not 0 <= a < x.ndim for a in self.axis):
            raise ValueError(f"{self.fname}(): axis {self.axis} out of range for "
                             f"{x.describe()}")

    def vectorize_node(self, node: Apply, inputs: Sequence[Variable],
                       batched: Sequence[bool], batch_ndim: int) -> list[Variable]:
        """Batch rule (see graph/derivatives.py): the same op on axes shifted right."""
        shifted = tuple(a + batch_ndim for a in self.axis)
        params = {**self.params(), "axis": shifted}
        out = type(self)(**params)(*inputs)
        return out if isinstance(out, list) else [out]


# --------------------------------------------------------------------------------------
# softmax, log_softmax, logsumexp


@dataclass(frozen=True)
class Softmax(_AxesOp):
    """exp(x) / sum(exp(x)) over ``axis``, max-shifted."""

    axis: tuple[int, ...]
    fname: ClassVar[str] = "softmax"

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        _check_float(self.fname, 0, x)
        self._check_axes(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        z, _ = _shifted(inputs[0], self.axis)
        e = np.exp(z)
        return [(e / np.sum(e, axis=self.axis, keepdims=True)).astype(node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(input_shapes[0])]

    def L_op(self, inputs, outputs, output_grads):
        # J = diag(s) - s s^T is symmetric, so the VJP and the JVP share one formula.
        s, g = outputs[0], output_grads[0]
        return [s * (g - _ssum(g * s, self.axis))]

    def R_op(self, inputs, outputs, eval_points):
        if eval_points[0] is None:
            return [None]
        s, t = outputs[0], eval_points[0]
        return [s * (t - _ssum(t * s, self.axis))]


@dataclass(frozen=True)
class LogSoftmax(_AxesOp):
    """x - logsumexp(x) over ``axis``, max-shifted (finite where softmax underflows)."""

    axis: tuple[int, ...]
    fname: ClassVar[str] = "log_softmax"

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        _check_float(self.fname, 0, x)
        self._check_axes(x)
        return Apply(self, [x], [x.type])

    def perform(self, node, inputs):
        (x,) = inputs
        out = x - _logsumexp_keep(x, self.axis)
        return [out.astype(node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(input_shapes[0])]

    def L_op(self, inputs, outputs, output_grads):
        g = output_grads[0]
        return [g - Softmax(self.axis)(inputs[0]) * _ssum(g, self.axis)]

    def R_op(self, inputs, outputs, eval_points):
        t = eval_points[0]
        if t is None:
            return [None]
        return [t - _ssum(Softmax(self.axis)(inputs[0]) * t, self.axis)]


@dataclass(frozen=True)
class LogSumExp(_AxesOp):
    """log(sum(exp(x))) over ``axis``, computed as m + log(sum(exp(x - m)))."""

    axis: tuple[int, ...]
    keepdims: bool = False
    fname: ClassVar[str] = "logsumexp"

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        _check_float(self.fname, 0, x)
        self._check_axes(x)
        shape = reduced_shape(x.type.shape, self.axis, self.keepdims)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def perform(self, node, inputs):
        out = _logsumexp_keep(inputs[0], self.axis)
        if not self.keepdims:
            out = np.squeeze(out, axis=self.axis)
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [reduced_shape(tuple(input_shapes[0]), self.axis, self.keepdims)]

    def L_op(self, inputs, outputs, output_grads):
        g = expand_reduced(output_grads[0], self.axis, self.keepdims)
        return [g * Softmax(self.axis)(inputs[0])]

    def R_op(self, inputs, outputs, eval_points):
        t = eval_points[0]
        if t is None:
            return [None]
        return [_ssum(Softmax(self.axis)(inputs[0]) * t, self.axis, self.keepdims)]


def softmax(x: Any, axis: int | Sequence[int] | None = -1) -> Variable:
    """Softmax of ``x`` along ``axis``: exp(x) / sum(exp(x), axis).

    Parameters
    ----------
    x : tensor of logits (integers are converted to float).
    axis : int, tuple of ints, or None for all axes (default: the last axis).

    Returns
    -------
    A tensor shaped like ``x`` whose slices along ``axis`` are positive and sum to 1.
    Computed with a max shift, so large logits do not overflow.
    """
    x = _to_float(x)
    return Softmax(normalize_axis(axis, x.ndim, "softmax"))(x)


def log_softmax(x: Any, axis: int | Sequence[int] | None = -1) -> Variable:
    """Logarithm of the softmax of ``x`` along ``axis``, computed stably.

    Equal to ``x - logsumexp(x, axis, keepdims=True)``; unlike ``log(softmax(x))`` it
    stays finite where the softmax underflows to 0.
    """
    x = _to_float(x)
    return LogSoftmax(normalize_axis(axis, x.ndim, "log_softmax"))(x)


def logsumexp(x: Any, axis: int | Sequence[int] | None = None,
              keepdims: bool = False) -> Variable:
    """log(sum(exp(x), axis)) computed without overflow (as scipy.special.logsumexp).

    Parameters
    ----------
    x : tensor (integers are converted to float).
    axis : int, tuple of ints, or None for all axes (the default, as in SciPy).
    keepdims : keep the reduced axes with length 1.
    """
    x = _to_float(x)
    return LogSumExp(normalize_axis(axis, x.ndim, "logsumexp"), bool(keepdims))(x)



# The cross-entropy ops build on the ones above.
from .crossentropy import *  # noqa: E402,F403
from .crossentropy import __all__ as _crossentropy_all  # noqa: E402

__all__ += _crossentropy_all
