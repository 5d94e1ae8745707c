"""Updates of shared variables, and handing results to the caller without aliasing.

A call computes every output and every new shared value first, from the values before
the call, checks them, and only then assigns the new values: if anything raises, no
shared variable changes. No returned or stored array may share memory with the
caller's arguments, with shared storage, with a constant, or with another result, so
that mutating one never silently changes another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..graph.basic import SharedVariable, Variable, as_variable
from ..graph.ops.elemwise import cast
from ..graph.types import shape_str

if TYPE_CHECKING:
    from .function import Function


def normalize_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
    """[(shared, expression)] from a dict or a list of pairs, each checked for type."""
    if updates is None:
        return []
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates)
    out: list[tuple[SharedVariable, Variable]] = []
    seen: set[SharedVariable] = set()
    for pair in pairs:
        try:
            shared, expr = pair
        except (TypeError, ValueError):
            raise TypeError(f"function(): updates must be a dict or a list of "
                            f"(shared_variable, expression) pairs, got {pair!r}") from None
        if not isinstance(shared, SharedVariable):
            raise TypeError(f"function(): update target {shared!r} is not a shared variable "
                            f"(create it with tj.shared)")
        if shared in seen:
            raise ValueError(f"function(): shared variable {shared.name!r} is updated twice")
        seen.add(shared)
        out.append((shared, _check_update(shared, as_variable(expr))))
    return out


def _check_update(shared: SharedVariable, expr: Variable) -> Variable:
    who = f"function(): the update of shared variable {shared.name!r} ({shared.type})"
    if expr.dtype != shared.dtype:
        # Only lossless casts happen implicitly, as for arguments.
        if not np.can_cast(expr.dtype, shared.dtype, "safe"):
            raise TypeError(f"{who} has dtype {expr.dtype}; expected {shared.dtype} "
                            f"(cast it with .astype({shared.dtype!r}) if that is meant)")
        expr = cast(expr, shared.dtype)
    if expr.ndim != shared.ndim:
        raise TypeError(f"{who} is {expr.ndim}-d ({expr.type}); expected {shared.ndim}-d")
    if not shared.type.is_compatible(expr.type):
        raise ValueError(f"{who} has static shape {shape_str(expr.type.shape)}; expected "
                         f"{shape_str(shared.type.shape)}")
    return expr


def commit_results(fn: "Function", values: Sequence[np.ndarray],
                   results: Sequence[Any]) -> list[np.ndarray]:
    """Check the new shared values, assign them all, and return unaliased outputs."""
    protected = {id(a if a.base is None else _root(a)) for a in values}
    for v in fn.program.shared_values():
        protected.add(id(v if v.base is None else _root(v)))
    n = fn.n_outputs
    outputs = [_owned(o, protected) for o in results[:n]]
    if not fn.updates:
        return outputs
    new_values = []
    for (sv, _), v in zip(fn.updates, results[n:]):
        old = sv._value
        if type(v) is not np.ndarray or v.shape != old.shape or v.dtype != old.dtype:
            _raise_bad_update(fn, sv, v)
        new_values.append(_owned(v, protected))
    for (sv, _), v in zip(fn.updates, new_values):
        sv._value = v
    return outputs


def commit_fresh_results(fn: "Function", results: Sequence[np.ndarray]) -> list[np.ndarray]:
    """commit_results for a program whose results are distinct, freshly allocated
    arrays (nothing can alias): check the update shapes, then assign them all."""
    updates = fn.updates
    if not updates:
        return results
    n = fn.n_outputs
    new_values = results[n:]
    for (sv, _), v in zip(updates, new_values):
        if v.shape != sv._value.shape:
            _raise_bad_update(fn, sv, v)
    for (sv, _), v in zip(updates, new_values):
        sv._value = v
    return list(results[:n])


def _raise_bad_update(fn: "Function", sv: SharedVariable, v: Any) -> None:
    old = sv._value
    v = np.asarray(v)
    who = f"{fn.name}(): the update of shared variable {sv.name!r}"
    if v.dtype != old.dtype:
        raise TypeError(f"{who} computed dtype {v.dtype}; expected {old.dtype}; no shared "
                        f"variable was changed")
    if v.shape != old.shape:
        raise ValueError(f"{who} computed an array of shape {shape_str(v.shape)}, but "
                         f"{sv.name!r} has shape {shape_str(old.shape)} (updates keep the "
                         f"shape; use set_value() to resize); no shared variable was changed")


def _root(a: Any) -> Any:
    """The array that owns a's memory (a itself unless a is a view)."""
    base = getattr(a, "base", None)
    while isinstance(base, np.ndarray):
        a, base = base, base.base
    return a


def _owned(o: Any, protected: set[int]) -> np.ndarray:
    """o, or a copy of it if its memory belongs to something the caller can reach."""
    if type(o) is not np.ndarray:
        o = np.array(o)
    elif o.base is None and o.flags.writeable and id(o) not in protected:
        protected.add(id(o))  # the common case: a fresh array made by the last op
        return o
    else:
        root = _root(o)
        if id(root) in protected or not o.flags.writeable:
            o = o.copy()
        else:
            protected.add(id(root))
            return o
    protected.add(id(o))
    return o
