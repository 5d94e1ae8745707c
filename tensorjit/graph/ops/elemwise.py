"""Elementwise computation: a ScalarOp lifted over tensors by Elemwise, NumPy broadcasting.

A new scalar function is one small ScalarOp subclass: its NumPy ``impl``, its dtype
``policy``, and ``grad`` (the partial derivatives times the output gradient, written
with elementwise graph ops). Elemwise derives both L_op and R_op from ``grad``: the
partials are linear in the output gradient, so the JVP is sum_i grad_i(gout=t_i).

Runtime broadcasting follows the static types: an axis broadcasts only where the
input's static shape says 1 (as in PyTensor). An unknown (None) axis must match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from ..basic import OPERATORS, Apply, Constant, Op, Variable, constant
__all__ = ["add", "sub", "mul", "true_div", "neg", "cast", "zeros_like", "ones_like",
           "full_like", "elemwise", "Elemwise", "ScalarOp"]

from ..types import (DISCRETE_DTYPES, FLOAT_DTYPES, INT_DTYPES, TensorType, broadcast_shapes,
                     float_dtype_for, normalize_dtype, shape_str)

SCALAR_OP_REGISTRY: dict[str, type["ScalarOp"]] = {}


@dataclass(frozen=True)
class ScalarOp:
    """A function of scalars. ``policy`` says how inputs are coerced by the public API.

    policies: "same" (inputs share a dtype; output the same), "float" (inputs share a
    float dtype), "compare" (inputs share a dtype; output bool), "logical" (bool in, bool
    out), "predicate" (any numeric in, bool out), "custom" (the op's own output_dtype).
    """

    nin: ClassVar[int] = 1
    policy: ClassVar[str] = "same"
    # The public function's name, used in messages and printing (e.g. "exp").
    fname: ClassVar[str] = ""
    # dtypes accepted by this op (checked in make_node); None = all numeric.
    accepted: ClassVar[frozenset[str] | None] = None
    abstract: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False):
            SCALAR_OP_REGISTRY[cls.__name__] = cls
            if not cls.__dict__.get("fname"):
                cls.fname = cls.__name__.lower()

    def output_dtype(self, *dtypes: str) -> str:
        if self.policy in ("compare", "logical", "predicate"):
            return "bool"
        return dtypes[0]

    def check_dtypes(self, dtypes: Sequence[str]) -> str | None:
        """An error message if these input dtypes are not acceptable, else None."""
        if len(dtypes) != self.nin:
            return f"expected {self.nin} inputs, got {len(dtypes)}"
        accepted = self.accepted
        if self.policy == "float":
            accepted = FLOAT_DTYPES if accepted is None else accepted & FLOAT_DTYPES
        elif self.policy == "logical":
            accepted = frozenset({"bool"})
        for i, d in enumerate(dtypes):
            if accepted is not None and d not in accepted:
                return (f"input {i} has dtype {d}; expected "
                        f"{' or '.join(sorted(accepted))}")
        if self.policy in ("same", "float", "compare") and len(set(dtypes)) > 1:
            return f"inputs must share one dtype, got {', '.join(dtypes)}"
        return None

    def impl(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.impl")

    def grad(self, inputs: Sequence[Variable], output: Variable,
             gout: Variable) -> list[Variable | None]:
        """Per input, d(output)/d(input) * gout as an elementwise graph (None = no grad)."""
        raise NotImplementedError(f"{self.fname}: gradient is not implemented")

    def __str__(self) -> str:
        return self.fname


@dataclass(frozen=True)
class Elemwise(Op):
    """Apply ``scalar_op`` to every element, broadcasting the inputs as NumPy does."""

    scalar_op: ScalarOp

    def make_node(self, *inputs: Any) -> Apply:
        inputs = [x if isinstance(x, Variable) else constant(x) for x in inputs]
        fname = self.scalar_op.fname
        problem = self.scalar_op.check_dtypes([x.dtype for x in inputs])
        if problem:
            raise TypeError(f"{fname}(): {problem}{_where(inputs)}")
        shape = broadcast_shapes(*[x.type.shape for x in inputs], context=f"{fname}()")
        out_dtype = self.scalar_op.output_dtype(*[x.dtype for x in inputs])
        return Apply(self, inputs, [TensorType(out_dtype, shape)])

    def perform(self, node: Apply, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        check_runtime_broadcast(node, inputs)
        with np.errstate(all="ignore"):
            out = self.scalar_op.impl(*inputs)
        out = np.asarray(out)
        dtype = node.outputs[0].dtype
        if out.dtype.name != dtype:
            out = out.astype(dtype)
        return [out]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(np.broadcast_shapes(*input_shapes))]

    def check_runtime_shapes(self, node: Apply, input_shapes) -> None:
        """Raise ValueError now if these shapes would broadcast against the static types."""
        check_runtime_broadcast(node, [_ShapeOnly(s) for s in input_shapes])

    def L_op(self, inputs, outputs, output_grads):
        partials = self.scalar_op.grad(inputs, outputs[0], output_grads[0])
        return [None if g is None else sum_to(g, x) for g, x in zip(partials, inputs)]

    def R_op(self, inputs, outputs, eval_points):
        total = None
        for i, t in enumerate(eval_points):
            if t is None:
                continue
            term = self.scalar_op.grad(inputs, outputs[0], t)[i]
            if term is None:
                continue
            total = term if total is None else total + term
        if total is None:
            return [None]
        return [broadcast_like(total, outputs[0])]

    def __str__(self) -> str:
        return f"Elemwise{{{self.scalar_op}}}"


class _ShapeOnly:
    """Stands in for an array where only shape and ndim are read."""

    def __init__(self, shape) -> None:
        self.shape = tuple(shape)
        self.ndim = len(self.shape)


def _where(inputs: Sequence[Variable]) -> str:
    for x in inputs:
        if x.source_line:
            return f" (graph built at {x.source_line})"
    return ""


def check_runtime_broadcast(node: Apply, values: Sequence[np.ndarray]) -> None:
    """Raise ValueError if values broadcast along an axis their static type says is not 1."""
    ndim = node.outputs[0].ndim
    sizes: list[int | None] = [None] * ndim
    for v in values:
        off = ndim - v.ndim
        for d, s in enumerate(v.shape):
            if s != 1:
                if sizes[off + d] is not None and sizes[off + d] != s:
                    _raise_broadcast(node, values, off + d)
                sizes[off + d] = s
    for x, v in zip(node.inputs, values):
        off = ndim - v.ndim
        for d, s in enumerate(v.shape):
            if s == 1 and sizes[off + d] not in (None, 1) and x.type.shape[d] != 1:
                _raise_broadcast(node, values, off + d, dynamic=True)


def _raise_broadcast(node: Apply, values, axis: int, dynamic: bool = False) -> None:
    shapes = " and ".join(shape_str(v.shape) for v in values)
    msg = f"{node.op.scalar_op.fname}(): shapes {shapes} do not broadcast on axis {axis}"
    if dynamic:
        msg += (" (a size-1 axis broadcasts only where the variable's static shape says 1;"
                " declare it, e.g. tj.tensor(dtype, shape=(None, 1)))")
    raise ValueError(msg)


# --------------------------------------------------------------------------------------
# The public entry point: coerce Python scalars weakly, insert casts, build the node.


def elemwise(scalar_op: ScalarOp, *args: Any) -> Variable:
    """Apply a scalar op to tensors/values with NumPy dtype promotion (weak Python scalars)."""
    policy = scalar_op.policy
    strong = [a for a in args if isinstance(a, Variable)]
    others = [a for a in args if not isinstance(a, Variable)]
    weak = [a for a in others if _is_weak(a)]
    for a in others:
        if not _is_weak(a):
            strong.append(constant(a))
    if policy == "logical":
        target = "bool"
    elif policy == "custom":
        target = None
    else:
        try:
            target = np.result_type(*[np.dtype(v.dtype) for v in strong], *weak).name
        except TypeError as exc:
            raise TypeError(f"{scalar_op.fname}(): cannot combine inputs {args!r}") from exc
        if policy == "float":
            target = float_dtype_for(target)
        elif policy == "compare":
            target = _widen_for_comparison(target, weak)
    vars_: list[Variable] = []
    for a in args:
        if isinstance(a, Variable):
            v = a
        elif target is not None and _is_weak(a):
            v = _weak_constant(a, target, scalar_op)
        else:
            v = constant(a)
        if target is not None and v.dtype != target:
            v = cast(v, target)
        vars_.append(v)
    return Elemwise(scalar_op)(*vars_)


def _is_weak(a: Any) -> bool:
    """Python scalars are weakly typed (NEP 50); NumPy scalars carry their dtype."""
    return type(a) in (bool, int, float)


def _weak_constant(a: Any, dtype: str, scalar_op: ScalarOp) -> Variable:
    """A Python scalar as a constant of the promoted dtype."""
    return constant(_weak_value(a, dtype, scalar_op.fname), dtype=dtype)


def _widen_for_comparison(target: str, weak: list) -> str:
    """``int8_x < 1000`` is well defined (NumPy: all True): compare in int64 then."""
    if target in INT_DTYPES and any(
            type(a) is int and not np.iinfo(target).min <= a <= np.iinfo(target).max
            for a in weak):
        return "int64"
    return target


def _weak_value(a: Any, dtype: str, fname: str) -> Any:
    if isinstance(a, bool) or dtype == "bool":
        return a
    info = np.iinfo(dtype) if dtype not in FLOAT_DTYPES else None
    if info is not None and isinstance(a, int) and not info.min <= a <= info.max:
        raise OverflowError(f"{fname}(): Python integer {a} does not fit the input "
                            f"dtype {dtype}; cast the tensor first")
    return a


# --------------------------------------------------------------------------------------
# Helpers used by gradients across the op library


def sum_to(g: Variable, x: Variable) -> Variable:
    """Sum g (shaped like a broadcast result) down to x's static shape."""
    from .reduce import sum as tsum
    from .shape import dimshuffle
    lead = g.ndim - x.ndim
    axes = list(range(lead))
    for d, s in enumerate(x.type.shape):
        if s == 1 and g.type.shape[lead + d] != 1:
            axes.append(lead + d)
    if axes:
        g = tsum(g, axis=tuple(axes), keepdims=True)
    if lead:
        g = dimshuffle(g, tuple(range(lead, g.ndim)))
    if g.dtype != x.dtype and x.type.is_float:
        g = cast(g, x.dtype)
    return g


def broadcast_like(v: Variable, like: Variable) -> Variable:
    """v broadcast to like's shape and dtype, for v computed from like's node's inputs.

    Under the strict broadcasting rule, two such variables with the same ndim and the
    same size-1 pattern have the same runtime shape, so no fill is needed then.
    """
    if v.ndim != like.ndim or v.type.broadcastable != like.type.broadcastable:
        v = Elemwise(Second())(like, v)
    return cast(v, like.dtype)


def zeros_like(x: Variable, dtype: str | None = None) -> Variable:
    """Zeros of x's shape (dtype defaults to x's)."""
    dtype = normalize_dtype(dtype or x.dtype)
    return Elemwise(Second())(x, constant(0, dtype=dtype))


def ones_like(x: Variable, dtype: str | None = None) -> Variable:
    """Ones of x's shape (dtype defaults to x's)."""
    dtype = normalize_dtype(dtype or x.dtype)
    return Elemwise(Second())(x, constant(1, dtype=dtype))


def full_like(x: Variable, value: Any, dtype: str | None = None) -> Variable:
    dtype = normalize_dtype(dtype or x.dtype)
    return Elemwise(Second())(x, constant(value, dtype=dtype))


# --------------------------------------------------------------------------------------
# The core scalar ops that gradients are built from. The rest live in scalar_*.py.


class _Binary(ScalarOp):
    nin = 2
    abstract = True


@dataclass(frozen=True)
class Add(_Binary):
    fname: ClassVar[str] = "add"

    def impl(self, a, b):
        return np.add(a, b)

    def grad(self, inputs, output, gout):
        return [gout, gout]


@dataclass(frozen=True)
class Sub(_Binary):
    fname: ClassVar[str] = "sub"

    def impl(self, a, b):
        return np.subtract(a, b)

    def grad(self, inputs, output, gout):
        return [gout, neg(gout)]


@dataclass(frozen=True)
class Mul(_Binary):
    fname: ClassVar[str] = "mul"

    def impl(self, a, b):
        return np.multiply(a, b)

    def grad(self, inputs, output, gout):
        a, b = inputs
        return [gout * b, gout * a]


@dataclass(frozen=True)
class TrueDiv(_Binary):
    fname: ClassVar[str] = "true_div"
    policy: ClassVar[str] = "float"

    def impl(self, a, b):
        return np.true_divide(a, b)

    def grad(self, inputs, output, gout):
        a, b = inputs
        return [gout / b, neg(gout) * a / (b * b)]


@dataclass(frozen=True)
class Neg(ScalarOp):
    fname: ClassVar[str] = "neg"

    def impl(self, a):
        return np.negative(a)

    def grad(self, inputs, output, gout):
        return [neg(gout)]


@dataclass(frozen=True)
class Second(_Binary):
    """second(x, v): v broadcast to x's shape (x contributes only its shape)."""

    fname: ClassVar[str] = "fill"
    policy: ClassVar[str] = "custom"

    def output_dtype(self, *dtypes):
        return dtypes[1]

    def check_dtypes(self, dtypes):
        return None if len(dtypes) == 2 else f"expected 2 inputs, got {len(dtypes)}"

    def impl(self, x, v):
        return np.broadcast_to(v, np.broadcast_shapes(np.shape(x), np.shape(v))).copy()

    def grad(self, inputs, output, gout):
        return [None, gout]


@dataclass(frozen=True)
class Cast(ScalarOp):
    """Convert to ``dtype`` as NumPy's astype does (float -> int truncates)."""

    dtype: str
    policy: ClassVar[str] = "custom"

    def __post_init__(self):
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))

    def output_dtype(self, *dtypes):
        return self.dtype

    def check_dtypes(self, dtypes):
        return None if len(dtypes) == 1 else f"expected 1 input, got {len(dtypes)}"

    def impl(self, a):
        return np.asarray(a).astype(self.dtype)

    def grad(self, inputs, output, gout):
        (x,) = inputs
        if x.dtype in DISCRETE_DTYPES or self.dtype in DISCRETE_DTYPES:
            return [None]
        return [cast(gout, x.dtype)]

    def __str__(self):
        return f"cast{{{self.dtype}}}"


def cast(x: Any, dtype: Any) -> Variable:
    """x converted to dtype (no node when it already has it)."""
    dtype = normalize_dtype(dtype)
    if not isinstance(x, Variable):
        return constant(x, dtype=dtype)
    if x.dtype == dtype:
        return x
    if isinstance(x, Constant):
        return constant(x.data.astype(dtype), dtype=dtype)
    return Elemwise(Cast(dtype))(x)


def add(a: Any, b: Any) -> Variable:
    """Elementwise a + b."""
    return elemwise(Add(), a, b)


def sub(a: Any, b: Any) -> Variable:
    """Elementwise a - b."""
    return elemwise(Sub(), a, b)


def mul(a: Any, b: Any) -> Variable:
    """Elementwise a * b."""
    return elemwise(Mul(), a, b)


def true_div(a: Any, b: Any) -> Variable:
    """Elementwise a / b (floating point result)."""
    return elemwise(TrueDiv(), a, b)


def neg(a: Any) -> Variable:
    """Elementwise -a."""
    return elemwise(Neg(), a)


for _name, _fn in {"add": add, "sub": sub, "mul": mul, "true_div": true_div,
                   "neg": neg, "identity": lambda x: x, "astype": cast,
                   "zeros_like": zeros_like, "ones_like": ones_like}.items():
    OPERATORS[_name] = _fn
