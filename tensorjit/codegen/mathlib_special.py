"""pow, erf, sinh and cosh as branch-free IR, built on the exp/log pieces.

float32 pow and erf are evaluated in double and rounded once at the end, which makes
them accurate to about half an ulp at the cost of half-width vectors (float32 pow uses
short log2/exp2 polynomials: double precision is far more than it needs). float64 pow
carries log(x) as a double-double so y*log(x) keeps ~60 bits before exp. Special
inputs of pow are handled by selects, not by a second evaluation.
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
# sinh(x) = x + x^3 P(x^2) on |x| <= 1: relative error 2^-32.5 (f32), 2^-56.8 (f64).
SINH_P32 = (0.16666666646842135, 0.00833333967591706, 0.00019838101968683888,
            2.8062802582276946e-06)
SINH_P64 = (0.16666666666666666, 0.008333333333333333, 0.00019841269841269773,
            2.755731922404034e-06, 2.505210836405804e-08, 1.6059048396350562e-10,
            7.646625361656657e-13, 2.8445264169895285e-15)
# float32 pow: log2(1+f) = s Q(s^2), s = f/(2+f), s^2 <= (3-2 sqrt 2)^2: rel. err 2^-37.8;
# 2^r for |r| <= 1/2: rel. err 2^-34.1.
POW32_LOG2_Q = (2.885390081789987, 0.9617966734515485, 0.5770835660048659,
                0.41167376623771057, 0.3407120415619086)
POW32_EXP2_P = (0.9999999999595618, 0.6931471805568324, 0.24022651213498092,
                0.055504109063258665, 0.009618025613318034, 0.0013333478473685416,
                0.00015469729214118296, 1.5303700711365693e-05)
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


def sinh_body(fp: FP, x: Value) -> Value:
    """sinh(x) = x + x^3 P(x^2) for |x| < 1, else e - 1/(4e) with e = exp(|x|)/2 (one exp,
    and no cancellation: 1/(4e) <= 0.14 e there)."""
    a = fp.abs(x)
    small = fp.fma(fp.mul(a, fp.mul(a, a)), fp.poly(fp.mul(a, a), _sel_sinh(fp)), a)
    half_e = _half_exp_large(fp, a)  # the clamp maps nan to a number: patched below
    large = fp.sub(half_e, fp.div(fp.c(0.25), half_e))
    y = fp.select(fp.lt(a, fp.c(1.0)), small, large)
    y = fp.select(fp.isnan(x), x, y)
    return fp.copysign(y, x)  # sinh(-0) = -0


def _sel_sinh(fp: FP) -> tuple[float, ...]:
    """The sinh polynomial for this precision."""
    return SINH_P64 if fp.is64 else SINH_P32


def cosh_body(fp: FP, x: Value) -> Value:
    """cosh(x) = e + 1/(4e) with e = exp(|x|)/2: one exp, one division, overflow only
    where cosh itself overflows (1/(4 inf) = 0)."""
    half_e = _half_exp_large(fp, fp.abs(x))
    y = fp.add(half_e, fp.div(fp.c(0.25), half_e))
    return fp.select(fp.isnan(x), x, y)


def _log_double_double(fd: FP, x: Value) -> tuple[Value, Value]:
    """log(x) = hi + lo for finite x > 0, good to ~2^-60 relative (double only)."""
    k, f = el.log_reduce(fd, x)
    # s = f / (2 + f) as a double-double: 2 + f itself may round, so carry its error.
    u_hi, u_lo = two_sum(fd, fd.c(2.0), f)
    # One division: s_hi = f * (1/u_hi) is faithful, so its remainder is still exact.
    inv = fd.div(fd.c(1.0), u_hi)
    s_hi = fd.mul(f, inv)
    resid = fd.fma(fd.neg(s_hi), u_lo, fd.fma(fd.neg(s_hi), u_hi, f))
    s_lo = fd.mul(resid, inv)
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


def _regular(fd: FP, ax: Value) -> Value:
    """0 < ax < inf (false for nan)."""
    return fd.and_(fd.gt(ax, fd.c(0.0)), fd.lt(ax, fd.c(math.inf)))


def _log_special(fd: FP, ax: Value) -> Value:
    """log of a non-regular |x|: -inf at 0, else ax itself (inf -> inf, nan -> nan)."""
    return fd.select(fd.eq(ax, fd.c(0.0)), fd.c(-math.inf), ax)


def _pow_double(fd: FP, ax: Value, y: Value) -> Value:
    """|x|**y = exp(y log|x|) in double, with y*log|x| carried as hi + lo (~2^-60).

    Zero, infinite and nan |x| get log = -inf, inf, nan by a select; then an infinite
    t = y log|x| gives 0 or inf through exp's clamp and a nan t gives nan, so the special
    inputs cost a few selects (x = 1, y = 0 and signs are patched by the caller)."""
    log_hi, log_lo = _log_double_double(fd, ax)
    log_hi = fd.select(_regular(fd, ax), log_hi, _log_special(fd, ax))
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
    return fd.select(fd.isnan(t_hi), t_hi, result)


def _pow_single(fp: FP, ax: Value, y: Value) -> Value:
    """|x|**y for float32 via double: 2^(y log2|x|). Relative errors: log2 2^-37.8
    (times |t| <= ~150 before clamping), 2^r 2^-34, so the double result is good to
    ~2^-31 and rounds once to float32."""
    fd = fp.other(F64)
    xd, yd = fd.ext(ax), fd.ext(y)
    k, f = el.log_reduce(fd, xd)
    s = fd.div(f, fd.add(fd.c(2.0), f))
    log2_x = fd.fma(s, fd.poly_estrin(fd.mul(s, s), POW32_LOG2_Q), k)
    log2_x = fd.select(_regular(fd, xd), log2_x, _log_special(fd, xd))
    t = fd.mul(yd, log2_x)
    n = fd.rint(fd.clamp(t, -200.0, 200.0))  # float32 over/underflows far inside
    r = fd.sub(fd.clamp(t, -200.0, 200.0), n)  # exact
    y_d = fd.mul(fd.poly_estrin(r, POW32_EXP2_P), fd.pow2i(fd.to_int(n)))
    y_d = fd.select(fd.isnan(t), t, y_d)
    return fd.narrow(y_d)


def pow_body(fp: FP, x: Value, y: Value) -> Value:
    """x**y with the IEEE/C99 special cases np.power follows."""
    ax = fp.abs(x)
    mag = _pow_double(fp, ax, y) if fp.is64 else _pow_single(fp, ax, y)
    y_int = fp.eq(fp.floor(y), y)  # true for +-inf, false for nan
    half_y = fp.mul(y, fp.c(0.5))
    y_odd = fp.and_(y_int, fp.b.fcmp_unordered("!=", fp.floor(half_y), half_y))
    out = fp.select(fp.and_(fp.signbit(x), y_odd), fp.neg(mag), mag)
    # A finite negative base to a non-integer power has no real value (nan y: nan too).
    no_real = fp.and_(fp.and_(fp.lt(x, fp.c(0.0)), fp.gt(x, fp.c(-math.inf))),
                      fp.not_(y_int))
    out = fp.select(no_real, fp.c(math.nan), out)
    # 1**y = 1 (even for nan y), x**0 = 1 (even for nan x), (-1)**+-inf = 1.
    is_one = fp.or_(fp.eq(x, fp.c(1.0)), fp.eq(y, fp.c(0.0)))
    is_one = fp.or_(is_one, fp.and_(fp.eq(ax, fp.c(1.0)), fp.isinf(y)))
    return fp.select(is_one, fp.c(1.0), out)
