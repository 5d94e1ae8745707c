"""Indexing under mode="llvm": gathers, slices, scatter-add, bounds checks, no fallbacks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tensorjit as tj

from native_errors import raises_natively

INDEX_OPS = {"Subtensor", "AdvancedSubtensor", "IncSubtensor", "AdvancedIncSubtensor"}


def _index_fallbacks(f) -> list[str]:
    return [str(n.op) for n in f.fallbacks if type(n.op).__name__ in INDEX_OPS]


# the rewrites that turn the indexed loss into the fused cross-entropy ops
FUSED_CE = ("indexed_log_softmax_to_crossentropy",
            "log_softmax_grad_of_indexed_to_crossentropy_grad")


def _logistic_regression(mode: str, label_dtype: str = "int32", exclude=()):
    x, y = tj.matrix("x"), tj.tensor(label_dtype, (None,), name="y")
    W = tj.shared(np.zeros((64, 10)), name="W")
    b = tj.shared(np.zeros(10), name="b")
    p = tj.softmax(x @ W + b)
    loss = -tj.mean(tj.log(p)[tj.arange(y.shape[0]), y])
    gW, gb = tj.grad(loss, [W, b])
    f = tj.function([x, y], loss, updates=[(W, W - 0.5 * gW), (b, b - 0.5 * gb)], mode=mode,
                    exclude=exclude)
    return f, W, b


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 64)), rng.integers(0, 10, n).astype("int32")


def test_logistic_regression_step_is_native():
    f, W, b = _logistic_regression("llvm")
    assert f.fallbacks == []
    g, W_py, b_py = _logistic_regression("py")
    X, Y = _data()
    for _ in range(5):
        np.testing.assert_allclose(f(X, Y), g(X, Y), rtol=1e-10)
    np.testing.assert_allclose(W.get_value(), W_py.get_value(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.get_value(), b_py.get_value(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fused", [False, True], ids=["gather", "fused"])
@pytest.mark.parametrize("bad", [10, 2**40, -11])
def test_out_of_range_label_raises_index_error(bad, fused):
    """The gather's bounds check, and the fused cross-entropy's where it replaces it."""
    f, W, _b = _logistic_regression("llvm", "int64", exclude=() if fused else FUSED_CE)
    ops = {type(n.op).__name__ for n in f.fgraph.apply_nodes}
    # fused: the stabilized cross-entropy and its gradient, as one op (fuse phase)
    assert ("SoftmaxCrossEntropyWithGrad" in ops) == fused
    X, Y = _data()
    Y = Y.astype("int64")
    f(X, Y)                      # the plan for these shapes exists: the kernel checks
    before = W.get_value()
    Y[5] = bad
    match = f"label {bad} is out of range" if fused else f"has value {bad}, out of range"
    with raises_natively(IndexError, f"index {bad} is out of bounds", match=match):
        f(X, Y)
    np.testing.assert_array_equal(W.get_value(), before)  # no update on failure


def test_huge_index_in_int64_gather():
    x, i = tj.matrix("x"), tj.lvector("i")
    f = tj.function([x, i], x[tj.arange(i.shape[0]), i], mode="llvm")
    assert _index_fallbacks(f) == []
    xv = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(xv, np.array([0, -1, 3])), xv[[0, 1, 2], [0, -1, 3]])
    for bad in (2**40, -2**40, 4, -5):
        with raises_natively(IndexError, "out of bounds", match="out of range"):
            f(xv, np.array([0, bad, 1]))


def test_symbolic_int_index_is_checked():
    x, k = tj.matrix("x"), tj.lscalar("k")
    f = tj.function([x, k], x[k], mode="llvm")
    assert _index_fallbacks(f) == []
    xv = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(f(xv, -1), xv[-1])
    f(xv, 0)
    for bad in (3, -4, 2**50):
        with pytest.raises(IndexError):
            f(xv, bad)


def test_symbolic_slices_match_python():
    x = tj.vector("x")
    a, c, s = tj.lscalar("a"), tj.lscalar("c"), tj.lscalar("s")
    f = tj.function([x, a, c, s], x[a:c:s], mode="llvm")
    assert _index_fallbacks(f) == []
    xv = np.arange(7.0)
    values = [-9, -7, -3, -1, 0, 2, 6, 7, 10]
    for start, stop, step in itertools.product(values, values, [-3, -1, 1, 2]):
        np.testing.assert_array_equal(f(xv, start, stop, step), xv[start:stop:step],
                                      err_msg=str((start, stop, step)))


def test_scatter_add_accumulates_repeated_indices():
    x, v, i = tj.matrix("x"), tj.matrix("v"), tj.lvector("i")
    f = tj.function([x, v, i], tj.inc_subtensor(x[i], v), mode="llvm")
    assert _index_fallbacks(f) == []
    xv, vv = np.zeros((3, 4)), np.arange(20.0).reshape(5, 4)
    idx = np.array([0, 2, 0, -1, 2])
    want = xv.copy()
    np.add.at(want, idx, vv)
    np.testing.assert_array_equal(f(xv, vv, idx), want)
    with pytest.raises(IndexError):
        f(xv, vv, np.array([0, 2, 0, 3, 2]))


def test_scatter_add_two_axes_and_set():
    x, v = tj.matrix("x"), tj.vector("v")
    r, c = tj.lvector("r"), tj.lvector("c")
    f = tj.function([x, v, r, c], [tj.inc_subtensor(x[r, c], v), tj.set_subtensor(x[r, c], v)],
                    mode="llvm")
    assert _index_fallbacks(f) == []
    xv, vv = np.ones((3, 4)), np.array([1.0, 2.0, 3.0])
    rv, cv = np.array([0, 0, 2]), np.array([1, 1, -1])
    inc, setv = f(xv, vv, rv, cv)
    want = xv.copy()
    np.add.at(want, (rv, cv), vv)
    np.testing.assert_array_equal(inc, want)
    assert setv[0, 1] in (1.0, 2.0) and setv[2, 3] == 3.0


def test_gradient_of_gather_is_native_and_right():
    x, y = tj.matrix("x"), tj.lvector("y")
    cost = tj.sum(tj.exp(x)[tj.arange(y.shape[0]), y] ** 2)
    g = tj.grad(cost, x)
    f = tj.function([x, y], g, mode="llvm")
    assert _index_fallbacks(f) == []
    xv, yv = np.random.default_rng(3).normal(size=(4, 3)), np.array([0, 2, 2, 1])
    want = np.zeros_like(xv)
    rows = np.arange(4)
    np.add.at(want, (rows, yv), 2 * np.exp(xv[rows, yv]) ** 2)
    np.testing.assert_allclose(f(xv, yv), want, rtol=1e-12)


def test_value_shape_mismatch_raises():
    x, v = tj.matrix("x"), tj.vector("v")
    f = tj.function([x, v], tj.inc_subtensor(x[1:], v), mode="llvm")
    assert _index_fallbacks(f) == []
    np.testing.assert_array_equal(f(np.zeros((3, 2)), np.ones(2)), [[0, 0], [1, 1], [1, 1]])
    with pytest.raises(ValueError):
        f(np.zeros((3, 2)), np.ones(3))


def test_boolean_masks_are_native():
    x, m = tj.matrix("x"), tj.tensor("bool", (None, None), name="m")
    f = tj.function([x, m], x[m], mode="llvm")
    assert f.fallbacks == []  # more in test_mask_native.py
    xv = np.arange(6.0).reshape(2, 3)
    mv = xv > 2
    np.testing.assert_array_equal(f(xv, mv), xv[mv])
