"""Comparisons, logical operators, predicates and where/switch.

Comparisons promote their inputs like arithmetic (NumPy rules, weak Python scalars) and
return bool. Logical operators take bool only: NumPy's ``&``/``|``/``~`` are *bitwise*
on integers and undefined on floats, while ``np.logical_and`` treats any non-zero as
true; rather than silently picking one meaning for ``x & y`` on numbers, we ask the user
to compare first (``x != 0``) or to cast. None of these ops has a gradient: their
outputs are piecewise constant (bool), and where() routes gradients to its branches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..basic import OPERATORS, Variable, constant, user_source_line
from .elemwise import Elemwise, ScalarOp, _weak_value, cast, elemwise

__all__ = [
    "eq",
    "ge",
    "gt",
    "isinf",
    "isnan",
    "le",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "lt",
    "neq",
    "switch",
    "where",
]

_WEAK = (bool, int, float)


def called_at() -> str:
    """' (called at file:line)' for the user's line, or '' (for error messages)."""
    line = user_source_line()
    return f" (called at {line})" if line else ""


def promote(fname: str, *args: Any) -> list[Variable]:
    """Variables of one common dtype: NumPy promotion with weak Python scalars."""
    strong = [a if isinstance(a, Variable) else constant(a)
              for a in args if not isinstance(a, _WEAK)]
    weak = [a for a in args if isinstance(a, _WEAK)]
    try:
        target = np.result_type(*[np.dtype(v.dtype) for v in strong], *weak).name
    except TypeError as exc:
        raise TypeError(f"{fname}(): cannot combine inputs {args!r}{called_at()}") from exc
    out = []
    for a in args:
        if isinstance(a, _WEAK):
            out.append(constant(_weak_value(a, target, fname), dtype=target))
        else:
            out.append(cast(a if isinstance(a, Variable) else constant(a), target))
    return out


class _NoGrad(ScalarOp):
    """Ops with piecewise-constant (bool) outputs: no gradient to any input."""

    abstract = True

    def grad(self, inputs, output, gout):
        return [None] * len(inputs)


# --------------------------------------------------------------------------------------
# Comparisons


class _Compare(_NoGrad):
    nin = 2
    policy: ClassVar[str] = "compare"
    abstract = True


@dataclass(frozen=True)
class Eq(_Compare):
    fname: ClassVar[str] = "eq"

    def impl(self, a, b):
        return np.equal(a, b)


@dataclass(frozen=True)
class Neq(_Compare):
    fname: ClassVar[str] = "neq"

    def impl(self, a, b):
        return np.not_equal(a, b)


@dataclass(frozen=True)
class Lt(_Compare):
    fname: ClassVar[str] = "lt"

    def impl(self, a, b):
        return np.less(a, b)


@dataclass(frozen=True)
class Le(_Compare):
    fname: ClassVar[str] = "le"

    def impl(self, a, b):
        return np.less_equal(a, b)


@dataclass(frozen=True)
class Gt(_Compare):
    fname: ClassVar[str] = "gt"

    def impl(self, a, b):
        return np.greater(a, b)


@dataclass(frozen=True)
class Ge(_Compare):
    fname: ClassVar[str] = "ge"

    def impl(self, a, b):
        return np.greater_equal(a, b)


def eq(a: Any, b: Any) -> Variable:
    """Elementwise a == b (bool). ``==`` on Variables is identity, so use this."""
    return elemwise(Eq(), a, b)


def neq(a: Any, b: Any) -> Variable:
    """Elementwise a != b (bool)."""
    return elemwise(Neq(), a, b)


def lt(a: Any, b: Any) -> Variable:
    """Elementwise a < b (bool)."""
    return elemwise(Lt(), a, b)


def le(a: Any, b: Any) -> Variable:
    """Elementwise a <= b (bool)."""
    return elemwise(Le(), a, b)


def gt(a: Any, b: Any) -> Variable:
    """Elementwise a > b (bool)."""
    return elemwise(Gt(), a, b)


def ge(a: Any, b: Any) -> Variable:
    """Elementwise a >= b (bool)."""
    return elemwise(Ge(), a, b)


# --------------------------------------------------------------------------------------
# Logical operators (bool only, see the module docstring)


class _Logical(_NoGrad):
    policy: ClassVar[str] = "logical"
    abstract = True


@dataclass(frozen=True)
class LogicalAnd(_Logical):
    nin = 2
    fname: ClassVar[str] = "logical_and"

    def impl(self, a, b):
        return np.logical_and(a, b)


@dataclass(frozen=True)
class LogicalOr(_Logical):
    nin = 2
    fname: ClassVar[str] = "logical_or"

    def impl(self, a, b):
        return np.logical_or(a, b)


@dataclass(frozen=True)
class LogicalXor(_Logical):
    nin = 2
    fname: ClassVar[str] = "logical_xor"

    def impl(self, a, b):
        return np.logical_xor(a, b)


@dataclass(frozen=True)
class LogicalNot(_Logical):
    fname: ClassVar[str] = "logical_not"

    def impl(self, a):
        return np.logical_not(a)


def _check_bool_args(fname: str, args: Sequence[Any]) -> None:
    for i, a in enumerate(args):
        if isinstance(a, bool):
            continue
        dtype = a.dtype if isinstance(a, Variable) else np.asarray(a).dtype.name
        if dtype != "bool":
            what = a.describe() if isinstance(a, Variable) else f"a {dtype} value"
            raise TypeError(
                f"{fname}(): input {i} has dtype {dtype}; expected bool ({what}). "
                f"Compare first (e.g. x != 0) or cast with x.astype('bool'){called_at()}")


def logical_and(a: Any, b: Any) -> Variable:
    """Elementwise a and b, for bool inputs (also ``a & b``)."""
    _check_bool_args("logical_and", (a, b))
    return elemwise(LogicalAnd(), a, b)


def logical_or(a: Any, b: Any) -> Variable:
    """Elementwise a or b, for bool inputs (also ``a | b``)."""
    _check_bool_args("logical_or", (a, b))
    return elemwise(LogicalOr(), a, b)


def logical_xor(a: Any, b: Any) -> Variable:
    """Elementwise a xor b, for bool inputs (also ``a ^ b``)."""
    _check_bool_args("logical_xor", (a, b))
    return elemwise(LogicalXor(), a, b)


def logical_not(a: Any) -> Variable:
    """Elementwise not a, for a bool input (also ``~a``)."""
    _check_bool_args("logical_not", (a,))
    return elemwise(LogicalNot(), a)


# --------------------------------------------------------------------------------------
# Predicates


class _Predicate(_NoGrad):
    policy: ClassVar[str] = "predicate"
    abstract = True


@dataclass(frozen=True)
class IsNan(_Predicate):
    fname: ClassVar[str] = "isnan"

    def impl(self, a):
        return np.isnan(a)


@dataclass(frozen=True)
class IsInf(_Predicate):
    fname: ClassVar[str] = "isinf"

    def impl(self, a):
        return np.isinf(a)


def isnan(a: Any) -> Variable:
    """Elementwise test for NaN (bool; always False for integers)."""
    return elemwise(IsNan(), a)


def isinf(a: Any) -> Variable:
    """Elementwise test for +-inf (bool; always False for integers)."""
    return elemwise(IsInf(), a)


# --------------------------------------------------------------------------------------
# where / switch


@dataclass(frozen=True)
class Where(ScalarOp):
    """where(cond, a, b): a where cond is true, else b."""

    nin = 3
    fname: ClassVar[str] = "where"
    policy: ClassVar[str] = "custom"

    def check_dtypes(self, dtypes):
        if len(dtypes) != 3:
            return f"expected 3 inputs, got {len(dtypes)}"
        if dtypes[0] != "bool":
            return f"input 0 (the condition) has dtype {dtypes[0]}; expected bool"
        if dtypes[1] != dtypes[2]:
            return f"the branches must share one dtype, got {dtypes[1]} and {dtypes[2]}"
        return None

    def output_dtype(self, *dtypes):
        return dtypes[1]

    def impl(self, cond, a, b):
        return np.where(cond, a, b)

    def grad(self, inputs, output, gout):
        cond = inputs[0]
        return [None, where(cond, gout, 0), where(cond, 0, gout)]


def where(cond: Any, a: Any, b: Any) -> Variable:
    """Elementwise ``a if cond else b`` with NumPy broadcasting.

    Parameters
    ----------
    cond : condition; non-bool values are cast to bool (non-zero is true).
    a, b : the branches, promoted together by NumPy rules (Python scalars are weak).

    Returns
    -------
    Variable of the branches' common dtype and the broadcast shape of all three.
    """
    if isinstance(cond, Variable):
        cond = cast(cond, "bool")
    else:
        cond = constant(np.asarray(cond).astype(bool))
    a, b = promote("where", a, b)
    return Elemwise(Where())(cond, a, b)


switch = where

for _name, _fn in {"lt": lt, "le": le, "gt": gt, "ge": ge, "logical_and": logical_and,
                   "logical_or": logical_or, "logical_xor": logical_xor,
                   "logical_not": logical_not}.items():
    OPERATORS[_name] = _fn
