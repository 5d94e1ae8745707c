"""Vectorizable scalar math functions, emitted as LLVM IR on demand.

``get_math_function(module, "exp", F32)`` declares (once per module) an internal,
``alwaysinline`` function ``float tj.exp.f32(float)``. A kernel calls it inside its
loop with ``builder.call(fn, [x])``; LLVM inlines it and, since the body is only
arithmetic, FMA, bit operations, selects and vectorizable ``llvm.*`` intrinsics, the
loop vectorizer turns the whole loop into SIMD code. Special values (+-0, +-inf,
nan, denormals, overflow/underflow) follow NumPy.

The algorithms live in ``mathlib_explog.py``, ``mathlib_trig.py`` (with the exact
reduction modulo pi/2 of every finite argument in ``mathlib_reduce.py``),
``mathlib_atrig.py`` and ``mathlib_special.py``; this module is the registry and the
public entry point. No function calls libm or branches, for any input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llvmlite import ir

from tensorjit.codegen import mathlib_atrig as at
from tensorjit.codegen import mathlib_explog as el
from tensorjit.codegen import mathlib_special as sp
from tensorjit.codegen import mathlib_trig as tr
from tensorjit.codegen.irutils import float_bits
from tensorjit.codegen.mathlib_base import FP


@dataclass(frozen=True)
class MathFunction:
    """One math function: its arity, IR body builder and documented accuracy (ulp)."""

    name: str
    nargs: int
    body: Callable[..., ir.Value]
    max_ulp_f32: float
    max_ulp_f64: float


def _entry(name: str, nargs: int, body, ulp32: float, ulp64: float) -> MathFunction:
    """Shorthand constructor for the registry table."""
    return MathFunction(name, nargs, body, ulp32, ulp64)


# Max error in ulp that tests/codegen/test_mathlib.py asserts: the maximum measured over
# ~120k arguments per function (dense sweep + random bit patterns; sin/cos/tan also every
# binade and huge float64 arguments against mpmath), rounded up with a margin. Functions
# composed of two roundings (e/(e+2), 1/(1+e), ...) sit at 2-3 ulp.
_FUNCTIONS: dict[str, MathFunction] = {
    f.name: f for f in (
        _entry("exp", 1, el.exp_body, 1.5, 1.5),
        _entry("exp2", 1, el.exp2_body, 1.5, 1.5),
        _entry("expm1", 1, el.expm1_body, 2, 2),
        _entry("log", 1, el.log_body, 1, 1),
        _entry("log2", 1, el.log2_body, 1.5, 1.5),
        _entry("log10", 1, el.log10_body, 1.5, 1.5),
        _entry("log1p", 1, el.log1p_body, 1.5, 1.5),
        _entry("tanh", 1, el.tanh_body, 3, 3),
        _entry("sigmoid", 1, el.sigmoid_body, 3, 3),
        _entry("softplus", 1, el.softplus_body, 2, 2),
        _entry("sqrt", 1, el.sqrt_body, 0.5, 0.5),
        _entry("sin", 1, tr.sin_body, 1, 1.5),
        _entry("cos", 1, tr.cos_body, 1, 1.5),
        _entry("tan", 1, tr.tan_body, 1, 2),
        _entry("arcsin", 1, at.arcsin_body, 1, 1),
        _entry("arccos", 1, at.arccos_body, 1, 1),
        _entry("arctan", 1, at.arctan_body, 1, 1),
        _entry("erf", 1, sp.erf_body, 1, 1.5),
        _entry("pow", 2, sp.pow_body, 1, 2.5),
        _entry("sinh", 1, sp.sinh_body, 3, 3),
        _entry("cosh", 1, sp.cosh_body, 2, 2),
    )
}


def available_functions() -> tuple[str, ...]:
    """Names accepted by :func:`get_math_function`."""
    return tuple(sorted(_FUNCTIONS))


def math_function_info(name: str) -> MathFunction:
    """Return the registry entry (arity, accuracy bounds) of a math function."""
    if name not in _FUNCTIONS:
        raise KeyError(f"unknown math function {name!r}; available: {available_functions()}")
    return _FUNCTIONS[name]


def math_function_name(name: str, fptype: ir.Type) -> str:
    """The IR symbol name of a math function for a float type, e.g. 'tj.exp.f32'."""
    return f"tj.{name}.f{float_bits(fptype)}"


def get_math_function(module: ir.Module, name: str, fptype: ir.Type) -> ir.Function:
    """Return ``name`` for ``fptype`` in ``module``, defining it on first use."""
    info = math_function_info(name)
    symbol = math_function_name(name, fptype)
    if symbol in module.globals:
        return module.globals[symbol]
    fnty = ir.FunctionType(fptype, [fptype] * info.nargs)
    fn = ir.Function(module, fnty, name=symbol)
    # Internal + alwaysinline: the body ends up inside the caller's loop, where the
    # vectorizer sees plain arithmetic, and no out-of-line copy survives optimization.
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    builder.ret(info.body(FP(builder, fptype), *fn.args))
    return fn
