"""pprint: a graph as one line of algebra, e.g. ``log_softmax(x @ W + b)[arange(n), y]``."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, Callable, Sequence

import numpy as np

from ..graph.basic import Apply, Constant, SharedVariable, Variable

# Binary infix operators: scalar op name -> (symbol, precedence). Higher binds tighter.
INFIX: dict[str, tuple[str, int]] = {
    "or": ("|", 1), "logical_or": ("|", 1), "logical_xor": ("^", 2),
    "and": ("&", 3), "logical_and": ("&", 3),
    "eq": ("==", 4), "neq": ("!=", 4), "lt": ("<", 4), "le": ("<=", 4), "gt": (">", 4),
    "ge": (">=", 4),
    "add": ("+", 5), "sub": ("-", 5),
    "mul": ("*", 6), "true_div": ("/", 6), "floor_div": ("//", 6), "mod": ("%", 6),
    "pow": ("**", 8),
}
MATMUL_PREC = 6
UNARY_PREC = 7
ATOM = 10

# Per op class name: (node, argument strings) -> (text, precedence).
Rule = Callable[[Apply, list[tuple[str, int]]], tuple[str, int]]
RULES: dict[str, Rule] = {}


def rule(*names: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for n in names:
            RULES[n] = fn
        return fn
    return register


def _paren(arg: tuple[str, int], prec: int, right: bool = False) -> str:
    text, p = arg
    return f"({text})" if p < prec or (right and p == prec) else text


@rule("Elemwise")
def _elemwise(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    name = node.op.scalar_op.fname
    if name in INFIX and len(args) == 2:
        sym, prec = INFIX[name]
        right_assoc = name == "pow"
        left = _paren(args[0], prec + (1 if right_assoc else 0))
        right = _paren(args[1], prec, right=not right_assoc)
        return f"{left} {sym} {right}", prec
    if name == "neg":
        inner = _paren(args[0], UNARY_PREC)
        return (f"-({inner})" if inner.startswith("-") else f"-{inner}"), UNARY_PREC
    if name == "logical_not":
        return f"~{_paren(args[0], UNARY_PREC)}", UNARY_PREC
    if name.startswith("cast"):
        return f"{_paren(args[0], ATOM)}.astype({node.outputs[0].dtype})", ATOM
    return f"{name}({', '.join(a for a, _ in args)})", ATOM


@rule("Dot", "MatMul", "BatchedDot", "Matmul")
def _dot(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    return f"{_paren(args[0], MATMUL_PREC)} @ {_paren(args[1], MATMUL_PREC, True)}", \
        MATMUL_PREC


@rule("Shape")
def _shape(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    return f"shape({args[0][0]})", ATOM


@rule("DimShuffle")
def _dimshuffle(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    order = node.op.new_order
    if order == tuple(reversed(range(len(order)))) and "x" not in order:
        return f"{_paren(args[0], ATOM)}.T", ATOM
    inner = ", ".join(str(a) for a in order)
    return f"{_paren(args[0], ATOM)}.dimshuffle({inner})", ATOM


def _generic(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    op = node.op
    fname = getattr(op, "fname", None) or _snake(type(op).__name__)
    params = [f"{k}={_short(v)}" for k, v in _non_default_params(op).items()]
    return f"{fname}({', '.join([a for a, _ in args] + params)})", ATOM


def _non_default_params(op: Any) -> dict[str, Any]:
    """The op's parameters that differ from their declared defaults."""
    out = {}
    for f in fields(op):
        value = getattr(op, f.name)
        if f.default is not MISSING and value == f.default:
            continue
        out[f.name] = value
    return out


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _short(v: Any) -> str:
    if isinstance(v, tuple) and len(v) == 1:
        return str(v[0])
    return repr(v) if isinstance(v, str) else str(v)


def leaf_text(v: Variable) -> str:
    """How a leaf prints: its name, or a short form of a constant's value."""
    if isinstance(v, Constant):
        if v.name:
            return v.name
        data = v.data
        if data.ndim == 0:
            value = data.item()
            return repr(value) if not isinstance(value, float) else f"{value:g}"
        if data.size <= 4:
            return np.array2string(data, separator=", ")
        return f"<{v.type}>"
    if v.name:
        return v.name
    return "<shared>" if isinstance(v, SharedVariable) else f"<{v.type}>"


def pprint_terms(outputs: Sequence[Variable]) -> list[str]:
    """The one-line form of each output (shared subexpressions are written out)."""
    memo: dict[Variable, tuple[str, int]] = {}

    def show(v: Variable) -> tuple[str, int]:
        if v in memo:
            return memo[v]
        if v.owner is None:
            result = (leaf_text(v), ATOM)
        else:
            node = v.owner
            args = [show(i) for i in node.inputs]
            result = RULES.get(type(node.op).__name__, _generic)(node, args)
            if len(node.outputs) > 1:
                result = (f"{_paren(result, ATOM)}[{v.index}]", ATOM)
        memo[v] = result
        return result

    return [_iterative_show(o, show, memo) for o in outputs]


def _iterative_show(out: Variable, show, memo) -> str:
    # Deep chains would exceed Python's recursion limit: fill the memo bottom-up.
    from ..graph.basic import toposort
    for node in toposort([out]):
        for o in node.outputs:
            show(o)
    return show(out)[0]


def pprint(obj: Any) -> str:
    """One-line algebraic form of a Variable (or '; '-joined forms of a list of them)."""
    from ..graph.fg import FunctionGraph
    if isinstance(obj, Variable):
        return pprint_terms([obj])[0]
    if isinstance(obj, FunctionGraph):
        return "; ".join(pprint_terms(obj.outputs))
    if hasattr(obj, "fgraph"):
        return "; ".join(pprint_terms(obj.fgraph.outputs))
    if isinstance(obj, (list, tuple)):
        return "; ".join(pprint_terms(list(obj)))
    raise TypeError(f"pprint(): expected a Variable, a list of them, a FunctionGraph or a "
                    f"compiled function, got {type(obj).__name__}")
