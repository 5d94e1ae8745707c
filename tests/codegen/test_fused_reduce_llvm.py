"""The native FusedReduce kernel (codegen/fused_reduce.py): every case natively, float32
sum accuracy, vector code, threads, runtime errors, and random fused reductions
(hypothesis) against the unfused reference evaluator."""

from __future__ import annotations

import pathlib
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorjit as tj
from tensorjit.codegen import jit
from tensorjit.graph.ops.fused_reduce import FusedReduce
from tensorjit.passes.fuse import FUSE_INTO_REDUCTION

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "graph"))
from cases_fused import CASES
from opcases import static_shape

TOL = {"float32": {"rtol": 3e-5, "atol": 1e-5}, "float64": {"rtol": 1e-11, "atol": 1e-12}}


def fused_nodes(f):
    return [n for n in f.fgraph.apply_nodes if isinstance(n.op, FusedReduce)]


def native(inputs, outputs, **kw):
    """A mode='llvm' function that runs every node natively."""
    f = tj.function(inputs, outputs, mode="llvm", **kw)
    assert f.fallbacks == []
    return f


def reference(inputs, outputs, *args):
    """The unfused graph on the reference evaluator."""
    return tj.function(inputs, outputs, mode="py", optimizer=None)(*args)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_case_runs_natively(case):
    for shapes in case.shapes:
        for dtype in case.dtypes:
            values = case.inputs(np.random.default_rng(3), shapes, dtype)
            xs = [tj.tensor(v.dtype.name, static_shape(v, case.static)) for v in values]
            f = native(xs, case.build(*xs), optimizer=None)
            assert fused_nodes(f)
            got = np.asarray(f(*values))
            with np.errstate(all="ignore"):
                want = np.asarray(reference(xs, case.build(*xs), *values))
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, equal_nan=True,
                                       **TOL.get(got.dtype.name, {"rtol": 0}))


@pytest.mark.parametrize("axis", [1, None])
def test_float32_sums_are_blocked(axis):
    """Long float32 rows stay within 1e-6 relative of the exact (float64) sum."""
    x = tj.tensor("float32", (None, None), name="x")
    f = native([x], tj.sum(x * x + 0.1 * x, axis=axis))
    assert len(fused_nodes(f)) == 1
    v = np.random.default_rng(0).uniform(0, 1, (3, 1_000_003)).astype("float32")
    wide = v.astype("float64")
    exact = np.sum(wide * wide + np.float32(0.1) * wide, axis=axis)
    np.testing.assert_allclose(f(v), exact, rtol=1e-6)


def _vector_instructions(f) -> int:
    return len(re.findall(r"\bv\w+\s+.*%[yz]mm", f.asm()))


@pytest.mark.skipif("avx2" not in jit.host_cpu()[1], reason="no AVX2")
@pytest.mark.parametrize("build", [
    lambda x, c: tj.sum(x * x, axis=1),
    lambda x, c: tj.sum(x * x),
    lambda x, c: tj.sum(tj.exp(x - c), axis=1),
    lambda x, c: tj.max(abs(x - c), axis=1),
    lambda x, c: tj.sum(x * c, axis=0),
])
def test_float32_fused_sums_vectorize(build):
    x = tj.tensor("float32", (None, None), name="x")
    c = tj.tensor("float32", (None, 1), name="c")
    f = native([x, c], build(x, c), threads=1)
    assert len(fused_nodes(f)) == 1
    assert _vector_instructions(f) > 4


def test_rows_split_across_threads_agree():
    rng = np.random.default_rng(1)
    x = tj.tensor("float64", (None, None), name="x")
    m = tj.tensor("float64", (None, 1), name="m")
    y = [tj.sum(tj.exp(x - m), axis=1), tj.max(x * m, axis=1)]
    xv, mv = rng.standard_normal((700, 1000)), rng.standard_normal((700, 1))
    want = reference([x, m], y, xv, mv)
    for threads in (1, 2, 3):
        got = native([x, m], y, threads=threads)(xv, mv)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_whole_reductions_split_across_threads_agree(dtype):
    """Each thread folds a range, then merges into the output (compare-and-swap)."""
    x = tj.tensor(dtype, (None,), name="x")
    y = [tj.sum(x * x), tj.max(x - 1), tj.min(x * 3), tj.any(x > 3), tj.all(x < 4)]
    if dtype != "int32":
        y += [tj.mean(tj.log1p(abs(x)))]
    if dtype == "float64":  # a float32 product of 1e6 terms is only good to ~1e-4
        y += [tj.prod(1 + x * 1e-7)]
    rng = np.random.default_rng(2)
    v = rng.integers(-4, 4, 1_000_003) if dtype == "int32" else rng.standard_normal(1_000_003)
    v = v.astype(dtype)
    want = reference([x], y, v)
    for threads in (1, 2, 3):
        f = native([x], y, threads=threads)
        assert len(fused_nodes(f)) == len(y)
        for got, w in zip(f(v), want):
            np.testing.assert_allclose(got, w, rtol=1e-6 if dtype == "float32" else 1e-12)
    if dtype != "int32":
        v[777_777] = np.nan
        for got in native([x], y[:3], threads=2)(v):
            assert np.isnan(got)


def test_nan_propagates_through_fused_max_and_min():
    x, y = tj.dmatrix("x"), tj.dmatrix("y")
    f = native([x, y], [tj.max(abs(x - y), axis=1), tj.min(x * y, axis=0)])
    a, b = np.ones((3, 40)), np.ones((3, 40))
    a[1, 17] = np.nan
    mx, mn = f(a, b)
    assert np.isnan(mx[1]) and not np.isnan(mx[[0, 2]]).any()
    assert np.isnan(mn[17]) and np.isnan(mn).sum() == 1


def test_empty_max_and_bad_broadcast_raise_before_running():
    x = tj.dmatrix("x")
    r = tj.tensor("float64", (1, None), name="r")
    f = native([x, r], tj.max(x * r, axis=1))
    with pytest.raises(ValueError, match="empty"):
        f(np.zeros((3, 0)), np.zeros((1, 0)))
    with pytest.raises(ValueError, match="broadcast"):
        f(np.zeros((3, 4)), np.zeros((1, 5)))
    np.testing.assert_allclose(f(np.ones((2, 3)), np.full((1, 3), 2.0)), [2.0, 2.0])


def test_integer_power_value_error_is_reported():
    """An integer to a negative power is NumPy's ValueError, from inside the fold."""
    x, n = tj.ivector("x"), tj.ivector("n")
    f = native([x, n], tj.sum(x ** n))
    assert len(fused_nodes(f)) == 1
    assert f(np.array([2, 3], "int32"), np.array([2, 1], "int32")) == 7
    with pytest.raises(ValueError):
        f(np.array([2, 3], "int32"), np.array([2, -1], "int32"))


# --------------------------------------------------------------------------------------
# Random fused reductions: llvm (optimized, fused) vs the unfused reference evaluator

UNARY = {"tanh": tj.tanh, "exp_tanh": lambda a: tj.exp(tj.tanh(a)), "abs": abs,
         "neg": lambda a: -a, "sin": tj.sin, "log1p_abs": lambda a: tj.log1p(abs(a)),
         "square": lambda a: a * a}
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "max": tj.maximum, "where": lambda a, b: tj.where(a > b, a, b)}
REDUCE = {"sum": tj.sum, "mean": tj.mean, "max": tj.max, "min": tj.min, "prod": tj.prod,
          "any": lambda a, **kw: tj.any(a > 0.5, **kw),
          "all": lambda a, **kw: tj.all(a < 1.5, **kw)}
SHAPES = [(3, 4, 5), (4, 5), (3, 1, 5), (5,), (1, 4, 1), (), (3, 4, 1)]


@st.composite
def random_reductions(draw):
    n_inputs = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(n_inputs)]
    steps = []
    for k in range(draw(st.integers(1, 5))):
        available = n_inputs + k
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))),
                          draw(st.integers(0, available - 1))))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))),
                          draw(st.integers(0, available - 1)),
                          draw(st.integers(0, available - 1))))
    reduction = draw(st.sampled_from(sorted(REDUCE)))
    axes_pick = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    keepdims = draw(st.booleans())
    dtype = draw(st.sampled_from(["float32", "float64"]))
    return shapes, steps, reduction, axes_pick, keepdims, dtype


def build_reduction(shapes, steps, reduction, axes_pick, keepdims, dtype):
    xs = [tj.tensor(dtype, tuple(1 if s == 1 else None for s in shape), name=f"x{k}")
          for k, shape in enumerate(shapes)]
    values = list(xs)
    for step in steps:
        if step[0] == "u":
            values.append(UNARY[step[1]](values[step[2]]))
        else:
            values.append(BINARY[step[1]](values[step[2]], values[step[3]]))
    e = values[-1]
    axes = tuple(a for a in range(e.ndim) if axes_pick[a])
    return xs, REDUCE[reduction](e, axis=axes, keepdims=keepdims)


@settings(max_examples=40, deadline=None)
@given(random_reductions(), st.integers(0, 2 ** 16))
def test_random_fused_reductions_match_reference(graph, seed):
    xs, out = build_reduction(*graph)
    rng = np.random.default_rng(seed)
    dtype = graph[-1]
    args = [rng.uniform(-1, 1, s).astype(dtype) for s in graph[0]]
    f = native(xs, out)
    got, want = np.asarray(f(*args)), np.asarray(reference(xs, out, *args))
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = TOL[dtype] if got.dtype.kind == "f" else {"rtol": 0}
    np.testing.assert_allclose(got, want, equal_nan=True, **tol)


def test_random_reductions_do_fuse():
    """The strategy's graphs are fused graphs (so the property test exercises them)."""
    graph = ([(3, 4, 5), (4, 1)], [("b", "mul", 0, 1), ("u", "exp_tanh", 2)], "sum",
             [False, True, True], False, "float32")
    xs, out = build_reduction(*graph)
    f = native(xs, out)
    assert len(fused_nodes(f)) == 1
    assert FUSE_INTO_REDUCTION in [e.rewrite for e in f.rewrites]
