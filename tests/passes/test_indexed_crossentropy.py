"""The indexed cross-entropy ``-mean(log(softmax(z))[arange(n), y])`` and its gradient
become the fused integer-label ops, and only where that changes no result: values,
gradients and errors are those of the unoptimized graph and of NumPy indexing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import tensorjit as tj

FUSED = "indexed_log_softmax_to_crossentropy"
FUSED_GRAD = "log_softmax_grad_of_indexed_to_crossentropy_grad"
MODES = ["py", "llvm"]
RNG = np.random.default_rng(11)
X = RNG.normal(size=(6, 5))
W0 = RNG.normal(size=(5, 4))
B0 = RNG.normal(size=4)
# -1 and -4 are the last and the first class, as NumPy indexing reads them
LABELS = {"all rows": [1, -1, 3, 0, -4, 2], "fewer rows": [2, -2, 0]}


def fired(f) -> set[str]:
    return {ev.rewrite for ev in f.rewrites} & {FUSED, FUSED_GRAD}


def op_names(f) -> set[str]:
    return {type(node.op).__name__ for node in f.fgraph.apply_nodes}


def classic_loss(x, y, w, b):
    """The Theano tutorial's spelling of the mean cross-entropy of a softmax."""
    return -tj.mean(tj.log(tj.softmax(x @ w + b))[tj.arange(y.shape[0]), y])


def reference(x, w, b, labels):
    """Loss and gradients wrt (w, b) from scipy and NumPy indexing, float64."""
    n = len(labels)
    z = x @ w + b
    logp = scipy.special.log_softmax(z[:n], axis=1)
    loss = -np.mean(logp[np.arange(n), labels])
    dz = np.zeros_like(z)
    dz[:n] = np.exp(logp)
    dz[np.arange(n), labels] -= 1.0
    dz /= n
    return loss, x.T @ dz, dz.sum(axis=0)


def _classic(label_dtype, mode, optimizer="fast_run"):
    x, y = tj.matrix("x"), tj.vector("y", dtype=label_dtype)
    w, b = tj.shared(W0, name="W"), tj.shared(B0, name="b")
    loss = classic_loss(x, y, w, b)
    return tj.function([x, y], [loss, *tj.grad(loss, [w, b])], mode=mode,
                       optimizer=optimizer)


@pytest.mark.parametrize("rows", sorted(LABELS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("label_dtype", ["int32", "int64"])
def test_classic_loss_and_gradients_use_the_fused_ops(label_dtype, mode, rows):
    f = _classic(label_dtype, mode)
    assert fired(f) == {FUSED, FUSED_GRAD}
    ops = op_names(f)
    # the two fused ops, then one (fuse phase: fuse_crossentropy_with_grad)
    assert "SoftmaxCrossEntropyWithGrad" in ops
    assert not {"Softmax", "LogSoftmax", "AdvancedSubtensor", "AdvancedIncSubtensor"} & ops
    if mode == "llvm":
        assert f.fallbacks == []
    labels = np.array(LABELS[rows], dtype=label_dtype)
    got = f(X, labels)
    unoptimized = _classic(label_dtype, mode, optimizer=None)(X, labels)
    for g, u, r in zip(got, unoptimized, reference(X, W0, B0, labels)):
        np.testing.assert_allclose(g, u, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-15)


def test_provably_all_rows_need_no_slice():
    """Static lengths prove n == rows: the fused ops read z itself, no z[:n] copy."""
    z = tj.tensor("float64", shape=(6, 4), name="z")
    y = tj.tensor("int64", shape=(6,), name="y")
    for n in (z.shape[0], y.shape[0]):
        loss = -tj.mean(tj.log_softmax(z, axis=1)[tj.arange(n), y])
        f = tj.function([z, y], [loss, tj.grad(loss, z)])
        assert fired(f) == {FUSED, FUSED_GRAD}
        assert not {"Subtensor", "IncSubtensor", "Softmax", "LogSoftmax"} & op_names(f)
        zs, labels = X[:, :4], np.array(LABELS["all rows"])
        want = tj.function([z, y], [loss, tj.grad(loss, z)], optimizer=None)(zs, labels)
        for g, u in zip(f(zs, labels), want):
            np.testing.assert_allclose(g, u, rtol=1e-12, atol=1e-15)


# (builder of log_softmax(z)[...], labels): each is no per-row pick of the labels
NOT_A_ROW_PICK = {
    "labels index the rows": (
        lambda z, y: tj.log_softmax(z, axis=1)[y, tj.arange(y.shape[0])], [2, 0, 5]),
    "softmax over axis 0": (
        lambda z, y: tj.log_softmax(z, axis=0)[tj.arange(y.shape[0]), y], [1, 2, 0]),
    # the two arange forms are [1] and [0] here, which broadcast against both labels
    "arange starts at 1": (
        lambda z, y: tj.log_softmax(z, axis=1)[tj.arange(1, y.shape[0]), y], [1, 2]),
    "arange steps by 2": (
        lambda z, y: tj.log_softmax(z, axis=1)[tj.arange(0, y.shape[0], 2), y], [1, 2]),
    "rows in another order": (
        lambda z, y: tj.log_softmax(z, axis=1)[np.array([2, 0, 1]),
                                               tj.specify_shape(y, (3,))], [1, 2, 3]),
    # z.shape[0] says nothing of len(y): one label broadcasts over all rows
    "one label for all rows": (
        lambda z, y: tj.log_softmax(z, axis=1)[tj.arange(z.shape[0]), y], [3]),
}


@pytest.mark.parametrize("case", sorted(NOT_A_ROW_PICK))
def test_does_not_fire_where_it_is_no_row_pick(case):
    build, labels = NOT_A_ROW_PICK[case]
    z, y = tj.matrix("z"), tj.lvector("y")
    loss = -tj.sum(build(z, y))
    outs = [loss, tj.grad(loss, z)]
    f = tj.function([z, y], outs)
    assert fired(f) == set()
    zs, labels = X, np.array(labels)
    want = tj.function([z, y], outs, optimizer=None)(zs, labels)
    for g, u in zip(f(zs, labels), want):
        np.testing.assert_allclose(g, u, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_narrow_labels_wrap_past_their_dtype(mode):
    """-1 in int8 labels over 200 classes is class 199 (the wrap is computed in int64)."""
    z, y = tj.matrix("z"), tj.vector("y", dtype="int8")
    loss = -tj.mean(tj.log(tj.softmax(z))[tj.arange(y.shape[0]), y])
    f = tj.function([z, y], [loss, tj.grad(loss, z)], mode=mode)
    assert fired(f) == {FUSED, FUSED_GRAD}
    zs = RNG.normal(size=(3, 200))
    labels = np.array([-1, -128, 127], dtype="int8")
    logp = scipy.special.log_softmax(zs, axis=1)
    want_g = np.exp(logp)
    want_g[np.arange(3), labels] -= 1.0
    got_loss, got_g = f(zs, labels)
    np.testing.assert_allclose(got_loss, -np.mean(logp[np.arange(3), labels]), rtol=1e-12)
    np.testing.assert_allclose(got_g, want_g / 3, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bad", [4, 7, -5])
def test_out_of_range_labels_raise_index_error(mode, bad):
    labels = np.array([1, bad, 0])
    f = _classic("int64", mode)
    assert fired(f) == {FUSED, FUSED_GRAD}
    with pytest.raises(IndexError, match=rf"label {bad} is out of range for 4 classes"):
        f(X, labels)
    with pytest.raises(IndexError, match=rf"has value {bad}, out of range for axis 1"):
        _classic("int64", mode, optimizer=None)(X, labels)


@pytest.mark.parametrize("mode", MODES)
def test_more_labels_than_rows_raises(mode):
    """x[arange(n), y] for n > rows: the original's IndexError becomes the fused op's
    ValueError, which names both lengths (and the user's line)."""
    labels = np.array([1, 0, 3, 0, 2, 1, 3])
    with pytest.raises(ValueError, match=r"labels have shape \(7,\); expected \(6,\)") as info:
        _classic("int64", mode)(X, labels)
    assert "test_indexed_crossentropy.py" in str(info.value)
    with pytest.raises(IndexError, match=r"has value 6, out of range for axis 0 of size 6"):
        _classic("int64", mode, optimizer=None)(X, labels)


@pytest.mark.parametrize("mode", MODES)
def test_no_labels(mode):
    """n == 0: the mean is nan as in the original, the gradients are zero."""
    f = _classic("int64", mode)
    want = _classic("int64", mode, optimizer=None)(X, np.array([], dtype="int64"))
    got = f(X, np.array([], dtype="int64"))
    for g, u in zip(got, want):
        np.testing.assert_array_equal(g, u)
    assert np.isnan(got[0]) and not np.any(got[1])


def _scatter(z, y, g, base=None):
    """zeros like z (or base) with g added at (arange(len(y)), y)."""
    base = tj.zeros_like(z) if base is None else base
    return tj.inc_subtensor(base[tj.arange(y.shape[0]), y], g)


# g and softmax(z, 1) * sum(A, 1) must be the log_softmax VJP exactly; these are not
VJP_FORMS = {
    "vjp": (True, lambda z, y, g: _scatter(z, y, g) - tj.softmax(z, axis=1)
            * tj.sum(_scatter(z, y, g), axis=1, keepdims=True)),
    "scaled vjp plus a term": (True, lambda z, y, g: z * 3.0 + 0.5 * _scatter(z, y, g)
                               - tj.softmax(z, axis=1) * tj.sum(_scatter(z, y, g), axis=1,
                                                                keepdims=True) * 0.5),
    "one value for every row": (True, lambda z, y, g: _scatter(z, y, tj.sum(g))
                                - tj.softmax(z, axis=1) * tj.sum(
                                    _scatter(z, y, tj.sum(g)), axis=1, keepdims=True)),
    "other coefficient": (False, lambda z, y, g: _scatter(z, y, g) - 2.0 * tj.softmax(
        z, axis=1) * tj.sum(_scatter(z, y, g), axis=1, keepdims=True)),
    "softmax over axis 0": (False, lambda z, y, g: _scatter(z, y, g) - tj.softmax(
        z, axis=0) * tj.sum(_scatter(z, y, g), axis=1, keepdims=True)),
    "scatter into ones": (False, lambda z, y, g: _scatter(z, y, g, tj.ones_like(z))
                          - tj.softmax(z, axis=1) * tj.sum(
                              _scatter(z, y, g, tj.ones_like(z)), axis=1, keepdims=True)),
}


@pytest.mark.parametrize("case", sorted(VJP_FORMS))
def test_gradient_rewrite_needs_the_exact_vjp(case):
    fires, build = VJP_FORMS[case]
    z, y, g = tj.matrix("z"), tj.lvector("y"), tj.vector("g")
    out = build(z, y, g)
    f = tj.function([z, y, g], out)
    assert fired(f) == ({FUSED_GRAD} if fires else set())
    args = (X[:, :4], np.array([1, -1, 0]), RNG.normal(size=3))
    want = tj.function([z, y, g], out, optimizer=None)(*args)
    np.testing.assert_allclose(f(*args), want, rtol=1e-12, atol=1e-15)
