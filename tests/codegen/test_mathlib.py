"""Accuracy and special-value tests of tensorjit.codegen.mathlib, plus the JIT wrapper.

Each math function is JIT-compiled into ``void k(T* x, T* y, i64 n)`` and run over
(a) a dense sweep of its interesting range plus random bit patterns (every finite
float is equally likely per exponent), against an independent higher-precision
reference: float64 NumPy for float32 results, x87 long double NumPy (64-bit
mantissa) or mpmath for float64 results; and (b) special inputs, where nan/inf and
the sign of zero must match NumPy exactly. The ulp bounds asserted are the ones in
the registry (``math_function_info(name).max_ulp_*``); measured maxima are listed
in the module docstrings and the report.
"""

from __future__ import annotations

import ctypes
import re

import mpmath
import numpy as np
import pytest
import scipy.special
from llvmlite import ir
from mathkernels import math_kernel

from tensorjit.codegen import jit
from tensorjit.codegen.mathlib import (
    available_functions,
    get_math_function,
    math_function_info,
    math_function_name,
)
from tensorjit.codegen.mathlib_reduce import two_over_pi_bits

DTYPES = ("float32", "float64")
# np.longdouble must be wider than float64 to serve as the float64 reference.
HAVE_LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63


def _sigmoid(x):
    """Reference logistic function (evaluated in the input's precision)."""
    return 1.0 / (1.0 + np.exp(-x))


REFERENCES = {
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "tanh": np.tanh, "sqrt": np.sqrt, "sin": np.sin,
    "cos": np.cos, "sinh": np.sinh, "cosh": np.cosh, "sigmoid": _sigmoid,
    "softplus": lambda x: np.logaddexp(np.zeros_like(x), x), "erf": scipy.special.erf,
    "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan,
}
NUMPY_UFUNCS = set(REFERENCES) - {"sigmoid", "softplus", "erf"}
# Dense sweep range per function (the random bit patterns cover everything else).
SWEEPS = {
    "exp": (-110, 90), "exp2": (-155, 130), "expm1": (-40, 90), "log": (0, 50),
    "log2": (0, 50), "log10": (0, 50), "log1p": (-1, 20), "tanh": (-12, 12),
    "sqrt": (0, 100), "sin": (-20, 20), "cos": (-20, 20), "sinh": (-90, 90),
    "cosh": (-90, 90), "sigmoid": (-110, 110), "softplus": (-110, 110), "erf": (-7, 7),
    "tan": (-20, 20), "arcsin": (-1, 1), "arccos": (-1, 1), "arctan": (-5, 5),
}
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-30, -1e-30,
            1e-40, -1e-40, 5e-324, -5e-324, 88.72283, 88.7229, 89.0, -87.3, -103.97, -104.0,
            -745.2, 709.78, 709.79, 710.0, 20.0, -20.0, 1e6, -1e6, 1e30, -1e30, 3e38, -3e38,
            1e300, -1e300, 1.7e308, -1.7e308, 0.41421356, 2.4142137, 0.75, -0.75,
            1.0000001, -1.0000001, 1e15, 1e22, 2.0 ** 19, 1.1e6, -1.1e6, 2.0 ** 52]


def _random_bits(rng: np.random.Generator, dtype: str, count: int) -> np.ndarray:
    """Uniformly random bit patterns, i.e. log-uniform magnitudes over the whole range."""
    utype = np.uint32 if dtype == "float32" else np.uint64
    raw = rng.integers(0, np.iinfo(utype).max, count, dtype=utype, endpoint=True)
    values = raw.view(dtype)
    return values[np.isfinite(values)]


def _reference(name: str, x: np.ndarray) -> np.ndarray:
    """High-precision reference values (as float64 or longdouble arrays)."""
    if x.dtype == np.float32:
        return REFERENCES[name](x.astype(np.float64))
    if name == "erf":  # scipy has no long double erf: mpmath, hi + lo
        exact = [mpmath.erf(mpmath.mpf(float(v))) for v in x]
        ref = np.array([np.longdouble(float(e)) + float(e - float(e)) for e in exact])
        return np.where(x == 0, x, ref)  # mpmath has no -0
    return REFERENCES[name](x.astype(np.longdouble))


def _round(ref: np.ndarray, dtype: str) -> np.ndarray:
    """Round a high-precision reference to ``dtype`` (overflow to inf is intended)."""
    with np.errstate(over="ignore"):
        return ref.astype(dtype)


def max_ulp_error(got: np.ndarray, ref: np.ndarray, dtype: str) -> float:
    """Max of |got - ref| in units of the ulp of ref rounded to ``dtype`` (finite only)."""
    rounded = _round(ref, dtype)
    finite = np.isfinite(rounded) & np.isfinite(got)
    spacing = np.spacing(np.abs(rounded[finite])).astype(ref.dtype)
    errors = np.abs(got[finite].astype(ref.dtype) - ref[finite]) / spacing
    return float(errors.max()) if errors.size else 0.0


def assert_same_class(got: np.ndarray, expected: np.ndarray, x, tiny_ulps: float = 0) -> None:
    """nan where expected is nan, equal infinities, zeros with the same sign bit.

    Where the true value rounds to zero, ``tiny_ulps`` smallest denormals are allowed
    (an honest 1-ulp error there is a denormal, not zero)."""
    for kind, g, e in (("nan", np.isnan(got), np.isnan(expected)),
                       ("inf", np.isinf(got) & (got > 0), np.isinf(expected) & (expected > 0)),
                       ("-inf", np.isinf(got) & (got < 0), np.isinf(expected) & (expected < 0))):
        bad = np.nonzero(g != e)[0]
        assert bad.size == 0, f"{kind} mismatch at x={np.asarray(x)[..., bad][:5]}: " \
                              f"got {got[bad][:5]}, expected {expected[bad][:5]}"
    tiny = tiny_ulps * np.finfo(got.dtype).smallest_subnormal
    zeros = expected == 0
    bad = np.nonzero(zeros & ((np.abs(got) > tiny) | (np.signbit(got) != np.signbit(expected))))[0]
    assert bad.size == 0, f"zero mismatch at x={np.asarray(x)[..., bad][:5]}: got {got[bad][:5]}"


def _bound(name: str, dtype: str) -> float:
    """Registry error bound for a function and dtype."""
    info = math_function_info(name)
    return info.max_ulp_f32 if dtype == "float32" else info.max_ulp_f64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_unary_accuracy(name: str, dtype: str) -> None:
    """Max ulp error over a dense sweep plus random floats is within the stated bound."""
    if dtype == "float64" and not HAVE_LONG_DOUBLE:
        pytest.skip("needs x87 long double as the float64 reference")
    rng = np.random.default_rng(1234)
    lo, hi = SWEEPS[name]
    x = np.concatenate([np.linspace(lo, hi, 60001, dtype=dtype), _random_bits(rng, dtype, 60000)])
    if name == "erf" and dtype == "float64":  # mpmath is slow: a sample, dense near 0..6
        x = np.concatenate([x[::80], np.linspace(-6.5, 6.5, 1500)])
    with np.errstate(all="ignore"):
        ref = _reference(name, x)
        got = math_kernel(name, dtype)(x)
    assert_same_class(got, _round(ref, dtype), x, _bound(name, dtype))
    error = max_ulp_error(got, ref, dtype)
    assert error <= _bound(name, dtype), f"{name} {dtype}: max error {error:.3f} ulp"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_unary_special_values(name: str, dtype: str) -> None:
    """+-0, +-inf, nan, denormals and overflow thresholds behave like NumPy."""
    with np.errstate(all="ignore"):
        x = np.array(SPECIALS, dtype=dtype)
        expected = REFERENCES[name](x)  # NumPy in the same dtype is the spec here
        if name not in NUMPY_UFUNCS:  # no NumPy ufunc: the rounded exact value is
            expected = _reference(name, x).astype(dtype)
        got = math_kernel(name, dtype)(x)
    assert_same_class(got, expected, x, _bound(name, dtype))
    finite = np.isfinite(expected) & (expected != 0)
    if dtype == "float32" or HAVE_LONG_DOUBLE:
        with np.errstate(all="ignore"):
            ref = _reference(name, x[finite])
        assert max_ulp_error(got[finite], ref, dtype) <= _bound(name, dtype)


POW_SPECIALS = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 2.5, -2.5, np.inf,
                -np.inf, np.nan, 1e-30, -1e-30, 1e30, -1e30, 1e-45, 7.0, -7.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_special_values(dtype: str) -> None:
    """Every pair of special x and y gives np.power's nan/inf/signed-zero answer."""
    xs, ys = np.meshgrid(np.array(POW_SPECIALS, dtype), np.array(POW_SPECIALS, dtype))
    with np.errstate(all="ignore"):
        expected = np.power(xs.ravel(), ys.ravel())
        got = math_kernel("pow", dtype)(xs.ravel(), ys.ravel())
    assert_same_class(got, expected, np.stack([xs.ravel(), ys.ravel()]))
    finite = np.isfinite(expected) & (expected != 0)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_accuracy(dtype: str) -> None:
    """pow over wide bases and exponents, up to results near overflow/underflow."""
    if dtype == "float64" and not HAVE_LONG_DOUBLE:
        pytest.skip("needs x87 long double as the float64 reference")
    rng = np.random.default_rng(99)
    big = 700.0 if dtype == "float64" else 85.0
    x = np.concatenate([np.exp(rng.uniform(-20, 20, 40000)), rng.uniform(0, 3, 40000),
                        -np.exp(rng.uniform(-5, 5, 20000))]).astype(dtype)
    y = np.concatenate([rng.uniform(-30, 30, 40000), rng.uniform(-big, big, 40000),
                        rng.integers(-60, 60, 20000)]).astype(dtype)
    high = np.float64 if dtype == "float32" else np.longdouble
    with np.errstate(all="ignore"):
        ref = np.power(x.astype(high), y.astype(high))
        got = math_kernel("pow", dtype)(x, y)
    assert_same_class(got, _round(ref, dtype), np.stack([x, y]))
    error = max_ulp_error(got, ref, dtype)
    assert error <= _bound("pow", dtype), f"pow {dtype}: max error {error:.3f} ulp"


# Huge float64 arguments of sin/cos/tan: exact reduction needed. The first is the
# double closest to a multiple of pi/2 (x mod pi/2 ~ 2^-61, Muller's worst case).
HUGE_TRIG = [6381956970095103 * 2.0 ** 797, 5233529336819550 * 2.0 ** 121,
             2.0 ** 1023, 1.7976931348623157e308, 1e22, 1e300, 123456789.0e100, 7.0e15]


@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_huge_float64_against_mpmath(name: str) -> None:
    """sin/cos/tan of huge doubles (reduction modulo pi/2 with ~1200 bits of 2/pi)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([HUGE_TRIG, -np.array(HUGE_TRIG),
                        np.exp(rng.uniform(np.log(1e6), np.log(1.7e308), 3000))])
    got = math_kernel(name, "float64")(x)
    with mpmath.workprec(200):  # mpmath reduces exactly given enough working precision
        exact = [getattr(mpmath, name)(mpmath.mpf(float(v))) for v in x]
        ref = np.array([np.longdouble(float(e)) + float(e - float(e)) for e in exact])
    error = max_ulp_error(got, ref, "float64")
    assert error <= _bound(name, "float64"), f"{name}: max error {error:.3f} ulp"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_many_float32_exponents(name: str, dtype: str) -> None:
    """Every binade up to the largest float: the reduction tables cover each exponent."""
    finfo = np.finfo(dtype)
    exponents = np.arange(finfo.minexp - finfo.nmant, finfo.maxexp, dtype=np.float64)
    rng = np.random.default_rng(7)
    x = (np.ldexp(rng.uniform(1, 2, (40, exponents.size)), exponents.astype(int))).ravel()
    x = x[np.isfinite(x.astype(dtype))].astype(dtype)
    high = np.float64 if dtype == "float32" else np.longdouble
    if dtype == "float64" and not HAVE_LONG_DOUBLE:
        pytest.skip("needs x87 long double as the float64 reference")
    ref = REFERENCES[name](x.astype(high))
    got = math_kernel(name, dtype)(x)
    assert_same_class(got, _round(ref, dtype), x, _bound(name, dtype))
    error = max_ulp_error(got, ref, dtype)
    assert error <= _bound(name, dtype), f"{name} {dtype}: max error {error:.3f} ulp"


def test_two_over_pi_bits_match_mpmath() -> None:
    """The table of 2/pi bits (computed from Machin's formula) is right to the last bit."""
    with mpmath.workprec(1500):
        expected = int(mpmath.floor(2 / mpmath.pi * mpmath.mpf(2) ** 1400))
    assert two_over_pi_bits(1400) == expected


def test_every_registered_function_is_tested() -> None:
    """A new math function must get a reference and a sweep range here."""
    assert set(available_functions()) == set(REFERENCES) | {"pow"}


def _host_has_simd() -> bool:
    """True if the host CPU has AVX2 or AVX-512F (so packed ymm/zmm code is expected)."""
    features = jit.host_cpu()[1]
    return "+avx2" in features or "+avx512f" in features


@pytest.mark.skipif(not _host_has_simd(), reason="CPU has neither AVX2 nor AVX-512")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(set(REFERENCES) | {"pow"}))
def test_loop_kernel_is_vectorized(name: str, dtype: str) -> None:
    """Every kernel's assembly uses packed vector arithmetic and calls nothing (no libm)."""
    asm = math_kernel(name, dtype).module.asm()
    suffix = "ps" if dtype == "float32" else "pd"
    assert re.search(rf"v\w+{suffix}\s+[^\n]*%[yz]mm\d+", asm), asm[:2000]
    assert not re.search(r"\bcall", asm), "a math kernel calls out of line"


def test_math_function_is_internal_and_inlined() -> None:
    """Math functions are internal alwaysinline definitions, declared once per module."""
    module = ir.Module()
    first = get_math_function(module, "exp", ir.FloatType())
    assert get_math_function(module, "exp", ir.FloatType()) is first
    assert first.name == math_function_name("exp", ir.FloatType()) == "tj.exp.f32"
    assert first.linkage == "internal" and "alwaysinline" in first.attributes
    with pytest.raises(KeyError, match="unknown math function"):
        get_math_function(module, "nope", ir.FloatType())


ADD_ONE_IR = """
declare double @tj_test_ext(double)
define double @f(double %x) {
  %y = call double @tj_test_ext(double %x)
  %z = fadd double %y, 1.0
  ret double %z
}
"""


def test_jit_imports_symbols_and_reloads_object_code() -> None:
    """External symbols resolve, and object code links again without LLVM passes."""
    doubler = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(lambda v: 2.0 * v)
    symbols = {"tj_test_ext": ctypes.cast(doubler, ctypes.c_void_p).value}
    module = jit.compile_ir(ADD_ONE_IR, "add_one", symbols)
    signature = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
    assert signature(module.address("f"))(3.0) == 7.0
    assert "define double @f" in module.optimized_ir()
    reloaded = jit.load_object(module.object_code(), ["f"], "add_one", symbols)
    assert signature(reloaded.address("f"))(5.0) == 11.0
    with pytest.raises(KeyError):
        module.address("missing")


def test_jit_rejects_bad_ir_and_unresolved_symbols() -> None:
    """Invalid IR is a ValueError; an unresolved external fails at link time."""
    with pytest.raises(ValueError, match="invalid LLVM IR"):
        jit.compile_ir("define i32 @f() { ret i64 0 }", "bad")
    with pytest.raises(RuntimeError, match="materialize|not found"):
        jit.compile_ir(ADD_ONE_IR, "unresolved")
