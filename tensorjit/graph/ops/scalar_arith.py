"""Integer-valued elementwise arithmetic: floor_div mod pow abs sign square reciprocal
maximum minimum clip relu, and stop_gradient.

These keep integer dtypes as NumPy does (``ivector // 2`` is int32); only reciprocal
computes in floating point. Gradients are written with elementwise graph ops so they
can be differentiated again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..basic import OPERATORS, Variable
from ..types import FLOAT_DTYPES, INT_DTYPES
from .elemwise import Elemwise, ScalarOp, cast, elemwise, neg
from .scalar_logic import eq, ge, gt, le, logical_and, lt, where

__all__ = [
    "abs",
    "clip",
    "consider_constant",
    "floor_div",
    "maximum",
    "minimum",
    "mod",
    "pow",
    "reciprocal",
    "relu",
    "sign",
    "square",
    "stop_gradient",
]

# bool arithmetic (True // True, sign(True)) has no sensible NumPy meaning here
NUMERIC = frozenset(INT_DTYPES | FLOAT_DTYPES)


def masked(gout: Variable, mask: Variable) -> Variable:
    """gout where the bool mask is true, else 0 (the mask cast to gout's dtype)."""
    return gout * cast(mask, gout.dtype)


@dataclass(frozen=True)
class FloorDiv(ScalarOp):
    nin = 2
    fname: ClassVar[str] = "floor_div"
    accepted: ClassVar[frozenset[str]] = NUMERIC

    def impl(self, a, b):
        return np.floor_divide(a, b)

    def grad(self, inputs, output, gout):
        # piecewise constant: the derivative is 0 wherever it exists
        return [None, None]


@dataclass(frozen=True)
class Mod(ScalarOp):
    """a - floor(a / b) * b: the sign follows b, as Python's and NumPy's %."""

    nin = 2
    fname: ClassVar[str] = "mod"
    accepted: ClassVar[frozenset[str]] = NUMERIC

    def impl(self, a, b):
        return np.mod(a, b)

    def grad(self, inputs, output, gout):
        a, b = inputs
        # d/db (a - floor(a/b) b) = -floor(a/b) away from the jumps; dropping it would
        # make the gradient silently wrong whenever b is a parameter
        return [gout, neg(gout) * floor_div(a, b)]


@dataclass(frozen=True)
class Pow(ScalarOp):
    nin = 2
    fname: ClassVar[str] = "pow"
    accepted: ClassVar[frozenset[str]] = NUMERIC

    def impl(self, a, b):
        return np.power(a, b)

    def grad(self, inputs, output, gout):
        from .scalar_math import log
        a, b = inputs
        # b * a**(b-1) is 0 * inf = nan at a = 0, b = 0, where the derivative is 0
        da = where(eq(b, 0), 0, b * pow(a, b - 1))
        # log(a) * a**b: the limit at a = 0 (b > 0) is 0, not -inf * 0 = nan
        db = where(eq(a, 0), 0, log(a) * output)
        return [gout * da, gout * db]


@dataclass(frozen=True)
class Abs(ScalarOp):
    fname: ClassVar[str] = "abs"

    def impl(self, a):
        return np.abs(a)

    def grad(self, inputs, output, gout):
        # sign(0) = 0: the subgradient at the kink is 0
        return [gout * sign(inputs[0])]


@dataclass(frozen=True)
class Sign(ScalarOp):
    fname: ClassVar[str] = "sign"
    accepted: ClassVar[frozenset[str]] = NUMERIC

    def impl(self, a):
        return np.sign(a)

    def grad(self, inputs, output, gout):
        return [None]


@dataclass(frozen=True)
class Square(ScalarOp):
    fname: ClassVar[str] = "square"
    accepted: ClassVar[frozenset[str]] = NUMERIC

    def impl(self, a):
        return np.square(a)

    def grad(self, inputs, output, gout):
        return [gout * (2 * inputs[0])]


@dataclass(frozen=True)
class Reciprocal(ScalarOp):
    """1 / a in floating point (NumPy's integer reciprocal truncates; we do not)."""

    fname: ClassVar[str] = "reciprocal"
    policy: ClassVar[str] = "float"

    def impl(self, a):
        return np.reciprocal(a)

    def grad(self, inputs, output, gout):
        return [neg(gout) * (output * output)]


class _Extremum(ScalarOp):
    """maximum/minimum: the gradient goes to the selected input; ties split it 50/50,
    so that maximum(x, x) has derivative 1 (and the choice is symmetric)."""

    nin = 2
    abstract = True

    def _selects(self, a: Variable, b: Variable) -> Variable:
        raise NotImplementedError

    def grad(self, inputs, output, gout):
        a, b = inputs
        tie = masked(gout, eq(a, b)) * 0.5
        return [masked(gout, self._selects(a, b)) + tie,
                masked(gout, self._selects(b, a)) + tie]


@dataclass(frozen=True)
class Maximum(_Extremum):
    fname: ClassVar[str] = "maximum"

    def _selects(self, a, b):
        return gt(a, b)

    def impl(self, a, b):
        return np.maximum(a, b)


@dataclass(frozen=True)
class Minimum(_Extremum):
    fname: ClassVar[str] = "minimum"

    def _selects(self, a, b):
        return lt(a, b)

    def impl(self, a, b):
        return np.minimum(a, b)


@dataclass(frozen=True)
class Clip(ScalarOp):
    """min(max(x, lo), hi); with lo > hi every element is hi (as np.clip)."""

    nin = 3
    fname: ClassVar[str] = "clip"

    def impl(self, x, lo, hi):
        return np.minimum(np.maximum(x, lo), hi)

    def grad(self, inputs, output, gout):
        x, lo, hi = inputs
        # x passes through on the closed interval; a bound gets it where it is selected
        inside = logical_and(ge(x, lo), le(x, hi))
        below = logical_and(lt(x, lo), le(lo, hi))
        above = gt(maximum(x, lo), hi)
        return [masked(gout, inside), masked(gout, below), masked(gout, above)]


@dataclass(frozen=True)
class Relu(ScalarOp):
    fname: ClassVar[str] = "relu"
    accepted: ClassVar[frozenset[str]] = NUMERIC

    def impl(self, a):
        return np.maximum(a, np.zeros((), dtype=a.dtype))

    def grad(self, inputs, output, gout):
        # the subgradient at 0 is 0
        return [masked(gout, gt(inputs[0], 0))]


@dataclass(frozen=True)
class StopGradient(ScalarOp):
    """The identity, opaque to differentiation: no gradient flows in either mode."""

    fname: ClassVar[str] = "stop_gradient"
    policy: ClassVar[str] = "custom"

    def check_dtypes(self, dtypes):
        return None if len(dtypes) == 1 else f"expected 1 input, got {len(dtypes)}"

    def impl(self, a):
        # a copy: outputs must never alias inputs in the reference evaluator
        return np.array(a, copy=True)

    def grad(self, inputs, output, gout):
        return [None]


def floor_div(a: Any, b: Any) -> Variable:
    """Elementwise a // b (floor division; integer dtypes stay integer)."""
    return elemwise(FloorDiv(), a, b)


def mod(a: Any, b: Any) -> Variable:
    """Elementwise a % b (the result has the sign of b, as in NumPy)."""
    return elemwise(Mod(), a, b)


def pow(a: Any, b: Any) -> Variable:
    """Elementwise a ** b (integer ** integer stays integer; negative powers then fail)."""
    return elemwise(Pow(), a, b)


def abs(a: Any) -> Variable:
    """Elementwise absolute value (also ``abs(x)``)."""
    return elemwise(Abs(), a)


def sign(a: Any) -> Variable:
    """Elementwise sign: -1, 0 or 1 in a's dtype (nan for nan)."""
    return elemwise(Sign(), a)


def square(a: Any) -> Variable:
    """Elementwise a * a."""
    return elemwise(Square(), a)


def reciprocal(a: Any) -> Variable:
    """Elementwise 1 / a, in floating point."""
    return elemwise(Reciprocal(), a)


def maximum(a: Any, b: Any) -> Variable:
    """Elementwise maximum (NaN propagates); the gradient splits ties equally."""
    return elemwise(Maximum(), a, b)


def minimum(a: Any, b: Any) -> Variable:
    """Elementwise minimum (NaN propagates); the gradient splits ties equally."""
    return elemwise(Minimum(), a, b)


def clip(x: Any, lo: Any = None, hi: Any = None) -> Variable:
    """Elementwise clip of x to [lo, hi].

    Parameters
    ----------
    x : the values.
    lo, hi : bounds (tensors or scalars, broadcast with x); either may be None.

    Returns
    -------
    Variable: min(max(x, lo), hi), promoted with the bounds by NumPy rules.
    The gradient passes through to x on the closed interval [lo, hi] and to a bound
    where the bound is the result.
    """
    if lo is None and hi is None:
        raise ValueError("clip(): give at least one of lo and hi")
    if lo is None:
        return minimum(x, hi)
    if hi is None:
        return maximum(x, lo)
    return elemwise(Clip(), x, lo, hi)


def relu(x: Any) -> Variable:
    """Elementwise max(x, 0) (integer dtypes stay integer)."""
    return elemwise(Relu(), x)


def stop_gradient(x: Any) -> Variable:
    """x, through which no gradient flows (reverse or forward mode)."""
    return Elemwise(StopGradient())(x)


consider_constant = stop_gradient

for _name, _fn in {"floor_div": floor_div, "mod": mod, "pow": pow, "abs": abs,
                   "clip": clip}.items():
    OPERATORS[_name] = _fn
