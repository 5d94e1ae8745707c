"""Scalar IR of the transcendental ops, through mathlib's vectorizable IR functions.

``mathlib.get_math_function`` declares internal ``alwaysinline`` IR that the loop
vectorizer widens, so no element ever costs a scalar libm call. An op whose function
mathlib lacks gets no rule and falls back to the reference evaluator, listed in
``f.fallbacks`` (``UNSUPPORTED`` below names them; empty today).
"""

from __future__ import annotations

from llvmlite import ir

from . import mathlib
from .elemwise import scalar_rule
from .irutils import call_intrinsic

# ScalarOp class name -> mathlib function names to try (the first available wins)
MATHLIB_OPS = {
    "Exp": ("exp",), "Exp2": ("exp2",), "Log": ("log",), "Log2": ("log2",),
    "Log10": ("log10",), "Log1p": ("log1p",), "Expm1": ("expm1",), "Sqrt": ("sqrt",),
    "Sin": ("sin",), "Cos": ("cos",), "Tanh": ("tanh",), "Sigmoid": ("sigmoid",),
    "Softplus": ("softplus",), "Erf": ("erf",), "Sinh": ("sinh",), "Cosh": ("cosh",),
    "Tan": ("tan",), "Arcsin": ("arcsin", "asin"), "Arccos": ("arccos", "acos"),
    "Arctan": ("arctan", "atan"),
}


def call_math(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """Call mathlib's ``name`` (declared in the builder's module) on float args."""
    fn = mathlib.get_math_function(b.module, name, args[0].type)
    return b.call(fn, list(args))


def _mathlib_rule(name: str):
    def emit(b, args, dt, out, op):
        return call_math(b, name, *args)
    return emit


def _register() -> list[str]:
    """Register every transcendental op mathlib provides; return the missing ones."""
    available = set(mathlib.available_functions())
    missing = []
    for op_name, candidates in MATHLIB_OPS.items():
        found = [name for name in candidates if name in available]
        if found:
            scalar_rule(op_name)(_mathlib_rule(found[0]))
        else:
            missing.append(op_name)
    return missing


# Ops without a vectorizable implementation: no rule, so they fall back (visibly, in
# f.fallbacks) rather than calling scalar libm once per element.
UNSUPPORTED = _register()


# --------------------------------------------------------------------------------------
# pow and the elementwise cross-entropies


def float_pow(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    """x ** y for floats (mathlib's pow: IEEE special cases as NumPy)."""
    return call_math(b, "pow", x, y)


def _xlogy(b: ir.IRBuilder, w: ir.Value, logv: ir.Value, v: ir.Value) -> ir.Value:
    """w * log(v) taken as 0 where w == 0 and v is not NaN (scipy's xlogy/xlog1py)."""
    zero = ir.Constant(w.type, 0.0)
    is_zero = b.and_(b.fcmp_ordered("==", w, zero), b.fcmp_ordered("ord", v, v))
    return b.select(is_zero, zero, b.fmul(w, logv))


@scalar_rule("BinaryCrossentropy")
def _binary_crossentropy(b, args, dt, out, op):
    p, t = args
    one = ir.Constant(p.type, 1.0)
    first = _xlogy(b, t, call_math(b, "log", p), p)
    second = _xlogy(b, b.fsub(one, t), call_math(b, "log1p", b.fneg(p)), p)
    return b.fneg(b.fadd(first, second))


@scalar_rule("SigmoidBinaryCrossentropy")
def _sigmoid_binary_crossentropy(b, args, dt, out, op):
    # max(x, 0) - x t + log1p(exp(-|x|)): the same stable formula as the reference
    from .scalar_rules import maximum
    x, t = args
    zero = ir.Constant(x.type, 0.0)
    tail = call_math(b, "log1p", call_math(b, "exp", b.fneg(
        call_intrinsic(b, "llvm.fabs", x))))
    return b.fadd(b.fsub(maximum(b, x, zero, out), b.fmul(x, t)), tail)
