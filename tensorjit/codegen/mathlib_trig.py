"""sin and cos: Cody-Waite reduction by pi/2 plus minimax polynomials, branch-free for
|x| <= REDUCTION_LIMIT; larger |x|, inf and nan take a rarely-taken branch to libm.

The fast path covers every argument a typical program produces and vectorizes (the
loop vectorizer if-converts the branch and scalarizes the predicated libm call, which
only runs for the huge lanes). Exact reduction of huge arguments (Payne-Hanek) is
left to libm on purpose: it needs many more bits of 2/pi than fit in this path.
float32 is evaluated in double precision: the reduction and polynomial error then
vanish below float32 rounding, at about the cost of the wider vectors.
"""

from __future__ import annotations

from llvmlite import ir

from tensorjit.codegen.irutils import F64
from tensorjit.codegen.mathlib_base import FP, Value, two_sum

TWO_OVER_PI = 0.63661977236758134308
# pi/2 in four parts (fdlibm's split): the first three have 33 significant bits, so
# n * PIO2_k is exact for n < 2^20 and the leading subtractions cancel exactly.
PIO2 = (1.57079632673412561417e+00, 6.07710050630396597660e-11,
        2.02226624871116645580e-21, 8.47842766036889956997e-32)
# n < 2^20 keeps the products above exact; beyond it we call libm.
REDUCTION_LIMIT = 1.0e6

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


def _reduce(fd: FP, x: Value) -> tuple[Value, Value, Value]:
    """Return (quadrant as i64, r, lo) with x = n*pi/2 + r + lo, |r| <= pi/4 (|x| <= limit).

    When r is tiny (x near a multiple of pi/2) each subtraction cancels and is exact;
    otherwise it rounds, and TwoSum keeps the rounding errors in ``lo``, so r + lo is
    good to far more than 53 bits either way."""
    n = fd.rint(fd.mul(x, fd.c(TWO_OVER_PI)))
    minus_n = fd.neg(n)
    r1 = fd.fma(minus_n, fd.c(PIO2[0]), x)  # exact
    hi, err1 = two_sum(fd, r1, fd.mul(minus_n, fd.c(PIO2[1])))
    hi, err2 = two_sum(fd, hi, fd.mul(minus_n, fd.c(PIO2[2])))
    lo = fd.fma(minus_n, fd.c(PIO2[3]), fd.add(err1, err2))
    return fd.to_int(n), hi, lo


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


def _fast_sin_cos(fp: FP, x: Value, phase: int) -> Value:
    """sin (phase 0) or cos (phase 1) of x for |x| <= limit, in double for float32."""
    fd = fp.other(F64)
    xd = x if fp.is64 else fd.ext(x)
    quadrant, r, lo = _reduce(fd, xd)
    sin_r, cos_r = _sin_cos_poly(fd, r, lo, short=not fp.is64)
    q = fd.b.add(quadrant, ir.Constant(fd.it, phase))
    # Quadrant q: sin(x) = [sin r, cos r, -sin r, -cos r][q mod 4].
    use_cos = fd.b.trunc(q, ir.IntType(1))
    negate = fd.b.trunc(fd.b.lshr(q, ir.Constant(fd.it, 1)), ir.IntType(1))
    y = fd.select(use_cos, cos_r, sin_r)
    y = fd.select(negate, fd.neg(y), y)
    return y if fp.is64 else fd.narrow(y)


def _libm(fp: FP, name: str) -> ir.Function:
    """Declare libm's scalar ``name``/``namef`` as a pure function."""
    symbol = name if fp.is64 else name + "f"
    module = fp.b.module
    if symbol in module.globals:
        return module.globals[symbol]
    fn = ir.Function(module, ir.FunctionType(fp.t, [fp.t]), name=symbol)
    # Pure for our purposes (we never read errno), so LLVM may if-convert around it.
    fn.attributes.add("nounwind")
    fn.attributes.add("readnone")
    return fn


def _sin_or_cos(fp: FP, x: Value, phase: int, libm_name: str) -> Value:
    """Fast branch-free path, or libm for |x| > limit, inf and nan (rare)."""
    rare = fp.b.fcmp_unordered(">", fp.abs(x), fp.c(REDUCTION_LIMIT))
    # The fast path must never see inf/nan: fptosi of those is poison.
    fast = _fast_sin_cos(fp, fp.select(rare, fp.c(0.0), x), phase)
    entry = fp.b.basic_block
    with fp.b.if_then(rare, likely=False):
        slow = fp.b.call(_libm(fp, libm_name), [x])
        slow_block = fp.b.basic_block
    result = fp.b.phi(fp.t)
    result.add_incoming(fast, entry)
    result.add_incoming(slow, slow_block)
    if phase == 0:  # sin(-0) = -0: the reduction x - n*pi/2 turns -0 into +0
        return fp.select(fp.eq(x, fp.c(0.0)), x, result)
    return result


def sin_body(fp: FP, x: Value) -> Value:
    """sin(x)."""
    return _sin_or_cos(fp, x, 0, "sin")


def cos_body(fp: FP, x: Value) -> Value:
    """cos(x)."""
    return _sin_or_cos(fp, x, 1, "cos")

