"""Composite: a small DAG of scalar ops computed in one pass per element.

The fusion pass (passes/fuse.py) turns a group of Elemwise nodes into one
``Elemwise(Composite(...))`` node, so a backend emits one loop whose body is the whole
expression. A Composite is an ordinary ScalarOp: ``impl`` evaluates the inner DAG with
the inner ops' NumPy impls (the reference), ``grad`` expands the DAG back into
elementwise graph ops, and its name shows the fused expression, e.g.
``composite{exp(-(i0 * i0) / 2) * sin(3 * i0)}``.

The inner DAG is data: ``entries`` is a tuple of ``(op, arg_refs)`` in topological
order, where ``op`` is a ScalarOp or a ScalarConstant (a literal, no args) and a ref
``r < n_inputs`` names input r while ``r = n_inputs + k`` names entry k; ``output`` is
the ref of the result. Every field is hashable, so equal composites merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..basic import Constant, Variable, constant, toposort
from .elemwise import Elemwise, ScalarOp

__all__ = ["Composite", "ScalarConstant", "composite_from_graph"]


@dataclass(frozen=True)
class ScalarConstant:
    """A literal inside a Composite: a Python number and the dtype it has."""

    value: bool | int | float
    dtype: str

    def array(self) -> np.ndarray:
        """The literal as a 0-d array of its dtype."""
        return np.asarray(self.value, dtype=self.dtype)

    def __str__(self) -> str:
        if isinstance(self.value, float) and self.value.is_integer():
            return str(int(self.value))
        return repr(self.value)


Entry = tuple[ScalarOp | ScalarConstant, tuple[int, ...]]

# Infix display of the inner ops: fname -> (symbol, precedence); higher binds tighter.
_INFIX = {"add": ("+", 5), "sub": ("-", 5), "mul": ("*", 6), "true_div": ("/", 6),
          "floor_div": ("//", 6), "mod": ("%", 6), "pow": ("**", 8),
          "eq": ("==", 4), "neq": ("!=", 4), "lt": ("<", 4), "le": ("<=", 4),
          "gt": (">", 4), "ge": (">=", 4), "logical_and": ("&", 3),
          "logical_or": ("|", 1), "logical_xor": ("^", 2)}
_UNARY, _ATOM = 7, 10


@dataclass(frozen=True)
class Composite(ScalarOp):
    """A DAG of scalar ops over ``len(in_dtypes)`` inputs (see the module docstring)."""

    in_dtypes: tuple[str, ...]
    entries: tuple[Entry, ...]
    output: int
    policy: ClassVar[str] = "custom"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dtypes", self._check_and_type())

    def _check_and_type(self) -> tuple[str, ...]:
        """Validate refs and inner dtypes; return the dtype of every ref."""
        dtypes = list(self.in_dtypes)
        for k, (op, refs) in enumerate(self.entries):
            if any(not 0 <= r < len(dtypes) for r in refs):
                raise ValueError(f"Composite entry {k} ({op}) refers to {refs}; only "
                                 f"refs below {len(dtypes)} are defined there")
            if isinstance(op, ScalarConstant):
                dtypes.append(op.dtype)
                continue
            args = [dtypes[r] for r in refs]
            problem = op.check_dtypes(args)
            if problem:
                raise TypeError(f"Composite entry {k}: {op.fname}(): {problem}")
            dtypes.append(op.output_dtype(*args))
        if not 0 <= self.output < len(dtypes):
            raise ValueError(f"Composite output ref {self.output} is not defined")
        return tuple(dtypes)

    # -- ScalarOp interface
    @property
    def nin(self) -> int:  # type: ignore[override]
        return len(self.in_dtypes)

    @property
    def fname(self) -> str:  # type: ignore[override]
        return f"composite{{{self.expression()}}}"

    def check_dtypes(self, dtypes: Sequence[str]) -> str | None:
        if tuple(dtypes) != self.in_dtypes:
            return (f"expected inputs of dtypes {', '.join(self.in_dtypes)}, got "
                    f"{', '.join(dtypes)}")
        return None

    def output_dtype(self, *dtypes: str) -> str:
        return self._dtypes[self.output]

    def ref_dtype(self, ref: int) -> str:
        """The dtype of an input or entry."""
        return self._dtypes[ref]

    def scalar_ops(self) -> list[ScalarOp]:
        """The inner scalar ops (without literals), in evaluation order."""
        return [op for op, _ in self.entries if isinstance(op, ScalarOp)]

    def impl(self, *inputs: np.ndarray) -> np.ndarray:
        values: list[Any] = [np.asarray(x) for x in inputs]
        for k, (op, refs) in enumerate(self.entries):
            if isinstance(op, ScalarConstant):
                values.append(op.array())
                continue
            out = np.asarray(op.impl(*[values[r] for r in refs]))
            dtype = self._dtypes[self.nin + k]
            values.append(out if out.dtype.name == dtype else out.astype(dtype))
        return values[self.output]

    def expand(self, inputs: Sequence[Variable]) -> list[Variable]:
        """The inner DAG as elementwise graph ops on ``inputs``: one variable per ref."""
        values: list[Variable] = list(inputs)
        for op, refs in self.entries:
            if isinstance(op, ScalarConstant):
                values.append(constant(op.value, dtype=op.dtype))
            else:
                values.append(Elemwise(op)(*[values[r] for r in refs]))
        return values

    def grad(self, inputs, output, gout):
        # Forward propagation of one tangent per input through the inner ops' grads
        # keeps every partial elementwise (unreduced), as Elemwise.L_op/R_op expect.
        values = self.expand(inputs)
        return [self._tangent(values, i, gout) for i in range(self.nin)]

    def _tangent(self, values: list[Variable], i: int, seed: Variable) -> Variable | None:
        """d(output)/d(input i) * seed, as an elementwise graph (None: no dependence)."""
        tangents: dict[int, Variable] = {i: seed}
        for k, (op, refs) in enumerate(self.entries):
            if isinstance(op, ScalarConstant) or not any(r in tangents for r in refs):
                continue
            args = [values[r] for r in refs]
            out = values[self.nin + k]
            total = None
            for j, r in enumerate(refs):
                if r not in tangents:
                    continue
                term = op.grad(args, out, tangents[r])[j]
                if term is not None:
                    total = term if total is None else total + term
            if total is not None:
                tangents[self.nin + k] = total
        return tangents.get(self.output)

    # -- display
    def expression(self) -> str:
        """The inner DAG as one infix expression over i0, i1, ..."""
        texts: list[tuple[str, int]] = [(f"i{k}", _ATOM) for k in range(self.nin)]
        for op, refs in self.entries:
            texts.append(_format(op, [texts[r] for r in refs]))
        return texts[self.output][0]

    def __str__(self) -> str:
        return self.fname


def _format(op: ScalarOp | ScalarConstant, args: list[tuple[str, int]]) -> tuple[str, int]:
    """Text and precedence of one inner entry."""
    if isinstance(op, ScalarConstant):
        text = str(op)
        return text, (_UNARY if text.startswith("-") else _ATOM)
    name = op.fname
    if name in _INFIX and len(args) == 2:
        sym, prec = _INFIX[name]
        right_assoc = name == "pow"
        left = _paren(args[0], prec + right_assoc)
        right = _paren(args[1], prec + (not right_assoc))
        return f"{left}{sym}{right}" if prec >= 6 else f"{left} {sym} {right}", prec
    if name == "neg":
        return f"-{_paren(args[0], _UNARY + 1)}", _UNARY
    if name == "logical_not":
        return f"~{_paren(args[0], _UNARY + 1)}", _UNARY
    return f"{name}({', '.join(a for a, _ in args)})", _ATOM


def _paren(arg: tuple[str, int], prec: int) -> str:
    text, p = arg
    return f"({text})" if p < prec else text


# --------------------------------------------------------------------------------------
# Building a Composite from an elementwise graph


def composite_from_graph(inputs: Sequence[Variable], output: Variable) -> Composite:
    """The Composite computing ``output`` from ``inputs`` through Elemwise nodes only.

    Leaves that are not among ``inputs`` must be size-1 constants; they become literals.
    Inner Composites are inlined, so composites stay flat.
    """
    refs: dict[Variable, int] = {v: k for k, v in enumerate(inputs)}
    entries: list[Entry] = []
    n = len(inputs)

    def ref_of(v: Variable) -> int:
        if v in refs:
            return refs[v]
        if isinstance(v, Constant) and v.data.size == 1:
            entries.append((ScalarConstant(v.data.reshape(()).item(), v.dtype), ()))
            refs[v] = n + len(entries) - 1
            return refs[v]
        raise ValueError(f"composite_from_graph(): {v.describe()} is not an input, a "
                         f"size-1 constant, or computed by an elementwise op")

    for node in toposort([output], blockers=list(inputs)):
        if not isinstance(node.op, Elemwise):
            raise TypeError(f"composite_from_graph(): {node.op} is not elementwise "
                             f"(only Elemwise nodes can be fused)")
        args = tuple(ref_of(v) for v in node.inputs)
        op = node.op.scalar_op
        if isinstance(op, Composite):
            refs[node.outputs[0]] = _inline(op, args, entries, n)
        else:
            entries.append((op, args))
            refs[node.outputs[0]] = n + len(entries) - 1
    return Composite(tuple(v.dtype for v in inputs), tuple(entries), ref_of(output))


def _inline(inner: Composite, args: tuple[int, ...], entries: list[Entry], n: int) -> int:
    """Append an inner composite's entries (refs remapped); return its output's ref."""
    remap = list(args)
    for op, refs in inner.entries:
        entries.append((op, tuple(remap[r] for r in refs)))
        remap.append(n + len(entries) - 1)
    return remap[inner.output]
