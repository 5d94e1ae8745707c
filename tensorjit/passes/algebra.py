"""Canonical forms of products and sums, so that patterns match however they were written.

A product tree (mul, true_div, neg, reciprocal, integer pow) flattens to a coefficient
times factors with integer exponents; a sum tree (add, sub, neg, constant multiples)
flattens to a constant plus weighted terms. ``neg(x)``, ``mul(-1, x)`` and ``x * -1``
all flatten alike. Rebuilding gives one canonical tree: numerator / denominator, then
the coefficient; positive terms, then the negative ones subtracted (a sum with no
positive term starts with its first term written as the product form writes it,
``v * -k`` or ``-v``, so that the sum and product rewrites agree on every subtree).

A factor appearing in numerator and denominator cancels only where it is
mathematically nonzero (``known_nonzero``): then x / x = 1 is exact, and it is what
removes 0 * inf from gradient graphs (g / softmax(z) * softmax(z)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..graph.basic import Apply, Constant, Variable, toposort
from ..graph.ops.elemwise import Add, Elemwise, Mul, Neg, Sub, TrueDiv
from ..graph.ops.scalar_arith import Pow, Reciprocal
from .patterns import const_like, fill_to, known_nonzero, scalar_value

PRODUCT_OPS = (Mul, TrueDiv, Neg, Reciprocal, Pow)
SUM_OPS = (Add, Sub, Neg)
MAX_POWER = 8


@dataclass
class Product:
    """coeff * prod(factor ** exponent); exponents kept as separate +/- counts."""

    dtype: str
    coeff: float = 1.0
    ups: dict[Variable, int] = field(default_factory=dict)
    downs: dict[Variable, int] = field(default_factory=dict)
    n_nodes: int = 0
    n_consts: int = 0
    const_divisions: int = 0
    cancelled: list[Variable] = field(default_factory=list)
    # constants of shape (1, ..., 1) folded into coeff still broadcast to this ndim
    min_ndim: int = 0

    def copy(self) -> Product:
        return Product(self.dtype, self.coeff, dict(self.ups), dict(self.downs),
                       self.n_nodes, self.n_consts, self.const_divisions,
                       list(self.cancelled), self.min_ndim)

    def add(self, v: Variable, exponent: int) -> None:
        """Multiply by v ** exponent, looking through product nodes."""
        if exponent == 0:  # x ** 0: v only carries the shape
            self.cancelled.append(v)
            return
        value = _unit_value(v)
        if value is not None and v.dtype == self.dtype and (exponent > 0 or value != 0):
            self.min_ndim = max(self.min_ndim, v.ndim)
            self.coeff *= value ** exponent
            self.n_consts += 1
            self.const_divisions += exponent < 0
            return
        node = v.owner
        op = getattr(node.op, "scalar_op", None) if node is not None else None
        if not isinstance(op, PRODUCT_OPS) or v.dtype != self.dtype:
            self._leaf(v, exponent)
            return
        if isinstance(op, Pow):
            power = scalar_value(node.inputs[1])
            if power is None or power != int(power) or abs(power) > MAX_POWER or \
                    node.inputs[0].dtype != self.dtype:
                self._leaf(v, exponent)
                return
            self.n_nodes += 1
            self.n_consts += 1
            self.add(node.inputs[0], exponent * int(power))
            return
        self.n_nodes += 1
        if isinstance(op, Neg):
            self.coeff *= (-1.0) ** abs(exponent)
            self.add(node.inputs[0], exponent)
        elif isinstance(op, Reciprocal):
            self.add(node.inputs[0], -exponent)
        else:
            self.add(node.inputs[0], exponent)
            self.add(node.inputs[1], -exponent if isinstance(op, TrueDiv) else exponent)

    def _leaf(self, v: Variable, exponent: int) -> None:
        table = self.ups if exponent > 0 else self.downs
        table[v] = table.get(v, 0) + abs(exponent)

    def cancel(self) -> None:
        """Cancel factors in numerator and denominator that are mathematically nonzero."""
        for v in list(self.downs):
            if v in self.ups and known_nonzero(v):
                common = min(self.ups[v], self.downs[v])
                self.ups[v] -= common
                self.downs[v] -= common
                self.cancelled.append(v)
                for table in (self.ups, self.downs):
                    if table[v] == 0:
                        del table[v]

    def factors(self) -> list[tuple[Variable, int]]:
        """(factor, net exponent) pairs, numerator first, in order of appearance."""
        return [(v, n) for v, n in self.ups.items()] + [(v, -n) for v, n in self.downs.items()]


def _unit_value(v: Variable) -> float | None:
    """The value of a numeric constant with exactly one element (any ndim), else None."""
    if isinstance(v, Constant) and v.data.size == 1 and v.data.dtype.kind in "iuf":
        return float(v.data.reshape(()))
    return None


def flatten_product(v: Variable) -> Product:
    """The canonical product form of v, with nonzero factors cancelled."""
    prod = Product(v.dtype)
    prod.add(v, 1)
    prod.cancel()
    return prod


def _power(v: Variable, n: int) -> Variable:
    """v ** n for n >= 1 by repeated squaring (x**4 = (x*x)*(x*x))."""
    result = None
    base = v
    while n:
        if n & 1:
            result = base if result is None else Elemwise(Mul())(result, base)
        n >>= 1
        if n:
            base = Elemwise(Mul())(base, base)
    assert result is not None
    return result


def _chain(factors: list[tuple[Variable, int]]) -> Variable | None:
    result = None
    for v, n in factors:
        term = _power(v, n)
        result = term if result is None else Elemwise(Mul())(result, term)
    return result


def build_product(prod: Product, like: Variable, fill: bool = True) -> Variable | None:
    """The canonical tree of prod, shaped like ``like`` (None if it cannot be).

    With fill=False the result may broadcast smaller than ``like`` (for a term of a sum).
    """
    num = _chain([(v, n) for v, n in prod.ups.items() if n > 0])
    den = _chain([(v, n) for v, n in prod.downs.items() if n > 0])
    coeff = prod.coeff
    if den is not None:
        if num is None:
            out, coeff = Elemwise(TrueDiv())(const_like(coeff, like), den), 1.0
        else:
            out = Elemwise(TrueDiv())(num, den)
    elif num is None:
        out, coeff = const_like(coeff, like), 1.0
    else:
        out = num
    if coeff == -1.0:
        out = Elemwise(Neg())(out)
    elif coeff != 1.0:
        out = Elemwise(Mul())(out, const_like(coeff, like))
    if not fill:
        return out
    return fill_to(out, like, shape_carriers(prod.cancelled))


def shape_carriers(vs: list[Variable]) -> list[Variable]:
    """Dropped factors that can restore a broadcast shape, widest first."""
    return sorted(vs, key=lambda c: -sum(not b for b in c.broadcastable))


def region_size(v: Variable, stop_ops: tuple[type, ...]) -> int:
    """Number of nodes in the tree of ``stop_ops`` nodes rooted at v (a cost measure)."""
    count = 0
    stack = [v]
    while stack:
        x = stack.pop()
        op = getattr(x.owner.op, "scalar_op", None) if x.owner is not None else None
        if isinstance(op, stop_ops):
            count += 1
            stack.extend(x.owner.inputs)
    return count


def rebuilt_cost(v: Variable, old_leaves: set[Variable]) -> int:
    """Nodes building v above the given leaves, plus the constants those nodes read.

    This is the measure ``Product``/``SumTerms`` take of the old tree (``n_nodes +
    n_consts``): the canonical rewrites fire only when it strictly drops, so they never
    trade one form for another of the same cost (which is how two of them loop).
    """
    nodes = toposort([v], blockers=list(old_leaves))
    consts = sum(isinstance(i, Constant) and i not in old_leaves
                 for node in nodes for i in node.inputs)
    return len(nodes) + consts


# --------------------------------------------------------------------------------------
# Sums


@dataclass
class SumTerms:
    """constant + sum(weight * term)."""

    dtype: str
    constant: float = 0.0
    terms: dict[Variable, float] = field(default_factory=dict)
    n_nodes: int = 0
    n_consts: int = 0

    def add(self, v: Variable, weight: float) -> None:
        """Add weight * v, looking through sum nodes and constant multiples."""
        value = scalar_value(v)
        if value is not None and v.dtype == self.dtype:
            self.constant += weight * value
            self.n_consts += 1
            return
        node = v.owner
        op = getattr(node.op, "scalar_op", None) if node is not None else None
        if v.dtype != self.dtype:
            op = None
        if isinstance(op, (Add, Sub)):
            self.n_nodes += 1
            self.add(node.inputs[0], weight)
            self.add(node.inputs[1], -weight if isinstance(op, Sub) else weight)
        elif isinstance(op, Neg):
            self.n_nodes += 1
            self.add(node.inputs[0], -weight)
        elif isinstance(op, Mul) and _scaled(node) is not None:
            term, k = _scaled(node)
            self.n_nodes += 1
            self.n_consts += 1
            self.add(term, weight * k)
        else:
            self.terms[v] = self.terms.get(v, 0.0) + weight


def _scaled(node: Apply) -> tuple[Variable, float] | None:
    """(x, k) if the Mul node is x * k or k * x for a 0-d constant k."""
    a, b = node.inputs
    if scalar_value(b) is not None and b.dtype == a.dtype:
        return a, scalar_value(b)
    if scalar_value(a) is not None and a.dtype == b.dtype:
        return b, scalar_value(a)
    return None


def flatten_sum(v: Variable) -> SumTerms:
    """The canonical sum form of v."""
    terms = SumTerms(v.dtype)
    terms.add(v, 1.0)
    return terms


def _weighted(v: Variable, k: float, like: Variable) -> Variable:
    return v if k == 1.0 else Elemwise(Mul())(v, const_like(k, like))


def build_sum(terms: SumTerms, like: Variable,
              carriers: list[Variable] = ()) -> Variable | None:
    """The canonical tree of terms, shaped like ``like`` (None if it cannot be)."""
    pos = [(v, k) for v, k in terms.terms.items() if k > 0]
    negs = [(v, -k) for v, k in terms.terms.items() if k < 0]
    out = None
    for v, k in pos:
        term = _weighted(v, k, like)
        out = term if out is None else Elemwise(Add())(out, term)
    if out is None and negs:
        # No positive term to subtract from: the first term is the product v * -k (or
        # -v), written as build_product writes it, never -(v * k) which the product
        # rewrite would turn into v * -k and the sum rewrite back again.
        (v, k), negs = negs[0], negs[1:]
        out = Elemwise(Neg())(v) if k == 1.0 else Elemwise(Mul())(v, const_like(-k, like))
    for v, k in negs:
        out = Elemwise(Sub())(out, _weighted(v, k, like))
    c = terms.constant
    if out is None:
        out = const_like(c, like)
    elif c > 0:
        out = Elemwise(Add())(out, const_like(c, like))
    elif c < 0:
        out = Elemwise(Sub())(out, const_like(-c, like))
    dropped = [v for v, k in terms.terms.items() if k == 0]
    return fill_to(out, like, shape_carriers(dropped + list(carriers)))
