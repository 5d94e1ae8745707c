"""arcsin, arccos and arctan as branch-free IR (float32 evaluated in double).

Both families reduce to one odd polynomial u + u^3 P(u^2) on a small interval:
* arctan: |x| is mapped to t in [-tan(pi/8), tan(pi/8)] by one of t = |x|, (|x|-1)/(|x|+1)
  or -1/|x| (selected, one division, its rounding error kept as t_lo), and
  atan|x| = {0, pi/4, pi/2} + atan(t);
* arcsin/arccos: |x| <= 1/2 uses u = |x|; above, asin|x| = pi/2 - 2 asin(s) with
  s = sqrt((1-|x|)/2) <= 1/2 (exact argument, sqrt's rounding error kept as s_lo).
The constants pi/4, pi/2, pi are double-doubles and the final sum is done with TwoSum,
so the float64 results are within about half an ulp plus the polynomial error.
Polynomials were fitted by the tensorjit authors (Chebyshev interpolation in mpmath);
the comment gives the max error relative to the function on the interval.
"""

from __future__ import annotations

from tensorjit.codegen.irutils import F64
from tensorjit.codegen.mathlib_base import FP, Value, two_sum

PIO4 = (0.7853981633974483, 3.061616997868383e-17)
PIO2 = (1.5707963267948966, 6.123233995736766e-17)
PI = (3.141592653589793, 1.2246467991473532e-16)
TAN_PI_8 = 0.41421356237309503
TAN_3PI_8 = 2.414213562373095

# atan(t) = t + t^3 P(t^2), t^2 <= tan(pi/8)^2. Short (float32): 2^-33.5; long: 2^-58.2.
ATAN_SHORT = (-0.333333332792548, 0.19999977258688387, -0.14284151193628614,
              0.11071365021884794, -0.08624676145249494, 0.050481385120797445)
ATAN_LONG = (-0.3333333333333333, 0.19999999999999804, -0.14285714285659828,
             0.11111111105155447, -0.09090908753500877, 0.07692296375032143,
             -0.06666424885738255, 0.05878928997834775, -0.05230454270650244,
             0.04551593220626549, -0.034570561981427744, 0.016285756855221028)
# asin(u) = u + u^3 P(u^2), u^2 <= 1/4. Short: 2^-33.9; long: 2^-58.5.
ASIN_SHORT = (0.16666666686085643, 0.07499992404401838, 0.04464766388813485,
              0.030269138728589183, 0.023611817008891752, 0.010574415516912909,
              0.030974540371355073)
ASIN_LONG = (0.16666666666666666, 0.07500000000000118, 0.044642857142551895,
             0.03038194447553234, 0.02237215744350722, 0.017352816540325496,
             0.01396378001220357, 0.011566459612121669, 0.009621842970100282,
             0.009319560794767446, 0.0030448799094556773, 0.019554513336123378,
             -0.01924167174674304, 0.02961201126495512)


def _in_double(fp: FP, x: Value, body) -> Value:
    """Run ``body(fd, x, short)`` in double; float32 is widened and rounded once."""
    if fp.is64:
        return body(fp, x, False)
    fd = fp.other(F64)
    return fd.narrow(body(fd, fd.ext(x), True))


def _atan_double(fd: FP, x: Value, short: bool) -> Value:
    """atan(x) in double (see the module docstring)."""
    a = fd.abs(x)
    mid = fd.gt(a, fd.c(TAN_PI_8))
    big = fd.gt(a, fd.c(TAN_3PI_8))  # also +inf: t = -1/inf = -0, result pi/2
    minus_hi, minus_lo = two_sum(fd, a, fd.c(-1.0))  # inexact only for |x| < 1/2
    plus_hi, plus_lo = two_sum(fd, a, fd.c(1.0))
    num = fd.select(big, fd.c(-1.0), fd.select(mid, minus_hi, a))
    num_lo = fd.select(big, fd.c(0.0), fd.select(mid, minus_lo, fd.c(0.0)))
    den = fd.select(big, a, fd.select(mid, plus_hi, fd.c(1.0)))
    den_lo = fd.select(big, fd.c(0.0), fd.select(mid, plus_lo, fd.c(0.0)))
    if short:  # float32 in double: t's rounding (2^-53) is far below float32's ulp
        t, t_lo = fd.div(num, den), fd.c(0.0)
    else:
        inv = fd.div(fd.c(1.0), den)
        t = fd.mul(num, inv)
        # num/den = t + t_lo: the remainder of a faithful quotient is exact under FMA.
        resid = fd.add(fd.fma(fd.neg(t), den, num), fd.fma(fd.neg(t), den_lo, num_lo))
        t_lo = fd.mul(resid, inv)
        t_lo = fd.select(fd.lt(a, fd.c(float("inf"))), t_lo, fd.c(0.0))  # inf*0 in resid
    z = fd.mul(t, t)
    poly = fd.mul(fd.mul(t, z), fd.poly(z, ATAN_SHORT if short else ATAN_LONG))
    # atan(t + t_lo) ~ atan(t) + t_lo (1 - t^2)
    small = fd.add(poly, fd.fma(fd.neg(z), t_lo, t_lo))
    base_hi = fd.select(big, fd.c(PIO2[0]), fd.select(mid, fd.c(PIO4[0]), fd.c(0.0)))
    base_lo = fd.select(big, fd.c(PIO2[1]), fd.select(mid, fd.c(PIO4[1]), fd.c(0.0)))
    hi, lo = two_sum(fd, base_hi, t)
    y = fd.add(hi, fd.add(lo, fd.add(small, base_lo)))
    return fd.copysign(y, x)  # atan(-0) = -0; nan stays nan


def arctan_body(fp: FP, x: Value) -> Value:
    """arctan(x); +-inf -> +-pi/2."""
    return _in_double(fp, x, _atan_double)


def _asin_parts(fd: FP, a: Value, short: bool) -> tuple[Value, Value, Value, Value]:
    """For a = |x|: (large, u, u_lo, p) with asin(u + u_lo) ~ u + u_lo + p, where u = a if
    not large (a <= 1/2), else u = sqrt((1-a)/2) rounded and u_lo its rounding error.
    a > 1 or nan give nan in u."""
    large = fd.gt(a, fd.c(0.5))
    half_rest = fd.mul(fd.sub(fd.c(1.0), a), fd.c(0.5))  # exact for 1/2 <= a <= 1
    s = fd.sqrt(half_rest)
    u = fd.select(large, s, a)
    if short:  # float32 in double: sqrt's rounding is far below float32's ulp
        u_lo = fd.c(0.0)
    else:
        # sqrt(w) = s + (w - s^2) / (2 s); w - s^2 is exact with FMA. s = 0 at |x| = 1.
        s_lo = fd.div(fd.fma(fd.neg(s), s, half_rest), fd.add(s, s))
        s_lo = fd.select(fd.gt(s, fd.c(0.0)), s_lo, fd.c(0.0))
        u_lo = fd.select(large, s_lo, fd.c(0.0))
    z = fd.select(large, half_rest, fd.mul(a, a))
    p = fd.mul(fd.mul(u, z), fd.poly(z, ASIN_SHORT if short else ASIN_LONG))
    return large, u, u_lo, p


def _asin_double(fd: FP, x: Value, short: bool) -> Value:
    """asin(x) in double: u + p, or pi/2 - 2 (u + u_lo + p) for |x| > 1/2."""
    large, u, u_lo, p = _asin_parts(fd, fd.abs(x), short)
    hi, lo = two_sum(fd, fd.c(PIO2[0]), fd.mul(fd.c(-2.0), u))
    tail = fd.sub(fd.c(PIO2[1]), fd.mul(fd.c(2.0), fd.add(u_lo, p)))
    y = fd.select(large, fd.add(hi, fd.add(lo, tail)), fd.add(u, p))
    return fd.copysign(y, x)  # asin(-0) = -0; nan stays nan


def _acos_double(fd: FP, x: Value, short: bool) -> Value:
    """acos(x) in double: pi/2 - asin(x) for |x| <= 1/2; 2 asin(s) or pi - 2 asin(s)."""
    large, u, u_lo, p = _asin_parts(fd, fd.abs(x), short)
    negative = fd.signbit(x)
    # |x| <= 1/2: pi/2 - (x + sign(x) p)
    hi1, lo1 = two_sum(fd, fd.c(PIO2[0]), fd.neg(x))
    small_y = fd.add(hi1, fd.add(lo1, fd.sub(fd.c(PIO2[1]), fd.copysign(p, x))))
    # x > 1/2: 2 (u + u_lo + p); x < -1/2: pi - 2 (u + u_lo + p)
    twice = fd.mul(fd.c(2.0), fd.add(u, fd.add(u_lo, p)))
    hi2, lo2 = two_sum(fd, fd.c(PI[0]), fd.mul(fd.c(-2.0), u))
    tail2 = fd.sub(fd.c(PI[1]), fd.mul(fd.c(2.0), fd.add(u_lo, p)))
    neg_y = fd.add(hi2, fd.add(lo2, tail2))
    large_y = fd.select(negative, neg_y, twice)
    y = fd.select(large, large_y, small_y)
    return fd.select(fd.isnan(x), x, y)


def arcsin_body(fp: FP, x: Value) -> Value:
    """arcsin(x); nan outside [-1, 1]."""
    return _in_double(fp, x, _asin_double)


def arccos_body(fp: FP, x: Value) -> Value:
    """arccos(x); nan outside [-1, 1]."""
    return _in_double(fp, x, _acos_double)

