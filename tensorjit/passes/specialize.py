"""Specialize: cheaper forms that compute the same values.

- ``dot_plus_to_gemm``: ``k * dot(a, b) + sum(w_i * c_i) + const`` -> one
  ``Gemm(k, beta)(a, b, c)`` (a Gemm plus more terms -> one Gemm). The backend maps it
  to a single BLAS gemm call that accumulates into the broadcast addend (a bias row, a
  matrix, a constant) instead of writing the product and reading it back in an
  elementwise pass.
- ``gemm_absorb_transpose``: a Dot or Gemm operand that is ``x.T`` (``DimShuffle{1,0}``
  of a matrix) -> x itself with the Gemm's ``trans_a``/``trans_b`` flag flipped (a Dot
  becomes a C-less ``Gemm(1, 0)``). BLAS and the JIT GEMM read the stored matrix
  transposed, so the backward pass's ``x.T @ g`` and ``g @ W.T`` copy nothing.
"""

from __future__ import annotations

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from ..graph.ops.elemwise import Add, Sub
from ..graph.ops.linalg import Dot, Gemm
from ..graph.ops.shape import DimShuffle, dimshuffle
from .algebra import SumTerms, flatten_sum
from .patterns import const_like, op_of
from .rewriter import Rewrite, local_rewrite

_GEMM_DTYPES = ("float32", "float64")


def _only_client(fg: FunctionGraph, v: Variable) -> bool:
    """v feeds exactly one node (so folding it into a Gemm does not compute it twice)."""
    clients = fg.clients.get(v, ())
    return len(clients) == 1 and clients[0][0] != "output"


def _product_term(fg: FunctionGraph, terms: SumTerms,
                  dtype: str) -> tuple[Variable, float] | None:
    """The first Dot (or Gemm) term of the sum's dtype, used only here, and its weight."""
    for v, k in terms.terms.items():
        if k != 0.0 and v.dtype == dtype and op_of(v, Dot, Gemm) and _only_client(fg, v):
            return v, k
    return None


def _addend(terms: SumTerms, dot: Variable, like: Variable,
            extra: list[tuple[Variable, float]]) -> tuple[Variable, float] | None:
    """(c, beta) with beta * c == the sum's terms other than ``dot``; None if nothing."""
    rest = [(v, k) for v, k in terms.terms.items() if v is not dot and k != 0.0] + extra
    if any(v.dtype != like.dtype for v, _ in rest):
        return None  # a mixed-dtype sum: the cast belongs to the elementwise graph
    if len(rest) == 1 and terms.constant == 0.0:
        return rest[0][0], rest[0][1]  # the one addend's weight becomes beta
    if not rest and terms.constant == 0.0:
        return None
    c: Variable | None = None
    for v, k in rest:
        term = v if k == 1.0 else v * k
        c = term if c is None else c + term
    if terms.constant != 0.0:
        const = const_like(terms.constant, like)
        c = const if c is None else c + const
    return c, 1.0


def _as_matrix(c: Variable) -> Variable | None:
    """c with leading broadcastable axes up to 2-D (a bias row is (1, n)); None if > 2-D."""
    if c.ndim > 2:
        return None
    return dimshuffle(c, ("x",) * (2 - c.ndim) + tuple(range(c.ndim))) if c.ndim < 2 else c


@local_rewrite(scalar=(Add, Sub))
def dot_plus_to_gemm(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """k * dot(a, b) + beta * c -> Gemm(k, beta)(a, b, c) where c broadcasts to a @ b."""
    out = node.outputs[0]
    if out.ndim != 2 or out.dtype not in _GEMM_DTYPES:
        return None
    terms = flatten_sum(out)
    found = _product_term(fg, terms, out.dtype)
    if found is None:
        return None
    dot, alpha = found
    extra = []
    if isinstance(dot.owner.op, Gemm):  # (dot + c) + d, rewritten inside out: one Gemm
        gemm = dot.owner.op
        extra = [(dot.owner.inputs[2], alpha * gemm.beta)] if gemm.beta != 0.0 else []
        alpha *= gemm.alpha
    addend = _addend(terms, dot, out, extra)
    if addend is None:
        return None
    c = _as_matrix(addend[0])
    if c is None:
        return None
    # c may broadcast to the product, never the product to c (the result would grow)
    if any(d == 1 and dc != 1 for d, dc in zip(dot.type.shape, c.type.shape)):
        return None
    a, b = dot.owner.inputs[:2]
    inner = dot.owner.op
    flags = (inner.trans_a, inner.trans_b) if isinstance(inner, Gemm) else (False, False)
    return [Gemm(float(alpha), float(addend[1]), *flags)(a, b, c)]


def _untransposed(v: Variable) -> Variable | None:
    """x if v is x.T (DimShuffle{1,0} of a matrix), else None."""
    node = op_of(v, DimShuffle)
    if node is None or node.op.new_order != (1, 0):
        return None
    return node.inputs[0]


@local_rewrite(Dot, Gemm)
def gemm_absorb_transpose(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """dot(x.T, y) -> Gemm(1, 0, trans_a=True)(x, y); likewise x.T as a Gemm operand."""
    out = node.outputs[0]
    if out.dtype not in _GEMM_DTYPES or out.ndim != 2:
        return None
    op = node.op
    if isinstance(op, Dot):
        op = Gemm(1.0, 0.0)  # the C-less form
    a, b = node.inputs[0], node.inputs[1]
    xa, xb = _untransposed(a), _untransposed(b)
    if xa is None and xb is None:
        return None
    # x.T.T is x again: flipping a flag undoes a transpose either way
    trans_a, trans_b = op.trans_a ^ (xa is not None), op.trans_b ^ (xb is not None)
    new_op = Gemm(op.alpha, op.beta, trans_a, trans_b)
    return [new_op(xa if xa is not None else a, xb if xb is not None else b,
                   *node.inputs[2:])]


REWRITES: list[Rewrite] = [dot_plus_to_gemm, gemm_absorb_transpose]
