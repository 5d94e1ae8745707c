"""Kernels split across threads give exactly the single-thread results."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.codegen.parallel import MIN_PARALLEL
from tensorjit.runtime.native import default_threads


@pytest.mark.parametrize("n", [MIN_PARALLEL - 1, MIN_PARALLEL, 3 * MIN_PARALLEL + 17])
@pytest.mark.parametrize("threads", [2, 3, 7])
def test_split_loops_equal_single_thread(n, threads):
    x = tj.fvector("x")
    y = tj.tanh(x) * 2.0 + tj.exp(-x * x)
    a = np.random.default_rng(n).standard_normal(n).astype("float32")
    one = tj.function([x], y, mode="llvm", threads=1, optimizer=None)(a)
    many = tj.function([x], y, mode="llvm", threads=threads, optimizer=None)(a)
    np.testing.assert_array_equal(one, many)
    assert "tj_pool_run" in str(tj.function([x], y, mode="llvm").program.module_ir)


def test_thread_count_option_and_environment(monkeypatch):
    monkeypatch.setenv("TENSORJIT_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("TENSORJIT_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="TENSORJIT_NUM_THREADS"):
        default_threads()
    x = tj.fvector("x")
    with pytest.raises(ValueError, match="threads must be >= 1"):
        tj.function([x], x + 1.0, mode="llvm", threads=0)


def test_functions_with_matrix_products_leave_the_cores_to_openblas(monkeypatch):
    from tensorjit.codegen import gemm
    from tensorjit.codegen.parallel import default_threads
    x, w, v = tj.fmatrix("x"), tj.fmatrix("w"), tj.fvector("v")
    # OpenBLAS's spinning threads would compete with ours: one thread for our kernels
    monkeypatch.setenv("TENSORJIT_GEMM", "blas")
    assert tj.function([x, w], x @ w, mode="llvm").program.threads == 1
    assert tj.function([x, w], x @ w, mode="llvm", threads=2).program.threads == 2
    assert tj.function([v, w], v @ w, mode="llvm").program.threads == 1  # gemv: OpenBLAS
    # the JIT GEMM runs on our own pool: the function keeps the default for all kernels
    monkeypatch.setenv("TENSORJIT_GEMM", "jit")
    assert tj.function([x, w], x @ w, mode="llvm").program.threads == default_threads()
    assert gemm.use_jit()


def test_the_thread_option_reaches_the_jit_gemm():
    """threads=1 makes the product single-threaded too (the library's calls take the
    function's count from the meta header): in a new process no pool worker starts
    until a function with two threads runs a product; the results agree."""
    import subprocess
    import sys
    import textwrap
    code = textwrap.dedent("""
        import numpy as np, tensorjit as tj
        from tensorjit.codegen import pool
        x, w = tj.fmatrix("x"), tj.fmatrix("w")
        rng = np.random.default_rng(0)
        a, b = rng.random((300, 200), "float32"), rng.random((200, 400), "float32")
        one = tj.function([x, w], x @ w, threads=1)
        two = tj.function([x, w], x @ w, threads=2)
        r1 = one(a, b)
        before = pool.library().workers()
        r2 = two(a, b)
        print(before, pool.library().workers(), float(np.abs(r1 - r2).max()),
              float(np.abs(r1 - a.astype(np.float64) @ b).max()))
    """)
    env = dict(__import__("os").environ, TENSORJIT_GEMM="jit")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env, check=False)
    assert out.returncode == 0, out.stderr
    before, after, diff, err = out.stdout.split()
    assert int(before) == 0 and int(after) >= 1
    assert float(diff) <= 1e-4 and float(err) <= 1e-3
