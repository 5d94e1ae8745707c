"""Canonicalize: fold constants, apply algebraic identities, put products and sums in
one canonical form, and remove shape operations that do nothing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..graph.basic import Apply, Constant, Variable, constant
from ..graph.fg import FunctionGraph
from ..graph.ops.elemwise import Add, Cast, Elemwise, Mul, Second, Sub, TrueDiv
from ..graph.ops.reduce import AxesSize, Sum
from ..graph.ops.scalar_arith import Pow, StopGradient
from ..graph.ops.scalar_math import Sqrt
from ..graph.ops.shape import DimShuffle, Shape
from .algebra import (
    PRODUCT_OPS,
    SUM_OPS,
    Product,
    SumTerms,
    build_product,
    build_sum,
    flatten_product,
    flatten_sum,
    rebuilt_cost,
    shape_carriers,
)
from .patterns import elemwise_of, fill_to, op_of, same_broadcasting, scalar_value
from .rewriter import Rewrite, local_rewrite

# Constant folding never materializes arrays larger than this (they would bloat the
# program and the cache key; the runtime computes them as cheaply).
MAX_FOLDED_SIZE = 100_000


@local_rewrite(object)
def fold_constants(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """An op whose inputs are all constants becomes its value, computed by ``perform``."""
    if not node.inputs or not all(isinstance(v, Constant) for v in node.inputs):
        return None
    try:
        with np.errstate(all="ignore"):
            values = node.op.perform(node, [v.data for v in node.inputs])
    except Exception:  # noqa: BLE001 -- the error belongs to run time, at the user line
        return None
    out = []
    for var, value in zip(node.outputs, values):
        value = np.asarray(value)
        if value.size > MAX_FOLDED_SIZE or value.dtype.name != var.dtype:
            return None
        out.append(constant(value, dtype=var.dtype))
    return out


def _all_clients_in(fg: FunctionGraph, v: Variable, scalar_classes: tuple) -> bool:
    """Whether every client of v is an elemwise of those classes in v's dtype."""
    clients = fg.clients.get(v, [])
    return bool(clients) and all(
        c != "output" and isinstance(c.op, Elemwise) and
        isinstance(c.op.scalar_op, scalar_classes) and c.outputs[0].dtype == v.dtype
        for c, _ in clients)


@local_rewrite(scalar=PRODUCT_OPS)
def flatten_and_cancel_products(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """Products/quotients -> one canonical tree; nonzero factors cancel; x/c -> x*(1/c)."""
    out = node.outputs[0]
    if not out.type.is_float or _all_clients_in(fg, out, PRODUCT_OPS):
        return None
    prod = flatten_product(out)
    new = build_product(prod, out)
    if new is None:
        return None
    old_cost = prod.n_nodes + prod.n_consts
    new_cost = rebuilt_cost(new, {*prod.ups, *prod.downs, *prod.cancelled})
    if prod.cancelled or prod.const_divisions or new_cost < old_cost:
        return [new]
    return None


@local_rewrite(scalar=SUM_OPS)
def flatten_sums(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """Sums/differences/negations -> one canonical tree; x+0 -> x, x-x -> 0, --x -> x."""
    out = node.outputs[0]
    if out.dtype not in ("float32", "float64") or _all_clients_in(fg, out, SUM_OPS):
        return None
    terms = flatten_sum(out)
    new = build_sum(terms, out)
    if new is None:
        return None
    old_cost = terms.n_nodes + terms.n_consts
    new_cost = rebuilt_cost(new, set(terms.terms))
    cancelled = any(k == 0 for k in terms.terms.values())
    if cancelled or new_cost < old_cost:
        return [new]
    return None


def _cancels(prod: Product) -> bool:
    prod.cancel()
    return bool(prod.cancelled)


def make_distribute_rewrite(name: str, simplify: Callable[[Product], bool]) -> Rewrite:
    """A rewrite a * (b + c) -> a*b + a*c, firing when ``simplify`` changes a term."""

    @local_rewrite(Elemwise, scalar=(Mul, TrueDiv), name=name)
    def distribute(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
        out = node.outputs[0]
        if not out.type.is_float or _all_clients_in(fg, out, PRODUCT_OPS):
            return None
        prod = flatten_product(out)
        for f, n in list(prod.ups.items()):
            if n != 1 or elemwise_of(f, Add, Sub) is None or f.dtype != out.dtype:
                continue
            others = prod.copy()
            del others.ups[f]
            new = _distribute(others, flatten_sum(f), out, simplify)
            if new is not None:
                return [new]
        return None

    distribute.fn.__doc__ = "a * (b + c) -> a*b + a*c when a term then simplifies."
    return distribute


distribute_product_over_sum_to_cancel = make_distribute_rewrite(
    "distribute_product_over_sum_to_cancel", _cancels)


def _distribute(others: Product, terms: SumTerms, like: Variable,
                simplify: Callable[[Product], bool]) -> Variable | None:
    """sum_i w_i * (t_i * others) if some t_i * others simplifies, else None."""
    result = SumTerms(like.dtype)
    carriers: list[Variable] = []
    any_change = False
    parts = list(terms.terms.items())
    if terms.constant:
        parts.append((constant(np.asarray(terms.constant, like.dtype)), 1.0))
    for term, weight in parts:
        trial = others.copy()
        trial.cancelled = []
        trial.add(term, 1)
        any_change = simplify(trial) or any_change
        carriers += trial.cancelled
        built = build_product(trial, like, fill=False)
        result.terms[built] = result.terms.get(built, 0.0) + weight
    if not any_change:
        return None
    return build_sum(result, like, carriers=shape_carriers(carriers))


@local_rewrite(Sum)
def factor_invariants_out_of_sum(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """sum(a * b, axis) -> sum(a, axis) * b where b is constant along the summed axes."""
    out, x = node.outputs[0], node.inputs[0]
    if not x.type.is_float or elemwise_of(x, *PRODUCT_OPS) is None:
        return None
    axes, keep = node.op.axis, node.op.keepdims
    prod = flatten_product(x)
    factors = [(v, n) for v, n in prod.factors()]
    invariant = [(v, n) for v, n in factors if _constant_along(v, x.ndim, axes)]
    varying = [(v, n) for v, n in factors if not _constant_along(v, x.ndim, axes)]
    if not varying or (not invariant and prod.coeff == 1.0):
        return None
    inner = Product(x.dtype)
    for v, n in varying:
        inner.add(v, n)
    inner_var = build_product(inner, x, fill=False)
    inner_var = _pad(inner_var, x.ndim)
    outer = Product(x.dtype, coeff=prod.coeff)
    outer.add(Sum(axes, keep)(inner_var), 1)
    for v, n in invariant:
        outer.add(v if keep else _drop_axes(v, x.ndim, axes), n)
    new = build_product(outer, out, fill=False)
    if new is None or not same_broadcasting(new, out):
        return None
    return [new]


@local_rewrite(Sum)
def split_sum_of_terms_to_factor(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """sum(a*c + b, axis) -> sum(a, axis)*c + sum(b, axis) when c is constant along axis."""
    x, out = node.inputs[0], node.outputs[0]
    if not x.type.is_float or elemwise_of(x, Add, Sub) is None:
        return None
    terms = flatten_sum(x)
    if terms.constant or len(terms.terms) < 2:
        return None
    if not all(same_broadcasting(t, x) for t in terms.terms):
        return None  # summing a broadcast term would not count its repeats
    axes = node.op.axis
    if not any(_constant_along(v, x.ndim, axes) for t in terms.terms
               for v, _ in flatten_product(t).factors() if elemwise_of(t, *PRODUCT_OPS)):
        return None
    split = SumTerms(x.dtype)
    for t, w in terms.terms.items():
        summed = node.op(t)
        split.terms[summed] = split.terms.get(summed, 0.0) + w
    new = build_sum(split, out)
    return None if new is None else [new]


def _constant_along(v: Variable, ndim: int, axes: tuple[int, ...]) -> bool:
    lead = ndim - v.ndim
    return all(a < lead or v.type.shape[a - lead] == 1 for a in axes)


def _pad(v: Variable, ndim: int) -> Variable:
    if v.ndim == ndim:
        return v
    return DimShuffle(("x",) * (ndim - v.ndim) + tuple(range(v.ndim)))(v)


def _drop_axes(v: Variable, ndim: int, axes: tuple[int, ...]) -> Variable:
    """v (broadcastable on axes, left-padded to ndim) with those axes removed."""
    lead = ndim - v.ndim
    order = tuple("x" if i < lead else i - lead for i in range(ndim) if i not in axes)
    if order == tuple(range(v.ndim)):
        return v
    return DimShuffle(order)(v)


@local_rewrite(Elemwise)
def drop_redundant_fill(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """fill(x, v) used where the other inputs already give the shape -> v."""
    out = node.outputs[0]
    if isinstance(node.op.scalar_op, Second):
        value = node.inputs[1]
        if same_broadcasting(value, out) and value.dtype == out.dtype:
            return [value]
        return None
    inputs = list(node.inputs)
    for i, v in enumerate(inputs):
        fill = elemwise_of(v, Second)
        if fill is None:
            continue
        trial = inputs[:i] + [fill.inputs[1]] + inputs[i + 1:]
        new = node.op.make_node(*trial).outputs[0]
        if same_broadcasting(new, out) and new.dtype == out.dtype:
            return [new]
    return None


@local_rewrite(DimShuffle)
def merge_dimshuffles(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """dimshuffle(dimshuffle(x)) -> one dimshuffle; the identity dimshuffle -> x."""
    x = node.inputs[0]
    order = node.op.new_order
    kept = [a for a in order if a != "x"]
    if node.outputs[0].type == x.type and kept == sorted(kept):
        return [x]  # only length-1 axes dropped and re-inserted: the identity
    inner = op_of(x, DimShuffle)
    if inner is None:
        return None
    composed = tuple("x" if a == "x" else inner.op.new_order[a] for a in order)
    source = inner.inputs[0]
    if composed == tuple(range(source.ndim)):
        return [source]
    return [DimShuffle(composed)(source)]


@local_rewrite(DimShuffle)
def lift_dimshuffle_through_elemwise(fg: FunctionGraph,
                                     node: Apply) -> list[Variable] | None:
    """dimshuffle(f(a, b)) -> f(dimshuffle(a), dimshuffle(b)) when f(a, b) has no other use."""
    x = node.inputs[0]
    inner = op_of(x, Elemwise)
    if inner is None or len(fg.clients.get(x, [])) != 1:
        return None
    order = node.op.new_order
    lifted = []
    for v in inner.inputs:
        lead = x.ndim - v.ndim
        sub = tuple("x" if a == "x" or a < lead else a - lead for a in order)
        if isinstance(v, Constant) and v.ndim == 0:
            lifted.append(v)
        else:
            lifted.append(v if sub == tuple(range(v.ndim)) else DimShuffle(sub)(v))
    return [inner.op.make_node(*lifted).outputs[0]]


@local_rewrite(DimShuffle)
def expand_of_sum_to_keepdims(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """sum(x, axis) with the summed axes re-inserted -> sum(x, axis, keepdims=True)."""
    summed = op_of(node.inputs[0], Sum)
    if summed is None or summed.op.keepdims:
        return None
    axes = summed.op.axis
    x = summed.inputs[0]
    kept = iter(range(x.ndim - len(axes)))
    expected = tuple("x" if i in axes else next(kept) for i in range(x.ndim))
    if node.op.new_order != expected:
        return None
    return [Sum(axes, True)(x)]


@local_rewrite(scalar=(Cast,))
def remove_useless_cast(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """cast to the same dtype -> x; a float32 -> float64 -> float32 round trip -> x."""
    x = node.inputs[0]
    if x.dtype == node.outputs[0].dtype:
        return [x]
    inner = elemwise_of(x, Cast)
    if inner is not None and inner.inputs[0].dtype == node.outputs[0].dtype and \
            np.can_cast(inner.inputs[0].dtype, x.dtype, "safe"):
        return [inner.inputs[0]]
    return None


@local_rewrite(Shape, AxesSize)
def shape_of_static_to_constant(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """The shape (or an axes size) of a variable with a static shape is a constant."""
    x = node.inputs[0]
    if isinstance(node.op, Shape):
        if any(s is None for s in x.type.shape):
            return None
        return [constant(np.array(x.type.shape, dtype="int64"))]
    dims = [x.type.shape[a] for a in node.op.axis]
    if any(d is None for d in dims):
        return None
    return [constant(np.asarray(int(np.prod(dims, dtype="int64")), dtype="int64"))]


@local_rewrite(scalar=(StopGradient,))
def remove_stop_gradient(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """stop_gradient(x) -> x: gradients are already built when a function is compiled."""
    return [node.inputs[0]]


@local_rewrite(scalar=(Pow,))
def pow_half_to_sqrt(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """x ** 0.5 -> sqrt(x)."""
    x, power = node.inputs
    out = node.outputs[0]
    if scalar_value(power) != 0.5 or not out.type.is_float or x.dtype != out.dtype:
        return None
    new = fill_to(Elemwise(Sqrt())(x), out, [power])
    return None if new is None else [new]


REWRITES: list[Rewrite] = [
    fold_constants,
    shape_of_static_to_constant,
    remove_stop_gradient,
    remove_useless_cast,
    merge_dimshuffles,
    expand_of_sum_to_keepdims,
    lift_dimshuffle_through_elemwise,
    drop_redundant_fill,
    pow_half_to_sqrt,
    flatten_sums,
    flatten_and_cancel_products,
    distribute_product_over_sum_to_cancel,
    factor_invariants_out_of_sum,
    split_sum_of_terms_to_factor,
]
