"""The JIT GEMM library (tensorjit/codegen/gemm.py) against NumPy in float64."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorjit as tj
from tensorjit.codegen import gemm, gemm_ir, jit

EPS = {"float32": np.finfo(np.float32).eps, "float64": np.finfo(np.float64).eps}
DTYPES = ["float32", "float64"]
# 0, 1, primes, tile and block edges (MR 6, NR 64/32, KC 256, NB 512/256)
DIMS = [0, 1, 2, 5, 6, 7, 13, 31, 64, 65, 97, 257]


def _rand(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _check(got, a, b, c0, alpha, beta, dtype):
    """|got - ref| <= 4 k eps (|alpha| |a| |b| + |beta c|), the forward error bound."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = alpha * (a64 @ b64)
    scale = abs(alpha) * (np.abs(a64) @ np.abs(b64))
    if beta != 0.0:
        ref = ref + beta * c0.astype(np.float64)
        scale = scale + np.abs(beta * c0.astype(np.float64))
    k = a.shape[1]
    tol = 4 * (k + 2) * EPS[dtype] * scale + np.finfo(dtype).tiny
    assert got.shape == ref.shape
    bad = np.abs(got - ref) > tol
    assert not bad.any(), (a.shape, b.shape, np.argwhere(bad)[:5])


@functools.cache
def _library(dtype, path):
    """The library with only the packed path, only the direct one, or as configured."""
    cfg = gemm.config(dtype)
    if path == "packed":
        cfg = dataclasses.replace(cfg, direct_work=0, direct_n=0)
    elif path == "direct":
        cfg = dataclasses.replace(cfg, direct_work=1 << 62)
    return gemm.GemmLibrary(dtype, cfg)


PATHS = ["packed", "direct", "default"]


def _run(m, n, k, dtype, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, threads=1,
         seed=0, path="default"):
    a = _rand((k, m) if trans_a else (m, k), dtype, seed)
    b = _rand((n, k) if trans_b else (k, n), dtype, seed + 1)
    a, b = (a.T if trans_a else a), (b.T if trans_b else b)
    c0 = _rand((m, n), dtype, seed + 2)
    c = c0.copy()
    out = gemm.gemm(a, b, c, alpha=alpha, beta=beta, threads=threads,
                    lib=_library(dtype, path))
    assert out is c
    _check(c, a, b, c0, alpha, beta, dtype)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", DIMS)
def test_shapes(dtype, m, path):
    # n: tile widths of the direct path (1, 2, 4 vectors: 16/32/64 f32, 8/16/32 f64) +-1
    for n, k in itertools.product([0, 1, 7, 9, 17, 33, 64, 65, 130], [0, 1, 13, 257]):
        _run(m, n, k, dtype, seed=m + n + k, path=path)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a,trans_b", [(False, True), (True, False), (True, True)])
def test_transposed_operands(dtype, trans_a, trans_b, path):
    for m, n, k in [(1, 1, 1), (7, 13, 5), (65, 70, 300), (128, 10, 512), (6, 64, 256),
                    (25, 31, 40)]:
        _run(m, n, k, dtype, trans_a, trans_b, path=path)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(2.5, 0.0), (1.0, 1.0), (-0.5, 3.0), (0.0, 2.0),
                                        (0.0, 0.0), (1.5, -1.0)])
def test_alpha_beta(dtype, alpha, beta, path):
    for m, n, k in [(7, 70, 300), (13, 5, 3), (4, 9, 0), (64, 600, 40)]:
        _run(m, n, k, dtype, alpha=alpha, beta=beta, path=path)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", PATHS)
def test_beta_zero_never_reads_c(dtype, path):
    lib = _library(dtype, path)
    a, b = _rand((9, 20), dtype, 1), _rand((20, 70), dtype, 2)
    for k in (20, 0):
        c = np.full((9, 70), np.nan, dtype)
        gemm.gemm(a[:, :k], b[:k], c, beta=0.0, lib=lib)
        assert np.isfinite(c).all()
    c = np.full((9, 70), np.nan, dtype)
    gemm.gemm(a, b, c, alpha=0.0, beta=0.0, lib=lib)
    assert (c == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_threads(dtype, threads):
    # above the library's min_thread_work, split along m (tall) and along n (wide)
    for m, n, k in [(300, 40, 200), (40, 700, 150), (131, 257, 97), (7, 1000, 400)]:
        _run(m, n, k, dtype, threads=threads, alpha=0.5, beta=1.0)
        _run(m, n, k, dtype, trans_a=True, trans_b=True, threads=threads)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("path", PATHS)
def test_writes_nothing_outside_c(dtype, threads, path):
    """C inside a larger buffer with padded rows: guards and row padding stay intact."""
    canary = np.array(-12345.5, dtype)
    for m, n, k in [(13, 70, 300), (6, 64, 5), (1, 1, 1), (200, 130, 160), (5, 3, 0)]:
        pad, guard = 5, 64
        ldc = n + pad
        buf = np.full(2 * guard + m * ldc, canary, dtype)
        c = buf[guard:guard + m * ldc].reshape(m, ldc)[:, :n]
        c[...] = _rand((m, n), dtype, 3)
        c0 = c.copy()
        a, b = _rand((m, k), dtype, 4), _rand((k, n), dtype, 5)
        gemm.gemm(a, b, c, alpha=1.0, beta=0.5, threads=threads, lib=_library(dtype, path))
        _check(c, a, b, c0, 1.0, 0.5, dtype)
        assert (buf[:guard] == canary).all() and (buf[-guard:] == canary).all()
        rows = buf[guard:guard + m * ldc].reshape(m, ldc)
        assert (rows[:, n:] == canary).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", PATHS)
def test_reads_nothing_outside_operands(dtype, path):
    """Operands followed by NaN: a read past their end would put NaN in the result."""
    m, n, k = 13, 70, 21
    abuf = np.full(m * k + 64, np.nan, dtype)
    bbuf = np.full(k * n + 64, np.nan, dtype)
    a = abuf[:m * k].reshape(m, k)
    b = bbuf[:k * n].reshape(k, n)
    a[...], b[...] = _rand((m, k), dtype, 1), _rand((k, n), dtype, 2)
    for ta, tb in itertools.product([False, True], repeat=2):
        aa = abuf[:m * k].reshape(k, m).T if ta else a
        bb = bbuf[:k * n].reshape(n, k).T if tb else b
        c = gemm.gemm(aa, bb, lib=_library(dtype, path))
        assert np.isfinite(c).all()
        _check(c, aa, bb, None, 1.0, 0.0, dtype)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(0, 80), n=st.integers(0, 150), k=st.integers(0, 300),
       trans=st.tuples(st.booleans(), st.booleans()), dtype=st.sampled_from(DTYPES),
       beta=st.sampled_from([0.0, 1.0, -2.0]), threads=st.sampled_from([1, 2]),
       path=st.sampled_from(PATHS))
def test_random_shapes(m, n, k, trans, dtype, beta, threads, path):
    _run(m, n, k, dtype, *trans, alpha=1.25, beta=beta, threads=threads, seed=m * n + k,
         path=path)


def test_graph_module_only_declares():
    """A graph's module declares tj_gemm_s; the GEMM's code lives in the library."""
    import os
    old = os.environ.get("TENSORJIT_GEMM")
    os.environ["TENSORJIT_GEMM"] = "jit"
    try:
        x, w = tj.fmatrix("x"), tj.fmatrix("w")
        f = tj.function([x, w], tj.dot(x, w), mode="llvm")
    finally:
        if old is None:
            del os.environ["TENSORJIT_GEMM"]
        else:
            os.environ["TENSORJIT_GEMM"] = old
    text = str(f.program.module_ir)
    assert re.search(r'declare i32 @"tj_gemm_s"', text)
    assert "tj_gemm_s_ukernel" not in text
    a, b = _rand((37, 50), "float32", 1), _rand((50, 70), "float32", 2)
    _check(f(a, b), a, b, None, 1.0, 0.0, "float32")


def test_backend_choice(monkeypatch):
    monkeypatch.setenv("TENSORJIT_GEMM", "blas")
    assert gemm.backend() == "blas" and not gemm.use_jit(128, 512)
    monkeypatch.setenv("TENSORJIT_GEMM", "jit")
    assert gemm.backend() == "jit" and gemm.use_jit(128, 2)
    monkeypatch.setenv("TENSORJIT_GEMM", "auto")
    assert gemm.backend() == ("jit" if gemm.host_has("avx512f") else "blas")
    # narrow and small products too: the library's direct path (no packing) takes them
    assert gemm.use_jit(128, 10) == (gemm.backend() == "jit")
    monkeypatch.setenv("TENSORJIT_GEMM", "fast")
    with pytest.raises(ValueError, match="TENSORJIT_GEMM"):
        gemm.backend()


@pytest.mark.skipif(not gemm.host_has("avx512f"), reason="no AVX-512 on this host")
@pytest.mark.parametrize("dtype", DTYPES)
def test_micro_kernel_assembly(dtype):
    """zmm FMAs in the micro-kernel's loop, and no stack traffic (spills) inside it."""
    asm = jit.assembly(gemm_ir.packed_ir(gemm.config(dtype)))
    kernel = asm.split(f"{gemm.symbol(dtype)}_ukernel:")[1].split(".Lfunc_end")[0]
    suffix = "ps" if dtype == "float32" else "pd"
    loops = re.split(r"\n\.LBB\d+_\d+:", kernel)
    inner = max(loops, key=lambda part: part.count(f"vfmadd231{suffix}"))
    assert inner.count(f"vfmadd231{suffix}\t") >= 24
    assert "zmm" in inner
    assert "rsp" not in inner and "rbp)" not in inner  # no spill or reload
