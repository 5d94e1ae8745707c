"""The reference evaluator: every op's NumPy ``perform`` in topological order.

It is the oracle every backend is tested against, and ``mode="py"`` of function().
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..graph.basic import Apply, Constant, SharedVariable, Variable
from ..graph.fg import FunctionGraph


class OpRuntimeError(RuntimeError):
    """An op failed at run time (fallback when the original error type can't be reused)."""


class Program:
    """A schedule over a flat list of storage slots, built once per function."""

    def __init__(self, fg: FunctionGraph) -> None:
        self.fg = fg
        self.nodes: list[Apply] = fg.toposort()
        slot: dict[Variable, int] = {}

        def index(v: Variable) -> int:
            if v not in slot:
                slot[v] = len(slot)
            return slot[v]

        self.input_slots = [index(v) for v in fg.inputs]
        self.constants: list[tuple[int, np.ndarray]] = []
        self.shared: list[tuple[int, SharedVariable]] = []
        self.steps: list[tuple[Apply, list[int], list[int]]] = []
        for node in self.nodes:
            ins = []
            for v in node.inputs:
                known = v in slot
                i = index(v)
                if not known and isinstance(v, Constant):
                    self.constants.append((i, v.data))
                elif not known and isinstance(v, SharedVariable):
                    self.shared.append((i, v))
                ins.append(i)
            self.steps.append((node, ins, [index(o) for o in node.outputs]))
        for v in fg.outputs:
            known = v in slot
            i = index(v)
            if not known and isinstance(v, Constant):
                self.constants.append((i, v.data))
            elif not known and isinstance(v, SharedVariable):
                self.shared.append((i, v))
        self.output_slots = [slot[v] for v in fg.outputs]
        self.n_slots = len(slot)

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        store: list[Any] = [None] * self.n_slots
        for i, a in zip(self.input_slots, args):
            store[i] = a
        for i, data in self.constants:
            store[i] = data
        for i, sv in self.shared:
            store[i] = sv.get_value(borrow=True)
        for node, ins, outs in self.steps:
            values = [store[i] for i in ins]
            try:
                results = node.op.perform(node, values)
            except Exception as exc:
                raise_op_error(node, values, exc)
            for i, r in zip(outs, results):
                store[i] = r
        return [store[i] for i in self.output_slots]


def raise_op_error(node: Apply, values: Sequence[Any], exc: Exception) -> None:
    """Re-raise exc with the op, its inputs' shapes and the user's line in the message."""
    shapes = ", ".join(
        f"{np.shape(v)} {getattr(v, 'dtype', type(v).__name__)}" for v in values)
    where = f"; node created at {node.source_line}" if node.source_line else ""
    msg = f"{node.op} failed on inputs of shapes [{shapes}]{where}: {exc}"
    try:
        new = type(exc)(msg)
    except Exception:
        new = OpRuntimeError(msg)
    raise new from exc


def evaluate(outputs: Sequence[Variable], givens: dict[Variable, Any]) -> list[np.ndarray]:
    """Evaluate variables on the reference evaluator, feeding givens (for Variable.eval)."""
    inputs = list(givens)
    fg = FunctionGraph(inputs, list(outputs), clone=True)
    return Program(fg).run([np.asarray(givens[v], dtype=v.dtype) for v in inputs])
