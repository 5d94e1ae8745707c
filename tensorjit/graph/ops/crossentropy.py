"""Cross-entropy losses as named fused ops (re-exported by nn.py).

Categorical cross-entropy with integer labels or probability targets, on probabilities
(``categorical_crossentropy``) or fused with the softmax on logits
(``softmax_cross_entropy*``), and binary cross-entropy on probabilities or logits. The
fused ops' gradients wrt the logits are ``softmax - targets``: no log(softmax) in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from ..basic import Apply, Op, Variable, as_variable
from ..types import FLOAT_DTYPES, TensorType, float_dtype_for, shape_str
from .elemwise import ScalarOp, broadcast_like, cast, elemwise
from .nn import (
    LogSoftmax,
    Softmax,
    _check_float,
    _log,
    _logsumexp_keep,
    _shifted,
    _ssum,
    _to_float,
    _where,
)
from .reduce import expand_reduced, normalize_axis

__all__ = ["categorical_crossentropy", "softmax_cross_entropy",
           "softmax_cross_entropy_with_integer_labels", "binary_crossentropy",
           "sigmoid_binary_crossentropy"]

# --------------------------------------------------------------------------------------
# one-hot of class labels (a helper node of the cross-entropy gradients)


@dataclass(frozen=True)
class LabelsOneHot(Op):
    """1 where the index along ``axis`` equals the label, else 0; shaped like ``like``.

    ``like`` contributes only its shape and dtype; ``labels`` has like's shape without
    ``axis`` (size-1 axes of static length 1 broadcast).
    """

    axis: int

    def make_node(self, labels: Any, like: Any) -> Apply:
        labels, like = as_variable(labels), as_variable(like)
        _check_labels("one_hot", like, labels, self.axis, broadcast=True)
        return Apply(self, [labels, like], [like.type])

    def perform(self, node, inputs):
        labels, like = inputs
        n = like.shape[self.axis]
        rest = like.shape[:self.axis] + like.shape[self.axis + 1:]
        labels = np.broadcast_to(labels, rest)
        _check_label_values("one_hot", node, labels, n)
        out = np.zeros(like.shape, dtype=node.outputs[0].dtype)
        np.put_along_axis(out, np.expand_dims(labels, self.axis).astype(np.intp), 1,
                          self.axis)
        return [out]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(input_shapes[1])]

    def L_op(self, inputs, outputs, output_grads):
        return [None, None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]

    def vectorize_node(self, node, inputs, batched, batch_ndim):
        """Batch rule: labels gain broadcastable leading axes, the class axis shifts."""
        from .shape import dimshuffle
        labels, like = inputs
        if batched[0]:
            raise NotImplementedError("one_hot: batched labels")
        labels = dimshuffle(labels, ("x",) * batch_ndim + tuple(range(labels.ndim)))
        return [LabelsOneHot(self.axis + batch_ndim)(labels, like)]


def _check_labels(fname: str, logits: Variable, labels: Variable, axis: int,
                  broadcast: bool = False) -> tuple[int | None, ...]:
    """Static checks of integer labels against logits; returns the loss's static shape."""
    if labels.dtype not in ("int8", "int16", "int32", "int64", "uint8"):
        raise TypeError(f"{fname}(): input 1 (labels) has dtype {labels.dtype}; expected an "
                        f"integer dtype{_where(labels)}")
    if not 0 <= axis < logits.ndim:
        raise ValueError(f"{fname}(): axis {axis} is out of range for {logits.describe()}")
    rest = logits.type.shape[:axis] + logits.type.shape[axis + 1:]
    if broadcast and labels.ndim <= len(rest):
        lab = (1,) * (len(rest) - labels.ndim) + labels.type.shape
    else:
        lab = labels.type.shape
    ok = len(lab) == len(rest) and all(
        a is None or b is None or a == b or (broadcast and a == 1) for a, b in zip(lab, rest))
    if not ok:
        raise ValueError(f"{fname}(): labels of shape {shape_str(labels.type.shape)} do not "
                         f"match the logits' shape {shape_str(logits.type.shape)} without "
                         f"axis {axis}, {shape_str(rest)}{_where(labels, logits)}")
    return tuple(b if b is not None else (a if a != 1 or not broadcast else None)
                 for a, b in zip(lab, rest))


def _check_label_values(fname: str, node: Apply, labels: np.ndarray, n: int) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        bad = labels[(labels < 0) | (labels >= n)].flat[0]
        where = f" (node created at {node.source_line})" if node.source_line else ""
        raise IndexError(f"{fname}(): label {bad} is out of range for {n} classes "
                         f"(expected 0 <= label < {n}){where}")


def _check_runtime_labels(fname: str, node: Apply, x: np.ndarray, labels: np.ndarray,
                          axis: int) -> None:
    rest = x.shape[:axis] + x.shape[axis + 1:]
    if labels.shape != rest:
        raise ValueError(f"{fname}(): labels have shape {labels.shape}; expected {rest} "
                         f"(the logits' shape {x.shape} without axis {axis})")
    _check_label_values(fname, node, labels, x.shape[axis])


def _gather(x: np.ndarray, labels: np.ndarray, axis: int) -> np.ndarray:
    idx = np.expand_dims(labels, axis).astype(np.intp)
    return np.squeeze(np.take_along_axis(x, idx, axis), axis=axis)


def _loss_shape(shape: Sequence[int], axis: int) -> tuple[int, ...]:
    return tuple(shape[:axis]) + tuple(shape[axis + 1:])


def _ce_loss(node: Apply, x: np.ndarray, labels: np.ndarray, axis: int) -> np.ndarray:
    """logsumexp(x) - x[label] as (m - x[label]) + log(sum(exp(x - m))): the two terms
    of the max cancel exactly first (summed last, float32 rounded at the size of the
    max: 1e-3 relative error on a loss of 0.7 at logits of 1e4)."""
    z, m = _shifted(x, (axis,))
    with np.errstate(divide="ignore"):
        log_sum = np.log(np.sum(np.exp(z), axis=axis))
    picked = _gather(x, labels, axis)
    out = (np.squeeze(m, axis=axis) - picked) + log_sum
    return np.asarray(out, dtype=node.outputs[0].dtype)


def _ce_grad(node: Apply, x: np.ndarray, labels: np.ndarray, g: np.ndarray,
             axis: int) -> np.ndarray:
    """g * (softmax(x) - onehot(labels)), softmax as exp(x - max) / sum like the kernel
    (x - logsumexp(x) would round at the magnitude of the max: 2e-4 relative error in
    float32 at logits of 1e4)."""
    e = np.exp(_shifted(x, (axis,))[0])
    soft = e / np.sum(e, axis=axis, keepdims=True)
    idx = np.expand_dims(labels, axis).astype(np.intp)
    np.put_along_axis(soft, idx, np.take_along_axis(soft, idx, axis) - 1, axis)
    out = np.expand_dims(g, axis) * soft
    return np.asarray(out, dtype=node.outputs[-1].dtype)


def _grow(g: Variable, axis: int) -> Variable:
    """A loss-shaped gradient with the class axis re-inserted (broadcastable)."""
    return expand_reduced(g, (axis,), False)


# --------------------------------------------------------------------------------------
# cross-entropies with integer labels


@dataclass(frozen=True)
class SoftmaxCrossEntropyWithIntegerLabels(Op):
    """-log_softmax(logits)[label] along ``axis``, fused; gradient softmax - onehot."""

    axis: int
    fname: ClassVar[str] = "softmax_cross_entropy_with_integer_labels"

    def make_node(self, logits: Any, labels: Any) -> Apply:
        logits, labels = as_variable(logits), as_variable(labels)
        _check_float(self.fname, 0, logits)
        shape = _check_labels(self.fname, logits, labels, self.axis)
        return Apply(self, [logits, labels], [TensorType(logits.dtype, shape)])

    def perform(self, node, inputs):
        x, labels = inputs
        _check_runtime_labels(self.fname, node, x, labels, self.axis)
        return [_ce_loss(node, x, labels, self.axis)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [_loss_shape(input_shapes[0], self.axis)]

    def _dloss(self, x: Variable, labels: Variable) -> Variable:
        return Softmax((self.axis,))(x) - LabelsOneHot(self.axis)(labels, x)

    def L_op(self, inputs, outputs, output_grads):
        x, labels = inputs
        g = cast(output_grads[0], x.dtype)
        if not g.type.is_compatible(outputs[0].type):
            g = broadcast_like(g, outputs[0])  # a static length-1 g broadcast to the loss
        # one fused row kernel: g * (softmax(x) - onehot), no one-hot or softmax buffer
        return [SoftmaxCrossEntropyGrad(self.axis)(x, labels, g), None]

    def R_op(self, inputs, outputs, eval_points):
        t = eval_points[0]
        if t is None:
            return [None]
        return [_ssum(t * self._dloss(*inputs), (self.axis,), keepdims=False)]


@dataclass(frozen=True)
class SoftmaxCrossEntropyGrad(Op):
    """g * (softmax(logits) - onehot(labels)) along ``axis``: the fused CE gradient.

    Inputs (logits, labels, g): g is loss-shaped (logits' shape without ``axis``) and
    scales each row. The output is logits-shaped.
    """

    axis: int
    fname: ClassVar[str] = "softmax_cross_entropy_grad"

    def make_node(self, logits: Any, labels: Any, g: Any) -> Apply:
        logits, labels, g = as_variable(logits), as_variable(labels), as_variable(g)
        _check_float(self.fname, 0, logits)
        loss = _check_labels(self.fname, logits, labels, self.axis)
        loss_type = TensorType(logits.dtype, loss)
        if g.dtype != logits.dtype or not g.type.is_compatible(loss_type):
            raise TypeError(f"{self.fname}(): input 2 (the loss gradient) is {g.describe()}; "
                            f"expected {loss_type}, the loss's type{_where(g, logits)}")
        rest = iter(a if a is not None else b for a, b in zip(loss, g.type.shape))
        shape = tuple(d if i == self.axis else next(rest)
                      for i, d in enumerate(logits.type.shape))
        return Apply(self, [logits, labels, g], [TensorType(logits.dtype, shape)])

    def perform(self, node, inputs):
        x, labels, g = inputs
        _check_runtime_labels(self.fname, node, x, labels, self.axis)
        _check_loss_grad(self.fname, g, labels)
        return [_ce_grad(node, x, labels, g, self.axis)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(input_shapes[0])]

    def _parts(self, x: Variable, g: Variable) -> tuple[Variable, Variable]:
        return Softmax((self.axis,))(x), _grow(g, self.axis)

    def L_op(self, inputs, outputs, output_grads):
        x, labels, g = inputs
        go = cast(output_grads[0], x.dtype)
        s, gg = self._parts(x, g)
        v = go * gg
        # the softmax Jacobian diag(s) - s s^T is symmetric: VJP = s * (v - sum(v s))
        gx = s * (v - _ssum(v * s, (self.axis,)))
        dg = _ssum(go * (s - LabelsOneHot(self.axis)(labels, x)), (self.axis,), False)
        return [gx, None, dg]

    def R_op(self, inputs, outputs, eval_points):
        (x, labels, g), (tx, _, tg) = inputs, eval_points
        s, gg = self._parts(x, g)
        terms = []
        if tx is not None:
            tx = cast(tx, x.dtype)
            terms.append(gg * (s * (tx - _ssum(tx * s, (self.axis,)))))
        if tg is not None:
            terms.append(_grow(cast(tg, x.dtype), self.axis)
                         * (s - LabelsOneHot(self.axis)(labels, x)))
        return [None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]]


def _check_loss_grad(fname: str, g: np.ndarray, labels: np.ndarray) -> None:
    if g.shape != labels.shape:
        raise ValueError(f"{fname}(): the loss gradient has shape {g.shape}; "
                         f"expected {labels.shape}, the loss's shape")


@dataclass(frozen=True)
class SoftmaxCrossEntropyWithGrad(Op):
    """(loss, g * (softmax - onehot)) of logits and integer labels, in one pass.

    The fuse phase makes it from a SoftmaxCrossEntropyWithIntegerLabels node and the
    SoftmaxCrossEntropyGrad node of its gradient (same logits, labels and axis): both
    compute the row max and the sum of exps, so one row kernel does both (one exp per
    element instead of two). Its derivatives are those of the two ops it replaces.
    """

    axis: int
    fname: ClassVar[str] = "softmax_cross_entropy_with_grad"

    def make_node(self, logits: Any, labels: Any, g: Any) -> Apply:
        grad = SoftmaxCrossEntropyGrad(self.axis).make_node(logits, labels, g)
        loss = SoftmaxCrossEntropyWithIntegerLabels(self.axis).make_node(logits, labels)
        return Apply(self, list(grad.inputs), [loss.outputs[0].type, grad.outputs[0].type])

    def perform(self, node, inputs):
        x, labels, g = inputs
        _check_runtime_labels(self.fname, node, x, labels, self.axis)
        _check_loss_grad(self.fname, g, labels)
        return [_ce_loss(node, x, labels, self.axis), _ce_grad(node, x, labels, g, self.axis)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [_loss_shape(input_shapes[0], self.axis), tuple(input_shapes[0])]

    def _parts(self, inputs):
        x, labels, g = inputs
        loss = SoftmaxCrossEntropyWithIntegerLabels(self.axis)(x, labels)
        return loss, SoftmaxCrossEntropyGrad(self.axis)(x, labels, g)

    def L_op(self, inputs, outputs, output_grads):
        loss, grad = self._parts(inputs)
        gx_loss = loss.owner.op.L_op(loss.owner.inputs, [loss], [output_grads[0]])[0]
        gx, _, dg = grad.owner.op.L_op(grad.owner.inputs, [grad], [output_grads[1]])
        return [gx + gx_loss, None, dg]

    def R_op(self, inputs, outputs, eval_points):
        loss, grad = self._parts(inputs)
        return [loss.owner.op.R_op(loss.owner.inputs, [loss], eval_points[:2])[0],
                grad.owner.op.R_op(grad.owner.inputs, [grad], eval_points)[0]]


@dataclass(frozen=True)
class CategoricalCrossentropyIntegerLabels(Op):
    """-log(p[label]) along ``axis`` for probabilities ``p`` and integer labels."""

    axis: int
    fname: ClassVar[str] = "categorical_crossentropy"

    def make_node(self, p: Any, labels: Any) -> Apply:
        p, labels = as_variable(p), as_variable(labels)
        _check_float(self.fname, 0, p)
        shape = _check_labels(self.fname, p, labels, self.axis)
        return Apply(self, [p, labels], [TensorType(p.dtype, shape)])

    def perform(self, node, inputs):
        p, labels = inputs
        _check_runtime_labels(self.fname, node, p, labels, self.axis)
        with np.errstate(divide="ignore"):
            out = -np.log(_gather(p, labels, self.axis))
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [_loss_shape(input_shapes[0], self.axis)]

    def _dloss(self, p: Variable, labels: Variable) -> Variable:
        oh = LabelsOneHot(self.axis)(labels, p)
        if p.owner is not None and p.owner.op == Softmax((self.axis,)):
            # p = softmax(x): Softmax's L_op multiplies this by p, and the stabilizer
            # cancels p / p (softmax is mathematically positive), leaving softmax - onehot
            # with no division; the guarded form below would hide the cancellation.
            return -(oh / p)
        # onehot / p at the label and exactly 0 elsewhere, even where p == 0 there
        # (p + 1 >= 1 off the label), so no 0 * inf = nan.
        return -(oh / (p + (1.0 - oh)))

    def L_op(self, inputs, outputs, output_grads):
        p, labels = inputs
        return [_grow(output_grads[0], self.axis) * self._dloss(p, labels), None]

    def R_op(self, inputs, outputs, eval_points):
        t = eval_points[0]
        if t is None:
            return [None]
        return [_ssum(t * self._dloss(*inputs), (self.axis,), keepdims=False)]


# --------------------------------------------------------------------------------------
# cross-entropies with probability (or one-hot) targets


class _ProbTargets(Op):
    abstract = True
    fname: ClassVar[str] = ""

    def make_node(self, x: Any, t: Any) -> Apply:
        x, t = as_variable(x), as_variable(t)
        _check_float(self.fname, 0, x)
        _check_float(self.fname, 1, t)
        if x.dtype != t.dtype or x.ndim != t.ndim or not x.type.is_compatible(t.type):
            raise TypeError(f"{self.fname}(): targets {t.describe()} must have the type of "
                            f"input 0, {x.type}{_where(x, t)}")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"{self.fname}(): axis {self.axis} is out of range for "
                             f"{x.describe()}")
        shape = tuple(a if a is not None else b for a, b in zip(x.type.shape, t.type.shape))
        return Apply(self, [x, t], [TensorType(x.dtype, _loss_shape(shape, self.axis))])

    def _check_runtime(self, x: np.ndarray, t: np.ndarray) -> None:
        if x.shape != t.shape:
            raise ValueError(f"{self.fname}(): targets have shape {t.shape}; expected "
                             f"{x.shape}, the shape of input 0")

    def infer_shape(self, node, input_shapes, input_values=()):
        return [_loss_shape(input_shapes[0], self.axis)]


@dataclass(frozen=True)
class SoftmaxCrossEntropy(_ProbTargets):
    """-sum(t * log_softmax(logits)) along ``axis``, fused, for probability targets t."""

    axis: int
    fname: ClassVar[str] = "softmax_cross_entropy"

    def perform(self, node, inputs):
        x, t = inputs
        self._check_runtime(x, t)
        ls = x - _logsumexp_keep(x, (self.axis,))
        # 0 * log(0) counts as 0, as in the definition of entropy
        out = -np.sum(np.where(t == 0, 0, t * ls), axis=self.axis)
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def L_op(self, inputs, outputs, output_grads):
        x, t = inputs
        g = _grow(output_grads[0], self.axis)
        ax = (self.axis,)
        gx = g * (Softmax(ax)(x) * _ssum(t, ax) - t)
        return [gx, -g * LogSoftmax(ax)(x)]

    def R_op(self, inputs, outputs, eval_points):
        (x, t), (tx, tt) = inputs, eval_points
        ax = (self.axis,)
        terms = []
        if tx is not None:
            terms.append(_ssum(tx * (Softmax(ax)(x) * _ssum(t, ax) - t), ax, False))
        if tt is not None:
            terms.append(-_ssum(tt * LogSoftmax(ax)(x), ax, False))
        return [None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]]


@dataclass(frozen=True)
class CategoricalCrossentropy(_ProbTargets):
    """-sum(t * log(p)) along ``axis`` for probabilities p and probability targets t."""

    axis: int
    fname: ClassVar[str] = "categorical_crossentropy"

    def perform(self, node, inputs):
        p, t = inputs
        self._check_runtime(p, t)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -np.sum(np.where(t == 0, 0, t * np.log(p)), axis=self.axis)
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def L_op(self, inputs, outputs, output_grads):
        p, t = inputs
        g = _grow(output_grads[0], self.axis)
        return [-g * (t / p), -g * _log(p)]

    def R_op(self, inputs, outputs, eval_points):
        (p, t), (tp, tt) = inputs, eval_points
        ax = (self.axis,)
        terms = []
        if tp is not None:
            terms.append(-_ssum(tp * (t / p), ax, False))
        if tt is not None:
            terms.append(-_ssum(tt * _log(p), ax, False))
        return [None if not terms else terms[0] if len(terms) == 1 else terms[0] + terms[1]]


# --------------------------------------------------------------------------------------
# binary cross-entropies (elementwise)


@dataclass(frozen=True)
class BinaryCrossentropy(ScalarOp):
    """-(t log p + (1 - t) log(1 - p)) for probabilities p and targets t."""

    nin: ClassVar[int] = 2
    policy: ClassVar[str] = "float"
    fname: ClassVar[str] = "binary_crossentropy"

    def impl(self, p, t):
        from scipy.special import xlog1py, xlogy
        # xlogy: a zero weight times log(0) counts as 0 (p in {0, 1} with a matching t)
        return -(xlogy(t, p) + xlog1py(1 - t, -p))

    def grad(self, inputs, output, gout):
        p, t = inputs
        return [gout * (p - t) / (p * (1.0 - p)), gout * _log((1.0 - p) / p)]


@dataclass(frozen=True)
class SigmoidBinaryCrossentropy(ScalarOp):
    """binary_crossentropy(sigmoid(x), t) from logits x: softplus(x) - t x, stably."""

    nin: ClassVar[int] = 2
    policy: ClassVar[str] = "float"
    fname: ClassVar[str] = "sigmoid_binary_crossentropy"

    def impl(self, x, t):
        # softplus(x) = max(x, 0) + log1p(exp(-|x|)) never overflows
        return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))

    def grad(self, inputs, output, gout):
        from .scalar_math import sigmoid
        x, t = inputs
        return [gout * (sigmoid(x) - t), -(gout * x)]


# --------------------------------------------------------------------------------------
# public cross-entropy functions


def _class_axis(x: Variable, axis: int, fname: str) -> int:
    return normalize_axis(axis, x.ndim, fname)[0]


def _is_labels(x: Variable, t: Variable) -> bool:
    return t.dtype not in FLOAT_DTYPES and t.dtype != "bool" and t.ndim == x.ndim - 1


def _prob_pair(x: Variable, t: Variable) -> tuple[Variable, Variable]:
    dtype = float_dtype_for(np.result_type(x.dtype, t.dtype).name)
    return cast(x, dtype), cast(t, dtype)


def categorical_crossentropy(coding_dist: Any, true_dist: Any, axis: int = -1) -> Variable:
    """Cross-entropy between predicted probabilities and targets, along ``axis``.

    Parameters
    ----------
    coding_dist : predicted probabilities (e.g. the output of ``softmax``).
    true_dist : integer class labels with ``coding_dist``'s shape without ``axis``
        (loss ``-log(p[label])``), or probability / one-hot targets shaped like
        ``coding_dist`` (loss ``-sum(t * log(p), axis)``, with 0 * log(0) = 0).
    axis : the class axis (default: last).

    Returns
    -------
    The loss per example: ``coding_dist``'s shape without ``axis``. Prefer
    ``softmax_cross_entropy*`` on logits; the stabilizer rewrites
    ``categorical_crossentropy(softmax(x), y)`` into them.
    """
    p, t = as_variable(coding_dist), as_variable(true_dist)
    ax = _class_axis(p, axis, "categorical_crossentropy")
    if _is_labels(p, t):
        return CategoricalCrossentropyIntegerLabels(ax)(_to_float(p), t)
    return CategoricalCrossentropy(ax)(*_prob_pair(p, t))


def softmax_cross_entropy_with_integer_labels(logits: Any, labels: Any,
                                              axis: int = -1) -> Variable:
    """-log_softmax(logits, axis)[label], fused (as optax's function of this name).

    Parameters
    ----------
    logits : unnormalized log-probabilities.
    labels : integer class labels, shaped like ``logits`` without ``axis``.
    axis : the class axis (default: last).

    Returns
    -------
    The loss per example. Its gradient wrt ``logits`` is ``softmax(logits) - onehot``;
    it is finite for any finite logits.
    """
    x, y = _to_float(logits), as_variable(labels)
    ax = _class_axis(x, axis, "softmax_cross_entropy_with_integer_labels")
    return SoftmaxCrossEntropyWithIntegerLabels(ax)(x, y)


def softmax_cross_entropy(logits: Any, targets: Any, axis: int = -1) -> Variable:
    """-sum(targets * log_softmax(logits), axis), fused; integer labels are accepted too.

    ``targets`` are probabilities (or one-hot rows) shaped like ``logits``; integer
    targets with one dimension fewer are class labels (see
    ``softmax_cross_entropy_with_integer_labels``). The gradient wrt ``logits`` is
    ``softmax(logits) * sum(targets, axis) - targets``.
    """
    x, t = as_variable(logits), as_variable(targets)
    if _is_labels(x, t):
        return softmax_cross_entropy_with_integer_labels(x, t, axis)
    x, t = _prob_pair(x, t)
    return SoftmaxCrossEntropy(_class_axis(x, axis, "softmax_cross_entropy"))(x, t)


def binary_crossentropy(output: Any, target: Any) -> Variable:
    """Elementwise -(t log(p) + (1 - t) log(1 - p)) for probabilities ``output``.

    ``target`` may be 0/1 labels (integers are converted) or probabilities; the two
    broadcast. For logits use ``sigmoid_binary_crossentropy``, which is stable.
    """
    return elemwise(BinaryCrossentropy(), output, target)


def sigmoid_binary_crossentropy(logits: Any, target: Any) -> Variable:
    """binary_crossentropy(sigmoid(logits), target), computed stably from logits.

    Equal to ``softplus(x) - t * x`` evaluated as ``max(x, 0) - t x + log1p(exp(-|x|))``;
    its gradient wrt the logits is ``sigmoid(x) - t``.
    """
    return elemwise(SigmoidBinaryCrossentropy(), logits, target)
