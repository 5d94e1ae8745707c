"""Scalar IR of the elementwise ops that are not plain arithmetic (see elemwise.py).

Each rule is ``emit(builder, args, in_dtypes, out_dtype, op) -> value`` registered by
ScalarOp class name with ``@scalar_rule``. Values are computed as elemwise.py says:
floats as float/double, ints at their width, bool as i1. Everything here is branch-free
selects and compares, so the loops that inline these bodies vectorize. The semantics
are NumPy's, including the corner cases tests pin down: NaN propagates through maximum,
minimum, clip and relu (``a > b or isnan(a) ? a : b``, which also decides which zero
wins, as NumPy does), sign(nan) is nan, abs of the most negative integer wraps.

Integer division and powers live in scalar_rules_div.py; transcendental functions in
scalar_rules_math.py; the Composite rule (a fused expression) is at the end of this file.
"""

from __future__ import annotations

from llvmlite import ir

from ..graph.ops.composite import ScalarConstant
from . import scalar_rules_div, scalar_rules_math  # noqa: F401  (they register rules)
from .elemwise import emit_scalar, fast, is_float, scalar_rule, value_type
from .irutils import call_intrinsic

I1 = ir.IntType(1)
TRUE = ir.Constant(I1, 1)


def is_unsigned(dtype: str) -> bool:
    """Unsigned integer arithmetic (bool is i1, compared unsigned: True > False)."""
    return dtype in ("uint8", "bool")


def zero(dtype: str) -> ir.Constant:
    return ir.Constant(value_type(dtype), 0.0 if is_float(dtype) else 0)


def one(dtype: str) -> ir.Constant:
    return ir.Constant(value_type(dtype), 1.0 if is_float(dtype) else 1)


def isnan(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    return b.fcmp_unordered("uno", v, v)


# --------------------------------------------------------------------------------------
# Comparisons and logic


def compare(b: ir.IRBuilder, cmp: str, x: ir.Value, y: ir.Value, dtype: str) -> ir.Value:
    """x <cmp> y as NumPy: ordered float compares, except != which is true for NaN."""
    if is_float(dtype):
        if cmp == "!=":
            return b.fcmp_unordered("!=", x, y)
        return b.fcmp_ordered(cmp, x, y)
    if is_unsigned(dtype):
        return b.icmp_unsigned(cmp, x, y)
    return b.icmp_signed(cmp, x, y)


_COMPARISONS = {"Eq": "==", "Neq": "!=", "Lt": "<", "Le": "<=", "Gt": ">", "Ge": ">="}


def _make_compare(cmp: str):
    def emit(b, args, dt, out, op):
        return compare(b, cmp, args[0], args[1], dt[0])
    return emit


for _name, _cmp in _COMPARISONS.items():
    scalar_rule(_name)(_make_compare(_cmp))


@scalar_rule("LogicalAnd")
def _logical_and(b, args, dt, out, op):
    return b.and_(*args)


@scalar_rule("LogicalOr")
def _logical_or(b, args, dt, out, op):
    return b.or_(*args)


@scalar_rule("LogicalXor")
def _logical_xor(b, args, dt, out, op):
    return b.xor(*args)


@scalar_rule("LogicalNot")
def _logical_not(b, args, dt, out, op):
    return b.xor(args[0], TRUE)


@scalar_rule("IsNan")
def _isnan(b, args, dt, out, op):
    return isnan(b, args[0]) if is_float(dt[0]) else ir.Constant(I1, 0)


@scalar_rule("IsInf")
def _isinf(b, args, dt, out, op):
    if not is_float(dt[0]):
        return ir.Constant(I1, 0)
    magnitude = call_intrinsic(b, "llvm.fabs", args[0])
    return b.fcmp_ordered("==", magnitude, ir.Constant(args[0].type, float("inf")))


@scalar_rule("Where")
def _where(b, args, dt, out, op):
    return b.select(*args)


@scalar_rule("StopGradient")
def _identity(b, args, dt, out, op):
    return args[0]


# --------------------------------------------------------------------------------------
# Extrema: maximum minimum clip relu


def maximum(b: ir.IRBuilder, x: ir.Value, y: ir.Value, dtype: str) -> ir.Value:
    """NumPy's maximum: NaN in either input gives NaN; of two equal values, y."""
    if dtype == "bool":
        return b.or_(x, y)
    if is_float(dtype):
        return b.select(b.or_(b.fcmp_ordered(">", x, y), isnan(b, x)), x, y)
    return b.select(compare(b, ">", x, y, dtype), x, y)


def minimum(b: ir.IRBuilder, x: ir.Value, y: ir.Value, dtype: str) -> ir.Value:
    """NumPy's minimum: NaN in either input gives NaN; of two equal values, y."""
    if dtype == "bool":
        return b.and_(x, y)
    if is_float(dtype):
        return b.select(b.or_(b.fcmp_ordered("<", x, y), isnan(b, x)), x, y)
    return b.select(compare(b, "<", x, y, dtype), x, y)


@scalar_rule("Maximum")
def _maximum(b, args, dt, out, op):
    return maximum(b, args[0], args[1], out)


@scalar_rule("Minimum")
def _minimum(b, args, dt, out, op):
    return minimum(b, args[0], args[1], out)


@scalar_rule("Clip")
def _clip(b, args, dt, out, op):
    x, lo, hi = args
    return minimum(b, maximum(b, x, lo, out), hi, out)


@scalar_rule("Relu")
def _relu(b, args, dt, out, op):
    return maximum(b, args[0], zero(out), out)


# --------------------------------------------------------------------------------------
# Sign-related arithmetic: abs sign square reciprocal


@scalar_rule("Abs")
def _abs(b, args, dt, out, op):
    x = args[0]
    if is_float(out):
        return call_intrinsic(b, "llvm.fabs", x)
    if is_unsigned(out):
        return x
    # select(x < 0, -x, x): the most negative value wraps to itself, as in NumPy
    return b.select(b.icmp_signed("<", x, zero(out)), b.neg(x), x)


@scalar_rule("Sign")
def _sign(b, args, dt, out, op):
    x = args[0]
    if is_unsigned(out):
        return b.zext(b.icmp_unsigned("!=", x, zero(out)), x.type)
    if is_float(out):
        # NaN stays NaN; -0.0 and 0.0 both give +0.0 (as NumPy)
        pos = b.uitofp(b.fcmp_ordered(">", x, zero(out)), x.type)
        neg = b.uitofp(b.fcmp_ordered("<", x, zero(out)), x.type)
        return b.select(isnan(b, x), x, b.fsub(pos, neg))
    pos = b.zext(b.icmp_signed(">", x, zero(out)), x.type)
    neg = b.zext(b.icmp_signed("<", x, zero(out)), x.type)
    return b.sub(pos, neg)


@scalar_rule("Square")
def _square(b, args, dt, out, op):
    x = args[0]
    return fast(b.fmul(x, x)) if is_float(out) else b.mul(x, x)


@scalar_rule("Reciprocal")
def _reciprocal(b, args, dt, out, op):
    return b.fdiv(one(out), args[0])


# --------------------------------------------------------------------------------------
# Composite: the fused expression, inlined


@scalar_rule("Composite")
def _composite(b, args, dt, out, op):
    values: list[ir.Value] = list(args)
    for k, (inner, refs) in enumerate(op.entries):
        dtype = op.ref_dtype(op.nin + k)
        if isinstance(inner, ScalarConstant):
            values.append(_literal(inner.value, dtype))
            continue
        in_dtypes = [op.ref_dtype(r) for r in refs]
        values.append(emit_scalar(b, inner, [values[r] for r in refs], in_dtypes, dtype))
    return values[op.output]


def _literal(value, dtype: str) -> ir.Constant:
    if is_float(dtype):
        return ir.Constant(value_type(dtype), float(value))
    return ir.Constant(value_type(dtype), int(value))
