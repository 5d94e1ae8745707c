"""Neural-network ops beyond the case table: gradient-graph structure, extreme inputs,
and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import tensorjit as tj
from tensorjit.graph.basic import toposort
from tensorjit.graph.ops.nn import LogSoftmax, Softmax


def op_names(*outputs):
    names = []
    for node in toposort(list(outputs)):
        op = node.op
        names.append(str(op.scalar_op) if hasattr(op, "scalar_op") else type(op).__name__)
    return names


def test_fused_cross_entropy_gradient_is_softmax_minus_onehot_without_log():
    x, y = tj.matrix("x"), tj.ivector("y")
    loss = tj.sum(tj.softmax_cross_entropy_with_integer_labels(x, y))
    g = tj.grad(loss, x)
    grad_only = [n for n in op_names(g) if n not in op_names(loss)]
    # one fused row kernel: g * (softmax - onehot)
    assert "SoftmaxCrossEntropyGrad" in grad_only
    assert not any(n in ("log", "LogSoftmax", "log1p") for n in grad_only), grad_only
    # finite at logits where log(softmax) underflows to -inf
    xv = np.array([[0.0, 1e4, -1e4], [-1e4, 0.0, 1e4]])
    yv = np.array([2, 0], dtype="int32")
    lv, gv = tj.function([x, y], [loss, g])(xv, yv)
    assert np.isfinite(lv) and np.all(np.isfinite(gv))
    want = special.softmax(xv, axis=1) - np.eye(3)[yv]
    np.testing.assert_allclose(gv, want, atol=1e-12)
    np.testing.assert_allclose(lv, 2e4 + 2e4, rtol=1e-12)


def test_probability_target_cross_entropy_gradient_is_softmax_minus_targets():
    x, t = tj.matrix("x"), tj.matrix("t")
    g = tj.grad(tj.sum(tj.softmax_cross_entropy(x, t)), x)
    xv = np.array([[1.0, 2.0, 3.0], [0.0, -5.0, 800.0]])
    tv = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    got = tj.function([x, t], g)(xv, tv)
    np.testing.assert_allclose(got, special.softmax(xv, axis=1) - tv, atol=1e-12)


def test_softmax_cross_entropy_dispatches_integer_labels():
    x, y = tj.matrix("x"), tj.lvector("y")
    out = tj.softmax_cross_entropy(x, y)
    assert type(out.owner.op).__name__ == "SoftmaxCrossEntropyWithIntegerLabels"
    p = tj.softmax(x)
    assert type(tj.categorical_crossentropy(p, y).owner.op).__name__ == \
        "CategoricalCrossentropyIntegerLabels"


def test_nn_ops_keep_their_names_for_the_stabilizer():
    x = tj.matrix("x")
    assert isinstance(tj.softmax(x).owner.op, Softmax)
    assert isinstance(tj.log_softmax(x).owner.op, LogSoftmax)
    assert tj.softmax(x).owner.op == Softmax((1,))  # axis=-1 is normalized


def test_static_shapes_are_inferred():
    x = tj.tensor("float32", (5, None, 7), name="x")
    assert tj.softmax(x, axis=1).type.shape == (5, None, 7)
    assert tj.logsumexp(x, axis=(0, 2)).type.shape == (None,)
    assert tj.logsumexp(x, axis=2, keepdims=True).type.shape == (5, None, 1)
    y = tj.tensor("int32", (None, 3), name="y")
    loss = tj.softmax_cross_entropy_with_integer_labels(x, y, axis=2)
    assert loss.type.shape == (5, 3) and loss.dtype == "float32"


def test_integer_logits_are_converted_to_float():
    i = tj.imatrix("i")
    assert tj.softmax(i).dtype == "float64"
    assert tj.log_softmax(tj.tensor("int8", (None,))).dtype == "float32"


def test_bce_accepts_integer_targets_and_broadcasts():
    p, t = tj.matrix("p"), tj.ivector("t")
    out = tj.binary_crossentropy(p, t)
    pv = np.array([[0.1, 0.9], [0.5, 0.3]])
    tv = np.array([1, 0], dtype="int32")
    want = -(tv * np.log(pv) + (1 - tv) * np.log(1 - pv))
    np.testing.assert_allclose(tj.function([p, t], out)(pv, tv), want, rtol=1e-12)


def test_sigmoid_bce_gradient_is_sigmoid_minus_target_at_extreme_logits():
    x, t = tj.vector("x"), tj.vector("t")
    g = tj.grad(tj.sum(tj.sigmoid_binary_crossentropy(x, t)), x)
    xv = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    tv = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    got = tj.function([x, t], g)(xv, tv)
    np.testing.assert_allclose(got, special.expit(xv) - tv, atol=1e-12)


# --------------------------------------------------------------------------------------
# errors


def test_labels_must_be_integers():
    with pytest.raises(TypeError, match=r"input 1 \(labels\) has dtype float64"):
        tj.softmax_cross_entropy_with_integer_labels(tj.matrix("x"), tj.vector("y"))


def test_labels_shape_must_match_the_logits_without_the_class_axis():
    x = tj.tensor("float64", (4, 3), name="x")
    y = tj.tensor("int64", (3,), name="y")
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) do not match"):
        tj.softmax_cross_entropy_with_integer_labels(x, y)
    with pytest.raises(ValueError, match="labels"):
        tj.categorical_crossentropy(x, tj.tensor("int64", (5,), name="y2"))


def test_out_of_range_label_at_run_time_names_the_label():
    x, y = tj.matrix("x"), tj.lvector("y")
    f = tj.function([x, y], tj.softmax_cross_entropy_with_integer_labels(x, y))
    with pytest.raises(IndexError, match="label 3 is out of range for 3 classes"):
        f(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="labels have shape"):
        f(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        tj.softmax(tj.matrix("x"), axis=2)
    with pytest.raises(ValueError, match="axis"):
        tj.logsumexp(tj.vector("x"), axis=1)


def test_probability_targets_must_match_the_predictions():
    with pytest.raises(TypeError, match="targets"):
        tj.softmax_cross_entropy(tj.matrix("x"), tj.vector("t"))
    f = tj.function([p := tj.matrix("p"), t := tj.matrix("t")],
                    tj.categorical_crossentropy(p, t))
    with pytest.raises(ValueError, match="targets have shape"):
        f(np.full((2, 3), 1 / 3), np.full((2, 2), 0.5))


def test_op_level_dtype_error_names_the_function_and_position():
    with pytest.raises(TypeError, match=r"softmax\(\): input 0 has dtype int64"):
        Softmax((0,))(tj.lvector("i"))
