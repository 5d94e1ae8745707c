"""Symbol-to-symbol differentiation: gradients are more graph.

Reverse mode follows Goodfellow, Bengio & Courville, Deep Learning, section 6.5.6
(Algorithms 6.5 and 6.6): visit the nodes between ``wrt`` and the cost in reverse
topological order, call each op's L_op once, and sum the contributions that reach a
variable by several paths. Forward mode (Rop) calls each op's R_op in topological
order. Both return ordinary graph, so they compose to any order.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

from .basic import Apply, Variable, as_variable, constant, toposort
from .ops.elemwise import cast, zeros_like

GRAD_TAG = "created_by"


class DisconnectedInputError(ValueError):
    """grad() was asked for the gradient wrt a variable the cost does not depend on."""


class NullGradError(TypeError):
    """An op on the path has no gradient rule for an input that needs one."""


def _as_list(x: Any) -> tuple[list[Variable], bool]:
    if isinstance(x, (list, tuple)):
        return [as_variable(v) for v in x], True
    return [as_variable(x)], False


def _connected(nodes: Sequence[Apply], sources: Iterable[Variable],
               blockers: set[Variable]) -> set[Variable]:
    """Variables (among nodes' outputs and sources) that depend on any source."""
    conn = set(sources)
    for node in nodes:
        if any(v in conn and v not in blockers for v in node.inputs):
            conn.update(node.outputs)
    return conn


def _tag_new_nodes(results: Sequence[Variable], before: set[Apply], how: str) -> None:
    for node in toposort([r for r in results if r is not None]):
        if node not in before:
            node.tag.setdefault(GRAD_TAG, how)


def grad(
    cost: Variable | None,
    wrt: Variable | Sequence[Variable],
    consider_constant: Sequence[Variable] | None = None,
    disconnected_inputs: str = "raise",
    known_grads: dict[Variable, Any] | None = None,
    return_disconnected: str = "zero",
) -> Variable | list[Variable | None]:
    """Gradient of a scalar ``cost`` with respect to ``wrt``, as graph.

    Parameters
    ----------
    cost : scalar Variable, or None when ``known_grads`` seeds the backward pass.
    wrt : a Variable or a list of them; the result has the same structure.
    consider_constant : variables through which no gradient flows.
    disconnected_inputs : "raise", "warn" or "ignore" when a wrt is not on a path.
    known_grads : {variable: gradient} to start from (added to the cost's gradient).
    return_disconnected : "zero" (zeros shaped like wrt) or "none" for those.
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"grad(): disconnected_inputs must be 'raise', 'warn' or 'ignore', "
                         f"got {disconnected_inputs!r}")
    if return_disconnected not in ("zero", "none"):
        raise ValueError(f"grad(): return_disconnected must be 'zero' or 'none', "
                         f"got {return_disconnected!r}")
    wrt_list, was_list = _as_list(wrt)
    seeds: dict[Variable, Variable] = {}
    if cost is not None:
        cost = as_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad(): the cost must be a scalar (0-d), got {cost.describe()}; "
                            f"reduce it first (e.g. .sum() or .mean()) or use jacobian()")
        if not cost.type.is_float:
            raise TypeError(f"grad(): the cost must be floating point, got {cost.describe()}")
        seeds[cost] = constant(1, dtype=cost.dtype)
    for var, g in (known_grads or {}).items():
        g = as_variable(g)
        if g.ndim != var.ndim:
            raise ValueError(f"grad(): known_grads for {var.describe()} has ndim {g.ndim}; "
                             f"expected {var.ndim}")
        seeds[var] = seeds[var] + g if var in seeds else cast(g, var.dtype)
    if not seeds:
        raise ValueError("grad(): give a cost or known_grads")

    results = _backprop(list(seeds), seeds, wrt_list, set(consider_constant or ()))
    out: list[Variable | None] = []
    for v, g in zip(wrt_list, results):
        if g is None:
            if not v.type.is_float:
                g = zeros_like(v, dtype="float64")
            else:
                _report_disconnected(v, disconnected_inputs)
                g = zeros_like(v) if return_disconnected == "zero" else None
        out.append(g)
    return out if was_list else out[0]


def _report_disconnected(v: Variable, policy: str) -> None:
    msg = (f"grad(): the cost does not depend on {v.describe()}; pass "
           f"disconnected_inputs='ignore' to get zeros")
    if policy == "raise":
        raise DisconnectedInputError(msg)
    if policy == "warn":
        warnings.warn(msg, stacklevel=3)


def _backprop(outputs: list[Variable], seeds: dict[Variable, Variable],
              wrt: list[Variable], blockers: set[Variable]) -> list[Variable | None]:
    """Table-filling reverse accumulation; returns the summed gradient of each wrt."""
    nodes = toposort(outputs, blockers=wrt)
    before = set(toposort(outputs))
    conn = _connected(nodes, wrt, blockers)
    # only nodes that lead to an output and depend on wrt take part
    contribs: dict[Variable, list[Variable]] = {v: [g] for v, g in seeds.items()}
    for node in reversed(nodes):
        if not any(o in contribs for o in node.outputs):
            continue
        if not any(v in conn and v not in blockers for v in node.inputs):
            continue
        out_grads = [_total(contribs.get(o), o) for o in node.outputs]
        if all(g is None for g in out_grads):
            continue
        out_grads = [zeros_like(o) if g is None else g for o, g in zip(node.outputs, out_grads)]
        in_grads = node.op.L_op(node.inputs, node.outputs, out_grads)
        if len(in_grads) != len(node.inputs):
            raise NullGradError(f"{node.op}.L_op returned {len(in_grads)} gradients for "
                                f"{len(node.inputs)} inputs")
        for i, (inp, g) in enumerate(zip(node.inputs, in_grads)):
            if g is None or inp not in conn or inp in blockers:
                continue
            contribs.setdefault(inp, []).append(_check_grad(node, i, inp, g))
    results = [_total(contribs.get(v), v) for v in wrt]
    _tag_new_nodes(results, before, "grad")
    return results


def _check_grad(node: Apply, i: int, inp: Variable, g: Variable) -> Variable:
    g = as_variable(g)
    if g.ndim != inp.ndim:
        raise NullGradError(f"{node.op}.L_op gave a {g.ndim}-d gradient for its {inp.ndim}-d "
                            f"input {i} (node created at {node.source_line})")
    if inp.type.is_float and g.dtype != inp.dtype:
        g = cast(g, inp.dtype)
    return g


def _total(gs: list[Variable] | None, like: Variable) -> Variable | None:
    if not gs:
        return None
    total = gs[0]
    for g in gs[1:]:
        total = total + g
    return cast(total, like.dtype) if like.type.is_float else total


def Lop(f: Variable | Sequence[Variable], wrt: Variable | Sequence[Variable],
        eval_points: Variable | Sequence[Variable], **kwargs: Any):
    """Vector-Jacobian product: sum_k eval_points[k] . d f[k] / d wrt, as graph."""
    fs, _ = _as_list(f)
    vs, _ = _as_list(eval_points)
    if len(fs) != len(vs):
        raise ValueError(f"Lop(): {len(fs)} outputs but {len(vs)} eval points")
    kwargs.setdefault("disconnected_inputs", "ignore")
    return grad(None, wrt, known_grads=dict(zip(fs, vs)), **kwargs)


def Rop(f: Variable | Sequence[Variable], wrt: Variable | Sequence[Variable],
        eval_points: Variable | Sequence[Variable]):
    """Jacobian-vector product d f / d wrt . eval_points (forward mode), as graph."""
    fs, f_list = _as_list(f)
    wrts, _ = _as_list(wrt)
    vs, _ = _as_list(eval_points)
    if len(wrts) != len(vs):
        raise ValueError(f"Rop(): {len(wrts)} wrt but {len(vs)} eval points")
    tangents: dict[Variable, Variable] = {}
    for w, v in zip(wrts, vs):
        if v.ndim != w.ndim:
            raise ValueError(f"Rop(): eval point for {w.describe()} has ndim {v.ndim}; "
                             f"expected {w.ndim}")
        tangents[w] = cast(v, w.dtype) if w.type.is_float else v
    before = set(toposort(fs))
    for node in toposort(fs, blockers=wrts):
        points = [tangents.get(v) for v in node.inputs]
        if all(p is None for p in points):
            continue
        outs = node.op.R_op(node.inputs, node.outputs, points)
        if len(outs) != len(node.outputs):
            raise NullGradError(f"{node.op}.R_op returned {len(outs)} tangents for "
                                f"{len(node.outputs)} outputs")
        for o, t in zip(node.outputs, outs):
            if t is not None:
                tangents[o] = cast(t, o.dtype) if o.type.is_float else t
    results = [tangents.get(v) if tangents.get(v) is not None else zeros_like(v) for v in fs]
    _tag_new_nodes(results, before, "Rop")
    return results if f_list else results[0]
