"""gemm_absorb_transpose: x.T as a Dot/Gemm operand -> a Gemm transpose flag (no copy)."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.ops.linalg import Gemm
from tensorjit.printing.pprint import pprint

RNG = np.random.default_rng(5)
TOL = {"float32": {"rtol": 2e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-13}}
BENCH_MLP = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_mlp.py"


def transposes(f) -> list:
    """The DimShuffle{1,0} nodes left in f's optimized graph."""
    return [n for n in f.fgraph.toposort()
            if type(n.op).__name__ == "DimShuffle" and n.op.new_order == (1, 0)]


def gemms(f) -> list[Gemm]:
    return [n.op for n in f.fgraph.toposort() if isinstance(n.op, Gemm)]


def ops_in(f) -> list[str]:
    return [type(n.op).__name__ for n in f.fgraph.toposort()]


def _data(dtype, *shapes):
    return [RNG.uniform(-1.0, 1.0, size=s).astype(dtype) for s in shapes]


@pytest.fixture(params=["blas", "jit"])
def gemm_backend(request, monkeypatch, tmp_path):
    """TENSORJIT_GEMM for the test, and a private disk cache: function-level cache keys
    do not include the GEMM backend, so a function compiled under the other one would
    be loaded instead."""
    monkeypatch.setenv("TENSORJIT_GEMM", request.param)
    monkeypatch.setenv("TENSORJIT_CACHE_DIR", str(tmp_path))
    return request.param


def _compare(ins, outs, args, mode, dtype):
    """f (optimized) against the unoptimized reference evaluator; returns f."""
    f = tj.function(ins, outs, mode=mode)
    want = tj.function(ins, outs, optimizer=None, mode="py")(*args)
    for got, ref in zip(f(*args), want):
        np.testing.assert_allclose(got, ref, **TOL[dtype])
    if mode == "llvm":
        assert f.fallbacks == []
    return f


def _products(dtype, m_static=None, n_static=None):
    """x.T @ g, g @ w.T and x.T @ w.T with the products' static m / n."""
    x = tj.tensor(dtype, (None, m_static), name="x")      # used as x.T: (m, k)
    g = tj.tensor(dtype, (None, n_static), name="g")      # (k, n)
    w = tj.tensor(dtype, (n_static, None), name="w")      # used as w.T: (k, n)
    h = tj.tensor(dtype, (m_static, None), name="h")      # (m, k)
    return [x, g, w, h], [x.T @ g, h @ w.T, x.T @ w.T]


# static (m, n) of the products: gemm, gemv on b (m = 1), gemv on a (n = 1), dot
STATIC = [(None, None), (1, None), (None, 1), (1, 1)]


def _values(dtype, m, n, k=7):
    return _data(dtype, (k, m), (k, n), (n, k), (m, k))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("static", STATIC)
def test_products_of_transposes_read_the_matrix_transposed(gemm_backend, dtype, static):
    ins, outs = _products(dtype, *static)
    m, n = (1 if s == 1 else d for s, d in zip(static, (37, 70)))
    f = _compare(ins, outs, _values(dtype, m, n), "llvm", dtype)
    assert transposes(f) == [], ops_in(f)
    assert "Dot" not in ops_in(f)
    flags = sorted((op.trans_a, op.trans_b) for op in gemms(f))
    assert flags == [(False, True), (True, False), (True, True)]
    assert all(op.beta == 0.0 for op in gemms(f))
    assert "gemm_absorb_transpose" in [ev.rewrite for ev in f.rewrites]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_reference_evaluator_and_empty_products(dtype):
    ins, outs = _products(dtype)
    for m, n, k in ((4, 5, 3), (0, 5, 3), (4, 5, 0), (4, 0, 3)):
        f = _compare(ins, outs, _values(dtype, m, n, k), "py", dtype)
        assert transposes(f) == []
        _compare(ins, outs, _values(dtype, m, n, k), "llvm", dtype)


@pytest.mark.parametrize("mode", ["py", "llvm"])
def test_sgd_update_and_bias_fold_into_one_flagged_gemm(mode):
    x, g, w = tj.fmatrix("x"), tj.fmatrix("g"), tj.fmatrix("w")
    bias = tj.fvector("bias")
    outs = [w - np.float32(0.5) * (x.T @ g), g @ w.T + bias]
    args = _data("float32", (6, 4), (6, 3), (4, 3), (4,))
    f = _compare([x, g, w, bias], outs, args, mode, "float32")
    assert transposes(f) == []
    assert sorted(gemms(f), key=str) == sorted(
        [Gemm(-0.5, 1.0, True, False), Gemm(1.0, 1.0, False, True)], key=str)


def test_transposes_of_both_operands_of_a_gemm_and_double_transposes():
    a, b, c = tj.matrix("a"), tj.matrix("b"), tj.matrix("c")
    args = _data("float64", (4, 3), (5, 4), (3, 5))
    f = _compare([a, b, c], a.T @ b.T + c, args, "py", "float64")
    assert transposes(f) == [] and gemms(f) == [Gemm(1.0, 1.0, True, True)]
    # a flagged Gemm of x.T reads x untransposed: the flag flips back
    d = tj.matrix("d")
    out = Gemm(2.0, 0.0, True, False)(a.T, d)
    f = _compare([a, d], out, _data("float64", (4, 3), (3, 2)), "llvm", "float64")
    assert transposes(f) == [] and gemms(f) == [Gemm(2.0, 0.0, False, False)]


def test_does_not_fire_for_integers_other_dimshuffles_or_batched_products():
    ia, ib = tj.matrix("ia", dtype="int64"), tj.matrix("ib", dtype="int64")
    f = tj.function([ia, ib], ia.T @ ib, mode="py")
    assert "Gemm" not in ops_in(f) and len(transposes(f)) == 1
    v, m = tj.vector("v"), tj.matrix("m")
    f = tj.function([v, m], tj.dot(v[None, :], m), mode="py")  # DimShuffle{x,0}
    assert "Gemm" not in ops_in(f)
    t = tj.tensor3("t")
    f = tj.function([t, m], tj.matmul(t, m.T), mode="py")
    assert "Gemm" not in ops_in(f)


def test_exclude_keeps_the_transposed_copy():
    x, g = tj.matrix("x"), tj.matrix("g")
    f = tj.function([x, g], x.T @ g, mode="py", exclude=("gemm_absorb_transpose",))
    assert len(transposes(f)) == 1 and "Dot" in ops_in(f)


@pytest.mark.parametrize("backend", ["blas", "jit"])
def test_inner_mismatch_raises_before_any_kernel_with_the_stored_shapes(backend,
                                                                         monkeypatch):
    monkeypatch.setenv("TENSORJIT_GEMM", backend)
    x, g, c = tj.matrix("x"), tj.matrix("g"), tj.matrix("c")
    acc = tj.shared(np.zeros((3, 5)), name="acc")
    f = tj.function([x, g, c], x.T @ g + c, mode="llvm", updates=[(acc, acc + 1.0)])
    assert gemms(f) == [Gemm(1.0, 1.0, True, False)]
    with pytest.raises(ValueError, match=r"inner dimensions do not match at run time.*"
                       r"\(4, 3\).*axis 0.*\(5, 5\).*axis 0.*input 0 is used transposed"):
        f(*_data("float64", (4, 3), (5, 5), (3, 5)))
    with pytest.raises(ValueError, match="input 2 has shape"):
        f(*_data("float64", (4, 3), (4, 5), (3, 4)))
    np.testing.assert_array_equal(acc.get_value(), 0.0)  # nothing committed
    np.testing.assert_allclose(f(*(args := _data("float64", (4, 3), (4, 5), (3, 5)))),
                               args[0].T @ args[1] + args[2])


def test_pprint_shows_the_transposes():
    x, g, w = tj.matrix("x"), tj.matrix("g"), tj.matrix("w")
    bias = tj.vector("bias")
    f = tj.function([x, g, w, bias], [x.T @ g, g @ w.T + bias], mode="py")
    assert [pprint(o) for o in f.fgraph.outputs] == ["x.T @ g", "g @ w.T + bias"]


# --------------------------------------------------------------------------------------
# The MLP training step of benchmarks/bench_mlp.py


def _bench_mlp():
    spec = importlib.util.spec_from_file_location("bench_mlp", BENCH_MLP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mlp_step(bench, mode, optimizer="fast_run"):
    shared = [tj.shared(v.copy(), name=f"p{k}") for k, v in enumerate(bench.init_params())]
    x, y = tj.fmatrix("x"), tj.ivector("y")
    loss = bench.tj_loss(shared, x, y)
    grads = tj.grad(loss, shared)
    step = tj.function([x, y], loss, mode=mode, optimizer=optimizer,
                       updates=[(p, p - bench.LR * g) for p, g in zip(shared, grads)])
    return step, shared


def test_mlp_step_has_no_transposed_copies(gemm_backend):
    bench = _bench_mlp()
    x, y = bench.data()
    step, params = _mlp_step(bench, "llvm")
    assert transposes(step) == [], ops_in(step)
    assert "Dot" not in ops_in(step) and step.fallbacks == []
    routine = '"tj_gemm_s"' if gemm_backend == "jit" else '"tj_blas_sgemm"'
    assert routine in str(step.program.module_ir)
    ref_step, ref_params = _mlp_step(bench, "py", optimizer=None)
    for _ in range(2):  # the second step starts from updated parameters
        np.testing.assert_allclose(step(x, y), ref_step(x, y), rtol=1e-5)
        for p, r in zip(params, ref_params):
            np.testing.assert_allclose(p.get_value(), r.get_value(), rtol=1e-4, atol=1e-6)
