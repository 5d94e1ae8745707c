"""A tiny arithmetic DSL over ``llvmlite.ir`` for writing vectorizable math functions.

``FP(builder, fptype)`` wraps one builder and one float type, so each algorithm in
``mathlib*.py`` is written once for float32 and float64. Every operation here is
plain IR arithmetic, a bit operation, a select or an ``llvm.*`` intrinsic that
LLVM's vectorizers widen (fma, fabs, floor, roundeven, copysign, sqrt): no libm
calls, no branches. So a loop that calls an inlined math function vectorizes.
"""

from __future__ import annotations

from collections.abc import Sequence

from llvmlite import ir

from tensorjit.codegen.irutils import F32, F64, call_intrinsic, float_bits

Value = ir.Value


class FP:
    """Float arithmetic of one type (float or double) emitted by one builder."""

    def __init__(self, builder: ir.IRBuilder, fptype: ir.Type) -> None:
        self.b = builder
        self.t = fptype
        self.nbits = float_bits(fptype)
        self.it = ir.IntType(self.nbits)
        self.mant = 23 if self.nbits == 32 else 52  # explicit mantissa bits
        self.bias = 127 if self.nbits == 32 else 1023
        self.is64 = self.nbits == 64

    def other(self, fptype: ir.Type) -> FP:
        """Return an FP of another float type on the same builder (mixed precision)."""
        return FP(self.b, fptype)

    # --- constants -------------------------------------------------------------------
    def c(self, value: float) -> Value:
        """Float constant (rounded to this type)."""
        return ir.Constant(self.t, float(value))

    def ci(self, value: int) -> Value:
        """Integer constant of the same width as the float type."""
        return ir.Constant(self.it, int(value))

    def pick(self, f32_value, f64_value):
        """Choose a per-precision Python value (coefficients, thresholds)."""
        return f64_value if self.is64 else f32_value

    # --- arithmetic ------------------------------------------------------------------
    def add(self, a: Value, b: Value) -> Value:
        """a + b."""
        return self.b.fadd(a, b)

    def sub(self, a: Value, b: Value) -> Value:
        """a - b."""
        return self.b.fsub(a, b)

    def mul(self, a: Value, b: Value) -> Value:
        """a * b."""
        return self.b.fmul(a, b)

    def div(self, a: Value, b: Value) -> Value:
        """a / b."""
        return self.b.fdiv(a, b)

    def neg(self, a: Value) -> Value:
        """-a (flips the sign bit, also of 0 and nan)."""
        return self.b.fneg(a)

    def fma(self, a: Value, b: Value, c: Value) -> Value:
        """a * b + c with a single rounding (llvm.fma: always fused)."""
        return call_intrinsic(self.b, "llvm.fma", a, b, c)

    def poly(self, x: Value, coeffs: Sequence[float]) -> Value:
        """Evaluate sum(coeffs[i] * x**i) by Horner's rule with FMAs."""
        acc = self.c(coeffs[-1])
        for coef in reversed(coeffs[:-1]):
            acc = self.fma(acc, x, self.c(coef))
        return acc

    def poly_estrin(self, x: Value, coeffs: Sequence[float]) -> Value:
        """sum(coeffs[i] * x**i) by Estrin's scheme: pairs c0 + c1 x, then powers x^2,
        x^4, ... combine them in a tree. Same work as Horner, but a dependency chain of
        ~log2(n) FMAs instead of n, which matters in long, latency-bound kernels."""
        terms = [self.fma(self.c(coeffs[i + 1]), x, self.c(coeffs[i])) if i + 1 < len(coeffs)
                 else self.c(coeffs[i]) for i in range(0, len(coeffs), 2)]
        power = x
        while len(terms) > 1:
            power = self.mul(power, power)
            terms = [self.fma(terms[i + 1], power, terms[i]) if i + 1 < len(terms)
                     else terms[i] for i in range(0, len(terms), 2)]
        return terms[0]

    def abs(self, a: Value) -> Value:
        """|a|."""
        return call_intrinsic(self.b, "llvm.fabs", a)

    def floor(self, a: Value) -> Value:
        """floor(a)."""
        return call_intrinsic(self.b, "llvm.floor", a)

    def rint(self, a: Value) -> Value:
        """Round to nearest, ties to even (one vrndscale instruction)."""
        return call_intrinsic(self.b, "llvm.roundeven", a)

    def trunc(self, a: Value) -> Value:
        """Round toward zero."""
        return call_intrinsic(self.b, "llvm.trunc", a)

    def copysign(self, mag: Value, sign: Value) -> Value:
        """|mag| with the sign bit of ``sign``."""
        return call_intrinsic(self.b, "llvm.copysign", mag, sign)

    def sqrt(self, a: Value) -> Value:
        """Correctly rounded square root (sqrt(-0) = -0, sqrt(x<0) = nan)."""
        return call_intrinsic(self.b, "llvm.sqrt", a)

    # --- comparisons and selection ---------------------------------------------------
    def lt(self, a: Value, b: Value) -> Value:
        """a < b (false if either is nan)."""
        return self.b.fcmp_ordered("<", a, b)

    def le(self, a: Value, b: Value) -> Value:
        """a <= b (false if either is nan)."""
        return self.b.fcmp_ordered("<=", a, b)

    def gt(self, a: Value, b: Value) -> Value:
        """a > b (false if either is nan)."""
        return self.b.fcmp_ordered(">", a, b)

    def ge(self, a: Value, b: Value) -> Value:
        """a >= b (false if either is nan)."""
        return self.b.fcmp_ordered(">=", a, b)

    def eq(self, a: Value, b: Value) -> Value:
        """a == b (false if either is nan; -0 == +0)."""
        return self.b.fcmp_ordered("==", a, b)

    def isnan(self, a: Value) -> Value:
        """a is nan."""
        return self.b.fcmp_unordered("uno", a, a)

    def isinf(self, a: Value) -> Value:
        """a is +inf or -inf."""
        return self.eq(self.abs(a), self.c(float("inf")))

    def select(self, cond: Value, a: Value, b: Value) -> Value:
        """cond ? a : b."""
        return self.b.select(cond, a, b)

    def and_(self, a: Value, b: Value) -> Value:
        """Logical/bitwise and of two i1 or two integer values."""
        return self.b.and_(a, b)

    def or_(self, a: Value, b: Value) -> Value:
        """Logical/bitwise or of two i1 or two integer values."""
        return self.b.or_(a, b)

    def not_(self, a: Value) -> Value:
        """Logical not of an i1."""
        return self.b.not_(a)

    def clamp(self, x: Value, lo: float, hi: float) -> Value:
        """Clamp x into [lo, hi]; nan becomes lo (callers re-insert nan at the end)."""
        x = self.select(self.gt(x, self.c(lo)), x, self.c(lo))
        return self.select(self.lt(x, self.c(hi)), x, self.c(hi))

    # --- bits and integers -----------------------------------------------------------
    def bits(self, a: Value) -> Value:
        """Reinterpret as the same-width integer."""
        return self.b.bitcast(a, self.it)

    def from_bits(self, i: Value) -> Value:
        """Reinterpret a same-width integer as a float."""
        return self.b.bitcast(i, self.t)

    def to_int(self, a: Value) -> Value:
        """Convert an integral, non-nan, in-range float to the same-width integer."""
        return self.b.fptosi(a, self.it)

    def to_float(self, i: Value) -> Value:
        """Convert a same-width signed integer to float."""
        return self.b.sitofp(i, self.t)

    def signbit(self, a: Value) -> Value:
        """True if the sign bit of a is set (also for -0 and -nan)."""
        return self.b.icmp_signed("<", self.bits(a), self.ci(0))

    def pow2i(self, n: Value) -> Value:
        """2**n for an integer n in the normal exponent range, built from bits."""
        return self.from_bits(self.b.shl(self.b.add(n, self.ci(self.bias)), self.ci(self.mant)))

    def scale(self, x: Value, n: Value) -> Value:
        """x * 2**n for |n| up to ~2*bias, in two exact steps so overflow and
        gradual underflow round once, like ldexp."""
        half = self.b.ashr(n, self.ci(1))
        rest = self.b.sub(n, half)
        return self.mul(self.mul(x, self.pow2i(half)), self.pow2i(rest))

    # --- conversions between precisions ------------------------------------------------
    def ext(self, a: Value) -> Value:
        """float -> double (exact)."""
        return self.b.fpext(a, F64)

    def narrow(self, a: Value) -> Value:
        """double -> float (one rounding)."""
        return self.b.fptrunc(a, F32)


def two_sum(fp: FP, a: Value, b: Value) -> tuple[Value, Value]:
    """Return (s, e) with s = fl(a + b) and a + b = s + e exactly (Knuth's TwoSum)."""
    s = fp.add(a, b)
    bb = fp.sub(s, a)
    e = fp.add(fp.sub(a, fp.sub(s, bb)), fp.sub(b, bb))
    return s, e


def two_prod(fp: FP, a: Value, b: Value) -> tuple[Value, Value]:
    """Return (p, e) with p = fl(a * b) and a * b = p + e exactly (needs FMA)."""
    p = fp.mul(a, b)
    return p, fp.fma(a, b, fp.neg(p))
