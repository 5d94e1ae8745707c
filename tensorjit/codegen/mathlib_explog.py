"""Exponentials and logarithms as branch-free IR (exp, exp2, expm1, log, log2, log10, log1p)
and the functions built from them (tanh, sigmoid, softplus).

Each ``*_body(fp, x)`` emits the computation into ``fp``'s builder and returns the
result value. Polynomial coefficients were fitted offline by the tensorjit authors
(weighted least squares on Chebyshev nodes with Lawson reweighting, in mpmath at 50
digits, then rounded to the target precision); the comment on each table states the
fitted interval and the max relative error of the rounded polynomial.
"""

from __future__ import annotations

import math

from tensorjit.codegen.mathlib_base import FP, Value, two_sum

INF = math.inf
NAN = math.nan
LOG2E = 1.4426950408889634

# Cody-Waite split of ln 2: the high parts have trailing zero bits, so n * LN2_HI is
# exact for the |n| we produce and x - n * LN2_HI is exact (Sterbenz).
LN2_HI = (0.693359375, 6.93147180369123816490e-01)
LN2_LO = (-2.12194440e-4, 1.90821492927058770002e-10)

# exp(r) = 1 + r + r^2 * P(r) on |r| <= ln2/2.  f32: rel. err 2^-29.8; f64: 2^-60.3.
EXP_P = (
    (0.5, 0.1666666567325592, 0.04166629537940025, 0.008333496749401093,
     0.0013944651000201702, 0.00019790371879935265),
    (0.5, 0.16666666666666682, 0.041666666666666095, 0.008333333333317046,
     0.0013888888889115475, 0.0001984126989635361, 2.4801586926819275e-05,
     2.7557234893189593e-06, 2.755758176918711e-07, 2.5112025612956774e-08,
     2.0826630534094686e-09),
)
# expm1(r) = r + r^2/2 + r^3 * P(r) on |r| <= ln2/2.  f32: 2^-29.8; f64: 2^-59.2.
EXPM1_P = (
    (0.1666666567325592, 0.041666481643915176, 0.0083334194496274, 0.0013933245791122317,
     0.00019824120681732893),
    (0.16666666666666677, 0.04166666666666658, 0.008333333333322165, 0.0013888888888942596,
     0.00019841269884924667, 2.480158719835373e-05, 2.7557245315554383e-06,
     2.755738694641822e-07, 2.5108677942220124e-08, 2.087893583556759e-09),
)
# f32: tanh(a) = a + a^3 P(a^2) on [0, 0.55]; relative error 2^-27.9.
TANH_P32 = (-0.3333333200797698, 0.1333311372902087, -0.05390942882746055,
            0.021309388664443474, -0.006610227831114734)
# f32: log1p(f) = f - f^2/2 + f^3 * P(f) on [sqrt(1/2)-1, sqrt(2)-1]; rel. err 2^-28.2.
LOGF_P = (0.3333331346511841, -0.25000008940696716, 0.2000211924314499, -0.16667994856834412,
          0.142195463180542, -0.12405598163604736, 0.11888211965560913, -0.11675615608692169,
          0.0674649029970169)
# f64: 2*atanh(s) = 2s + s*R(s^2), R(z) = sum_k c_k z^k (k = 1..7) for |s| <= 3-2*sqrt(2)
# (s = f/(2+f)); absolute error of R 2^-57.9. (The same form as fdlibm's e_log.c.)
LOGD_R = (0.0, 0.6666666666666734, 0.3999999999941465, 0.28571428742393745,
          0.22222198572635768, 0.18183564351682233, 0.15314049955297412, 0.14795955222252646)


def _sel(fp: FP, pair):
    """Pick the float32 or float64 entry of a (f32, f64) table."""
    return pair[1] if fp.is64 else pair[0]


def _exp_limits(fp: FP) -> tuple[float, float]:
    """Clamp range for exp's argument: beyond it the result is 0 or inf anyway, and
    inside it n = rint(x/ln2) stays within the range ``FP.scale`` handles."""
    return fp.pick((-150.0, 100.0), (-1100.0, 1000.0))


def exp_reduce(fp: FP, x: Value) -> tuple[Value, Value]:
    """Return (n, r) with x = n*ln2 + r, |r| <= ln2/2 (x must be non-nan and clamped)."""
    n = fp.rint(fp.mul(x, fp.c(LOG2E)))
    minus_n = fp.neg(n)
    r = fp.fma(minus_n, fp.c(_sel(fp, LN2_HI)), x)
    r = fp.fma(minus_n, fp.c(_sel(fp, LN2_LO)), r)
    return n, r


def exp_poly(fp: FP, r: Value) -> Value:
    """exp(r) for |r| <= ln2/2: 1 + (r + r^2 P(r)), so only the last add rounds at 1."""
    p = fp.poly(r, _sel(fp, EXP_P))
    return fp.add(fp.c(1.0), fp.fma(fp.mul(r, r), p, r))


def exp_body(fp: FP, x: Value) -> Value:
    """exp(x); overflow to inf, gradual underflow and nan like NumPy."""
    lo, hi = _exp_limits(fp)
    n, r = exp_reduce(fp, fp.clamp(x, lo, hi))
    y = fp.scale(exp_poly(fp, r), fp.to_int(n))
    return fp.select(fp.isnan(x), x, y)


def exp2_body(fp: FP, x: Value) -> Value:
    """2**x; r*ln2 is formed exactly as a product pair so exp2(integer) is exact."""
    lo, hi = _exp_limits(fp)
    xc = fp.clamp(x, lo * LOG2E, hi * LOG2E)
    n = fp.rint(xc)
    frac = fp.sub(xc, n)  # exact
    r = fp.mul(frac, fp.c(math.log(2)))
    r_err = fp.fma(frac, fp.c(math.log(2)), fp.neg(r))
    p = exp_poly(fp, r)
    p = fp.fma(p, r_err, p)  # exp(r + e) ~ exp(r) (1 + e)
    y = fp.scale(p, fp.to_int(n))
    return fp.select(fp.isnan(x), x, y)


def expm1_body(fp: FP, x: Value) -> Value:
    """exp(x) - 1 without cancellation: 2^n (q + 1 - 2^-n) with q = expm1(r)."""
    # Below lo the result rounds to -1; above hi it overflows like exp.
    lo, hi = fp.pick((-30.0, 100.0), (-40.0, 1000.0))
    n, r = exp_reduce(fp, fp.clamp(x, lo, hi))
    q_tail = fp.fma(r, fp.poly(r, _sel(fp, EXPM1_P)), fp.c(0.5))
    q = fp.fma(fp.mul(r, r), q_tail, r)
    ni = fp.to_int(n)
    # 1 - 2^-n is exact for n <= mant+1; larger n make it 1, where it no longer matters.
    n_capped = fp.b.select(fp.b.icmp_signed("<", ni, fp.ci(fp.mant + 2)), ni, fp.ci(fp.mant + 2))
    one_minus = fp.sub(fp.c(1.0), fp.pow2i(fp.b.neg(n_capped)))
    y = fp.scale(fp.add(q, one_minus), ni)
    y = fp.select(fp.eq(x, fp.c(0.0)), x, y)  # keep the sign of zero
    return fp.select(fp.isnan(x), x, y)


def log_reduce(fp: FP, x: Value) -> tuple[Value, Value]:
    """For finite x > 0 return floats (k, f): x = 2^k (1 + f), 1 + f in [sqrt(.5), sqrt(2))."""
    # Denormals: scale into the normal range first so the exponent field is the exponent.
    tiny = fp.lt(x, fp.c(2.0 ** (1 - fp.bias)))
    shift = fp.mant + 2
    xs = fp.select(tiny, fp.mul(x, fp.c(2.0 ** shift)), x)
    k_adjust = fp.b.select(tiny, fp.ci(-shift), fp.ci(0))
    # Subtracting sqrt(1/2)'s bits moves the mantissa window to [sqrt(.5), sqrt(2)): the
    # borrow out of the mantissa field adjusts the exponent by exactly one when needed.
    sqrt_half_bits = fp.bits(fp.c(math.sqrt(0.5)))
    ix = fp.b.sub(fp.bits(xs), sqrt_half_bits)
    k = fp.b.add(fp.b.ashr(ix, fp.ci(fp.mant)), k_adjust)
    m_bits = fp.b.add(fp.b.and_(ix, fp.ci((1 << fp.mant) - 1)), sqrt_half_bits)
    f = fp.sub(fp.from_bits(m_bits), fp.c(1.0))  # exact (Sterbenz)
    return fp.to_float(k), f


def log1p_small(fp: FP, f: Value) -> Value:
    """Return t with log(1 + f) = f + t for f in [sqrt(.5)-1, sqrt(2)-1] (t is the small part)."""
    if not fp.is64:
        f2 = fp.mul(f, f)
        return fp.fma(fp.mul(f2, f), fp.poly(f, LOGF_P), fp.mul(fp.c(-0.5), f2))
    # log(1+f) = f - f^2/2 + s (f^2/2 + R(s^2)) with s = f / (2 + f): the identity behind
    # 2 atanh(s) = log(1+f); every term added to f is small, so f dominates the rounding.
    hfsq = fp.mul(fp.c(0.5), fp.mul(f, f))
    s = fp.div(f, fp.add(fp.c(2.0), f))
    z = fp.mul(s, s)
    big_r = fp.poly(z, LOGD_R)
    return fp.fma(s, fp.add(hfsq, big_r), fp.neg(hfsq))


def _log_specials(fp: FP, x: Value, y: Value, at_zero: float, domain_lo: float) -> Value:
    """Patch IEEE special cases: x at the pole -> at_zero, below the domain -> nan,
    +inf -> +inf, nan -> nan."""
    y = fp.select(fp.eq(x, fp.c(INF)), fp.c(INF), y)
    y = fp.select(fp.eq(x, fp.c(domain_lo)), fp.c(at_zero), y)
    y = fp.select(fp.lt(x, fp.c(domain_lo)), fp.c(NAN), y)
    return fp.select(fp.isnan(x), x, y)


def _log_combine(fp: FP, k: Value, f: Value, small: Value) -> Value:
    """k*ln2 + f + small, adding the smallest terms first."""
    low = fp.fma(k, fp.c(_sel(fp, LN2_LO)), small)
    return fp.fma(k, fp.c(_sel(fp, LN2_HI)), fp.add(f, low))


def log_body(fp: FP, x: Value) -> Value:
    """Natural log; log(0) = -inf, log(x<0) = nan, denormals handled."""
    k, f = log_reduce(fp, x)
    y = _log_combine(fp, k, f, log1p_small(fp, f))
    return _log_specials(fp, x, y, -INF, 0.0)


def log1p_body(fp: FP, x: Value) -> Value:
    """log(1 + x), exact for tiny x: the rounding error of u = 1 + x is added back as
    (1 + x - u) / u, obtained exactly with TwoSum."""
    u, err = two_sum(fp, fp.c(1.0), x)
    k, f = log_reduce(fp, u)
    small = fp.add(log1p_small(fp, f), fp.div(err, u))
    y = _log_combine(fp, k, f, small)
    y = fp.select(fp.eq(x, fp.c(0.0)), x, y)  # log1p(-0) = -0
    return _log_specials(fp, x, y, -INF, -1.0)


def _log_scaled(fp: FP, x: Value, k_scale: tuple, inv: tuple) -> Value:
    """k * k_scale + (f + t) * inv for log2/log10, with both constants split in hi + lo
    parts so only the final additions round; log2 is exact at powers of two."""
    k, f = log_reduce(fp, x)
    t = log1p_small(fp, f)
    tail = fp.fma(t, fp.c(inv[0]), fp.mul(k, fp.c(k_scale[1])))
    tail = fp.fma(f, fp.c(inv[1]), tail)
    y = fp.fma(k, fp.c(k_scale[0]), fp.fma(f, fp.c(inv[0]), tail))
    return _log_specials(fp, x, y, -INF, 0.0)


def log2_body(fp: FP, x: Value) -> Value:
    """Base-2 log."""
    inv_ln2 = fp.pick((1.4426950216293335, 1.925963033500011e-08),
                      (1.4426950408889634, 2.0355273740931033e-17))
    return _log_scaled(fp, x, (1.0, 0.0), inv_ln2)


def log10_body(fp: FP, x: Value) -> Value:
    """Base-10 log; log10(2) is split so k * hi is exact."""
    log10_2 = fp.pick((0.30102539062500000, 4.6050389811952871e-06),
                      (3.01029995663611771306e-01, 3.69423907715893078616e-13))
    inv_ln10 = fp.pick((0.4342944920063019, -1.0103049952192578e-08),
                       (0.4342944819032518, 1.098319650216765e-17))
    return _log_scaled(fp, x, log10_2, inv_ln10)


def tanh_body(fp: FP, x: Value) -> Value:
    """tanh(x); float64: e / (e + 2) with e = expm1(2|x|); float32: see _tanh_f32."""
    if not fp.is64:
        return _tanh_f32(fp, x)
    a = fp.abs(x)
    # Past this |x|, 1 - tanh < half an ulp of 1; clamping keeps e finite (inf/inf = nan).
    a = fp.select(fp.gt(a, fp.c(20.0)), fp.c(20.0), a)  # nan stays nan
    e = expm1_body(fp, fp.add(a, a))
    return fp.copysign(fp.div(e, fp.add(e, fp.c(2.0))), x)


def _tanh_f32(fp: FP, x: Value) -> Value:
    """float32 tanh: |x| + |x|^3 P(x^2) below 0.55, else 1 - 2 / (exp(2|x|) + 1) with a
    plain exp (cheaper than expm1; past 0.55 the subtraction loses at most one bit)."""
    a = fp.abs(x)
    z = fp.mul(a, a)
    small = fp.fma(fp.mul(a, z), fp.poly(z, TANH_P32), a)
    capped = fp.select(fp.lt(a, fp.c(9.0)), a, fp.c(9.0))  # nan -> 9: no poison below
    n, r = exp_reduce(fp, fp.add(capped, capped))
    e = fp.mul(exp_poly(fp, r), fp.pow2i(fp.to_int(n)))  # n <= 26: no overflow
    large = fp.sub(fp.c(1.0), fp.div(fp.c(2.0), fp.add(e, fp.c(1.0))))
    y = fp.select(fp.lt(a, fp.c(0.55)), small, large)
    y = fp.select(fp.isnan(x), x, y)
    return fp.copysign(y, x)  # tanh(-0) = -0


def sigmoid_body(fp: FP, x: Value) -> Value:
    """1 / (1 + exp(-x)), written as e/(1+e) for x < 0 so exp never overflows."""
    e = exp_body(fp, fp.neg(fp.abs(x)))
    numerator = fp.select(fp.lt(x, fp.c(0.0)), e, fp.c(1.0))
    return fp.div(numerator, fp.add(fp.c(1.0), e))


def softplus_body(fp: FP, x: Value) -> Value:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow, no cancellation."""
    positive_part = fp.select(fp.gt(x, fp.c(0.0)), x, fp.c(0.0))
    tail = log1p_body(fp, exp_body(fp, fp.neg(fp.abs(x))))
    return fp.add(positive_part, tail)  # nan propagates through tail


def sqrt_body(fp: FP, x: Value) -> Value:
    """Correctly rounded square root (one instruction)."""
    return fp.sqrt(x)
