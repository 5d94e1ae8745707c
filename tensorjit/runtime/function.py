"""function(): compile a graph into a callable that checks arguments and applies updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..graph.basic import OPERATORS, Constant, SharedVariable, Variable, as_variable, \
    clone_replace
from ..graph.fg import FunctionGraph
from ..graph.ops.elemwise import cast
from .args import convert_argument
from .evaluator import Program, evaluate

MODES = ("py",)
_NO_DEFAULT = object()


@dataclass(frozen=True)
class In:
    """An input with options: a default value (making the argument optional)."""

    variable: Variable
    value: Any = _NO_DEFAULT
    name: str | None = None

    @property
    def has_default(self) -> bool:
        return self.value is not _NO_DEFAULT


def _normalize_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
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
        expr = as_variable(expr)
        if expr.dtype != shared.dtype:
            if np.can_cast(expr.dtype, shared.dtype, "same_kind"):
                expr = cast(expr, shared.dtype)
            else:
                raise TypeError(f"function(): update of {shared.name!r} ({shared.type}) has "
                                f"dtype {expr.dtype}; expected {shared.dtype}")
        if expr.ndim != shared.ndim or not shared.type.is_compatible(
                expr.type.with_dtype(shared.dtype)):
            raise ValueError(f"function(): update of {shared.name!r} has type {expr.type}; "
                             f"expected {shared.type}")
        out.append((shared, expr))
    return out


class Function:
    """A compiled graph. Call it with arrays; it returns arrays and applies updates."""

    def __init__(self, inputs: Sequence[Any], outputs: Any, updates: Any = None,
                 givens: Any = None, name: str | None = None, mode: str | None = None,
                 allow_input_downcast: bool = False, optimizer: str | None = "fast_run",
                 exclude: Sequence[str] = ()) -> None:
        self.name = name or "function"
        self.mode = mode or "py"
        if self.mode not in MODES:
            raise ValueError(f"function(): mode must be one of {MODES}, got {mode!r}")
        self.allow_input_downcast = allow_input_downcast
        self.ins = [i if isinstance(i, In) else In(_check_input(i, k))
                    for k, i in enumerate(inputs)]
        in_vars = [i.variable for i in self.ins]
        if len(set(in_vars)) != len(in_vars):
            raise ValueError("function(): the same variable is given twice as an input")
        self._single = not isinstance(outputs, (list, tuple))
        out_vars = [as_variable(o) for o in ([outputs] if self._single else outputs)]
        self.updates = _normalize_updates(updates)
        all_outs = out_vars + [e for _, e in self.updates]
        if givens:
            pairs = givens.items() if isinstance(givens, dict) else givens
            replace = {k: as_variable(v) for k, v in pairs}
            for k, v in replace.items():
                if not k.type.is_compatible(v.type):
                    raise TypeError(f"function(): givens replaces {k.describe()} with "
                                    f"{v.describe()} of another type")
            all_outs = clone_replace(all_outs, replace)
        self.fgraph = FunctionGraph(in_vars, all_outs, clone=True)
        self.n_outputs = len(out_vars)
        self.rewrites = _optimize(self.fgraph, optimizer, exclude)
        self.program = Program(self.fgraph)
        self.fallbacks: list = []

    def _bind(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[np.ndarray]:
        fname = f"{self.name}()"
        if len(args) > len(self.ins):
            raise TypeError(f"{fname}: takes {len(self.ins)} arguments, got {len(args)}")
        values: list[Any] = list(args) + [_NO_DEFAULT] * (len(self.ins) - len(args))
        names = {(i.name or i.variable.name): k for k, i in enumerate(self.ins)}
        for key, val in kwargs.items():
            if key not in names:
                raise TypeError(f"{fname}: no input named {key!r}; inputs are "
                                f"{[n for n in names if n]}")
            k = names[key]
            if values[k] is not _NO_DEFAULT:
                raise TypeError(f"{fname}: input {key!r} given twice")
            values[k] = val
        out = []
        for k, (inp, val) in enumerate(zip(self.ins, values)):
            if val is _NO_DEFAULT:
                if not inp.has_default:
                    missing = [f"{j} {self.ins[j].variable.name!r}" for j, v in
                               enumerate(values) if v is _NO_DEFAULT and
                               not self.ins[j].has_default]
                    raise TypeError(f"{fname}: missing argument(s) {', '.join(missing)}; "
                                    f"takes {len(self.ins)} inputs, got {len(args)}")
                val = inp.value
            out.append(convert_argument(val, self.fgraph.inputs[k], k, fname,
                                        self.allow_input_downcast))
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._bind(args, kwargs)
        results = self.program.run(values)
        outputs = results[:self.n_outputs]
        new_values = results[self.n_outputs:]
        checked = [(sv, sv._check(v, f"{self.name}(): update"))
                   for (sv, _), v in zip(self.updates, new_values)]
        for sv, v in checked:  # commit only after every update was computed and checked
            sv._value = v if not _aliases(v, sv, values) else v.copy()
        outputs = [_own(o, values) for o in outputs]
        return outputs[0] if self._single else outputs

    def __repr__(self) -> str:
        return f"<tensorjit Function {self.name!r}: {self.fgraph}>"


def _aliases(v: np.ndarray, sv: SharedVariable, inputs: Sequence[np.ndarray]) -> bool:
    if not isinstance(v, np.ndarray) or not v.flags.writeable:
        return True
    return any(np.shares_memory(v, a) for a in inputs if isinstance(a, np.ndarray))


def _own(o: np.ndarray, inputs: Sequence[np.ndarray]) -> np.ndarray:
    """Outputs must not alias constants, shared values or the caller's inputs."""
    if isinstance(o, np.ndarray) and (not o.flags.writeable or o.base is not None or
                                      any(o is a for a in inputs)):
        return np.array(o)
    return o


def _check_input(v: Any, k: int) -> Variable:
    if not isinstance(v, Variable):
        raise TypeError(f"function(): input {k} must be a symbolic Variable, got {v!r}")
    if isinstance(v, (Constant, SharedVariable)):
        kind = "a constant" if isinstance(v, Constant) else "a shared variable"
        raise TypeError(f"function(): input {k} ({v!r}) is {kind}; inputs must be "
                        f"free variables (shared values are read implicitly)")
    if v.owner is not None:
        raise TypeError(f"function(): input {k} ({v!r}) is computed by {v.owner.op}; "
                        f"inputs must be free variables (use givens= to substitute)")
    return v


def _optimize(fg: FunctionGraph, optimizer: str | None, exclude: Sequence[str]):
    if optimizer is None:
        return []
    try:
        from ..passes.pipeline import optimize
    except ImportError:
        return []
    return optimize(fg, optimizer=optimizer, exclude=tuple(exclude))


def function(inputs: Sequence[Any], outputs: Any, updates: Any = None, givens: Any = None,
             name: str | None = None, mode: str | None = None,
             allow_input_downcast: bool = False, optimizer: str | None = "fast_run",
             exclude: Sequence[str] = ()) -> Function:
    """Compile outputs as a function of inputs.

    Parameters
    ----------
    inputs : list of Variables (or tj.In for optional inputs with defaults).
    outputs : a Variable or a list of them; the call returns the same structure.
    updates : {shared: expression} or [(shared, expression), ...], applied after the call
        from values computed before it; all or nothing.
    givens : {variable: replacement} substituted into the graph before compiling.
    mode : "py" (the NumPy reference evaluator).
    allow_input_downcast : accept arguments that lose precision when cast (float64 -> f32).
    optimizer : "fast_run", "stabilize_only" or None.
    exclude : names of rewrites not to apply.
    """
    return Function(inputs, outputs, updates=updates, givens=givens, name=name, mode=mode,
                    allow_input_downcast=allow_input_downcast, optimizer=optimizer,
                    exclude=exclude)


OPERATORS["eval"] = lambda var, givens: evaluate([var], givens)[0]
