"""Scalar IR of floor division, remainder and integer powers, with NumPy's semantics.

Integers: the quotient is floored and the remainder takes the divisor's sign (Python's
rules); division by zero gives 0 for both, as NumPy does (it only warns). LLVM's
``sdiv``/``srem`` by 0, and of the most negative value by -1, are undefined (x86
traps), so the divisor is replaced by 1 in those lanes before dividing and the result
is fixed up with a select: no branch, no trap.

Floats follow NumPy's ``npy_divmod``: ``mod = fmod(a, b)``, ``div = (a - mod) / b``,
moved down by one where mod and b differ in sign, then snapped to the nearest integer.
``fmod`` is computed without a libm call: ``a - trunc(a/b)*b`` with one FMA is exact
once the quotient is right, and ``a/b`` can only round up to the next integer (fixed by
one correction step) while ``|a/b| < 2**mantissa``; beyond that, and for inf/nan/zero
operands, a rarely taken branch calls LLVM's ``frem`` (libm's fmod).
"""

from __future__ import annotations

from llvmlite import ir

from .elemwise import is_float, report_value_error, scalar_rule
from .irutils import call_intrinsic
from .scalar_rules_math import float_pow

I1 = ir.IntType(1)


def _const(v: ir.Value, value: float) -> ir.Constant:
    return ir.Constant(v.type, value)


# --------------------------------------------------------------------------------------
# Integers


def _int_divmod(b: ir.IRBuilder, x: ir.Value, y: ir.Value,
                unsigned: bool) -> tuple[ir.Value, ir.Value]:
    """Floored (quotient, remainder) with y == 0 giving (0, 0) and MIN // -1 == MIN."""
    is_zero = b.icmp_unsigned("==", y, _const(y, 0))
    if unsigned:
        safe = b.select(is_zero, _const(y, 1), y)
        q = b.select(is_zero, _const(y, 0), b.udiv(x, safe))
        return q, b.urem(x, safe)  # x % 1 == 0 where y == 0
    minus_one = b.icmp_signed("==", y, _const(y, -1))
    safe = b.select(b.or_(is_zero, minus_one), _const(y, 1), y)
    q = b.sdiv(x, safe)
    r = b.srem(x, safe)
    # C truncates toward zero; floor instead when the remainder and divisor differ in sign
    adjust = b.and_(b.icmp_signed("!=", r, _const(r, 0)),
                    b.icmp_signed("<", b.xor(r, safe), _const(r, 0)))
    q = b.sub(q, b.zext(adjust, q.type))
    r = b.add(r, b.select(adjust, safe, _const(r, 0)))
    q = b.select(minus_one, b.neg(x), q)  # wraps for the most negative value, as NumPy
    return b.select(is_zero, _const(q, 0), q), r


# --------------------------------------------------------------------------------------
# Floats


def _signbit(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    width = 32 if isinstance(v.type, ir.FloatType) else 64
    bits = b.bitcast(v, ir.IntType(width))
    return b.icmp_signed("<", bits, ir.Constant(ir.IntType(width), 0))


def fmod(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """C's fmod(x, y): x - trunc(x / y) * y, exactly (see the module docstring)."""
    mantissa = 24 if isinstance(x.type, ir.FloatType) else 53
    q = b.fdiv(x, y)
    n = call_intrinsic(b, "llvm.trunc", q)
    r = call_intrinsic(b, "llvm.fma", b.fneg(n), y, x)
    # x / y rounded up to an integer: n is one too far from zero and r has the wrong sign
    over = b.and_(b.fcmp_ordered("!=", r, _const(r, 0.0)),
                  b.xor(_signbit(b, r), _signbit(b, x)))
    n2 = b.fsub(n, call_intrinsic(b, "llvm.copysign", _const(q, 1.0), q))
    r = b.select(over, call_intrinsic(b, "llvm.fma", b.fneg(n2), y, x), r)
    fast = call_intrinsic(b, "llvm.copysign", r, x)  # fmod(-4, 2) is -0.0
    huge = b.fcmp_unordered(">=", call_intrinsic(b, "llvm.fabs", q),
                            _const(q, float(2 ** mantissa)))
    inf_y = b.fcmp_ordered("==", call_intrinsic(b, "llvm.fabs", y), _const(y, float("inf")))
    rare = b.or_(huge, inf_y)
    entry = b.basic_block
    with b.if_then(rare, likely=False):
        slow = b.frem(x, y)
        slow_block = b.basic_block
    result = b.phi(x.type)
    result.add_incoming(fast, entry)
    result.add_incoming(slow, slow_block)
    return result


def _float_divmod(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    """NumPy's npy_divmod for floats: (floor quotient, remainder with y's sign)."""
    zero, one = _const(x, 0.0), _const(x, 1.0)
    mod = fmod(b, x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    nonzero_mod = b.fcmp_unordered("!=", mod, zero)  # NaN counts as non-zero, as in C
    differ = b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero))
    adjust = b.and_(nonzero_mod, differ)
    mod = b.select(adjust, b.fadd(mod, y), mod)
    div = b.select(adjust, b.fsub(div, one), div)
    mod = b.select(nonzero_mod, mod, call_intrinsic(b, "llvm.copysign", zero, y))
    floor = call_intrinsic(b, "llvm.floor", div)
    # snap to the nearest integer: (x - mod) / y is only nearly an integer
    floor = b.select(b.fcmp_ordered(">", b.fsub(div, floor), _const(x, 0.5)),
                     b.fadd(floor, one), floor)
    quotient = b.fdiv(x, y)
    floor = b.select(b.fcmp_unordered("!=", div, zero), floor,
                     call_intrinsic(b, "llvm.copysign", zero, quotient))
    # division by zero: inf or nan like x / y (the remainder is already nan)
    by_zero = b.fcmp_ordered("==", y, zero)
    return b.select(by_zero, quotient, floor), mod


@scalar_rule("FloorDiv")
def _floor_div(b, args, dt, out, op):
    if is_float(out):
        return _float_divmod(b, *args)[0]
    return _int_divmod(b, *args, unsigned=out == "uint8")[0]


@scalar_rule("Mod")
def _mod(b, args, dt, out, op):
    if is_float(out):
        return _float_divmod(b, *args)[1]
    return _int_divmod(b, *args, unsigned=out == "uint8")[1]


# --------------------------------------------------------------------------------------
# Integer powers (float pow is in scalar_rules_math.py)


def int_pow(b: ir.IRBuilder, base: ir.Value, exponent: ir.Value, unsigned: bool) -> ir.Value:
    """base ** exponent by squaring (wrapping, as NumPy), one loop step per exponent bit.

    A loop, not the unrolled chain of selects: LLVM takes minutes to optimize 63
    unrolled steps. The loop runs at most the bit width times (the exponent is shifted
    right logically), so it ends for negative exponents too, which are reported.
    """
    if not unsigned:
        # NumPy raises "Integers to negative integer powers are not allowed"
        report_value_error(b, b.icmp_signed("<", exponent, _const(exponent, 0)))
    entry = b.basic_block
    header = b.append_basic_block("pow.header")
    body = b.append_basic_block("pow.body")
    done = b.append_basic_block("pow.done")
    b.branch(header)
    b.position_at_end(header)
    result = b.phi(base.type, name="pow.result")
    power = b.phi(base.type, name="pow.base")
    rest = b.phi(exponent.type, name="pow.exponent")
    b.cbranch(b.icmp_unsigned("!=", rest, _const(rest, 0)), body, done)
    b.position_at_end(body)
    bit = b.trunc(rest, I1)
    next_result = b.select(bit, b.mul(result, power), result)
    next_power = b.mul(power, power)
    next_rest = b.lshr(rest, _const(rest, 1))
    b.branch(header)
    result.add_incoming(_const(base, 1), entry)
    result.add_incoming(next_result, body)
    power.add_incoming(base, entry)
    power.add_incoming(next_power, body)
    rest.add_incoming(exponent, entry)
    rest.add_incoming(next_rest, body)
    b.position_at_end(done)
    return result


@scalar_rule("Pow")
def _pow(b, args, dt, out, op):
    if is_float(out):
        return float_pow(b, *args)
    return int_pow(b, *args, unsigned=out == "uint8")
