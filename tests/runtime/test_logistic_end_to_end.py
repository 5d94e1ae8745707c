"""Logistic regression trained with updates matches a hand-written NumPy version."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj

N, D, K, LR, STEPS = 40, 6, 3, 0.5, 8


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    Y = rng.integers(0, K, size=N).astype("int32")
    return X, Y


def numpy_step(W, b, X, Y):
    """Loss before the step and the updated (W, b), by hand."""
    z = X @ W + b
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(Y)), Y]))
    d = p.copy()
    d[np.arange(len(Y)), Y] -= 1.0
    d /= len(Y)
    return loss, W - LR * (X.T @ d), b - LR * d.sum(axis=0)


def build(loss_of):
    x, y = tj.matrix("x"), tj.ivector("y")
    W = tj.shared(np.zeros((D, K)), name="W")
    b = tj.shared(np.zeros(K), name="b")
    p = tj.softmax(x @ W + b)
    loss = loss_of(p, y)
    gW, gb = tj.grad(loss, [W, b])
    train = tj.function([x, y], loss, updates=[(W, W - LR * gW), (b, b - LR * gb)],
                        name="train")
    return train, W, b


def integer_label_loss(p, y):
    return -tj.mean(tj.log(p)[tj.arange(y.shape[0]), y])


def one_hot_loss(p, y):
    onehot = tj.eq(y.dimshuffle(0, "x"), tj.arange(K).dimshuffle("x", 0)).astype("float64")
    return -tj.mean(tj.sum(onehot * tj.log(p), axis=1))


@pytest.mark.parametrize("loss_of", [integer_label_loss, one_hot_loss],
                         ids=["integer_labels", "one_hot"])
def test_logistic_regression_matches_numpy_step_for_step(loss_of):
    X, Y = data()
    train, W, b = build(loss_of)
    W_ref, b_ref = np.zeros((D, K)), np.zeros(K)
    losses = []
    for _ in range(STEPS):
        loss_ref, W_ref, b_ref = numpy_step(W_ref, b_ref, X, Y)
        loss = train(X, Y)
        np.testing.assert_allclose(loss, loss_ref, rtol=1e-10)
        np.testing.assert_allclose(W.get_value(), W_ref, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(b.get_value(), b_ref, rtol=1e-10, atol=1e-14)
        losses.append(float(loss))
    assert losses[0] == pytest.approx(np.log(K))  # zero weights: uniform prediction
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))
