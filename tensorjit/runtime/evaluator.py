"""The reference evaluator: every op's NumPy ``perform`` in topological order.

It is the oracle every backend is tested against, and ``mode="py"`` of function().
All bookkeeping (slot numbers, constants, which slots die after which step) is done
once in ``Program.__init__`` so that ``run`` is a plain loop over the steps.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph.basic import Apply, Constant, SharedVariable, Variable
from ..graph.fg import FunctionGraph
from ..graph.types import shape_str


class OpRuntimeError(RuntimeError):
    """An op failed at run time (used when the original error type can't be reused)."""


class Program:
    """A schedule over a flat list of storage slots, built once per function."""

    def __init__(self, fg: FunctionGraph, name: str = "function") -> None:
        self.fg = fg
        self.name = name
        self.nodes: list[Apply] = fg.toposort()
        self._slot: dict[Variable, int] = {}
        self.input_slots = [self._index(v) for v in fg.inputs]
        self.shared: list[tuple[int, SharedVariable]] = []
        template: dict[int, np.ndarray] = {}
        steps = []
        for node in self.nodes:
            ins = [self._leaf(v, template) for v in node.inputs]
            steps.append((node, ins, [self._index(o) for o in node.outputs]))
        self.output_slots = [self._leaf(v, template) for v in fg.outputs]
        self.n_slots = len(self._slot)
        self._template: list[Any] = [None] * self.n_slots
        for i, data in template.items():
            self._template[i] = data
        self.steps = _with_frees(steps, set(self.output_slots))

    def _index(self, v: Variable) -> int:
        if v not in self._slot:
            self._slot[v] = len(self._slot)
        return self._slot[v]

    def _leaf(self, v: Variable, template: dict[int, np.ndarray]) -> int:
        """The slot of v, registering constants and shared variables on first sight."""
        known = v in self._slot
        i = self._index(v)
        if not known and isinstance(v, Constant):
            template[i] = v.data
        elif not known and isinstance(v, SharedVariable):
            self.shared.append((i, v))
        return i

    def shared_values(self) -> list[np.ndarray]:
        """The current values of the shared variables this program reads."""
        return [sv._value for _, sv in self.shared]

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Execute the steps on already-checked arguments; return the outputs' values."""
        store = self._template.copy()
        for i, a in zip(self.input_slots, args):
            store[i] = a
        for i, sv in self.shared:
            store[i] = sv._value
        for node, ins, outs, frees in self.steps:
            values = [store[i] for i in ins]
            try:
                results = node.op.perform(node, values)
            except Exception as exc:
                raise_op_error(node, values, exc, self.name)
            for i, r in zip(outs, results):
                store[i] = r
            for i in frees:  # drop intermediates as soon as nothing reads them
                store[i] = None
        return [store[i] for i in self.output_slots]


def _with_frees(steps: list, keep: set[int]) -> list[tuple[Apply, list, list, tuple]]:
    """Attach to each step the slots whose last reader it is (never outputs)."""
    last_use: dict[int, int] = {}
    for s, (_, ins, outs) in enumerate(steps):
        for i in ins:
            last_use[i] = s
        for i in outs:  # an output nobody reads dies right after it is made
            last_use.setdefault(i, s)
    frees: list[list[int]] = [[] for _ in steps]
    for i, s in last_use.items():
        if i not in keep:
            frees[s].append(i)
    return [(node, ins, outs, tuple(sorted(f)))
            for (node, ins, outs), f in zip(steps, frees)]


def describe_values(node: Apply, values: Sequence[Any]) -> str:
    """'x: (3, 4) float64, (4,) float64': a node's runtime inputs for error messages."""
    parts = []
    for var, v in zip(node.inputs, values):
        dtype = getattr(v, "dtype", type(v).__name__)
        label = f"{var.name}: " if var.name else ""
        parts.append(f"{label}{shape_str(np.shape(v))} {dtype}")
    return ", ".join(parts)


def raise_op_error(node: Apply, values: Sequence[Any], exc: Exception,
                   fname: str = "function") -> None:
    """Re-raise exc with the op, its inputs' shapes and the user's line in the message.

    The exception keeps its type (a ValueError stays a ValueError) when it can be built
    from a message; the original is chained as ``__cause__``.
    """
    where = f" (node created at {node.source_line})" if node.source_line else ""
    msg = (f"{fname}(): {node.op}{where} failed on inputs of shapes "
           f"[{describe_values(node, values)}]: {type(exc).__name__}: {exc}")
    try:
        new = type(exc)(msg)
    except Exception:
        new = OpRuntimeError(msg)
    if str(new) != msg and not isinstance(new, KeyError):  # exotic __str__: keep ours
        new = OpRuntimeError(msg)
    new.node = node  # type: ignore[attr-defined]
    raise new from exc


def evaluate(outputs: Sequence[Variable], givens: dict[Variable, Any]) -> list[np.ndarray]:
    """Evaluate variables on the reference evaluator, feeding givens (for Variable.eval)."""
    from .args import InputSpec

    inputs = list(givens)
    fg = FunctionGraph(inputs, list(outputs), clone=True)
    specs = [InputSpec(v, k, "eval()", allow_downcast=False) for k, v in enumerate(inputs)]
    return Program(fg, "eval").run([s.convert(givens[v]) for s, v in zip(specs, inputs)])
