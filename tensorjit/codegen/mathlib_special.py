"""pow, erf, sinh and cosh as branch-free IR, built on the exp/log pieces.

float32 pow and erf are evaluated in double and rounded once at the end, which makes
them accurate to about half an ulp at the cost of half-width vectors. float64 pow
carries log(x) as a double-double so y*log(x) keeps ~60 bits before exp.
"""

from __future__ import annotations

import math

from tensorjit.codegen import mathlib_explog as el
from tensorjit.codegen.irutils import F64
from tensorjit.codegen.mathlib_base import FP, Value, two_prod, two_sum

# erf(x) = x * P(x^2) on |x| <= 1 (relative error: short 2^-29.6, long 2^-55.2).
ERF_SMALL_SHORT = (1.128379165726632, -0.3761262582368907, 0.11283585142435969,
                   -0.026853811676817597, 0.005188327194657208, -0.0008010189311497078,
                   7.853847111675353e-05)
ERF_SMALL_LONG = (1.1283791670955126, -0.3761263890318352, 0.11283791670944185,
                  -0.026866170643111423, 0.0052239776061181265, -0.0008548325929298499,
                  0.0001205529357644023, -1.4924712293486805e-05, 1.644713146982025e-06,
                  -1.6206313007913112e-07, 1.3710977257886776e-08, -7.779462812515164e-10)
# erfc(x) = exp(-x^2) R(x) for 1 <= x <= 4 (short) or 6 (long); absolute error of
# exp(-x^2) R(x) (what erf = 1 - erfc sees): short 2^-35.9, long 2^-55.3.
ERFC_R_SHORT = (0.9987325590811136, -1.1186285890681364, 0.9655436375337333,
                -0.6778444864773943, 0.3896186569804707, -0.18070207039839017,
                0.0659659895807855, -0.018355682024192594, 0.0037303226016245326,
                -0.0005190753771777041, 4.4024476766306194e-05, -1.710797020716354e-06)
ERFC_R_LONG = (0.9999997367599348, -1.1283756903328734, 0.9999781287042594,
               -0.752165510503077, 0.4997518414407732, -0.3003652985435652,
               0.16575267336659072, -0.08470608525041667, 0.04021541668821788,
               -0.017705739496145397, 0.007185114398728307, -0.0026627359196619515,
               0.0008911671337009744, -0.00026615499539360776, 7.007368508740345e-05,
               -1.6063219028655993e-05, 3.1646146404979032e-06, -5.281833238944045e-07,
               7.34347712614372e-08, -8.327359381072451e-09, 7.487868862573754e-10,
               -5.126973489021032e-11, 2.5073959690608267e-12, -7.791037549090411e-14,
               1.1544847188875441e-15)
# R(z) of the log in pow, degree 8 (absolute error 2^-60.6), see mathlib_explog.LOGD_R.
POW_LOG_R = (0.0, 0.6666666666666666, 0.4000000000000624, 0.28571428569087254,
             0.2222222264658318, 0.18181775683016158, 0.15387089977262203,
             0.13250136011012043, 0.13251164277665842)


def _erf_double(fd: FP, x: Value, short: bool) -> Value:
    """erf in double: x P(x^2) below 1, 1 - exp(-x^2) R(|x|) above (no cancellation:
    erfc <= 0.16 there)."""
    a = fd.abs(x)
    small = fd.mul(x, fd.poly(fd.mul(x, x), ERF_SMALL_SHORT if short else ERF_SMALL_LONG))
    cap = 4.0 if short else 6.0  # erf rounds to 1 beyond
    ac = fd.select(fd.gt(a, fd.c(cap)), fd.c(cap), a)  # nan stays nan
    # exp(-a^2) with a^2 = h + l exactly: exp(-h - l) ~ exp(-h) (1 - l).
    h, l_err = two_prod(fd, ac, ac)
    e = el.exp_body(fd, fd.neg(h))
    e = fd.fma(e, fd.neg(l_err), e)
    erfc = fd.mul(e, fd.poly(ac, ERFC_R_SHORT if short else ERFC_R_LONG))
    large = fd.copysign(fd.sub(fd.c(1.0), erfc), x)
    return fd.select(fd.lt(a, fd.c(1.0)), small, large)


def erf_body(fp: FP, x: Value) -> Value:
    """erf(x); float32 goes through double."""
    if fp.is64:
        return _erf_double(fp, x, short=False)
    fd = fp.other(F64)
    return fd.narrow(_erf_double(fd, fd.ext(x), short=True))


def _half_exp_large(fp: FP, a: Value) -> Value:
    """exp(a)/2 for a >= 0 without overflowing early: the halving is folded into 2^n."""
    lo, hi = el._exp_limits(fp)
    n, r = el.exp_reduce(fp, fp.clamp(a, lo, hi))
    n_minus_1 = fp.b.sub(fp.to_int(n), fp.ci(1))
    return fp.scale(el.exp_poly(fp, r), n_minus_1)


def _large_threshold(fp: FP) -> float:
    """|x| past which exp(-|x|) no longer changes sinh/cosh (e^-2x below 2^-(mant+2))."""
    return fp.pick(9.0, 19.0)


def sinh_body(fp: FP, x: Value) -> Value:
    """sinh(x) = (E + E/(E+1))/2 with E = expm1(|x|) (no cancellation), exp(|x|)/2 beyond."""
    a = fp.abs(x)
    e = el.expm1_body(fp, a)
    moderate = fp.mul(fp.c(0.5), fp.add(e, fp.div(e, fp.add(e, fp.c(1.0)))))
    large = _half_exp_large(fp, a)
    y = fp.select(fp.gt(a, fp.c(_large_threshold(fp))), large, moderate)
    return fp.copysign(y, x)  # nan propagates through expm1


def cosh_body(fp: FP, x: Value) -> Value:
    """cosh(x) = (e + 1/e)/2 with e = exp(|x|), exp(|x|)/2 beyond the threshold."""
    a = fp.abs(x)
    e = el.exp_body(fp, fp.select(fp.gt(a, fp.c(_large_threshold(fp))), fp.c(0.0), a))
    moderate = fp.mul(fp.c(0.5), fp.add(e, fp.div(fp.c(1.0), e)))
    y = fp.select(fp.gt(a, fp.c(_large_threshold(fp))), _half_exp_large(fp, a), moderate)
    return fp.select(fp.isnan(x), x, y)


def _log_double_double(fd: FP, x: Value) -> tuple[Value, Value]:
    """log(x) = hi + lo for finite x > 0, good to ~2^-60 relative (double only)."""
    k, f = el.log_reduce(fd, x)
    # s = f / (2 + f) as a double-double: 2 + f itself may round, so carry its error.
    u_hi, u_lo = two_sum(fd, fd.c(2.0), f)
    s_hi = fd.div(f, u_hi)
    resid = fd.fma(fd.neg(s_hi), u_lo, fd.fma(fd.neg(s_hi), u_hi, f))
    s_lo = fd.div(resid, u_hi)
    # log1p(f) = 2s + c1 s^3 + s^5 R2(s^2). The c1 s^3 term is ~1% of the result, so
    # it is formed as a double-double too; the rest is small enough for plain doubles.
    z_hi, z_lo = two_prod(fd, s_hi, s_hi)
    cube, cube_err = two_prod(fd, s_hi, z_hi)
    cube_lo = fd.fma(fd.mul(fd.c(3.0), s_lo), z_hi, fd.fma(s_hi, z_lo, cube_err))
    c1 = POW_LOG_R[1]
    third, third_err = two_prod(fd, fd.c(c1), cube)
    third_lo = fd.fma(fd.c(c1), cube_lo, third_err)
    rest = fd.mul(fd.mul(cube, z_hi), fd.poly(z_hi, POW_LOG_R[2:]))
    # k ln2 (k * LN2_HI is exact) + 2 s_hi (exact) + c1 s^3, summed with TwoSum.
    hi, err1 = two_sum(fd, fd.mul(k, fd.c(el.LN2_HI[1])), fd.add(s_hi, s_hi))
    hi, err2 = two_sum(fd, hi, third)
    small = fd.fma(k, fd.c(el.LN2_LO[1]), fd.add(s_lo, s_lo))
    small = fd.add(fd.add(small, fd.add(third_lo, rest)), fd.add(err1, err2))
    return two_sum(fd, hi, small)


def _pow_double(fd: FP, ax: Value, y: Value, extra_precision: bool) -> Value:
    """|x|**y = exp(y log|x|) in double, carrying y*log|x| as hi + lo when asked."""
    if not extra_precision:
        return el.exp_body(fd, fd.mul(y, el.log_body(fd, ax)))
    log_hi, log_lo = _log_double_double(fd, ax)
    t_hi, t_err = two_prod(fd, y, log_hi)
    lo, hi = el._exp_limits(fd)
    # Outside the clamp range the result is 0 or inf anyway; a huge t_lo would only
    # turn exp's (1 + t_lo) correction negative.
    in_range = fd.lt(fd.abs(t_hi), fd.c(hi))
    t_lo = fd.select(in_range, fd.fma(y, log_lo, t_err), fd.c(0.0))
    n, r = el.exp_reduce(fd, fd.clamp(t_hi, lo, hi))
    p = el.exp_poly(fd, r)
    p = fd.fma(p, t_lo, p)  # exp(r + t_lo) ~ exp(r) (1 + t_lo)
    result = fd.scale(p, fd.to_int(n))
    # Zero, inf and nan inputs follow from the plain formula (log 0 = -inf etc.).
    plain = el.exp_body(fd, fd.mul(y, el.log_body(fd, ax)))
    finite_positive = fd.and_(fd.gt(ax, fd.c(0.0)), fd.lt(ax, fd.c(math.inf)))
    regular = fd.and_(finite_positive, fd.lt(fd.abs(y), fd.c(math.inf)))
    return fd.select(regular, result, plain)


def pow_body(fp: FP, x: Value, y: Value) -> Value:
    """x**y with the IEEE/C99 special cases np.power follows."""
    fd = fp.other(F64)
    ax = fp.abs(x)
    if fp.is64:
        mag = _pow_double(fd, ax, y, extra_precision=True)
    else:
        mag = fd.narrow(_pow_double(fd, fd.ext(ax), fd.ext(y), extra_precision=False))
    y_int = fp.eq(fp.floor(y), y)  # true for +-inf, false for nan
    half_y = fp.mul(y, fp.c(0.5))
    y_odd = fp.and_(y_int, fp.not_(fp.eq(fp.floor(half_y), half_y)))
    out = fp.select(fp.and_(fp.signbit(x), y_odd), fp.neg(mag), mag)
    # A finite negative base to a finite non-integer power has no real value.
    negative_finite = fp.and_(fp.lt(x, fp.c(0.0)), fp.gt(x, fp.c(-math.inf)))
    no_real = fp.and_(negative_finite, fp.and_(fp.not_(y_int), fp.not_(fp.isinf(y))))
    out = fp.select(fp.and_(no_real, fp.not_(fp.isnan(y))), fp.c(math.nan), out)
    one = fp.c(1.0)
    out = fp.select(fp.and_(fp.eq(x, fp.c(-1.0)), fp.isinf(y)), one, out)
    out = fp.select(fp.eq(x, one), one, out)  # 1**y = 1 even for nan y
    return fp.select(fp.eq(y, fp.c(0.0)), one, out)  # x**0 = 1 even for nan x
