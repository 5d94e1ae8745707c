"""Fuse a softmax cross-entropy and its gradient into one op: one exp per element.

The loss ``softmax_cross_entropy_with_integer_labels(x, y)`` and its gradient node
``softmax_cross_entropy_grad(x, y, g)`` (what grad() makes of it, and what the
stabilize phase makes of ``log(softmax(x))[arange(n), y]``) each compute the row max
and the sum of exps. When both are in the graph with the same logits, labels and axis,
one ``SoftmaxCrossEntropyWithGrad(x, y, g)`` node computes both: the exps, stored as
the gradient's row, also give the loss.

Only when ``g`` does not depend on the loss's values (the gradient of ``loss ** 2``
does): the fused node needs g before it produces the loss. A mean's ``g`` only reads
the loss's shape (``fill(loss, -1/n)``, ``AxesSize(loss)``); those reads are first
pointed at the labels, which have the loss's shape by construction.
"""

from __future__ import annotations

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from ..graph.ops.crossentropy import (
    SoftmaxCrossEntropyGrad,
    SoftmaxCrossEntropyWithGrad,
    SoftmaxCrossEntropyWithIntegerLabels,
)
from ..graph.ops.elemwise import Elemwise, Second
from ..graph.ops.reduce import AxesSize
from ..graph.ops.shape import Shape, ShapeI
from .rewriter import GraphIndex, apply_replacement

FUSE_CROSSENTROPY_WITH_GRAD = "fuse_crossentropy_with_grad"


def _depends_on(v: Variable, target: Variable) -> bool:
    """Whether computing v reads target."""
    stack, seen = [v], set()
    while stack:
        cur = stack.pop()
        if cur is target:
            return True
        if cur in seen or cur.owner is None:
            continue
        seen.add(cur)
        stack.extend(cur.owner.inputs)
    return False


def _same_shape_as(v: Variable, target: Variable) -> bool:
    """Whether v is target or an elementwise function of it with target's shape (under
    strict broadcasting an input that broadcasts nowhere has the output's shape)."""
    while v is not target:
        node = v.owner
        if node is None or not isinstance(node.op, Elemwise):
            return False
        same = [u for u in node.inputs if u.ndim == v.ndim and all(
            a != 1 or b == 1 for a, b in zip(u.type.shape, v.type.shape))]
        if not same:
            return False
        v = next((u for u in same if _depends_on(u, target)), same[0])
    return True


def _shape_reads_to_labels(fg: FunctionGraph, index: GraphIndex, loss: Apply,
                           phase: str) -> int:
    """Point the nodes that read only the loss's shape (directly or through elementwise
    functions of it) at the labels instead."""
    out, labels = loss.outputs[0], loss.inputs[1]
    count = 0
    for node in fg.toposort():
        if node.outputs[0] not in fg.variables:
            continue
        op = node.op
        if isinstance(op, (AxesSize, Shape, ShapeI)) and _same_shape_as(node.inputs[0], out):
            new = op(labels)
        elif isinstance(op, Elemwise) and isinstance(op.scalar_op, Second) \
                and _same_shape_as(node.inputs[0], out) \
                and not _depends_on(node.inputs[1], out):
            new = Elemwise(Second())(labels, node.inputs[1])
        else:
            continue
        apply_replacement(fg, index, node.outputs[0], new, FUSE_CROSSENTROPY_WITH_GRAD, phase)
        count += 1
    return count


def _loss_node(fg: FunctionGraph, grad: Apply) -> Apply | None:
    """The loss node with the gradient node's logits, labels and axis, if any."""
    x, labels, g = grad.inputs
    for client, _ in fg.clients.get(x, []):
        if client == "output" or not isinstance(client.op, SoftmaxCrossEntropyWithIntegerLabels):
            continue
        if client.op.axis == grad.op.axis and client.inputs[1] is labels \
                and not _depends_on(g, client.outputs[0]):
            return client
    return None


def fuse_crossentropy_with_grad(fg: FunctionGraph, phase: str) -> int:
    """Replace each (loss, gradient) pair by one fused node; return the replacements."""
    index = GraphIndex(fg)
    count = 0
    for node in fg.toposort():
        if not isinstance(node.op, SoftmaxCrossEntropyGrad) or node.outputs[0] not in fg.variables:
            continue
        for client, _ in list(fg.clients.get(node.inputs[0], [])):
            if client != "output" and isinstance(client.op, SoftmaxCrossEntropyWithIntegerLabels):
                count += _shape_reads_to_labels(fg, index, client, phase)
        loss = _loss_node(fg, node)
        if loss is None:
            continue
        fused = SoftmaxCrossEntropyWithGrad(node.op.axis)(*node.inputs)
        apply_replacement(fg, index, loss.outputs[0], fused[0], FUSE_CROSSENTROPY_WITH_GRAD,
                          phase)
        apply_replacement(fg, index, node.outputs[0], fused[1], FUSE_CROSSENTROPY_WITH_GRAD,
                          phase)
        count += 2
    return count
