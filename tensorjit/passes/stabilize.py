"""Stabilize: rewrite numerically fragile formulas into stable ops, in forward graphs and
in the gradient graphs built from them.

Gradient graphs are stabilized by the same algebra: the canonical product form cancels
g / softmax(z) * softmax(z) (see algebra.py), and the rewrites below recognize what is
left (exp(x) / sum(exp(x)) -> softmax(x), exp(a) / (exp(a) + exp(b)) -> sigmoid(a - b),
1 - sigmoid(x) -> sigmoid(-x)), so a gradient written through a naive formula comes
out as the stable op's own gradient would.
"""

from __future__ import annotations

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from ..graph.ops.crossentropy import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalCrossentropyIntegerLabels,
    SigmoidBinaryCrossentropy,
    SoftmaxCrossEntropy,
    SoftmaxCrossEntropyWithIntegerLabels,
)
from ..graph.ops.elemwise import Add, Elemwise, Mul, Neg, Second, Sub, TrueDiv
from ..graph.ops.nn import LogSoftmax, LogSumExp, Softmax
from ..graph.ops.reduce import Sum
from ..graph.ops.scalar_math import Exp, Expm1, Log, Log1p, Sigmoid, Softplus
from . import canonicalize
from .algebra import PRODUCT_OPS, Product, build_product, build_sum, flatten_product, flatten_sum
from .indexed_crossentropy import (
    indexed_log_softmax_to_crossentropy,
    log_softmax_grad_of_indexed_to_crossentropy_grad,
)
from .patterns import elemwise_of, known_nonnegative, op_of, same_broadcasting
from .rewriter import Rewrite, local_rewrite


def _neg(x: Variable) -> Variable:
    return Elemwise(Neg())(x)


def _softplus(x: Variable) -> Variable:
    return Elemwise(Softplus())(x)


def _sigmoid(x: Variable) -> Variable:
    return Elemwise(Sigmoid())(x)


def _is_product_root(fg: FunctionGraph, out: Variable) -> bool:
    """Product rewrites look at the whole product, from its outermost node only."""
    return out.type.is_float and not canonicalize._all_clients_in(fg, out, PRODUCT_OPS)


def _exps_plus_constant(v: Variable) -> tuple[list[Variable], float] | None:
    """(arguments of the exp terms, constant) if v is c + exp(a) [+ exp(b)], unit weights."""
    if elemwise_of(v, Add, Sub) is None:
        return None
    terms = flatten_sum(v)
    args = []
    for term, weight in terms.terms.items():
        node = elemwise_of(term, Exp)
        if node is None or weight != 1.0:
            return None
        args.append(node.inputs[0])
    return args, terms.constant


def _one_minus_sigmoid(v: Variable) -> Variable | None:
    """x if v is 1 - sigmoid(x) (however the sum is written), else None."""
    if elemwise_of(v, Add, Sub) is None:
        return None
    terms = flatten_sum(v)
    if terms.constant != 1.0 or len(terms.terms) != 1:
        return None
    (term, weight), = terms.terms.items()
    node = elemwise_of(term, Sigmoid)
    return node.inputs[0] if node is not None and weight == -1.0 else None


# --------------------------------------------------------------------------------------
# softmax and friends


def _softmax_of_sum(s: Variable, e: Variable) -> Variable | None:
    """softmax(x) if s is sum(e, axes) broadcastable against e = exp(x), else None."""
    summed = op_of(s, Sum)
    exp_node = elemwise_of(e, Exp)
    if summed is None or exp_node is None or summed.inputs[0] is not e or not summed.op.axis:
        return None
    axes = summed.op.axis
    if not summed.op.keepdims and axes != tuple(range(len(axes))):
        return None  # the reduced shape would broadcast against the wrong axes
    return Softmax(axes)(exp_node.inputs[0])


def _softmax_pairs(prod: Product) -> bool:
    """exp(x)^k * sum(exp(x))^-k -> softmax(x)^k inside a product; whether it changed."""
    changed = False
    for s in list(prod.downs):
        for e in list(prod.ups):
            soft = _softmax_of_sum(s, e) if s in prod.downs and e in prod.ups else None
            if soft is None:
                continue
            k = min(prod.ups[e], prod.downs[s])
            _take(prod.ups, e, k)
            _take(prod.downs, s, k)
            prod.ups[soft] = prod.ups.get(soft, 0) + k
            prod.cancelled.append(e)
            changed = True
    return changed


def _softmax_through_sum_pairs(prod: Product) -> bool:
    """sum(q * exp(x)) / sum(exp(x)) -> sum(q * softmax(x)), the same axes."""
    for s in list(prod.downs):
        summed = op_of(s, Sum)
        if summed is None or _softmax_of_sum(s, summed.inputs[0]) is None:
            continue
        e = summed.inputs[0]
        for f in list(prod.ups):
            inner = op_of(f, Sum)
            if inner is None or inner.op != summed.op or f is s:
                continue
            q = inner.inputs[0]
            qprod = flatten_product(q)
            if qprod.ups.get(e, 0) < 1 or qprod.dtype != e.dtype:
                continue
            _take(qprod.ups, e, 1)
            soft = _softmax_of_sum(s, e)
            qprod.ups[soft] = qprod.ups.get(soft, 0) + 1
            body = build_product(qprod, q)
            if body is None:
                continue
            _take(prod.downs, s, 1)
            _take(prod.ups, f, 1)
            new_f = summed.op(body)
            prod.ups[new_f] = prod.ups.get(new_f, 0) + 1
            return True
    return False


def _take(table: dict[Variable, int], v: Variable, k: int) -> None:
    table[v] -= k
    if table[v] == 0:
        del table[v]


def _sigmoid_ratio_pairs(prod: Product) -> bool:
    """exp(a) / (exp(a) + exp(b)) -> sigmoid(a - b), 1 / (1 + exp(a)) -> sigmoid(-a)."""
    for d in list(prod.downs):
        found = _exps_plus_constant(d)
        if found is None:
            continue
        ratio = _sigmoid_ratio(prod, *found)
        if ratio is None:
            continue
        num, sig = ratio
        k = prod.downs[d] if num is None else min(prod.ups[num], prod.downs[d])
        _take(prod.downs, d, k)
        if num is not None:
            _take(prod.ups, num, k)
            prod.cancelled.append(num)
        prod.ups[sig] = prod.ups.get(sig, 0) + k
        return True
    return False


def _sigmoid_ratio(prod: Product, args: list[Variable],
                   const: float) -> tuple[Variable | None, Variable] | None:
    """(numerator exp or None, the sigmoid it makes with the denominator)."""
    exps = {elemwise_of(v, Exp).inputs[0]: v for v in prod.ups if elemwise_of(v, Exp)}
    if const == 1.0 and len(args) == 1:
        a = args[0]
        if a in exps:
            return exps[a], _sigmoid(a)
        return None, _sigmoid(_neg(a))
    if const == 0.0 and len(args) == 2:
        a, b = args
        if a in exps:
            return exps[a], _sigmoid(Elemwise(Sub())(a, b))
        if b in exps:
            return exps[b], _sigmoid(Elemwise(Sub())(b, a))
    return None


def _negation_of(a: Variable) -> Variable | None:
    node = elemwise_of(a, Neg)
    return node.inputs[0] if node is not None else None


def _exp_sigmoid_pairs(prod: Product) -> bool:
    """exp(a) * sigmoid(-a) -> sigmoid(a); sigmoid(a) / exp(a) -> sigmoid(-a)."""
    for e in list(prod.ups) + list(prod.downs):
        exp_node = elemwise_of(e, Exp)
        if exp_node is None:
            continue
        a = exp_node.inputs[0]
        up = e in prod.ups
        for sig in list(prod.ups):
            sig_node = elemwise_of(sig, Sigmoid)
            if sig_node is None:
                continue
            b = sig_node.inputs[0]
            if up and (_negation_of(b) is a or _negation_of(a) is b):
                result = _sigmoid(a)
            elif not up and b is a:
                result = _sigmoid(_neg(a))
            else:
                continue
            table = prod.ups if up else prod.downs
            k = min(table[e], prod.ups[sig])
            _take(table, e, k)
            _take(prod.ups, sig, k)
            prod.cancelled.append(e)
            prod.ups[result] = prod.ups.get(result, 0) + k
            return True
    return False


def _product_rewrite(name: str, pairs, doc: str) -> Rewrite:
    """A product rewrite that applies one pair rule to the whole canonical product."""

    @local_rewrite(Elemwise, scalar=(Mul, TrueDiv), name=name)
    def rewrite(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
        out = node.outputs[0]
        if not _is_product_root(fg, out):
            return None
        prod = flatten_product(out)
        if not pairs(prod):
            return None
        new = build_product(prod, out)
        return None if new is None else [new]

    rewrite.fn.__doc__ = doc
    return rewrite


exp_over_sum_of_exp_to_softmax = _product_rewrite(
    "exp_over_sum_of_exp_to_softmax", _softmax_pairs,
    "exp(x) / sum(exp(x), axis, keepdims) -> softmax(x, axis), also inside products.")
sum_over_sum_of_exp_to_sum_of_softmax = _product_rewrite(
    "sum_over_sum_of_exp_to_sum_of_softmax", _softmax_through_sum_pairs,
    "sum(q * exp(x), a) / sum(exp(x), a) -> sum(q * softmax(x), a).")
exp_over_sum_of_exps_to_sigmoid = _product_rewrite(
    "exp_over_sum_of_exps_to_sigmoid", _sigmoid_ratio_pairs,
    "exp(a) / (exp(a) + exp(b)) -> sigmoid(a - b); exp(a) / (1 + exp(a)) -> sigmoid(a).")
exp_times_sigmoid_of_neg_to_sigmoid = _product_rewrite(
    "exp_times_sigmoid_of_neg_to_sigmoid", _exp_sigmoid_pairs,
    "exp(a) * sigmoid(-a) -> sigmoid(a); sigmoid(a) / exp(a) -> sigmoid(-a).")


def _stable_simplify(prod: Product) -> bool:
    """Cancellation plus every stabilizing pair rule; whether anything changed."""
    prod.cancel()
    changed = bool(prod.cancelled)
    for pairs in (_softmax_pairs, _softmax_through_sum_pairs, _sigmoid_ratio_pairs,
                  _exp_sigmoid_pairs):
        while pairs(prod):
            changed = True
        prod.cancel()
    return changed


distribute_product_over_sum_to_stabilize = canonicalize.make_distribute_rewrite(
    "distribute_product_over_sum_to_stabilize", _stable_simplify)


@local_rewrite(scalar=(Add, Sub))
def factor_sigmoid_complement_out_of_sum(fg: FunctionGraph,
                                         node: Apply) -> list[Variable] | None:
    """a * sigmoid(x) - a * sigmoid(x)**2 -> a * sigmoid(x) * sigmoid(-x), no cancellation."""
    out = node.outputs[0]
    if not out.type.is_float or canonicalize._all_clients_in(fg, out, (Add, Sub, Neg)):
        return None
    terms = flatten_sum(out)
    if len(terms.terms) != 2 or terms.constant != 0.0:
        return None
    (t1, w1), (t2, w2) = terms.terms.items()
    p1, p2 = flatten_product(t1), flatten_product(t2)
    p1.coeff *= w1
    p2.coeff *= w2
    for small, big in ((p1, p2), (p2, p1)):
        found = _complement_factor(small, big)
        if found is not None:
            new = build_product(found, out)
            return None if new is None else [new]
    return None


def _complement_factor(small: Product, big: Product) -> Product | None:
    """small * (1 - sigmoid(x)) if big == -small * sigmoid(x), else None."""
    if small.downs or big.downs or big.coeff != -small.coeff:
        return None
    extra = dict(big.ups)
    for v, n in small.ups.items():
        if extra.get(v, 0) < n:
            return None
        _take(extra, v, n)
    if len(extra) != 1:
        return None
    (sig, n), = extra.items()
    sig_node = elemwise_of(sig, Sigmoid)
    if sig_node is None or n != 1:
        return None
    result = small.copy()
    complement = _sigmoid(_neg(sig_node.inputs[0]))
    result.ups[complement] = result.ups.get(complement, 0) + 1
    return result


@local_rewrite(scalar=(Log,))
def log_of_softmax_to_log_softmax(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log(softmax(x)) -> log_softmax(x)."""
    soft = op_of(node.inputs[0], Softmax)
    if soft is None:
        return None
    return [LogSoftmax(soft.op.axis)(soft.inputs[0])]


@local_rewrite(scalar=(Log,))
def log_of_sum_of_exp_to_logsumexp(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log(sum(exp(x), axis)) -> logsumexp(x, axis), shifted by the max."""
    summed = op_of(node.inputs[0], Sum)
    if summed is None or not summed.op.axis:
        return None
    exp_node = elemwise_of(summed.inputs[0], Exp)
    if exp_node is None:
        return None
    return [LogSumExp(summed.op.axis, summed.op.keepdims)(exp_node.inputs[0])]


@local_rewrite(Sum)
def sum_of_targets_times_log_softmax_to_crossentropy(
        fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """sum(t * log_softmax(x, a), a) -> -softmax_cross_entropy(x, t, a), one fused op."""
    x = node.inputs[0]
    axes = node.op.axis
    if node.op.keepdims or len(axes) != 1 or elemwise_of(x, *PRODUCT_OPS) is None:
        return None
    prod = flatten_product(x)
    for ls in prod.ups:
        ls_node = op_of(ls, LogSoftmax)
        if ls_node is None or ls_node.op.axis != axes or prod.ups[ls] != 1:
            continue
        if ls in prod.downs or not same_broadcasting(ls, x):
            continue
        rest = prod.copy()
        del rest.ups[ls]
        logits = ls_node.inputs[0]
        targets = build_product(rest, logits, fill=False)
        if not same_broadcasting(targets, logits):
            targets = Elemwise(Second())(logits, targets)
        if not logits.type.is_compatible(targets.type):
            return None
        return [_neg(SoftmaxCrossEntropy(axes[0])(logits, targets))]
    return None


@local_rewrite(CategoricalCrossentropy, CategoricalCrossentropyIntegerLabels)
def categorical_crossentropy_of_softmax_to_fused(
        fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """categorical_crossentropy(softmax(x), t) -> softmax_cross_entropy*(x, t), fused."""
    p, targets = node.inputs
    soft = op_of(p, Softmax)
    if soft is None or soft.op.axis != (node.op.axis,):
        return None
    if isinstance(node.op, CategoricalCrossentropy):
        return [SoftmaxCrossEntropy(node.op.axis)(soft.inputs[0], targets)]
    return [SoftmaxCrossEntropyWithIntegerLabels(node.op.axis)(soft.inputs[0], targets)]


# --------------------------------------------------------------------------------------
# logs and exps of sums: softplus, logaddexp, log1p, expm1


@local_rewrite(scalar=(Log,))
def log_of_one_plus_exp_to_softplus(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log(1 + exp(x)) -> softplus(x)."""
    found = _exps_plus_constant(node.inputs[0])
    if found is None or found[1] != 1.0 or len(found[0]) != 1:
        return None
    return [_softplus(found[0][0])]


@local_rewrite(scalar=(Log1p,))
def log1p_of_exp_to_softplus(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log1p(exp(x)) -> softplus(x)."""
    exp_node = elemwise_of(node.inputs[0], Exp)
    return None if exp_node is None else [_softplus(exp_node.inputs[0])]


@local_rewrite(scalar=(Log,))
def log_of_exp_sum_to_logaddexp(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log(exp(a) + exp(b)) -> a + softplus(b - a), which never overflows."""
    found = _exps_plus_constant(node.inputs[0])
    if found is None or found[1] != 0.0 or len(found[0]) != 2:
        return None
    a, b = found[0]
    out = node.outputs[0]
    new = Elemwise(Add())(a, _softplus(Elemwise(Sub())(b, a)))
    return [new] if same_broadcasting(new, out) else None


@local_rewrite(scalar=(Log,))
def log_of_one_plus_to_log1p(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log(1 + x) -> log1p(x), exact for tiny x."""
    x = node.inputs[0]
    if elemwise_of(x, Add, Sub) is None:
        return None
    terms = flatten_sum(x)
    if terms.constant != 1.0 or not terms.terms:
        return None
    terms.constant = 0.0
    rest = build_sum(terms, x)
    return None if rest is None else [Elemwise(Log1p())(rest)]


@local_rewrite(scalar=(Add, Sub))
def exp_minus_one_to_expm1(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """exp(x) - 1 -> expm1(x), exact for tiny x."""
    out = node.outputs[0]
    if not out.type.is_float:
        return None
    terms = flatten_sum(out)
    if terms.constant != -1.0 or len(terms.terms) != 1:
        return None
    (term, weight), = terms.terms.items()
    exp_node = elemwise_of(term, Exp)
    if exp_node is None or weight != 1.0:
        return None
    new = Elemwise(Expm1())(exp_node.inputs[0])
    return [new] if same_broadcasting(new, out) else None


@local_rewrite(scalar=(Log,))
def log_of_exp_to_identity(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log(exp(x)) -> x."""
    exp_node = elemwise_of(node.inputs[0], Exp)
    return None if exp_node is None else [exp_node.inputs[0]]


@local_rewrite(scalar=(Exp,))
def exp_of_log_to_identity(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """exp(log(x)) -> x where x is known to be >= 0 (elsewhere it is nan, not x)."""
    log_node = elemwise_of(node.inputs[0], Log)
    if log_node is None or not known_nonnegative(log_node.inputs[0]):
        return None
    x = log_node.inputs[0]
    return [x] if x.dtype == node.outputs[0].dtype else None


# --------------------------------------------------------------------------------------
# sigmoid


@local_rewrite(scalar=(Log,))
def log_of_sigmoid_to_softplus(fg: FunctionGraph, node: Apply) -> list[Variable] | None:
    """log(sigmoid(x)) -> -softplus(-x)."""
    sig = elemwise_of(node.inputs[0], Sigmoid)
    return None if sig is None else [_neg(_softplus(_neg(sig.inputs[0])))]


@local_rewrite(scalar=(Log,))
def log_of_one_minus_sigmoid_to_softplus(fg: FunctionGraph,
                                         node: Apply) -> list[Variable] | None:
    """log(1 - sigmoid(x)) -> -softplus(x)."""
    x = _one_minus_sigmoid(node.inputs[0])
    return None if x is None else [_neg(_softplus(x))]


@local_rewrite(scalar=(Add, Sub))
def one_minus_sigmoid_to_sigmoid_of_neg(fg: FunctionGraph,
                                        node: Apply) -> list[Variable] | None:
    """1 - sigmoid(x) -> sigmoid(-x), exact where sigmoid(x) rounds to 1."""
    out = node.outputs[0]
    x = _one_minus_sigmoid(out)
    if x is None:
        return None
    new = _sigmoid(_neg(x))
    return [new] if same_broadcasting(new, out) else None


@local_rewrite(scalar=(BinaryCrossentropy,))
def binary_crossentropy_of_sigmoid_to_logits(fg: FunctionGraph,
                                             node: Apply) -> list[Variable] | None:
    """binary_crossentropy(sigmoid(x), t) -> sigmoid_binary_crossentropy(x, t)."""
    sig = elemwise_of(node.inputs[0], Sigmoid)
    if sig is None:
        return None
    return [Elemwise(SigmoidBinaryCrossentropy())(sig.inputs[0], node.inputs[1])]


REWRITES: list[Rewrite] = [
    canonicalize.fold_constants,
    categorical_crossentropy_of_softmax_to_fused,
    binary_crossentropy_of_sigmoid_to_logits,
    exp_over_sum_of_exp_to_softmax,
    sum_over_sum_of_exp_to_sum_of_softmax,
    exp_over_sum_of_exps_to_sigmoid,
    exp_times_sigmoid_of_neg_to_sigmoid,
    factor_sigmoid_complement_out_of_sum,
    log_of_softmax_to_log_softmax,
    log_of_sum_of_exp_to_logsumexp,
    sum_of_targets_times_log_softmax_to_crossentropy,
    indexed_log_softmax_to_crossentropy,
    log_softmax_grad_of_indexed_to_crossentropy_grad,
    log_of_exp_to_identity,
    exp_of_log_to_identity,
    log_of_sigmoid_to_softplus,
    log_of_one_minus_sigmoid_to_softplus,
    one_minus_sigmoid_to_sigmoid_of_neg,
    log_of_one_plus_exp_to_softplus,
    log1p_of_exp_to_softplus,
    log_of_exp_sum_to_logaddexp,
    log_of_one_plus_to_log1p,
    exp_minus_one_to_expm1,
    # the canonical algebra again: it cancels what the stable forms expose
    canonicalize.flatten_sums,
    canonicalize.flatten_and_cancel_products,
    canonicalize.distribute_product_over_sum_to_cancel,
    distribute_product_over_sum_to_stabilize,
    canonicalize.factor_invariants_out_of_sum,
    canonicalize.split_sum_of_terms_to_factor,
    canonicalize.drop_redundant_fill,
]
