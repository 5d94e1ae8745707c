"""Higher-order differentiation: jacobian, hessian and Hessian-vector products, as graph.

``jacobian(expr, wrt)`` is the vector-Jacobian product ``Lop(expr, wrt, u)`` for every
basis cotangent ``u``. Two ways to get all of them:

- vectorized (the default when possible): build the VJP graph once with a placeholder
  seed ``u``, then *vectorize* it: rebuild the nodes that depend on ``u`` so that they
  carry extra leading batch axes, with ``u`` replaced by the identity of shape
  ``expr.shape + expr.shape``. The batch axes are exactly expr's axes, so the result
  already has shape ``expr.shape + wrt.shape``. An op takes part if it has a batch
  rule: a ``vectorize_node(node, inputs, batched, batch_ndim)`` method, or an entry in
  ``BATCH_RULES`` (core ops: Elemwise, DimShuffle, reductions with an ``axis`` field,
  and matrix products are registered here).
- a loop (the fallback): one VJP per element of ``expr``, stacked. The seed-independent
  part of the graph is shared between rows, but the graph grows with expr's size.

Both need expr's static shape (the number of rows is a graph-building-time number).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable, Sequence

import numpy as np

from .basic import Apply, Variable, as_variable, clone_replace, constant, toposort
from .grad import Rop, grad
from .ops.elemwise import Elemwise, Second
from .ops.reduce import sum as tsum
from .ops.shape import dimshuffle
from .types import TensorType

__all__ = ["jacobian", "hessian", "hessian_vector_product", "vectorize_graph"]

BatchRule = Callable[[Apply, Sequence[Variable], Sequence[bool], int], list[Variable]]


class NoBatchRuleError(NotImplementedError):
    """An op on the path has no batch rule, so the graph cannot be vectorized."""


# --------------------------------------------------------------------------------------
# vectorization: batch rules and the graph walk


def _batch_elemwise(node: Apply, inputs: Sequence[Variable], batched: Sequence[bool],
                    k: int) -> list[Variable]:
    # align every input to (batch axes, output core axes) with broadcastable 'x' axes,
    # which strict runtime broadcasting accepts because their static length is 1
    n = node.outputs[0].ndim
    lifted = []
    for x, b in zip(inputs, batched):
        if b:
            core = x.ndim - k
            order = (*range(k), *("x",) * (n - core), *range(k, k + core))
        else:
            order = (*("x",) * (k + n - x.ndim), *range(x.ndim))
        lifted.append(dimshuffle(x, order))
    return node.op.make_node(*lifted).outputs


def _batch_dimshuffle(node, inputs, batched, k):
    order = tuple(a if a == "x" else a + k for a in node.op.new_order)
    return [dimshuffle(inputs[0], (*range(k), *order))]


def _batch_axis_op(node, inputs, batched, k):
    """Ops of one input whose ``axis`` field (a tuple of ints) says what they act on."""
    axis = getattr(node.op, "axis", None)
    if len(inputs) != 1 or not isinstance(axis, tuple):
        raise NoBatchRuleError(f"{node.op}: no batch rule for this form")
    op = dataclasses.replace(node.op, axis=tuple(a + k for a in axis))
    return op.make_node(inputs[0]).outputs


def _batch_matmul(node, inputs, batched, k):
    """Dot / BatchedMatmul: both have matmul semantics on >= 2-d operands, whose leading
    axes are broadcasting batch axes, so matmul() of the batched operands is the rule."""
    from .ops.linalg import matmul
    return [matmul(*inputs)]


BATCH_RULES: dict[str, BatchRule] = {
    "Elemwise": _batch_elemwise,
    "DimShuffle": _batch_dimshuffle,
    **{name: _batch_axis_op for name in ("Sum", "Prod", "Max", "Min", "Mean", "All", "Any")},
    "Dot": _batch_matmul,
    "BatchedMatmul": _batch_matmul,
}


def _rule_for(node: Apply) -> BatchRule:
    method = getattr(node.op, "vectorize_node", None)
    if method is not None:
        return lambda n, ins, b, k: method(n, ins, b, k)
    rule = BATCH_RULES.get(type(node.op).__name__)
    if rule is None:
        raise NoBatchRuleError(f"{node.op} has no batch rule (node created at "
                               f"{node.source_line})")
    return rule


def vectorize_graph(outputs: Sequence[Variable], replace: dict[Variable, Variable],
                    batch_ndim: int) -> list[Variable | None]:
    """Rebuild ``outputs`` with each key of ``replace`` swapped for its batched value.

    Each value has ``batch_ndim`` extra leading axes. Nodes that depend on a replaced
    variable are rebuilt through their batch rule (raising NoBatchRuleError if an op has
    none); outputs that do not depend on them come back as None.
    """
    memo: dict[Variable, Variable] = dict(replace)
    for node in toposort(outputs, blockers=list(replace)):
        batched = [v in memo for v in node.inputs]
        if not any(batched):
            continue
        rule = _rule_for(node)
        try:
            new = rule(node, [memo.get(v, v) for v in node.inputs], batched, batch_ndim)
        except NotImplementedError as exc:
            raise NoBatchRuleError(f"{node.op}: {exc}") from exc
        for old, out in zip(node.outputs, new):
            if out.ndim != old.ndim + batch_ndim:
                raise NoBatchRuleError(f"{node.op}: batch rule gave ndim {out.ndim}, "
                                       f"expected {old.ndim + batch_ndim}")
            memo[old] = out
    return [memo.get(o) for o in outputs]


# --------------------------------------------------------------------------------------
# jacobian


def _as_list(x: Any) -> tuple[list[Variable], bool]:
    if isinstance(x, (list, tuple)):
        return [as_variable(v) for v in x], True
    return [as_variable(x)], False


def _static_shape(expr: Variable, fname: str) -> tuple[int, ...]:
    if any(s is None for s in expr.type.shape):
        where = f" (created at {expr.source_line})" if expr.source_line else ""
        raise ValueError(
            f"{fname}(): needs the static shape of the expression to differentiate, got "
            f"type {expr.type}{where}: the number of Jacobian rows is fixed when the graph "
            f"is built. Declare the input shapes, e.g. tj.tensor('float64', shape=(3,))")
    return tuple(int(s) for s in expr.type.shape)


def _identity(shape: tuple[int, ...], dtype: str) -> Variable:
    """I[i..., j...] = 1 iff i == j, of shape shape + shape, from O(size) constants."""
    from .ops.crossentropy import LabelsOneHot
    k = len(shape)
    eye: Variable | None = None
    for a, n in enumerate(shape):
        # delta(i_a, j_a): the only non-1 axes are a and k + a
        like_shape = [1] * (2 * k)
        like_shape[a] = like_shape[k + a] = n
        like = constant(np.zeros(like_shape, dtype=dtype))
        labels_shape = [1] * (2 * k - 1)
        labels_shape[a] = n
        labels = constant(np.arange(n).reshape(labels_shape))
        delta = LabelsOneHot(k + a)(labels, like)
        eye = delta if eye is None else eye * delta
    return eye


def _broadcast_batch(g: Variable, shape: tuple[int, ...]) -> Variable:
    """g (independent of the seed) repeated over leading batch axes of the given shape."""
    k = len(shape)
    template = constant(np.zeros(shape + (1,) * g.ndim, dtype=g.dtype))
    return Elemwise(Second())(template, dimshuffle(g, (*("x",) * k, *range(g.ndim))))


def _jacobian_vectorized(gs: list[Variable], seed: Variable,
                         shape: tuple[int, ...]) -> list[Variable]:
    batched = vectorize_graph(gs, {seed: _identity(shape, seed.dtype)}, len(shape))
    return [_broadcast_batch(g, shape) if b is None else b for g, b in zip(gs, batched)]


def _jacobian_loop(gs: list[Variable], seed: Variable,
                   shape: tuple[int, ...]) -> list[Variable]:
    from .ops.join import stack
    rows: dict[tuple[int, ...], list[Variable]] = {}
    for index in itertools.product(*(range(n) for n in shape)):
        e = np.zeros(shape, dtype=seed.dtype)
        e[index] = 1
        rows[index] = clone_replace(gs, {seed: constant(e)})

    def nest(prefix: tuple[int, ...], j: int) -> Variable:
        if len(prefix) == len(shape):
            return rows[prefix][j]
        return stack([nest(prefix + (i,), j) for i in range(shape[len(prefix)])], axis=0)

    return [nest((), j) for j in range(len(gs))]


def jacobian(expr: Any, wrt: Variable | Sequence[Variable],
             consider_constant: Sequence[Variable] | None = None,
             disconnected_inputs: str = "raise",
             vectorize: bool | None = None) -> Variable | list[Variable]:
    """The Jacobian of ``expr`` with respect to ``wrt``, as graph.

    Parameters
    ----------
    expr : a floating-point Variable of any shape (static shape required unless 0-d).
    wrt : a Variable or a list of them; the result has the same structure.
    consider_constant, disconnected_inputs : as in ``grad``.
    vectorize : None (default) builds one batched backward pass when every op involved
        has a batch rule, else falls back to one backward pass per element of ``expr``;
        True requires the batched pass (NoBatchRuleError otherwise); False forces the
        per-element loop.

    Returns
    -------
    For each ``w`` in ``wrt``, a Variable of shape ``expr.shape + w.shape`` whose entry
    ``[i..., j...]`` is ``d expr[i...] / d w[j...]``.
    """
    expr = as_variable(expr)
    wrts, was_list = _as_list(wrt)
    if not expr.type.is_float:
        raise TypeError(f"jacobian(): expr must be floating point, got {expr.describe()}")
    if expr.ndim == 0:
        return grad(expr, wrt, consider_constant=consider_constant,
                    disconnected_inputs=disconnected_inputs)
    shape = _static_shape(expr, "jacobian")
    seed = Variable(TensorType(expr.dtype, shape), name="jacobian_seed")
    gs = grad(None, wrts, consider_constant=consider_constant,
              disconnected_inputs=disconnected_inputs, known_grads={expr: seed})
    result = None
    if vectorize is not False:
        try:
            result = _jacobian_vectorized(gs, seed, shape)
        except NoBatchRuleError:
            if vectorize:
                raise
    if result is None:
        result = _jacobian_loop(gs, seed, shape)
    return result if was_list else result[0]


# --------------------------------------------------------------------------------------
# hessian and Hessian-vector products


def hessian(cost: Any, wrt: Variable | Sequence[Variable],
            consider_constant: Sequence[Variable] | None = None,
            disconnected_inputs: str = "raise",
            vectorize: bool | None = None) -> Variable | list[Variable]:
    """The Hessian of a scalar ``cost`` with respect to each ``wrt``, as graph.

    Parameters
    ----------
    cost : a scalar floating-point Variable.
    wrt : a Variable (with a static shape) or a list of them.
    consider_constant, disconnected_inputs : as in ``grad``.
    vectorize : as in ``jacobian``.

    Returns
    -------
    For each ``w``, the Variable of shape ``w.shape + w.shape`` holding
    ``d^2 cost / d w[i...] d w[j...]`` (the diagonal blocks when ``wrt`` is a list,
    as in PyTensor; use ``jacobian(grad(cost, w1), w2)`` for the off-diagonal ones).
    """
    wrts, was_list = _as_list(wrt)
    out = []
    for w in wrts:
        g = grad(cost, w, consider_constant=consider_constant,
                 disconnected_inputs=disconnected_inputs)
        # a cost linear in w has a gradient that does not depend on w: zero Hessian
        out.append(jacobian(g, w, consider_constant=consider_constant,
                            disconnected_inputs="ignore", vectorize=vectorize))
    return out if was_list else out[0]


def hessian_vector_product(cost: Any, wrt: Variable | Sequence[Variable],
                           v: Any, method: str = "fwd_over_rev",
                           consider_constant: Sequence[Variable] | None = None
                           ) -> Variable | list[Variable]:
    """H @ v for the Hessian H of a scalar ``cost`` wrt ``wrt``, without forming H.

    Parameters
    ----------
    cost : a scalar floating-point Variable.
    wrt : a Variable or a list of them (then H is the full block Hessian).
    v : a Variable/array shaped like ``wrt`` (a list of them when ``wrt`` is a list).
    method : "fwd_over_rev" (default): ``Rop(grad(cost, wrt), wrt, v)``, forward mode
        through the gradient graph; "rev_over_rev": ``grad(sum(grad(cost, wrt) *
        stop_gradient(v)), wrt)``, a cross-check.
    consider_constant : as in ``grad``.

    Returns
    -------
    Shaped like ``wrt``: the product of the Hessian with ``v``.
    """
    if method not in ("fwd_over_rev", "rev_over_rev"):
        raise ValueError(f"hessian_vector_product(): method must be 'fwd_over_rev' or "
                         f"'rev_over_rev', got {method!r}")
    wrts, was_list = _as_list(wrt)
    vs, _ = _as_list(v)
    if len(vs) != len(wrts):
        raise ValueError(f"hessian_vector_product(): {len(wrts)} wrt but {len(vs)} vectors")
    for k, (w, vec) in enumerate(zip(wrts, vs)):
        if vec.ndim != w.ndim:
            raise ValueError(f"hessian_vector_product(): v[{k}] has ndim {vec.ndim}; "
                             f"expected {w.ndim} like {w.describe()}")
    gs = grad(cost, wrts, consider_constant=consider_constant, disconnected_inputs="ignore")
    if method == "fwd_over_rev":
        out = Rop(gs, wrts, vs)
    else:
        from .ops.scalar_arith import stop_gradient
        total = None
        for g, vec in zip(gs, vs):
            term = tsum(g * stop_gradient(vec))
            total = term if total is None else total + term
        out = grad(total, wrts, consider_constant=list(consider_constant or []) + vs,
                   disconnected_inputs="ignore")
    return out if was_list else out[0]
