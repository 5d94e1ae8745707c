"""Native reduction kernels (codegen/reduce.py) beyond the op-case table: no fallbacks,
float32 sum accuracy, NaN propagation, empty extrema, axis layouts, vector code."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.codegen import jit

from native_errors import raises_natively

DTYPES = ("float32", "float64", "int32", "int64", "int8", "uint8", "bool")


def native(inputs, outputs, **kw):
    """A mode='llvm' function that must run every node natively."""
    f = tj.function(inputs, outputs, mode="llvm", **kw)
    assert f.fallbacks == []
    return f


def values(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0 if dtype == "uint8" else -9, 10, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


REDUCTIONS = {
    "sum": (tj.sum, np.sum), "prod": (tj.prod, np.prod), "max": (tj.max, np.max),
    "min": (tj.min, np.min), "all": (tj.all, np.all), "any": (tj.any, np.any),
    "mean": (tj.mean, np.mean),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_run_natively_for_every_axis_set(name):
    ours, ref = REDUCTIONS[name]
    rng = np.random.default_rng(0)
    x = tj.tensor("float64", (None, None, None), name="x")
    a = rng.uniform(0.5, 1.5, (3, 4, 5))
    cases = [(axes, keep) for r in range(4) for axes in itertools.combinations(range(3), r)
             for keep in (False, True)]
    f = native([x], [ours(x, axis=axes, keepdims=keep) for axes, keep in cases])
    for got, (axes, keep) in zip(f(a), cases):
        np.testing.assert_allclose(got, ref(a, axis=axes, keepdims=keep), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_and_layout_matches_numpy(dtype):
    rng = np.random.default_rng(1)
    a = values(rng, (4, 1, 6, 7), dtype)
    x = tj.tensor(dtype, (None, 1, None, None), name="x")
    cases = [(name, axes) for axes in [(0,), (1,), (3,), (0, 1), (2, 3), (0, 2), (1, 3),
                                       (0, 1, 2, 3), ()]
             for name in ("sum", "prod", "max", "min", "all", "any")]
    f = native([x], [REDUCTIONS[name][0](x, axis=axes) for name, axes in cases])
    for got, (name, axes) in zip(f(a), cases):
        ref = REDUCTIONS[name][1]
        if name in ("sum", "prod") and not dtype.startswith("float"):
            want = ref(a, axis=axes, dtype="int64")
        else:
            want = ref(a, axis=axes)
        assert got.dtype == want.dtype, (name, axes)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"{name} {axes}")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint8", "bool"])
def test_argmax_argmin_first_occurrence(dtype):
    rng = np.random.default_rng(2)
    a = values(rng, (5, 130, 3), dtype)  # ties among small integers and bools
    x = tj.tensor(dtype, (None, None, None), name="x")
    cases = [(ours, ref, axis) for axis in (None, 0, 1, 2)
             for ours, ref in ((tj.argmax, np.argmax), (tj.argmin, np.argmin))]
    f = native([x], [ours(x, axis=axis) for ours, _, axis in cases])
    for got, (_, ref, axis) in zip(f(a), cases):
        np.testing.assert_array_equal(got, ref(a, axis=axis))


def test_float32_sum_is_accurate_on_10m_values():
    """Blocked float32 sums (float64 block totals) stay within 1e-6 of the exact sum."""
    rng = np.random.default_rng(3)
    x = tj.tensor("float32", (None,), name="x")
    f = native([x], tj.sum(x))
    for v in (rng.random(10_000_000, dtype=np.float32),
              (rng.random(10_000_000, dtype=np.float32) + 1e3).astype(np.float32)):
        exact = math.fsum(v.astype(np.float64))
        assert abs(float(f(v)) - exact) <= 1e-6 * abs(exact)
    # a naive float32 running sum of these is off by about 1e-3 relative
    v = np.full(10_000_000, 0.1, dtype=np.float32)
    exact = math.fsum(v.astype(np.float64))
    assert abs(float(f(v)) - exact) <= 1e-6 * exact


def test_float32_row_sums_are_accurate():
    rng = np.random.default_rng(4)
    m = tj.tensor("float32", (None, None), name="m")
    a = rng.random((4, 3_000_000), dtype=np.float32)
    got = native([m], tj.sum(m, axis=1))(a)
    exact = [math.fsum(row) for row in a.astype(np.float64)]
    np.testing.assert_allclose(got, exact, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_and_min_propagate_nan(dtype):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((6, 200)).astype(dtype)
    a[1, 7] = a[3, 199] = a[4, 0] = np.nan
    x = tj.tensor(dtype, (None, None), name="x")
    # whole, columns (leading axis), rows
    cases = [(ours, ref, axis) for ours, ref in ((tj.max, np.max), (tj.min, np.min))
             for axis in (None, 0, 1)]
    f = native([x], [ours(x, axis=axis) for ours, _, axis in cases]
               + [tj.argmax(x, axis=1), tj.argmin(x)])
    *got, first_nans, first_nan = f(a)
    for g, (_, ref, axis) in zip(got, cases):
        np.testing.assert_array_equal(g, ref(a, axis=axis))
    np.testing.assert_array_equal(first_nans, np.argmax(a, axis=1))
    assert int(first_nan) == np.argmin(a)


def test_max_of_infinities_and_signed_zero_rows():
    x = tj.tensor("float64", (None, None), name="x")
    a = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [-0.0, -0.0]])
    np.testing.assert_array_equal(native([x], tj.max(x, axis=1))(a), [-np.inf, np.inf, 0])


@pytest.mark.parametrize("build, fname", [
    (lambda x: tj.max(x, axis=1), "max"), (lambda x: tj.min(x), "min"),
    (lambda x: tj.argmax(x, axis=1), "argmax"), (lambda x: tj.argmin(x), "argmin")])
def test_extremum_of_empty_axis_raises(build, fname):
    x = tj.tensor("float32", (None, None), name="x")
    f = native([x], build(x))
    with raises_natively(ValueError, rf"^{fname}\(\).*empty", match=rf"{fname}\(\).*empty"):
        f(np.zeros((3, 0), np.float32))
    f(np.zeros((3, 2), np.float32))  # the function still works afterwards


def test_empty_sums_products_and_truth():
    x = tj.tensor("float32", (None, None), name="x")
    a = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(native([x], tj.sum(x, axis=0))(a), np.zeros(3))
    np.testing.assert_array_equal(native([x], tj.prod(x, axis=0))(a), np.ones(3))
    assert native([x], tj.all(x))(a) and not native([x], tj.any(x))(a)
    assert native([x], tj.max(x, axis=0))(np.zeros((2, 0), np.float32)).shape == (0,)


def _vector_instructions(f) -> int:
    asm = jit.assembly(str(f.program.module_ir))  # not linked: tj_pool_run is external
    return len(re.findall(r"\bv\w+\s+.*%[yz]mm", asm))


@pytest.mark.skipif("avx2" not in jit.host_cpu()[1], reason="no AVX2")
@pytest.mark.parametrize("build", [lambda m: tj.sum(m, axis=0), lambda m: tj.sum(m, axis=1),
                                   lambda m: tj.max(m, axis=1), lambda m: tj.max(m, axis=0)])
def test_float32_reductions_vectorize(build):
    m = tj.tensor("float32", (None, None), name="m")
    assert _vector_instructions(native([m], build(m), threads=1)) > 4


def test_large_row_reductions_split_across_threads():
    rng = np.random.default_rng(6)
    m = tj.tensor("float64", (None, None), name="m")
    a = rng.standard_normal((700, 1000))
    for threads in (1, 2, 3):
        f = native([m], [tj.sum(m, axis=1), tj.argmax(m, axis=1)], threads=threads)
        s, i = f(a)
        np.testing.assert_allclose(s, a.sum(axis=1), rtol=1e-10)
        np.testing.assert_array_equal(i, a.argmax(axis=1))


def test_bias_gradient_graph_is_native():
    w = tj.tensor("float32", (None, None), name="w")
    b = tj.tensor("float32", (None,), name="b")
    loss = tj.sum(tj.tanh(w + b))
    f = native([w, b], tj.grad(loss, b))
    a = np.random.default_rng(7).standard_normal((50, 8)).astype(np.float32)
    bb = np.zeros(8, np.float32)
    np.testing.assert_allclose(f(a, bb), (1 - np.tanh(a) ** 2).sum(axis=0), rtol=1e-5)
