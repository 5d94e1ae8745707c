"""Every scalar op compiled natively (mode="llvm") against NumPy, with the corner cases:
integer division and remainder by negative numbers, by zero and of the most negative
value by -1; integer powers that wrap; NaN propagation in maximum/minimum/clip/relu;
signed zeros, infinities, NaN and denormals through every float op.

Binary ops are checked on the full outer product of the special values (shapes (n, 1)
and (1, n), which also exercises the broadcasting loop nest), each op in its own kernel
(optimizer=None) and fused with the others (the default optimizer).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import tensorjit as tj
from tensorjit.codegen.elemwise import SCALAR_RULES
from tensorjit.codegen.scalar_rules_math import UNSUPPORTED
from tensorjit.graph.ops.elemwise import SCALAR_OP_REGISTRY

INTS = ("int8", "int16", "int32", "int64", "uint8")
FLOATS = ("float32", "float64")


def float_specials(dtype: str) -> np.ndarray:
    tiny = 1e-40 if dtype == "float32" else 1e-310  # denormals
    big = 1e30 if dtype == "float32" else 1e300
    values = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 3.0, -3.0, 0.1, 7.0, -7.0,
              100.0, -100.0, tiny, -tiny, big, -big, np.nan, np.inf, -np.inf]
    return np.array(values, dtype=dtype)


def int_specials(dtype: str) -> np.ndarray:
    info = np.iinfo(dtype)
    if info.min == 0:
        values = [0, 1, 2, 3, 7, 100, 128, 254, 255]
    else:
        values = [info.min, info.min + 1, -100, -7, -3, -2, -1, 0, 1, 2, 3, 7, 100,
                  info.max - 1, info.max]
    return np.array(values, dtype=dtype)


def specials(dtype: str) -> np.ndarray:
    return float_specials(dtype) if dtype in FLOATS else int_specials(dtype)


def run_native(build, values, optimizer=None):
    """Compile build(*variables) in llvm mode (no fallback allowed) and call it."""
    xs = [tj.tensor(v.dtype.name, tuple(1 if s == 1 else None for s in v.shape))
          for v in values]
    f = tj.function(xs, build(*xs), mode="llvm", optimizer=optimizer)
    assert f.fallbacks == [], f"ran through the reference evaluator: {f.fallbacks}"
    return f(*values)


def outer(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    v = specials(dtype)
    return v[:, None], v[None, :]


def assert_same(got, want):
    """Exact equality (NaN equals NaN), dtype included."""
    want = np.asarray(want)
    assert got.dtype == want.dtype, f"dtype {got.dtype} != {want.dtype}"
    np.testing.assert_array_equal(got, want)


def numpy_ref(fn, *values):
    with np.errstate(all="ignore"):
        return fn(*values)


# --------------------------------------------------------------------------------------
# Integer and exact float arithmetic


BINARY_EXACT = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "floor_div": (lambda a, b: a // b, np.floor_divide),
    "mod": (lambda a, b: a % b, np.mod),
    "maximum": (tj.maximum, np.maximum),
    "minimum": (tj.minimum, np.minimum),
    "eq": (tj.eq, np.equal), "neq": (tj.neq, np.not_equal), "lt": (tj.lt, np.less),
    "le": (tj.le, np.less_equal), "gt": (tj.gt, np.greater), "ge": (tj.ge, np.greater_equal),
}


@pytest.mark.parametrize("dtype", INTS + FLOATS)
@pytest.mark.parametrize("name", sorted(BINARY_EXACT))
def test_binary_ops_exact(name, dtype):
    build, ref = BINARY_EXACT[name]
    a, b = outer(dtype)
    assert_same(run_native(build, [a, b]), numpy_ref(ref, a, b))


@pytest.mark.parametrize("dtype", ("int8", "int32", "int64"))
def test_int_floor_div_and_mod_sign_rules(dtype):
    a = np.array([7, -7, 7, -7, 0, 5, -5, np.iinfo(dtype).min, np.iinfo(dtype).min],
                 dtype=dtype)
    b = np.array([2, 2, -2, -2, 3, 0, 0, -1, 1], dtype=dtype)
    q = run_native(lambda x, y: x // y, [a, b])
    r = run_native(lambda x, y: x % y, [a, b])
    assert q.tolist()[:7] == [3, -4, -4, 3, 0, 0, 0]
    assert r.tolist()[:7] == [1, 1, -1, -1, 0, 0, 0]
    assert q[7] == np.iinfo(dtype).min and r[7] == 0  # MIN // -1 wraps, no trap
    assert_same(q, numpy_ref(np.floor_divide, a, b))
    assert_same(r, numpy_ref(np.mod, a, b))


def test_float_floor_div_and_mod_follow_numpy_divmod():
    a = np.array([1.0, -1.0, 5.0, 0.0, np.inf, 1.0, -0.0, 1.0, 1e30, -7.5, 6.0])
    b = np.array([0.1, 0.0, -0.0, 0.0, 2.0, np.inf, 3.0, -np.inf, 3.0, 2.0, -3.0])
    for dtype in FLOATS:
        x, y = a.astype(dtype), b.astype(dtype)
        q = run_native(lambda u, v: u // v, [x, y])
        r = run_native(lambda u, v: u % v, [x, y])
        assert_same(q, numpy_ref(np.floor_divide, x, y))
        assert_same(r, numpy_ref(np.mod, x, y))
        assert_same(np.signbit(q), np.signbit(numpy_ref(np.floor_divide, x, y)))


def test_float_floor_div_and_mod_random():
    rng = np.random.default_rng(3)
    for dtype in FLOATS:
        a = (rng.standard_normal(4000) * 10.0 ** rng.integers(-3, 8, 4000)).astype(dtype)
        b = (rng.standard_normal(4000) * 10.0 ** rng.integers(-3, 4, 4000)).astype(dtype)
        assert_same(run_native(lambda u, v: u // v, [a, b]), numpy_ref(np.floor_divide, a, b))
        assert_same(run_native(lambda u, v: u % v, [a, b]), numpy_ref(np.mod, a, b))


@pytest.mark.parametrize("dtype", INTS)
def test_int_pow_wraps_like_numpy(dtype):
    base = specials(dtype)[:, None]
    exponent = np.array([0, 1, 2, 3, 7, 8, 63, 100], dtype=np.int64)
    exponent = exponent[exponent <= np.iinfo(dtype).max].astype(dtype)[None, :]
    assert_same(run_native(tj.pow, [base, exponent]), numpy_ref(np.power, base, exponent))


def test_int_pow_negative_exponent_raises_like_numpy():
    a = np.array([2, 3], dtype="int32")
    b = np.array([1, -1], dtype="int32")
    with pytest.raises(ValueError):
        np.power(a, b)
    with pytest.raises(ValueError):
        run_native(tj.pow, [a, b])
    # the check also works inside a fused float kernel (never split across threads)
    with pytest.raises(ValueError):
        run_native(lambda x, y: tj.exp(tj.cast(x ** y, "float64")), [a, b], "fast_run")


@pytest.mark.parametrize("dtype", FLOATS)
def test_float_pow_special_values(dtype):
    a, b = outer(dtype)
    got = run_native(tj.pow, [a, b])
    want = numpy_ref(np.power, a, b)
    np.testing.assert_allclose(got, want, rtol=8e-7 if dtype == "float32" else 1e-15,
                               equal_nan=True)
    assert_same(np.isnan(got), np.isnan(want))


# --------------------------------------------------------------------------------------
# Unary arithmetic, extrema, NaN propagation


UNARY_EXACT = {
    "neg": (lambda a: -a, np.negative), "abs": (abs, np.abs), "sign": (tj.sign, np.sign),
    "square": (tj.square, np.square), "relu": (tj.relu, lambda a: np.maximum(a, 0)),
    "stop_gradient": (tj.stop_gradient, lambda a: a.copy()),
}


@pytest.mark.parametrize("dtype", INTS + FLOATS)
@pytest.mark.parametrize("name", sorted(UNARY_EXACT))
def test_unary_ops_exact(name, dtype):
    build, ref = UNARY_EXACT[name]
    x = specials(dtype)
    want = numpy_ref(ref, x).astype(dtype)
    assert_same(run_native(build, [x]), want)


@pytest.mark.parametrize("dtype", FLOATS)
def test_extrema_propagate_nan_and_pick_zeros_as_numpy(dtype):
    a = np.array([np.nan, 1.0, np.nan, -0.0, 0.0, -np.inf], dtype=dtype)
    b = np.array([1.0, np.nan, np.nan, 0.0, -0.0, np.inf], dtype=dtype)
    for build, ref in ((tj.maximum, np.maximum), (tj.minimum, np.minimum)):
        got = run_native(build, [a, b])
        assert_same(got, ref(a, b))
        assert_same(np.signbit(got), np.signbit(ref(a, b)))
    got = run_native(lambda x: tj.clip(x, -1.0, 1.0), [a])
    assert_same(got, np.clip(a, -1.0, 1.0))
    assert np.isnan(run_native(tj.relu, [a])[0])


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_clip_and_reciprocal(dtype):
    x = specials(dtype)
    lo, hi = np.array(2, dtype=dtype), np.array(100, dtype=dtype)
    assert_same(run_native(tj.clip, [x, lo, hi]), np.minimum(np.maximum(x, lo), hi))
    rec = run_native(tj.reciprocal, [x])
    want = numpy_ref(np.reciprocal, x.astype(rec.dtype))
    np.testing.assert_array_equal(rec, want)


def test_bool_ops():
    a = np.array([True, True, False, False])[:, None]
    b = np.array([True, False, True, False])[None, :]
    cases = [(tj.logical_and, np.logical_and), (tj.logical_or, np.logical_or),
             (tj.logical_xor, np.logical_xor), (lambda x, y: x + y, np.add),
             (lambda x, y: x * y, np.multiply), (tj.maximum, np.maximum),
             (tj.minimum, np.minimum), (tj.lt, np.less), (tj.eq, np.equal)]
    for build, ref in cases:
        assert_same(run_native(build, [a, b]), ref(a, b))
    assert_same(run_native(tj.logical_not, [a]), ~a)
    assert_same(run_native(abs, [a]), np.abs(a))


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_predicates_where_and_casts(dtype):
    x = specials(dtype)
    assert_same(run_native(tj.isnan, [x]), np.isnan(x))
    assert_same(run_native(tj.isinf, [x]), np.isinf(x))
    y = x[::-1].copy()
    assert_same(run_native(lambda u, v: tj.where(u > v, u, v), [x, y]), np.where(x > y, x, y))
    for target in ("bool", "int32", "float32", "float64", "uint8"):
        if dtype in FLOATS and target not in FLOATS + ("bool",):
            continue  # float -> int of nan/inf/huge values is undefined in NumPy too
        with np.errstate(over="ignore"):  # float64 -> float32 of 1e300 is inf
            want = x.astype(target)
        assert_same(run_native(lambda u, t=target: tj.cast(u, t), [x]), want)


# --------------------------------------------------------------------------------------
# Transcendental functions (mathlib), special values included


TRANSCENDENTAL = {
    "exp": np.exp, "exp2": np.exp2, "log": np.log, "log2": np.log2, "log10": np.log10,
    "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "tanh": np.tanh, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "sigmoid": scipy.special.expit,
    "softplus": lambda x: np.logaddexp(np.zeros((), x.dtype), x), "erf": scipy.special.erf,
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(TRANSCENDENTAL))
def test_transcendental_native(name, dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([float_specials(dtype),
                        rng.uniform(-3, 3, 500).astype(dtype),
                        rng.uniform(-0.99, 0.99, 200).astype(dtype)])
    got = run_native(getattr(tj, name), [x])
    want = numpy_ref(TRANSCENDENTAL[name], x).astype(dtype)
    assert got.dtype == want.dtype
    assert_same(np.isnan(got), np.isnan(want))
    # mathlib's documented bounds are a few ulp; relative 4 ulp plus denormal slack
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=4 * eps, atol=4 * np.finfo(dtype).tiny,
                               equal_nan=True)


def test_crossentropies_native():
    rng = np.random.default_rng(1)
    p = np.concatenate([[0.0, 1.0, 0.5, np.nan], rng.uniform(0.01, 0.99, 60)])
    t = np.concatenate([[0.0, 1.0, 0.0, 1.0], rng.uniform(0, 1, 60)])
    got = run_native(tj.binary_crossentropy, [p, t])
    want = -(scipy.special.xlogy(t, p) + scipy.special.xlog1py(1 - t, -p))
    np.testing.assert_allclose(got, want, rtol=1e-14, equal_nan=True)
    x = rng.uniform(-30, 30, 64)
    got = run_native(tj.sigmoid_binary_crossentropy, [x, t])
    want = np.logaddexp(0, x) - x * t
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


# --------------------------------------------------------------------------------------
# Coverage, no fallbacks, vector code


def test_every_scalar_op_has_a_native_rule():
    assert UNSUPPORTED == []
    assert sorted(set(SCALAR_OP_REGISTRY) - set(SCALAR_RULES)) == []


def all_ops_graph(x, y, n, c):
    """One output per elementwise function of the public API (floats, ints, bools)."""
    outs = [getattr(tj, name)(x) for name in TRANSCENDENTAL]
    outs += [x + y, x - y, x * y, x / y, x // y, x % y, x ** y, -x, abs(x), tj.sign(x),
             tj.square(x), tj.reciprocal(x), tj.maximum(x, y), tj.minimum(x, y),
             tj.clip(x, -1.0, 1.0), tj.relu(x), tj.stop_gradient(x), tj.where(c, x, y),
             tj.isnan(x), tj.isinf(x), n // 3, n % 3, n ** 2, abs(n), tj.sign(n)]
    outs += [op(x, y) for op in (tj.eq, tj.neq, tj.lt, tj.le, tj.gt, tj.ge)]
    outs += [tj.logical_and(c, x > 0), tj.logical_or(c, x > 0), tj.logical_xor(c, x > 0),
             tj.logical_not(c), tj.cast(x, "int32"), tj.zeros_like(x)]
    return outs


@pytest.mark.parametrize("optimizer", [None, "fast_run"])
def test_no_fallbacks_for_a_graph_of_every_elementwise_op(optimizer):
    x, y = tj.dvector("x"), tj.dvector("y")
    n, c = tj.lvector("n"), tj.tensor("bool", (None,), name="c")
    outs = all_ops_graph(x, y, n, c)
    f = tj.function([x, y, n, c], outs, mode="llvm", optimizer=optimizer)
    assert f.fallbacks == []
    g = tj.function([x, y, n, c], outs, mode="py", optimizer=None)
    rng = np.random.default_rng(5)
    args = [rng.uniform(0.1, 0.9, 50), rng.uniform(0.5, 2.0, 50),
            rng.integers(-9, 9, 50), rng.random(50) < 0.5]
    for got, want in zip(f(*args), g(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15, equal_nan=True)


def test_fused_float32_kernel_uses_vector_registers():
    from tensorjit.codegen import jit
    features = jit.host_cpu()[1]
    if "+avx2" not in features.split(",") and "+avx512f" not in features.split(","):
        pytest.skip("the host CPU has neither AVX2 nor AVX-512")
    x = tj.fvector("x")
    y = tj.exp(-x * x / 2) * tj.sin(3 * x) + tj.log1p(abs(x)) * tj.tanh(x)
    f = tj.function([x], y, mode="llvm")
    assert len(f.fgraph.apply_nodes) == 1
    asm = f.asm()
    assert "zmm" in asm or "ymm" in asm
