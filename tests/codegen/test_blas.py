"""Matrix products under mode="llvm": BLAS (float) and loop (int) kernels against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.codegen import blas

from native_errors import raises_natively

RTOL = {"float32": 1e-5, "float64": 1e-12}

# (a shape, b shape): vector-shaped, size-0 and non-square matrices
MATRIX_SHAPES = [
    ((3, 4), (4, 5)),
    ((1, 7), (7, 3)),      # gemv on B (static m = 1)
    ((6, 7), (7, 1)),      # gemv on A (static n = 1)
    ((1, 9), (9, 1)),      # dot
    ((5, 1), (1, 4)),      # k = 1 (outer product as a GEMM)
    ((0, 4), (4, 3)),      # m = 0
    ((3, 4), (4, 0)),      # n = 0
    ((3, 0), (0, 5)),      # k = 0: zeros, not BLAS (lda would be 0)
    ((1, 0), (0, 1)),
    ((33, 17), (17, 65)),
]


def _rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(-5, 6, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("static", ["exact", "unknown"])
@pytest.mark.parametrize("shapes", MATRIX_SHAPES, ids=str)
def test_dot_matches_numpy(shapes, static, dtype):
    sa, sb = shapes
    a_val, b_val = _rand(sa, dtype, 1), _rand(sb, dtype, 2)
    st = (lambda s: s) if static == "exact" else (lambda s: (None,) * len(s))
    a, b = tj.tensor(dtype, st(sa), name="a"), tj.tensor(dtype, st(sb), name="b")
    f = tj.function([a, b], a @ b, mode="llvm")
    assert f.fallbacks == []
    got = f(a_val, b_val)
    want = a_val.astype("float64") @ b_val.astype("float64")
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_routine_choice_follows_static_shapes(monkeypatch, tmp_path):
    # BLAS's routines, not the JIT GEMM (TENSORJIT_GEMM=jit would take the sgemm case);
    # a private cache: function-level cache keys do not include the GEMM backend
    monkeypatch.setenv("TENSORJIT_GEMM", "blas")
    monkeypatch.setenv("TENSORJIT_CACHE_DIR", str(tmp_path))
    cases = {((4, 5), (5, 6)): "sgemm", ((1, 5), (5, 6)): "sgemv", ((4, 5), (5, 1)): "sgemv",
             ((1, 5), (5, 1)): "sdot"}
    for (sa, sb), routine in cases.items():
        a, b = tj.tensor("float32", sa), tj.tensor("float32", sb)
        f = tj.function([a, b], a @ b, mode="llvm")
        ir_text = str(f.program.module_ir)
        assert f"{blas.PREFIX}{routine}\"" in ir_text, (sa, sb, routine)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vector_products(dtype):
    m, v, w = tj.tensor(dtype, (None, None)), tj.tensor(dtype, (None,)), tj.tensor(dtype, (None,))
    f = tj.function([m, v, w], [m @ v, v @ m.T, tj.dot(v, w)], mode="llvm")
    assert f.fallbacks == []
    mv, vv, wv = _rand((5, 3), dtype), _rand(3, dtype, 3), _rand(3, dtype, 4)
    got = f(mv, vv, wv)
    for g, want in zip(got, [mv @ vv, vv @ mv.T, vv @ wv]):
        np.testing.assert_allclose(g, want, rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_batched_matmul_with_broadcast(dtype):
    a = tj.tensor(dtype, (None, 1, None, None))
    b = tj.tensor(dtype, (1, None, None, None))
    f = tj.function([a, b], a @ b, mode="llvm")
    assert f.fallbacks == []
    av, bv = _rand((2, 1, 3, 4), dtype, 5), _rand((1, 3, 4, 5), dtype, 6)
    np.testing.assert_allclose(f(av, bv), np.matmul(av, bv), rtol=1e-5)
    empty = f(av[:0], bv)
    assert empty.shape == (0, 3, 3, 5)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8"])
def test_integer_matmul_loop(dtype):
    a, b = tj.tensor(dtype, (None, None)), tj.tensor(dtype, (None, None))
    f = tj.function([a, b], a @ b, mode="llvm")
    assert f.fallbacks == []
    av, bv = _rand((7, 9), dtype, 7), _rand((9, 4), dtype, 8)
    got = f(av, bv)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, av @ bv)  # wrapping arithmetic, as NumPy


def test_bool_matmul():
    a, b = tj.tensor("bool", (None, None)), tj.tensor("bool", (None, None))
    f = tj.function([a, b], a @ b, mode="llvm")
    rng = np.random.default_rng(0)
    av, bv = rng.random((4, 6)) < 0.3, rng.random((6, 5)) < 0.3
    np.testing.assert_array_equal(f(av, bv), av @ bv)


def test_inner_dimension_mismatch_raises_before_blas():
    a, b = tj.matrix("a"), tj.matrix("b")
    f = tj.function([a, b], a @ b, mode="llvm")
    with raises_natively(ValueError, "shape mismatch", match="inner dimensions do not match"):
        f(np.ones((3, 4)), np.ones((5, 2)))


def test_batch_axis_mismatch_raises():
    a, b = tj.tensor3("a"), tj.tensor3("b")
    f = tj.function([a, b], a @ b, mode="llvm")
    with pytest.raises(ValueError):
        f(np.ones((2, 3, 4)), np.ones((3, 4, 5)))


def test_blas_addresses_are_resolved():
    for name in ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot"):
        assert blas.blas_address(name) > 0


def test_gradient_through_blas_matches_py():
    x, w = tj.fmatrix("x"), tj.fmatrix("w")
    cost = tj.sum((x @ w) ** 2)
    outs = [cost, *tj.grad(cost, [x, w])]
    f_llvm = tj.function([x, w], outs, mode="llvm")
    f_py = tj.function([x, w], outs, mode="py")
    xv, wv = _rand((8, 5), "float32", 9), _rand((5, 3), "float32", 10)
    for got, want in zip(f_llvm(xv, wv), f_py(xv, wv)):
        np.testing.assert_allclose(got, want, rtol=1e-4)
    assert not [n for n in f_llvm.fallbacks if type(n.op).__name__ in ("Dot", "DimShuffle")]
