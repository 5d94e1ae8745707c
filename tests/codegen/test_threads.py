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


def test_functions_with_matrix_products_leave_the_cores_to_blas():
    x, w = tj.fmatrix("x"), tj.fmatrix("w")
    assert tj.function([x, w], x @ w, mode="llvm").program.threads == 1
    assert tj.function([x, w], x @ w, mode="llvm", threads=2).program.threads == 2
