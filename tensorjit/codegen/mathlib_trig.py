"""sin, cos and tan: reduction modulo pi/2 (``mathlib_reduce``: exact for every finite
argument, branch-free) plus minimax polynomials. No libm call, no branch: the loop
vectorizes for any input. float32 is evaluated in double precision, so the reduction
and polynomial errors vanish below float32 rounding.
"""

from __future__ import annotations

import math

from llvmlite import ir

from tensorjit.codegen.irutils import F64
from tensorjit.codegen.mathlib_base import FP, Value, two_sum
from tensorjit.codegen.mathlib_reduce import reduce_f32, reduce_f64

# sin(r) = r + r^3 S(r^2), cos(r) = 1 - r^2/2 + r^4 C(r^2) on |r| <= pi/4, fitted by us
# (weighted least squares + Lawson, mpmath). Relative errors: the short pair (used for
# float32, evaluated in double) 2^-37.5 / 2^-42.9; the long pair 2^-57.1 / 2^-59.6.
SIN_SHORT = (-0.16666666640794892, 0.008333329304661245, -0.000198393122235019,
             2.718121265199336e-06)
COS_SHORT = (0.041666666619486856, -0.0013888883499769075, 2.4799460088077897e-05,
             -2.72057495755374e-07)
SIN_LONG = (-0.16666666666666666, 0.008333333333333323, -0.00019841269841254798,
            2.7557319214064642e-06, -2.5052104881807966e-08, 1.6058363160238452e-10,
            -7.578540093975629e-13)
COS_LONG = (0.041666666666666664, -0.0013888888888888872, 2.480158730157055e-05,
            -2.75573192149993e-07, 2.0876754286983466e-09, -1.1470284833443217e-11,
            4.7377503876103864e-14)


def _sin_cos_poly(fd: FP, r: Value, lo: Value, short: bool) -> tuple[Value, Value]:
    """Return (sin(r + lo), cos(r + lo)) for |r| <= pi/4 and |lo| << ulp(r)."""
    z = fd.mul(r, r)
    sin_c, cos_c = (SIN_SHORT, COS_SHORT) if short else (SIN_LONG, COS_LONG)
    # sin(r + lo) ~ sin(r) + lo*cos(r) and cos(r + lo) ~ cos(r) - lo*sin(r): first order
    # is enough because lo is below half an ulp of r.
    sin_tail = fd.fma(fd.mul(z, r), fd.poly(z, sin_c), fd.fma(fd.c(-0.5), fd.mul(z, lo), lo))
    sin_r = fd.add(r, sin_tail)  # sin(-0) = -0 is kept: -0 + -0
    # 1 - z/2 loses nothing: z/2 <= 0.31, and the polynomial term is added first.
    first_order = fd.fma(fd.neg(r), lo, fd.mul(fd.c(-0.5), z))
    cos_tail = fd.fma(fd.mul(z, z), fd.poly(z, cos_c), first_order)
    return sin_r, fd.add(fd.c(1.0), cos_tail)


def _reduce(fp: FP, x: Value) -> tuple[FP, Value, Value, Value]:
    """(double FP, quadrant i64, r, lo) with |x| = quadrant*pi/2 + r + lo (mod 2 pi)."""
    fd = fp.other(F64)
    if fp.is64:
        quadrant, r, lo = reduce_f64(fd, fp.abs(x))
    else:
        quadrant, r, lo = reduce_f32(fd, fp.bits(fp.abs(x)))
    return fd, quadrant, r, lo


def _finish(fp: FP, fd: FP, x: Value, y: Value, odd: bool) -> Value:
    """Round to fp, restore the sign for odd functions, and map inf/nan to nan."""
    y = y if fp.is64 else fd.narrow(y)
    if odd:  # f(-x) = -f(x), also f(-0) = -0
        y = fp.select(fp.signbit(x), fp.neg(y), y)
    finite = fp.lt(fp.abs(x), fp.c(math.inf))
    return fp.select(finite, y, fp.c(math.nan))


def _sin_or_cos(fp: FP, x: Value, phase: int) -> Value:
    """sin (phase 0) or cos (phase 1) of x, for |x| and then the symmetry."""
    fd, quadrant, r, lo = _reduce(fp, x)
    sin_r, cos_r = _sin_cos_poly(fd, r, lo, short=not fp.is64)
    q = fd.b.add(quadrant, ir.Constant(fd.it, phase))
    # Quadrant q: sin(x) = [sin r, cos r, -sin r, -cos r][q mod 4].
    use_cos = fd.b.trunc(q, ir.IntType(1))
    negate = fd.b.trunc(fd.b.lshr(q, ir.Constant(fd.it, 1)), ir.IntType(1))
    y = fd.select(use_cos, cos_r, sin_r)
    y = fd.select(negate, fd.neg(y), y)
    return _finish(fp, fd, x, y, odd=phase == 0)


def sin_body(fp: FP, x: Value) -> Value:
    """sin(x)."""
    return _sin_or_cos(fp, x, 0)


def cos_body(fp: FP, x: Value) -> Value:
    """cos(x)."""
    return _sin_or_cos(fp, x, 1)


def _sin_cos_parts(fd: FP, r: Value, lo: Value) -> tuple[Value, Value, Value, Value]:
    """sin(r + lo) = s_hi + s_lo and cos(r + lo) = c_hi + c_lo (double-doubles)."""
    z = fd.mul(r, r)
    sin_tail = fd.fma(fd.mul(z, r), fd.poly(z, SIN_LONG), fd.fma(fd.c(-0.5), fd.mul(z, lo), lo))
    first_order = fd.fma(fd.neg(r), lo, fd.mul(fd.c(-0.5), z))
    cos_tail = fd.fma(fd.mul(z, z), fd.poly(z, COS_LONG), first_order)
    s_hi, s_lo = two_sum(fd, r, sin_tail)
    c_hi, c_lo = two_sum(fd, fd.c(1.0), cos_tail)
    return s_hi, s_lo, c_hi, c_lo


def _dd_div(fd: FP, a_hi: Value, a_lo: Value, b_hi: Value, b_lo: Value) -> Value:
    """(a_hi + a_lo) / (b_hi + b_lo) to about 2^-104 relative, rounded once to double."""
    q = fd.div(a_hi, b_hi)
    resid = fd.fma(fd.neg(q), b_hi, a_hi)  # exact
    resid = fd.add(resid, fd.fma(fd.neg(q), b_lo, a_lo))
    return fd.add(q, fd.div(resid, b_hi))


def tan_body(fp: FP, x: Value) -> Value:
    """tan(x) = sin r / cos r (even quadrant) or -cos r / sin r (odd), divided in
    double-double so the quotient rounds once."""
    fd, quadrant, r, lo = _reduce(fp, x)
    odd = fd.b.trunc(quadrant, ir.IntType(1))
    if not fp.is64:  # double carries ~2^-37 relative error here: plenty for float32
        sin_r, cos_r = _sin_cos_poly(fd, r, lo, short=True)
        y = fd.div(fd.select(odd, cos_r, sin_r), fd.select(odd, sin_r, cos_r))
        return _finish(fp, fd, x, fd.select(odd, fd.neg(y), y), odd=True)
    s_hi, s_lo, c_hi, c_lo = _sin_cos_parts(fd, r, lo)
    num_hi, num_lo = fd.select(odd, c_hi, s_hi), fd.select(odd, c_lo, s_lo)
    den_hi, den_lo = fd.select(odd, s_hi, c_hi), fd.select(odd, s_lo, c_lo)
    y = _dd_div(fd, num_hi, num_lo, den_hi, den_lo)
    y = fd.select(odd, fd.neg(y), y)
    return _finish(fp, fd, x, y, odd=True)
