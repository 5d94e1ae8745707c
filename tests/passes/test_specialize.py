"""The specialize phase: dot(a, b) + c (and scalings) -> one Gemm, and its BLAS kernel."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.ops.linalg import Gemm

RNG = np.random.default_rng(3)
MODES = ("py", "llvm")
TOL = {"float32": dict(rtol=2e-6, atol=1e-6), "float64": dict(rtol=1e-13, atol=1e-14)}


def ops_in(f) -> list[str]:
    return [type(n.op).__name__ for n in f.fgraph.toposort()]


def gemms(f) -> list[Gemm]:
    return [n.op for n in f.fgraph.toposort() if isinstance(n.op, Gemm)]


def _data(dtype, *shapes):
    return [RNG.uniform(-1.0, 1.0, size=s).astype(dtype) for s in shapes]


def _check(ins, out, args, mode, dtype, n_gemm=1, **kw):
    f = tj.function(ins, out, mode=mode, **kw)
    assert len(gemms(f)) == n_gemm, ops_in(f)
    if n_gemm:
        assert "Dot" not in ops_in(f), ops_in(f)
    want = tj.function(ins, out, optimizer=None, mode="py")(*args)
    np.testing.assert_allclose(f(*args), want, **TOL[dtype])
    if mode == "llvm":
        assert f.fallbacks == []
    return f


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot_plus_bias_row_is_one_gemm(mode, dtype):
    a, b = tj.matrix("a", dtype=dtype), tj.matrix("b", dtype=dtype)
    bias = tj.vector("bias", dtype=dtype)
    f = _check([a, b, bias], tj.dot(a, b) + bias, _data(dtype, (5, 3), (3, 4), (4,)),
               mode, dtype)
    assert gemms(f)[0] == Gemm(1.0, 1.0)
    assert "dot_plus_to_gemm" in [ev.rewrite for ev in f.rewrites]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scalings_and_differences_become_alpha_and_beta(mode, dtype):
    a, b, c = (tj.matrix(n, dtype=dtype) for n in "abc")
    args = _data(dtype, (4, 3), (3, 5), (4, 5))
    f = _check([a, b, c], c * 0.5 - 2.0 * tj.dot(a, b), args, mode, dtype)
    assert gemms(f)[0] == Gemm(-2.0, 0.5)
    # a constant and a second addend are summed into c; (dot + c) + d is one Gemm
    _check([a, b, c], tj.dot(a, b) + c + 1.0, args, mode, dtype)
    _check([a, b, c], (tj.dot(a, b) + c) + tj.exp(c), args, mode, dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("c_shape", [(3, 5), (1, 5), (3, 1), (1, 1), ()])
def test_addend_broadcasts_along_static_ones(mode, c_shape):
    a, b = tj.matrix("a"), tj.matrix("b")
    c = tj.tensor("float64", tuple(1 if d == 1 else None for d in c_shape), name="c")
    _check([a, b, c], tj.dot(a, b) + c, _data("float64", (3, 4), (4, 5), c_shape),
           mode, "float64")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shapes", [((1, 4), (4, 5)), ((3, 4), (4, 1)), ((1, 4), (4, 1)),
                                    ((3, 0), (0, 5)), ((0, 4), (4, 5))])
def test_gemv_dot_and_empty_shapes(mode, shapes):
    sa, sb = shapes
    a = tj.tensor("float32", tuple(1 if d == 1 else None for d in sa), name="a")
    b = tj.tensor("float32", tuple(1 if d == 1 else None for d in sb), name="b")
    n = sb[1]
    c = tj.tensor("float32", (1, 1 if n == 1 else None), name="c")
    _check([a, b, c], 3.0 * tj.dot(a, b) + c, _data("float32", sa, sb, (1, n)),
           mode, "float32")


def test_does_not_fire_where_the_addend_would_grow_the_product():
    a, b, c = tj.matrix("a"), tj.matrix("b"), tj.matrix("c")
    row = tj.sum(a, axis=0, keepdims=True)  # static (1, None): the product has 1 row
    args = _data("float64", (3, 4), (4, 3), (3, 3))
    _check([a, b, c], tj.dot(row, b) + c, args, "py", "float64", n_gemm=0)


def test_does_not_fire_when_the_product_is_used_elsewhere_or_alone():
    a, b, c = tj.matrix("a"), tj.matrix("b"), tj.matrix("c")
    args = _data("float64", (3, 4), (4, 5), (3, 5))
    d = tj.dot(a, b)
    f = tj.function([a, b, c], [d + c, tj.exp(d)], mode="py")
    assert "Gemm" not in ops_in(f)
    f = tj.function([a, b], tj.dot(a, b) * 2.0, mode="py")
    assert "Gemm" not in ops_in(f)
    del args


def test_does_not_fire_for_integers_or_mixed_dtypes():
    ia, ib = tj.matrix("ia", dtype="int64"), tj.matrix("ib", dtype="int64")
    f = tj.function([ia, ib], tj.dot(ia, ib) + 1, mode="py")
    assert "Gemm" not in ops_in(f)
    a, b = tj.matrix("a", dtype="float32"), tj.matrix("b", dtype="float32")
    c = tj.matrix("c", dtype="float64")
    f = tj.function([a, b, c], tj.dot(a, b) + c, mode="py")
    assert "Gemm" not in ops_in(f)


def test_exclude_and_stabilize_only_keep_the_dot():
    a, b, c = tj.matrix("a"), tj.matrix("b"), tj.matrix("c")
    out = tj.dot(a, b) + c
    for kw in ({"exclude": ("dot_plus_to_gemm",)}, {"optimizer": "stabilize_only"}):
        f = tj.function([a, b, c], out, mode="py", **kw)
        assert "Gemm" not in ops_in(f) and "Dot" in ops_in(f)


@pytest.mark.parametrize("mode", MODES)
def test_mlp_layer_gradients_through_gemm(mode):
    x, w, bias = tj.matrix("x"), tj.matrix("w"), tj.vector("bias")
    y = tj.lvector("y")
    h = tj.tanh(tj.dot(x, w) + bias)
    loss = tj.mean(tj.softmax_cross_entropy_with_integer_labels(h, y))
    outs = [loss, *tj.grad(loss, [x, w, bias])]
    args = _data("float64", (6, 4), (4, 3), (3,)) + [RNG.integers(0, 3, 6)]
    f = tj.function([x, w, bias, y], outs, mode=mode)
    assert "Gemm" in ops_in(f)
    want = tj.function([x, w, bias, y], outs, optimizer=None, mode="py")(*args)
    for got, ref in zip(f(*args), want):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_gemm_runtime_shape_errors_in_llvm_mode():
    a, b = tj.matrix("a"), tj.matrix("b")
    c = tj.tensor("float64", (None, None), name="c")
    f = tj.function([a, b, c], tj.dot(a, b) + c, mode="llvm")
    assert "Gemm" in ops_in(f)
    with pytest.raises(ValueError):
        f(*_data("float64", (3, 4), (4, 5), (3, 4)))
    with pytest.raises(ValueError):
        f(*_data("float64", (3, 4), (3, 5), (3, 5)))
