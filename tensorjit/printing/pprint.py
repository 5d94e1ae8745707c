"""pprint: a graph as one line of algebra, e.g. ``log_softmax(x @ W + b)[arange(n), y]``."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, Callable, Sequence

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
    scalar_op = node.op.scalar_op
    if hasattr(scalar_op, "entries") and hasattr(scalar_op, "expression"):
        return f"fused({composite_text(scalar_op, args)[0]})", ATOM
    return scalar_text(scalar_op, args, node.outputs[0].dtype)


def scalar_text(scalar_op: Any, args: list[tuple[str, int]],
                out_dtype: str) -> tuple[str, int]:
    """Text and precedence of one scalar op applied to already formatted arguments."""
    name = scalar_op.fname
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
    if name.startswith("cast") or type(scalar_op).__name__ == "Cast":
        return f"{_paren(args[0], ATOM)}.astype({out_dtype})", ATOM
    return f"{name}({', '.join(a for a, _ in args)})", ATOM


def composite_text(comp: Any, args: list[tuple[str, int]]) -> tuple[str, int]:
    """A fused Composite's inner expression with its inputs replaced by ``args``."""
    texts = list(args)
    for op, refs in comp.entries:
        if not hasattr(op, "fname"):  # a ScalarConstant literal
            text = str(op)
            texts.append((text, UNARY_PREC if text.startswith("-") else ATOM))
            continue
        out_dtype = getattr(op, "dtype", "") or ""
        texts.append(scalar_text(op, [texts[r] for r in refs], out_dtype))
    return texts[comp.output]


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
    inner = ", ".join(repr(a) for a in order)
    return f"{_paren(args[0], ATOM)}.dimshuffle({inner})", ATOM


@rule("Gemm")
def _gemm(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    op = node.op
    alpha, beta = op.alpha, op.beta
    # an operand read transposed prints as x.T, as the user wrote it
    args = [(f"{_paren(arg, ATOM)}.T", ATOM) if trans else arg
            for arg, trans in zip(args[:2], (op.trans_a, op.trans_b))] + args[2:]
    prod = f"{_paren(args[0], MATMUL_PREC)} @ {_paren(args[1], MATMUL_PREC, True)}"
    if alpha != 1:
        prod = f"{alpha:g} * {prod}"
    if len(node.inputs) == 2 or beta == 0:  # the C-less form: a scaled product
        return prod, MATMUL_PREC
    c_var = node.inputs[2]
    if c_var.owner is not None and type(c_var.owner.op).__name__ == "DimShuffle":
        order, inner = c_var.owner.op.new_order, c_var.owner.inputs[0]
        if order == ("x",) * (2 - inner.ndim) + tuple(range(inner.ndim)):
            # the specialize phase made the bias 2-D; broadcasting says the same
            args = [*args[:2], (pprint_terms([inner])[0], ATOM)]
    c = _paren(args[2], INFIX["mul"][1]) if beta not in (1, -1) else _paren(args[2], 5, True)
    if beta == 1:
        return f"{prod} + {c}", 5
    if beta == -1:
        return f"{prod} - {c}", 5
    return f"{prod} + {beta:g} * {c}", 5


@rule("ShapeI")
def _shape_i(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    return f"shape({args[0][0]})[{node.op.i}]", ATOM


@rule("MakeVector")
def _make_vector(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    return f"[{', '.join(a for a, _ in args)}]", ATOM


def format_key(idx_list: Sequence[tuple], index_args: list[tuple[str, int]]) -> str:
    """An indexing op's key as NumPy writes it, symbolic parts filled from index_args."""
    it = iter(index_args)

    def part(p: Any) -> str:
        if p is None:
            return ""
        return next(it)[0] if p == "?" else str(p)

    out = []
    for entry in idx_list:
        kind = entry[0]
        if kind == "newaxis":
            out.append("None")
        elif kind == "int":
            out.append(part(entry[1]))
        elif kind in ("array", "mask"):
            out.append(next(it)[0])
        else:
            start, stop, step = (part(p) for p in entry[1:])
            out.append(f"{start}:{stop}" + (f":{step}" if step else ""))
    return ", ".join(out) if out else "..."


@rule("Subtensor", "AdvancedSubtensor")
def _subtensor(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    return f"{_paren(args[0], ATOM)}[{format_key(node.op.idx_list, args[1:])}]", ATOM


@rule("IncSubtensor", "AdvancedIncSubtensor")
def _inc_subtensor(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    fname = "set_subtensor" if node.op.set_instead_of_inc else "inc_subtensor"
    target = f"{_paren(args[0], ATOM)}[{format_key(node.op.idx_list, args[2:])}]"
    return f"{fname}({target}, {args[1][0]})", ATOM


@rule("Reshape")
def _reshape(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    shape = args[1][0]
    if shape.startswith("[") and shape.endswith("]"):
        shape = f"({shape[1:-1]}{',' if node.op.ndim == 1 else ''})"
    return f"{_paren(args[0], ATOM)}.reshape({shape})", ATOM


@rule("Softmax", "LogSoftmax", "LogSumExp")
def _axes_op(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    # The default axis (the last one; all axes for logsumexp) is not written.
    op, ndim = node.op, node.inputs[0].ndim
    default = tuple(range(ndim)) if type(op).__name__ == "LogSumExp" else (ndim - 1,)
    params = [] if tuple(op.axis) == default or ndim == 0 else [f"axis={_short(op.axis)}"]
    if getattr(op, "keepdims", False):
        params.append("keepdims=True")
    return f"{op.fname}({', '.join([args[0][0]] + params)})", ATOM


@rule("ARange")
def _arange(node: Apply, args: list[tuple[str, int]]) -> tuple[str, int]:
    start, stop, step = (a for a, _ in args)
    if step == "1":
        return (f"arange({stop})" if start == "0" else f"arange({start}, {stop})"), ATOM
    return f"arange({start}, {stop}, {step})", ATOM


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
            return str(data.tolist())
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


ELIDED = "…"


def pprint_limited(var: Variable, max_depth: int) -> str:
    """The one-line form with subexpressions below ``max_depth`` levels written as '…'."""
    memo: dict[tuple[Variable, int], tuple[str, int]] = {}

    def show(v: Variable, budget: int) -> tuple[str, int]:
        if v.owner is None:
            return leaf_text(v), ATOM
        if budget <= 0:
            return ELIDED, ATOM
        key = (v, budget)
        if key not in memo:
            node = v.owner
            args = [show(i, budget - 1) for i in node.inputs]
            result = RULES.get(type(node.op).__name__, _generic)(node, args)
            if len(node.outputs) > 1:
                result = (f"{_paren(result, ATOM)}[{v.index}]", ATOM)
            memo[key] = result
        return memo[key]

    return show(var, max_depth)[0]


def pprint_short(var: Variable, max_chars: int = 120) -> str:
    """The one-line form, eliding the deepest subexpressions until it fits max_chars."""
    text = pprint_terms([var])[0]
    depth = 8
    while len(text) > max_chars and depth > 0:
        text = pprint_limited(var, depth)
        depth -= 1
    if len(text) > max_chars:
        text = text[:max_chars - 1] + ELIDED
    return text


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
