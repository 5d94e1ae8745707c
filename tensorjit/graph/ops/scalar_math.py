"""Transcendental elementwise functions: exp, logs, roots, trigonometric, hyperbolic,
sigmoid, softplus and erf.

All compute in floating point (policy "float"): integer inputs are cast to the float
dtype ``float_dtype_for`` picks (int32/int64 -> float64, as NumPy). Each gradient is
the simplest numerically stable graph, written in terms of the output where that is
cheaper (d exp = exp, d tanh = 1 - tanh^2, d sigmoid = s (1 - s)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..basic import Variable
from .elemwise import ScalarOp, elemwise, neg

__all__ = [
    "arccos",
    "arcsin",
    "arctan",
    "cos",
    "cosh",
    "erf",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "sigmoid",
    "sin",
    "sinh",
    "softplus",
    "sqrt",
    "tan",
    "tanh",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class _Float(ScalarOp):
    policy: ClassVar[str] = "float"
    abstract = True


@dataclass(frozen=True)
class Exp(_Float):
    fname: ClassVar[str] = "exp"

    def impl(self, a):
        return np.exp(a)

    def grad(self, inputs, output, gout):
        return [gout * output]


@dataclass(frozen=True)
class Exp2(_Float):
    fname: ClassVar[str] = "exp2"

    def impl(self, a):
        return np.exp2(a)

    def grad(self, inputs, output, gout):
        return [gout * (output * _LN2)]


@dataclass(frozen=True)
class Log(_Float):
    fname: ClassVar[str] = "log"

    def impl(self, a):
        return np.log(a)

    def grad(self, inputs, output, gout):
        return [gout / inputs[0]]


@dataclass(frozen=True)
class Log2(_Float):
    fname: ClassVar[str] = "log2"

    def impl(self, a):
        return np.log2(a)

    def grad(self, inputs, output, gout):
        return [gout / (inputs[0] * _LN2)]


@dataclass(frozen=True)
class Log10(_Float):
    fname: ClassVar[str] = "log10"

    def impl(self, a):
        return np.log10(a)

    def grad(self, inputs, output, gout):
        return [gout / (inputs[0] * _LN10)]


@dataclass(frozen=True)
class Log1p(_Float):
    fname: ClassVar[str] = "log1p"

    def impl(self, a):
        return np.log1p(a)

    def grad(self, inputs, output, gout):
        return [gout / (inputs[0] + 1)]


@dataclass(frozen=True)
class Expm1(_Float):
    fname: ClassVar[str] = "expm1"

    def impl(self, a):
        return np.expm1(a)

    def grad(self, inputs, output, gout):
        # d expm1 = exp(x); the derivative needs no extra precision near 0
        return [gout * exp(inputs[0])]


@dataclass(frozen=True)
class Sqrt(_Float):
    fname: ClassVar[str] = "sqrt"

    def impl(self, a):
        return np.sqrt(a)

    def grad(self, inputs, output, gout):
        return [gout / (output * 2)]


@dataclass(frozen=True)
class Sin(_Float):
    fname: ClassVar[str] = "sin"

    def impl(self, a):
        return np.sin(a)

    def grad(self, inputs, output, gout):
        return [gout * cos(inputs[0])]


@dataclass(frozen=True)
class Cos(_Float):
    fname: ClassVar[str] = "cos"

    def impl(self, a):
        return np.cos(a)

    def grad(self, inputs, output, gout):
        return [neg(gout) * sin(inputs[0])]


@dataclass(frozen=True)
class Tan(_Float):
    fname: ClassVar[str] = "tan"

    def impl(self, a):
        return np.tan(a)

    def grad(self, inputs, output, gout):
        return [gout * (output * output + 1)]


@dataclass(frozen=True)
class Tanh(_Float):
    fname: ClassVar[str] = "tanh"

    def impl(self, a):
        return np.tanh(a)

    def grad(self, inputs, output, gout):
        return [gout * (1 - output * output)]


@dataclass(frozen=True)
class Arcsin(_Float):
    fname: ClassVar[str] = "arcsin"

    def impl(self, a):
        return np.arcsin(a)

    def grad(self, inputs, output, gout):
        x = inputs[0]
        return [gout / sqrt(1 - x * x)]


@dataclass(frozen=True)
class Arccos(_Float):
    fname: ClassVar[str] = "arccos"

    def impl(self, a):
        return np.arccos(a)

    def grad(self, inputs, output, gout):
        x = inputs[0]
        return [neg(gout) / sqrt(1 - x * x)]


@dataclass(frozen=True)
class Arctan(_Float):
    fname: ClassVar[str] = "arctan"

    def impl(self, a):
        return np.arctan(a)

    def grad(self, inputs, output, gout):
        x = inputs[0]
        return [gout / (x * x + 1)]


@dataclass(frozen=True)
class Sinh(_Float):
    fname: ClassVar[str] = "sinh"

    def impl(self, a):
        return np.sinh(a)

    def grad(self, inputs, output, gout):
        return [gout * cosh(inputs[0])]


@dataclass(frozen=True)
class Cosh(_Float):
    fname: ClassVar[str] = "cosh"

    def impl(self, a):
        return np.cosh(a)

    def grad(self, inputs, output, gout):
        return [gout * sinh(inputs[0])]


def stable_sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)) without overflow: exp only ever sees -|a|."""
    e = np.exp(-np.abs(a))
    one = np.ones((), dtype=e.dtype)
    return np.where(a >= 0, one / (one + e), e / (one + e))


def stable_softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + exp(a)) = max(a, 0) + log1p(exp(-|a|)), exact in both tails."""
    return np.maximum(a, np.zeros((), dtype=a.dtype)) + np.log1p(np.exp(-np.abs(a)))


@dataclass(frozen=True)
class Sigmoid(_Float):
    fname: ClassVar[str] = "sigmoid"

    def impl(self, a):
        return stable_sigmoid(a)

    def grad(self, inputs, output, gout):
        return [gout * (output * (1 - output))]


@dataclass(frozen=True)
class Softplus(_Float):
    fname: ClassVar[str] = "softplus"

    def impl(self, a):
        return stable_softplus(a)

    def grad(self, inputs, output, gout):
        return [gout * sigmoid(inputs[0])]


@dataclass(frozen=True)
class Erf(_Float):
    fname: ClassVar[str] = "erf"

    def impl(self, a):
        import scipy.special  # here: importing it costs ~0.1 s, and only erf needs it
        return scipy.special.erf(a)

    def grad(self, inputs, output, gout):
        x = inputs[0]
        return [gout * (exp(neg(x * x)) * _TWO_OVER_SQRT_PI)]


def exp(x: Any) -> Variable:
    """Elementwise e ** x."""
    return elemwise(Exp(), x)


def exp2(x: Any) -> Variable:
    """Elementwise 2 ** x."""
    return elemwise(Exp2(), x)


def log(x: Any) -> Variable:
    """Elementwise natural logarithm."""
    return elemwise(Log(), x)


def log2(x: Any) -> Variable:
    """Elementwise base-2 logarithm."""
    return elemwise(Log2(), x)


def log10(x: Any) -> Variable:
    """Elementwise base-10 logarithm."""
    return elemwise(Log10(), x)


def log1p(x: Any) -> Variable:
    """Elementwise log(1 + x), accurate for small x."""
    return elemwise(Log1p(), x)


def expm1(x: Any) -> Variable:
    """Elementwise exp(x) - 1, accurate for small x."""
    return elemwise(Expm1(), x)


def sqrt(x: Any) -> Variable:
    """Elementwise square root."""
    return elemwise(Sqrt(), x)


def sin(x: Any) -> Variable:
    """Elementwise sine."""
    return elemwise(Sin(), x)


def cos(x: Any) -> Variable:
    """Elementwise cosine."""
    return elemwise(Cos(), x)


def tan(x: Any) -> Variable:
    """Elementwise tangent."""
    return elemwise(Tan(), x)


def tanh(x: Any) -> Variable:
    """Elementwise hyperbolic tangent."""
    return elemwise(Tanh(), x)


def arcsin(x: Any) -> Variable:
    """Elementwise inverse sine."""
    return elemwise(Arcsin(), x)


def arccos(x: Any) -> Variable:
    """Elementwise inverse cosine."""
    return elemwise(Arccos(), x)


def arctan(x: Any) -> Variable:
    """Elementwise inverse tangent."""
    return elemwise(Arctan(), x)


def sinh(x: Any) -> Variable:
    """Elementwise hyperbolic sine."""
    return elemwise(Sinh(), x)


def cosh(x: Any) -> Variable:
    """Elementwise hyperbolic cosine."""
    return elemwise(Cosh(), x)


def sigmoid(x: Any) -> Variable:
    """Elementwise logistic function 1 / (1 + exp(-x)), stable for large |x|."""
    return elemwise(Sigmoid(), x)


def softplus(x: Any) -> Variable:
    """Elementwise log(1 + exp(x)), stable for large |x|."""
    return elemwise(Softplus(), x)


def erf(x: Any) -> Variable:
    """Elementwise error function."""
    return elemwise(Erf(), x)
