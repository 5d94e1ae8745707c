"""Op cases for the neural-network ops: softmax, log_softmax, logsumexp, cross-entropies.

References come from scipy.special (softmax, log_softmax, logsumexp, log_expit) and plain
NumPy indexing, never from tensorjit's own decomposition.
"""

import numpy as np
from scipy import special

import tensorjit as tj
from opcases import OpCase, random_array
from tensorjit.graph.ops.crossentropy import (
    LabelsOneHot,
    SoftmaxCrossEntropyGrad,
    SoftmaxCrossEntropyWithGrad,
)

SMOOTH = {"float32": 2e-5, "float64": 1e-10}


def _int_dtype(dtype):
    """The labels' dtype; the gradient check asks for float64 everywhere, labels stay int."""
    return dtype if np.dtype(dtype).kind in "iu" else "int64"


def _logits_and_labels(axis=-1, label_dtype=None):
    """make_inputs: random logits and in-range integer labels for the class axis."""

    def make(rng, shapes, dtypes):
        x = random_array(rng, shapes[0], dtypes[0], (-3.0, 3.0))
        k = shapes[0][axis]
        dtype = _int_dtype(label_dtype or dtypes[1])
        labels = rng.integers(0, max(k, 1), size=shapes[1]).astype(dtype)
        return [x, labels]

    return make


def _probs_and_labels(rng, shapes, dtypes):
    # probabilities bounded away from 0, so finite differences of -log(p) behave
    p = rng.uniform(0.1, 1.0, size=shapes[0])
    p = (p / p.sum(axis=-1, keepdims=True)).astype(dtypes[0])
    k = max(shapes[0][-1], 1)
    labels = rng.integers(0, k, size=shapes[1]).astype(_int_dtype(dtypes[1]))
    return [p, labels]


def _logits_and_targets(rng, shapes, dtypes):
    x = random_array(rng, shapes[0], dtypes[0], (-3.0, 3.0))
    t = rng.uniform(0.0, 1.0, size=shapes[1])
    return [x, (t / t.sum(axis=-1, keepdims=True)).astype(dtypes[1])]


def _probs_and_targets(rng, shapes, dtypes):
    p = rng.uniform(0.1, 1.0, size=shapes[0])
    p = (p / p.sum(axis=-1, keepdims=True)).astype(dtypes[0])
    t = rng.uniform(0.0, 1.0, size=shapes[1])
    return [p, (t / t.sum(axis=-1, keepdims=True)).astype(dtypes[1])]


def _probs_and_binary(rng, shapes, dtypes):
    p = rng.uniform(0.05, 0.95, size=shapes[0]).astype(dtypes[0])
    return [p, rng.uniform(0.0, 1.0, size=shapes[1]).astype(dtypes[1])]


def _gather_loss(logp, labels, axis):
    """-logp[..., label, ...] along axis by explicit NumPy indexing."""
    idx = np.expand_dims(labels.astype(np.intp), axis)
    return -np.squeeze(np.take_along_axis(logp, idx, axis), axis=axis)


def _ref_logsumexp(x, axis=None, keepdims=False):
    if x.size == 0:  # scipy's logsumexp fails on empty inputs; the sum of nothing is 0
        with np.errstate(divide="ignore"):
            return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    return special.logsumexp(x, axis=axis, keepdims=keepdims)


def _ref_onehot(labels, like, axis=-1):
    out = np.moveaxis(np.eye(like.shape[axis], dtype=like.dtype)[labels], -1, axis)
    return out.astype(like.dtype)


def _ce_grad_inputs(axis=-1):
    """make_inputs: logits, in-range labels and a loss-shaped gradient for the CE grad op."""
    base = _logits_and_labels(axis)

    def make(rng, shapes, dtypes):
        x, labels = base(rng, shapes[:2], dtypes[:2])
        return [x, labels, random_array(rng, shapes[2], dtypes[2], (-2.0, 2.0))]

    return make


def _ref_ce_grad(x, labels, g, axis=-1):
    """g * (softmax - onehot) from scipy's softmax and an identity-matrix one-hot."""
    onehot = _ref_onehot(labels, x, axis)
    return np.expand_dims(g, axis) * (special.softmax(x, axis=axis) - onehot)


def _both_outputs(outs):
    """loss (as a column) + 3 * grad: both outputs of the fused op in one value."""
    loss, grad = outs
    return loss.dimshuffle(0, "x") + 3.0 * grad


AXIS_SHAPES = (((3, 4),), ((2, 3, 4),), ((5,),), ((0, 4),), ((3, 1),))

CASES = [
    # --- softmax / log_softmax / logsumexp
    OpCase("softmax_last", ("Softmax",), lambda x: tj.softmax(x),
           lambda x: special.softmax(x, axis=-1), AXIS_SHAPES, grad_order=2, rtol=SMOOTH),
    OpCase("softmax_axis0", ("Softmax",), lambda x: tj.softmax(x, axis=0),
           lambda x: special.softmax(x, axis=0), (((3, 4),), ((2, 3, 4),)), grad_order=2),
    OpCase("softmax_axes_tuple", ("Softmax",), lambda x: tj.softmax(x, axis=(0, 2)),
           lambda x: special.softmax(x, axis=(0, 2)), (((2, 3, 4),),), grad_order=2),
    OpCase("softmax_all_axes_0d", ("Softmax",), lambda x: tj.softmax(x, axis=None),
           lambda x: special.softmax(x, axis=None), (((),), ((3, 2),)), grad_order=2),
    # logits of +-1000: exp() would overflow without the max shift
    OpCase("softmax_huge_logits", ("Softmax",), lambda x: tj.softmax(x),
           lambda x: special.softmax(x.astype("float64"), axis=-1), (((4, 5),),),
           domain=(-1000.0, 1000.0), grad_order=0, atol=1e-30),
    OpCase("log_softmax_last", ("LogSoftmax",), lambda x: tj.log_softmax(x),
           lambda x: special.log_softmax(x, axis=-1), AXIS_SHAPES, grad_order=2),
    OpCase("log_softmax_axis1", ("LogSoftmax",), lambda x: tj.log_softmax(x, axis=1),
           lambda x: special.log_softmax(x, axis=1), (((2, 3, 4),),), grad_order=2),
    OpCase("log_softmax_huge_logits", ("LogSoftmax",), lambda x: tj.log_softmax(x),
           lambda x: special.log_softmax(x.astype("float64"), axis=-1), (((4, 5),),),
           domain=(-1000.0, 1000.0), grad_order=0, rtol={"float32": 1e-6, "float64": 1e-12}),
    OpCase("logsumexp_all", ("LogSumExp",), lambda x: tj.logsumexp(x),
           lambda x: _ref_logsumexp(x), (((3, 4),), ((),), ((0, 3),), ((6,),)),
           grad_order=2),
    OpCase("logsumexp_axis_keepdims", ("LogSumExp",),
           lambda x: tj.logsumexp(x, axis=1, keepdims=True),
           lambda x: _ref_logsumexp(x, axis=1, keepdims=True),
           (((2, 3, 4),), ((3, 0),), ((2, 1),)), grad_order=2),
    OpCase("logsumexp_axes_tuple", ("LogSumExp",), lambda x: tj.logsumexp(x, axis=(0, 2)),
           lambda x: special.logsumexp(x, axis=(0, 2)), (((2, 3, 4),),), grad_order=2),
    OpCase("logsumexp_huge", ("LogSumExp",), lambda x: tj.logsumexp(x, axis=-1),
           lambda x: special.logsumexp(x.astype("float64"), axis=-1), (((4, 5),),),
           domain=(-1000.0, 1000.0), grad_order=0, rtol={"float32": 1e-6, "float64": 1e-12}),
    OpCase("logsumexp_int_input", ("LogSumExp", "Cast"), lambda x: tj.logsumexp(x, axis=0),
           lambda x: special.logsumexp(x.astype("float64"), axis=0), (((3, 4),),),
           dtypes=("int64", "int32"), grad_order=0),
    # --- fused softmax cross-entropy with integer labels
    OpCase("softmax_ce_int_labels", ("SoftmaxCrossEntropyWithIntegerLabels", "LabelsOneHot"),
           lambda x, y: tj.softmax_cross_entropy_with_integer_labels(x, y),
           lambda x, y: _gather_loss(special.log_softmax(x, axis=-1), y, -1),
           (((5, 4), (5,)), ((2, 3, 4), (2, 3)), ((4,), ()), ((0, 3), (0,))),
           dtypes=(("float64", "int64"), ("float32", "int32"), ("float64", "uint8")),
           make_inputs=_logits_and_labels(), grad_order=2),
    OpCase("softmax_ce_int_labels_axis0", ("SoftmaxCrossEntropyWithIntegerLabels",),
           lambda x, y: tj.softmax_cross_entropy_with_integer_labels(x, y, axis=0),
           lambda x, y: _gather_loss(special.log_softmax(x, axis=0), y, 0),
           (((4, 5), (5,)),), dtypes=(("float64", "int64"), ("float32", "int16")),
           make_inputs=_logits_and_labels(axis=0), grad_order=2),
    OpCase("softmax_ce_huge_logits", ("SoftmaxCrossEntropyWithIntegerLabels",),
           lambda x, y: tj.softmax_cross_entropy_with_integer_labels(x, y) * 1.0,
           lambda x, y: _gather_loss(special.log_softmax(x.astype("float64"), -1), y, -1),
           (((4, 5), (4,)),), dtypes=(("float64", "int64"), ("float32", "int64")),
           make_inputs=lambda rng, s, d: [rng.uniform(-1000, 1000, s[0]).astype(d[0]),
                                          rng.integers(0, s[0][1], s[1]).astype(d[1])],
           grad_order=0, rtol={"float32": 1e-6, "float64": 1e-12}),
    OpCase("softmax_ce_grad", ("SoftmaxCrossEntropyGrad",),
           lambda x, y, g: SoftmaxCrossEntropyGrad(x.ndim - 1)(x, y, g),
           lambda x, y, g: _ref_ce_grad(x, y, g, -1),
           (((5, 4), (5,), (5,)), ((2, 3, 4), (2, 3), (2, 3)), ((4,), (), ()),
            ((0, 3), (0,), (0,))),
           dtypes=(("float64", "int64", "float64"), ("float32", "int32", "float32"),
                   ("float64", "uint8", "float64")),
           make_inputs=_ce_grad_inputs(-1), grad_order=2),
    OpCase("softmax_ce_grad_axis0", ("SoftmaxCrossEntropyGrad",),
           lambda x, y, g: SoftmaxCrossEntropyGrad(0)(x, y, g),
           lambda x, y, g: _ref_ce_grad(x, y, g, 0),
           (((4, 5), (5,), (5,)),), dtypes=(("float64", "int64", "float64"),
                                           ("float32", "int16", "float32")),
           make_inputs=_ce_grad_inputs(0), grad_order=2),
    # the fused (loss, gradient) pair: each output, and a combination of both
    OpCase("softmax_ce_with_grad_loss", ("SoftmaxCrossEntropyWithGrad",),
           lambda x, y, g: SoftmaxCrossEntropyWithGrad(x.ndim - 1)(x, y, g)[0],
           lambda x, y, g: _gather_loss(special.log_softmax(x, axis=-1), y, -1),
           (((5, 4), (5,), (5,)), ((2, 3, 4), (2, 3), (2, 3)), ((0, 3), (0,), (0,))),
           dtypes=(("float64", "int64", "float64"), ("float32", "int32", "float32")),
           make_inputs=_ce_grad_inputs(-1), grad_order=2),
    OpCase("softmax_ce_with_grad_grad", ("SoftmaxCrossEntropyWithGrad",),
           lambda x, y, g: SoftmaxCrossEntropyWithGrad(0)(x, y, g)[1],
           lambda x, y, g: _ref_ce_grad(x, y, g, 0),
           (((4, 5), (5,), (5,)), ((4,), (), ())),
           dtypes=(("float64", "int64", "float64"), ("float32", "uint8", "float32")),
           make_inputs=_ce_grad_inputs(0), grad_order=2),
    OpCase("softmax_ce_with_grad_both", ("SoftmaxCrossEntropyWithGrad",),
           lambda x, y, g: _both_outputs(SoftmaxCrossEntropyWithGrad(1)(x, y, g)),
           lambda x, y, g: (_gather_loss(special.log_softmax(x, axis=1), y, 1)[:, None]
                            + 3.0 * _ref_ce_grad(x, y, g, 1)),
           (((5, 4), (5,), (5,)),), dtypes=(("float64", "int64", "float64"),),
           make_inputs=_ce_grad_inputs(1), grad_order=2),
    OpCase("one_hot_labels", ("LabelsOneHot",),
           lambda y, like: LabelsOneHot(1)(y, like),
           lambda y, like: _ref_onehot(y, like, 1), (((3,), (3, 4)), ((2, 3), (2, 5, 3))),
           dtypes=(("int64", "float64"), ("int8", "float32")),
           make_inputs=lambda rng, s, d: [rng.integers(0, s[1][1], s[0]).astype(d[0]),
                                          np.zeros(s[1], d[1])], grad_order=0),
    # --- categorical cross-entropy on probabilities
    OpCase("categorical_ce_int_labels", ("CategoricalCrossentropyIntegerLabels",),
           lambda p, y: tj.categorical_crossentropy(p, y),
           lambda p, y: -np.log(p[np.arange(len(y)), y]),
           (((5, 4), (5,)), ((0, 4), (0,))),
           dtypes=(("float64", "int64"), ("float32", "int32")),
           make_inputs=_probs_and_labels, grad_order=2, grad_rtol=1e-4),
    OpCase("categorical_ce_probs", ("CategoricalCrossentropy",),
           lambda p, t: tj.categorical_crossentropy(p, t),
           lambda p, t: -np.sum(t * np.log(p), axis=-1),
           (((5, 4), (5, 4)), ((4,), (4,)), ((2, 3, 4), (2, 3, 4))),
           make_inputs=_probs_and_targets, grad_order=2, grad_rtol=1e-4),
    OpCase("softmax_ce_probs", ("SoftmaxCrossEntropy",),
           lambda x, t: tj.softmax_cross_entropy(x, t),
           lambda x, t: -np.sum(t * special.log_softmax(x, axis=-1), axis=-1),
           (((5, 4), (5, 4)), ((4,), (4,)), ((0, 4), (0, 4))),
           make_inputs=_logits_and_targets, grad_order=2),
    # --- binary cross-entropy
    OpCase("binary_ce", ("BinaryCrossentropy",), lambda p, t: tj.binary_crossentropy(p, t),
           lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)),
           (((3, 4), (3, 4)), ((3, 4), (4,)), ((), ()), ((0,), (0,))),
           make_inputs=_probs_and_binary, grad_order=2, grad_rtol=1e-4),
    OpCase("sigmoid_binary_ce", ("SigmoidBinaryCrossentropy",),
           lambda x, t: tj.sigmoid_binary_crossentropy(x, t),
           lambda x, t: -(t * special.log_expit(x) + (1 - t) * special.log_expit(-x)),
           (((3, 4), (3, 4)), ((3, 4), (4,)), ((), ()), ((0,), (0,))),
           make_inputs=lambda rng, s, d: [random_array(rng, s[0], d[0], (-4, 4)),
                                          random_array(rng, s[1], d[1], (0, 1))],
           grad_order=2),
    # logits of +-80: exp(80) overflows float32, log(sigmoid(-80)) underflows naively
    OpCase("sigmoid_binary_ce_huge", ("SigmoidBinaryCrossentropy",),
           lambda x, t: tj.sigmoid_binary_crossentropy(x, t),
           lambda x, t: -(t * special.log_expit(x.astype("float64"))
                          + (1 - t) * special.log_expit(-x.astype("float64"))),
           (((20,), (20,)),), domain=(-80.0, 80.0), grad_order=0),
]
