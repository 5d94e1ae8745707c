"""function(): compile a graph into a callable that checks arguments and applies updates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..codegen import gemm
from ..graph.basic import (
    OPERATORS,
    Constant,
    SharedVariable,
    Variable,
    as_variable,
    clone_replace,
    constant,
)
from ..graph.fg import FunctionGraph
from ..passes.pipeline import optimize
from ..printing.explain import snapshot
from .args import InputSpec, coerce_dtype, describe_input
from .evaluator import Program, evaluate
from .native import NativeProgram
from .shapecheck import axis_classes, check_axis_classes
from .updates import commit_fresh_results, commit_results, normalize_updates

MODES = ("py", "llvm")
# "llvm": the optimized graph as JIT-compiled native code. "py": the reference
# evaluator (every op's NumPy perform), the oracle the native code is tested against.
DEFAULT_MODE = "llvm"
_NO_DEFAULT = object()


@dataclass(frozen=True, eq=False)
class In:
    """An input with options: a default ``value`` (making the argument optional) and a
    keyword ``name`` (defaults to the variable's name)."""

    variable: Variable
    value: Any = _NO_DEFAULT
    name: str | None = None

    @property
    def has_default(self) -> bool:
        return self.value is not _NO_DEFAULT


class Function:
    """A compiled graph. Call it with arrays; it returns arrays and applies updates.

    Attributes: ``fgraph`` (the optimized FunctionGraph: the outputs, then one update
    expression per entry of ``updates``), ``updates`` ([(shared, expression)]),
    ``rewrites`` (what the optimizer replaced), ``fallbacks`` (ops run by the reference
    evaluator instead of native code; in mode "py" everything runs there by choice).
    """

    def __init__(self, inputs: Sequence[Any], outputs: Any, updates: Any = None,
                 givens: Any = None, name: str | None = None, mode: str | None = None,
                 allow_input_downcast: bool = False, optimizer: str | None = "fast_run",
                 exclude: Sequence[str] = (), threads: int | None = None) -> None:
        self.name = name or "function"
        self.mode = mode or DEFAULT_MODE
        if self.mode not in MODES:
            raise ValueError(f"function(): mode must be one of {MODES}, got {mode!r}")
        self.allow_input_downcast = allow_input_downcast
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f"function(): inputs must be a list of variables, got {inputs!r}")
        self.ins = [_as_in(i, k) for k, i in enumerate(inputs)]
        in_vars = [i.variable for i in self.ins]
        if len(set(in_vars)) != len(in_vars):
            raise ValueError("function(): the same variable is given twice as an input")
        self._container = None if isinstance(outputs, Variable) or not isinstance(
            outputs, (list, tuple)) else type(outputs)
        out_list = list(outputs) if self._container else [outputs]
        out_vars = [as_variable(o) for o in out_list]
        self.updates = normalize_updates(updates)
        all_outs = out_vars + [e for _, e in self.updates]
        if givens:
            all_outs = clone_replace(all_outs, _normalize_givens(givens))
        self.fgraph = FunctionGraph(in_vars, all_outs, clone=True)
        self.n_outputs = len(out_vars)
        fname = f"{self.name}()"
        self._specs = [InputSpec(v, k, fname, allow_input_downcast)
                       for k, v in enumerate(self.fgraph.inputs)]
        # Taken from the graph as the user wrote it, before rewrites change its shape.
        self._axis_classes = axis_classes(self.fgraph)
        self._defaults = [_frozen(spec.convert(i.value)) if i.has_default else _NO_DEFAULT
                          for spec, i in zip(self._specs, self.ins)]
        self._keywords = _keyword_table(self.ins)
        # The graph after each phase (cheap structural snapshots), for dump().
        self.stages: dict[str, Any] = {"input": snapshot(self.fgraph)}
        if self.mode == "llvm":
            gemm.prefetch_for(self.fgraph.apply_nodes)  # runs beside the rewrites
        self.rewrites = _optimize(self.fgraph, optimizer, exclude, self.stages)
        if self.mode == "llvm":
            self.program = NativeProgram(self.fgraph, self.name, threads=threads,
                                         entry_container=self._container,
                                         updated=[sv for sv, _ in self.updates])
            self.fallbacks: list = list(self.program.fallbacks)
        else:
            self.program = Program(self.fgraph, self.name)
            self.fallbacks = []
        # Distinct, freshly allocated results need no aliasing checks on each call.
        self._fresh_results = bool(getattr(self.program, "fresh_results", False))
        entry = getattr(self.program, "py_entry", None)
        self._py_entry = None if entry is None else entry.call

    def _bind(self, args: Sequence[Any], kwargs: dict[str, Any]) -> list[np.ndarray]:
        """Arguments (positional, keyword and defaults) converted, in input order."""
        fname = f"{self.name}()"
        n = len(self.ins)
        if len(args) > n:
            raise TypeError(f"{fname}: takes {n} argument{'s' * (n != 1)}, got {len(args)}")
        values: list[Any] = list(args) + [_NO_DEFAULT] * (n - len(args))
        for key, val in kwargs.items():
            k = self._keywords.get(key)
            if k is None:
                raise TypeError(f"{fname}: no input named {key!r}; the inputs that can be "
                                f"given by keyword are {list(self._keywords)}")
            if k < 0:
                raise TypeError(f"{fname}: several inputs are named {key!r}; pass them by "
                                f"position")
            if values[k] is not _NO_DEFAULT:
                raise TypeError(f"{fname}: {describe_input(self.fgraph.inputs[k], k)} "
                                f"given twice (by position and by keyword)")
            values[k] = val
        missing = [describe_input(self.fgraph.inputs[k], k) for k, v in enumerate(values)
                   if v is _NO_DEFAULT and self._defaults[k] is _NO_DEFAULT]
        if missing:
            raise TypeError(f"{fname}: missing {', '.join(missing)}; takes {n} "
                            f"argument{'s' * (n != 1)}, got {len(args) + len(kwargs)}")
        return [self._defaults[k] if v is _NO_DEFAULT else spec.convert(v)
                for k, (spec, v) in enumerate(zip(self._specs, values))]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        entry = self._py_entry
        if entry is not None and not kwargs:
            # the whole steady-state call in native code; NotImplemented: anything it
            # does not handle (new shapes, conversions, errors), decided before any work
            out = entry(*args)
            if out is not NotImplemented:
                return out
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict[str, Any]) -> Any:
        """The Python call path: bind, convert and check, run, commit."""
        if kwargs or len(args) != len(self._specs):
            values = self._bind(args, kwargs)
        else:
            values = [spec.convert(a) for spec, a in zip(self._specs, args)]
        if self._axis_classes:
            check_axis_classes(self._axis_classes, values, self.fgraph.inputs,
                               f"{self.name}()")
        results = self.program.run(values)
        if not self._fresh_results:
            outputs = commit_results(self, values, results)
        elif self.updates:
            outputs = commit_fresh_results(self, results)
        else:
            outputs = results  # fresh arrays, no updates: nothing to commit
        if self._container is None:
            return outputs[0]
        return outputs if self._container is list else self._container(outputs)

    def dump(self, stage: str = "final", **kwargs: Any) -> str:
        """The debugprint text of the graph as it was after ``stage`` ("input", a phase
        name such as "canonicalize", or "final"); kwargs go to ``debugprint``."""
        from ..printing.explain import dump
        return dump(self, stage, **kwargs)

    def explain(self, show: bool = False, max_chars: int = 100) -> Any:
        """The rewrites that fired, in order: name, phase, before -> after (pprint form);
        printed too when ``show``."""
        from ..printing.explain import explain
        return explain(self, show=show, max_chars=max_chars)

    def llvm_ir(self, kernel: int | str | None = None, optimized: bool = False) -> str:
        """LLVM IR of one kernel (by index or name) or of the whole module (mode="llvm")."""
        from ..printing.explain import llvm_ir
        return llvm_ir(self, kernel, optimized=optimized)

    def asm(self, kernel: int | str | None = None) -> str:
        """Host assembly of one kernel (by index or name) or of all (mode="llvm")."""
        from ..printing.explain import asm
        return asm(self, kernel)

    def __repr__(self) -> str:
        return f"<tensorjit Function {self.name!r}: {self.fgraph}>"


def _as_in(i: Any, k: int) -> In:
    if isinstance(i, In):
        _check_input(i.variable, k)
        return i
    return In(_check_input(i, k))


def _frozen(value: np.ndarray) -> np.ndarray:
    """A read-only private copy (the caller may mutate the array they gave as default)."""
    value = np.array(value, copy=True)
    value.setflags(write=False)
    return value


def _keyword_table(ins: Sequence[In]) -> dict[str, int]:
    """Keyword name -> input position (-1 when the name is ambiguous)."""
    table: dict[str, int] = {}
    for k, i in enumerate(ins):
        key = i.name or i.variable.name
        if key:
            table[key] = -1 if key in table else k
    return table


def _normalize_givens(givens: Any) -> dict[Variable, Variable]:
    pairs = givens.items() if isinstance(givens, dict) else givens
    replace: dict[Variable, Variable] = {}
    for pair in pairs:
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"function(): givens must be a dict or a list of (variable, "
                            f"replacement) pairs, got {pair!r}") from None
        if not isinstance(key, Variable):
            raise TypeError(f"function(): givens key {key!r} is not a symbolic variable")
        if not isinstance(value, Variable):  # a value: the argument dtype rules apply
            who = f"function(): the givens value for {key.describe()}"
            value = constant(coerce_dtype(value, key.dtype, who, allow_downcast=False))
        if not key.type.is_compatible(value.type):
            raise TypeError(f"function(): givens replaces {key.describe()} with "
                            f"{value.describe()}; the replacement must have the same dtype "
                            f"and ndim, and agree with every static dimension")
        replace[key] = value
    return replace


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


def _optimize(fg: FunctionGraph, optimizer: str | None, exclude: Sequence[str],
              stages: dict[str, Any] | None = None):
    """Run the rewrite pipeline (passes/pipeline.py), recording the graph after each phase."""
    if optimizer is None:
        return []
    def on_phase(name: str, graph: FunctionGraph) -> None:
        if stages is not None:
            stages[name] = snapshot(graph)

    return optimize(fg, optimizer=optimizer, exclude=tuple(exclude), on_phase=on_phase)


def function(inputs: Sequence[Any], outputs: Any, updates: Any = None, givens: Any = None,
             name: str | None = None, mode: str | None = None,
             allow_input_downcast: bool = False, optimizer: str | None = "fast_run",
             exclude: Sequence[str] = (), threads: int | None = None) -> Function:
    """Compile outputs as a function of inputs.

    Parameters
    ----------
    inputs : list of Variables, or ``tj.In(var, value=default, name=keyword)`` for
        optional inputs. Arguments are checked: count, dtype, ndim, static shape, and
        that the axes elementwise ops combine agree.
    outputs : a Variable, or a list (or tuple) of them; the call returns the same
        structure. Returned arrays never alias the arguments or shared storage.
    updates : ``{shared: expression}`` or ``[(shared, expression), ...]``. Every update
        is computed from the values before the call and must keep the shared
        variable's dtype and shape; they are applied all together after the outputs
        are computed, or not at all if the call raises.
    givens : ``{variable: replacement}`` substituted into the graph before compiling.
    name : used in error messages (``train(): input 0 'x' ...``).
    mode : "py" (the NumPy reference evaluator).
    allow_input_downcast : accept arguments that lose precision when cast (float64 ->
        float32).
    optimizer : "fast_run", "stabilize_only" or None.
    exclude : names of rewrites not to apply.
    threads : how many threads large native kernels may use (mode="llvm"); default
        ``TENSORJIT_NUM_THREADS`` or the cores this process may run on.

    Returns
    -------
    Function
        Callable as ``f(*args, **kwargs)``; exposes ``f.fgraph`` for printing.
    """
    return Function(inputs, outputs, updates=updates, givens=givens, name=name, mode=mode,
                    allow_input_downcast=allow_input_downcast, optimizer=optimizer,
                    exclude=exclude, threads=threads)


OPERATORS["eval"] = lambda var, givens: evaluate([var], givens)[0]
