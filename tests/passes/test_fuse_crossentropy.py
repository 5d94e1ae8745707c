"""fuse_crossentropy_with_grad: a softmax cross-entropy and its gradient as one op."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import tensorjit as tj


def _ops(f):
    return [type(n.op).__name__ for n in f.fgraph.toposort()]


def _reference(x, y):
    """mean CE and its gradient wrt the logits, from scipy, in float64."""
    x64 = x.astype(np.float64)
    n = len(y)
    logp = special.log_softmax(x64, axis=1)
    loss = -logp[np.arange(n), y].mean()
    grad = special.softmax(x64, axis=1)
    grad[np.arange(n), y] -= 1.0
    return loss, grad / n


@pytest.mark.parametrize("mode", ["py", "llvm"])
@pytest.mark.parametrize("dtype,labels", [("float64", "int64"), ("float32", "int32")])
def test_mean_loss_and_its_gradient_are_one_node(mode, dtype, labels):
    x, y = tj.tensor(dtype, (None, None), name="x"), tj.tensor(labels, (None,), name="y")
    loss = tj.mean(tj.softmax_cross_entropy_with_integer_labels(x, y))
    f = tj.function([x, y], [loss, tj.grad(loss, x)], mode=mode)
    ops = _ops(f)
    assert ops.count("SoftmaxCrossEntropyWithGrad") == 1
    assert "SoftmaxCrossEntropyWithIntegerLabels" not in ops
    assert "SoftmaxCrossEntropyGrad" not in ops
    assert f.fallbacks == []
    rng = np.random.default_rng(0)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for scale in (1.0, 1e4):  # extreme logits stay finite and exact
        xv = (rng.standard_normal((7, 5)) * scale).astype(dtype)
        yv = rng.integers(0, 5, 7).astype(labels)
        got_loss, got_grad = f(xv, yv)
        want_loss, want_grad = _reference(xv, yv)
        np.testing.assert_allclose(got_loss, want_loss, rtol=rtol * max(1.0, scale / 1e3))
        np.testing.assert_allclose(got_grad, want_grad, rtol=rtol, atol=rtol / 7)


def test_the_classic_spelling_fuses_through_the_stabilized_form():
    x, y = tj.matrix("x"), tj.ivector("y")
    w = tj.shared(np.zeros((4, 3)), name="w")
    loss = -tj.mean(tj.log(tj.softmax(tj.dot(x, w)))[tj.arange(y.shape[0]), y])
    f = tj.function([x, y], [loss, tj.grad(loss, w)])
    assert "SoftmaxCrossEntropyWithGrad" in _ops(f)
    xv = np.arange(8.0).reshape(2, 4)
    yv = np.array([2, 0], "int32")
    want = tj.function([x, y], [loss, tj.grad(loss, w)], optimizer=None, mode="py")(xv, yv)
    for got, ref in zip(f(xv, yv), want):
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_not_fused_when_the_gradient_depends_on_the_loss_values():
    x, y = tj.matrix("x"), tj.ivector("y")
    loss = tj.sum(tj.softmax_cross_entropy_with_integer_labels(x, y) ** 2)
    f = tj.function([x, y], [loss, tj.grad(loss, x)])
    ops = _ops(f)
    assert "SoftmaxCrossEntropyWithGrad" not in ops  # it would be a cycle
    assert {"SoftmaxCrossEntropyWithIntegerLabels", "SoftmaxCrossEntropyGrad"} <= set(ops)
    xv = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    yv = np.array([1, 2], "int32")
    ce = -special.log_softmax(xv, axis=1)[np.arange(2), yv]
    soft = special.softmax(xv, axis=1)
    soft[np.arange(2), yv] -= 1.0
    got_loss, got_grad = f(xv, yv)
    np.testing.assert_allclose(got_loss, np.sum(ce ** 2), rtol=1e-12)
    np.testing.assert_allclose(got_grad, 2 * ce[:, None] * soft, rtol=1e-12)


def test_not_fused_across_other_labels_or_axes():
    x, y, z = tj.matrix("x"), tj.ivector("y"), tj.ivector("z")
    loss = tj.mean(tj.softmax_cross_entropy_with_integer_labels(x, y))
    other = tj.softmax_cross_entropy_with_integer_labels(x, z)
    f = tj.function([x, y, z], [other, tj.grad(loss, x)])  # loss of z, gradient of y
    assert "SoftmaxCrossEntropyWithGrad" not in _ops(f)
    excluded = tj.function([x, y], [loss, tj.grad(loss, x)],
                           exclude=["fuse_crossentropy_with_grad"])
    assert "SoftmaxCrossEntropyWithGrad" not in _ops(excluded)


def test_out_of_range_labels_raise_index_error_natively():
    x, y = tj.matrix("x"), tj.ivector("y")
    loss = tj.mean(tj.softmax_cross_entropy_with_integer_labels(x, y))
    f = tj.function([x, y], [loss, tj.grad(loss, x)])
    assert "SoftmaxCrossEntropyWithGrad" in _ops(f)
    with pytest.raises(IndexError, match="out of range"):
        f(np.zeros((2, 3)), np.array([0, 3], "int32"))


@pytest.mark.parametrize("mode", ["py", "llvm"])
@pytest.mark.parametrize("fuse", [True, False])
def test_float32_loss_is_exact_next_to_huge_logits(mode, fuse):
    """Two tied maxima at 1e4: the loss is log 2. Summed as max + log(sum) - x[label]
    the max's rounding (ulp 1e-3 at 1e4) swamped it: 0.6943 instead of 0.6931."""
    x, y = tj.fmatrix("x"), tj.ivector("y")
    loss = tj.mean(tj.softmax_cross_entropy_with_integer_labels(x, y))
    f = tj.function([x, y], [loss, tj.grad(loss, x)], mode=mode,
                    exclude=() if fuse else ["fuse_crossentropy_with_grad"])
    assert ("SoftmaxCrossEntropyWithGrad" in _ops(f)) == fuse
    got_loss, got_grad = f(np.array([[1e4, 1e4, -1e4], [3e4, 1.0, 3e4]], "float32"),
                           np.array([0, 2], "int32"))
    np.testing.assert_allclose(got_loss, np.log(2.0), rtol=2e-7)
    np.testing.assert_allclose(got_grad, [[-0.25, 0.25, 0.0], [0.25, 0.0, -0.25]], atol=1e-7)
