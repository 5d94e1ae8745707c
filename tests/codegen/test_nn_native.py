"""Native softmax-family kernels (codegen/nn.py) beyond the op-case table: no fallbacks
(also in the gradient graph), label bounds and shape checks, NaN/inf rows like the
reference, non-last axes, threaded rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import tensorjit as tj
from tensorjit.graph.ops.crossentropy import LabelsOneHot

from native_errors import raises_natively


def native(inputs, outputs, **kw):
    """A mode='llvm' function that must run every node natively."""
    f = tj.function(inputs, outputs, mode="llvm", **kw)
    assert f.fallbacks == []
    return f


def logits_and_labels(rng, rows, classes, dtype="float32", label_dtype="int64"):
    x = (rng.standard_normal((rows, classes)) * 3).astype(dtype)
    return x, rng.integers(0, classes, size=rows).astype(label_dtype)


@pytest.mark.parametrize("optimizer", [None, "fast_run"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_ce_loss_and_gradient_graph_is_native(optimizer, dtype):
    x = tj.tensor(dtype, (None, None), name="x")
    y = tj.tensor("int32", (None,), name="y")
    loss = tj.mean(tj.softmax_cross_entropy_with_integer_labels(x, y))
    f = native([x, y], [loss, tj.grad(loss, x)], optimizer=optimizer)
    xv, yv = logits_and_labels(np.random.default_rng(0), 37, 11, dtype, "int32")
    got_loss, got_grad = f(xv, yv)
    rows = np.arange(len(yv))
    want = -special.log_softmax(xv.astype("float64"), axis=1)[rows, yv].mean()
    onehot = np.eye(11)[yv]
    want_grad = (special.softmax(xv.astype("float64"), axis=1) - onehot) / len(yv)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got_loss, want, rtol=rtol)
    np.testing.assert_allclose(got_grad, want_grad, rtol=rtol * 10, atol=1e-9)


def test_every_softmax_family_op_is_native():
    rng = np.random.default_rng(1)
    x = tj.tensor("float64", (None, None), name="x")
    t = tj.tensor("float64", (None, None), name="t")
    y = tj.tensor("int64", (None,), name="y")
    p = tj.softmax(x)
    outs = [p, tj.log_softmax(x), tj.logsumexp(x, axis=1),
            tj.softmax_cross_entropy_with_integer_labels(x, y),
            tj.softmax_cross_entropy(x, t), tj.categorical_crossentropy(p, y),
            tj.categorical_crossentropy(p, t), LabelsOneHot(1)(y, x)]
    f = native([x, t, y], outs)
    xv, yv = logits_and_labels(rng, 6, 5, "float64")
    tv = special.softmax(rng.standard_normal((6, 5)), axis=1)
    sm, lsm, lse, sce, scep, cce, ccep, onehot = f(xv, tv, yv)
    ls = special.log_softmax(xv, axis=1)
    np.testing.assert_allclose(sm, special.softmax(xv, axis=1), rtol=1e-13)
    np.testing.assert_allclose(lsm, ls, rtol=1e-13)
    np.testing.assert_allclose(lse, special.logsumexp(xv, axis=1), rtol=1e-13)
    np.testing.assert_allclose(sce, -ls[np.arange(6), yv], rtol=1e-12)
    np.testing.assert_allclose(scep, -(tv * ls).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(cce, -ls[np.arange(6), yv], rtol=1e-12)
    np.testing.assert_allclose(ccep, -(tv * ls).sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(onehot, np.eye(5)[yv])


@pytest.mark.parametrize("label_dtype", ["int64", "int32", "int8", "uint8"])
@pytest.mark.parametrize("bad", [5, 200, -1, -6])
def test_out_of_range_label_raises_index_error(label_dtype, bad):
    x = tj.tensor("float32", (None, None), name="x")
    y = tj.tensor(label_dtype, (None,), name="y")
    loss = tj.softmax_cross_entropy_with_integer_labels(x, y)
    f = native([x, y], [loss, tj.grad(tj.sum(loss), x), tj.categorical_crossentropy(x, y)])
    xv, yv = logits_and_labels(np.random.default_rng(2), 4, 5, "float32", label_dtype)
    f(xv, yv)
    if bad < 0 and label_dtype == "uint8":
        bad = 255 + bad + 1  # the same bits: a label of 250 or 255
    yv[2] = np.array(bad).astype(label_dtype)
    with raises_natively(IndexError, rf"index {int(yv[2])} is out of bounds .* size 5",
                         match=rf"label {int(yv[2])} is out of range for 5 classes"):
        f(xv, yv)


def test_index_error_names_the_node_and_the_reference_agrees():
    x = tj.tensor("float64", (None, None), name="x")
    y = tj.tensor("int64", (None,), name="y")
    out = tj.softmax_cross_entropy_with_integer_labels(x, y)
    xv, yv = np.zeros((2, 3)), np.array([0, 3])
    with pytest.raises(IndexError, match="SoftmaxCrossEntropyWithIntegerLabels"):
        native([x, y], out)(xv, yv)
    with pytest.raises(IndexError):
        tj.function([x, y], out, mode="py")(xv, yv)


def test_label_shape_mismatch_raises_value_error():
    x = tj.tensor("float64", (None, None), name="x")
    y = tj.tensor("int64", (None,), name="y")
    f = native([x, y], tj.softmax_cross_entropy_with_integer_labels(x, y))
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros((3, 4)), np.zeros(2, dtype=np.int64))


SPECIAL_ROWS = np.array([
    [1.0, 2.0, 3.0, 4.0],
    [np.nan, 1.0, 2.0, 3.0],            # NaN: everything NaN
    [np.inf, 1.0, 2.0, 3.0],            # +inf: shift 0, inf/inf
    [np.inf, np.inf, 0.0, 1.0],
    [-np.inf, -np.inf, -np.inf, -np.inf],  # all -inf: 0/0
    [-np.inf, 0.0, 1.0, -np.inf],
    [1e4, -1e4, 0.0, 1e4],              # would overflow without the shift
])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_inf_rows_behave_like_the_reference(dtype):
    x = tj.tensor(dtype, (None, None), name="x")
    y = tj.tensor("int64", (None,), name="y")
    outs = [tj.softmax(x), tj.log_softmax(x), tj.logsumexp(x, axis=1),
            tj.softmax_cross_entropy_with_integer_labels(x, y)]
    xv = SPECIAL_ROWS.astype(dtype)
    yv = np.array([0, 1, 0, 2, 3, 1, 0])
    with np.errstate(all="ignore"):
        want = tj.function([x, y], outs, mode="py")(xv, yv)
        got = native([x, y], outs)(xv, yv)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_non_last_axes(dtype):
    rng = np.random.default_rng(3)
    x = tj.tensor(dtype, (None, None, None), name="x")
    xv = rng.standard_normal((3, 4, 5)).astype(dtype)
    y0 = rng.integers(0, 3, size=(4, 5))
    y = tj.tensor("int64", (None, None), name="y")
    outs = [tj.softmax(x, axis=0), tj.softmax(x, axis=(0, 2)), tj.log_softmax(x, axis=1),
            tj.logsumexp(x, axis=(0, 1), keepdims=True), tj.logsumexp(x, axis=(0, 2)),
            tj.softmax_cross_entropy_with_integer_labels(x, y, axis=0)]
    got = native([x, y], outs)(xv, y0)
    want = [special.softmax(xv, axis=0), special.softmax(xv, axis=(0, 2)),
            special.log_softmax(xv, axis=1),
            special.logsumexp(xv, axis=(0, 1), keepdims=True),
            special.logsumexp(xv, axis=(0, 2)),
            -np.take_along_axis(special.log_softmax(xv, axis=0), y0[None], 0)[0]]
    rtol = 2e-6 if dtype == "float32" else 1e-12
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-7)


def test_one_hot_with_broadcast_labels():
    like = tj.tensor("float32", (None, None, None), name="like")
    y = tj.tensor("int8", (1, None), name="y")
    f = native([y, like], LabelsOneHot(1)(y, like))
    yv = np.array([[0, 2, 1]], dtype=np.int8)
    got = f(yv, np.zeros((2, 3, 3), np.float32))
    want = np.broadcast_to(np.moveaxis(np.eye(3, dtype=np.float32)[yv[0]], -1, 0), (2, 3, 3))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_large_rows_split_across_threads(threads):
    rng = np.random.default_rng(4)
    x = tj.tensor("float32", (None, None), name="x")
    y = tj.tensor("int64", (None,), name="y")
    loss = tj.softmax_cross_entropy_with_integer_labels(x, y)
    f = native([x, y], [tj.softmax(x), loss, tj.log_softmax(x)], threads=threads)
    xv, yv = logits_and_labels(rng, 1031, 700)
    sm, ce, ls = f(xv, yv)
    want_ls = special.log_softmax(xv.astype("float64"), axis=1)
    np.testing.assert_allclose(sm, np.exp(want_ls), rtol=2e-5, atol=1e-12)
    np.testing.assert_allclose(ce, -want_ls[np.arange(1031), yv], rtol=2e-5)
    np.testing.assert_allclose(ls, want_ls, rtol=2e-5, atol=1e-6)
