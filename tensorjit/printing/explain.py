"""What the compiler did to a function: the graph after each phase, the rewrites that
fired (before -> after), and the LLVM IR / assembly of its kernels.

``Function.dump``, ``Function.explain``, ``Function.llvm_ir`` and ``Function.asm`` call
the functions here. The per-phase graphs come from ``snapshot``: a shallow record of
each node's inputs (rewrites rewire ``node.inputs`` in place, so a snapshot only has
to remember those lists), rebuilt into a graph only when a dump asks for it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ..graph.basic import Apply, Variable
from ..graph.fg import FunctionGraph
from .debugprint import debugprint
from .pprint import pprint_short

# --------------------------------------------------------------------------------------
# Snapshots of the graph between phases


@dataclass(frozen=True)
class Snapshot:
    """The structure of a FunctionGraph at one moment: outputs and each node's inputs."""

    inputs: tuple[Variable, ...]
    outputs: tuple[Variable, ...]
    node_inputs: dict[Apply, tuple[Variable, ...]]


def snapshot(fg: FunctionGraph) -> Snapshot:
    """A cheap structural copy of fg (one tuple per node; no Variables are created)."""
    return Snapshot(tuple(fg.inputs), tuple(fg.outputs),
                    {node: tuple(node.inputs) for node in fg.apply_nodes})


def _order(snap: Snapshot) -> list[Apply]:
    """The snapshot's nodes, each after the owners of its (snapshot) inputs."""
    order: list[Apply] = []
    done: set[Apply] = set()
    stack: list[tuple[Apply, bool]] = [(v.owner, False) for v in reversed(snap.outputs)
                                       if v.owner is not None]
    while stack:
        node, expanded = stack.pop()
        if node in done:
            continue
        if expanded:
            done.add(node)
            order.append(node)
            continue
        stack.append((node, True))
        for v in reversed(snap.node_inputs.get(node, tuple(node.inputs))):
            if v.owner is not None and v.owner not in done and v not in snap.inputs:
                stack.append((v.owner, False))
    return order


def rebuild(snap: Snapshot) -> FunctionGraph:
    """A new FunctionGraph with the structure the snapshot recorded."""
    memo: dict[Variable, Variable] = {}
    for node in _order(snap):
        inputs = [memo.get(v, v) for v in snap.node_inputs.get(node, tuple(node.inputs))]
        new = Apply(node.op, inputs, [o.type for o in node.outputs])
        new.tag, new.source_line = dict(node.tag), node.source_line
        for old, out in zip(node.outputs, new.outputs):
            out.name, out.source_line = old.name, old.source_line
            memo[old] = out
    return FunctionGraph(list(snap.inputs), [memo.get(v, v) for v in snap.outputs],
                         clone=False)


def stages(f: Any) -> list[str]:
    """The stage names ``dump`` accepts for f, in pipeline order."""
    return list(getattr(f, "stages", {"input": None})) + ["final"]


def dump(f: Any, stage: str = "final", **kwargs: Any) -> str:
    """The debugprint text of f's graph after ``stage`` (see ``stages(f)``); not printed
    unless ``file`` is given."""
    valid = stages(f)
    if stage not in valid:
        raise ValueError(f"{f.name}.dump(): unknown stage {stage!r}; the stages of this "
                         f"function are {', '.join(repr(s) for s in valid)}")
    fg = f.fgraph if stage == "final" else rebuild(f.stages[stage])
    view = SimpleNamespace(fgraph=fg, n_outputs=f.n_outputs, updates=f.updates,
                           rewrites=[])
    kwargs.setdefault("file", "str")
    return debugprint(view, **kwargs)


# --------------------------------------------------------------------------------------
# The rewrite log


@dataclass(frozen=True)
class RewriteStep:
    """One rewrite that fired: its name (the one ``exclude=`` takes), phase, and the
    replaced and replacing expressions in pprint form."""

    rewrite: str
    phase: str
    before: str
    after: str
    source_line: str | None = None

    def __str__(self) -> str:
        where = f"  (your line {self.source_line})" if self.source_line else ""
        return (f"[{self.phase}] {self.rewrite}{where}\n"
                f"    before: {self.before}\n    after:  {self.after}")


class Explanation(list):
    """The list of RewriteSteps of a function; ``str()`` gives the printable report."""

    def __str__(self) -> str:
        if not self:
            return "no rewrite fired"
        lines = [f"{len(self)} rewrite{'s' * (len(self) != 1)} fired, in order:"]
        k = 0
        while k < len(self):
            # Identical consecutive steps (e.g. merging equal constants) print once.
            n = 1
            while k + n < len(self) and self[k + n] == self[k]:
                n += 1
            times = f" (x{n})" if n > 1 else ""
            head, _, rest = str(self[k]).partition("\n")
            lines.append(f"{k + 1:3d}. {head}{times}\n{rest}")
            k += n
        return "\n".join(lines)


def explain(f: Any, show: bool = False, max_chars: int = 100) -> Explanation:
    """The rewrites that fired while compiling f, in order (printed too when ``show``).

    Expressions longer than ``max_chars`` have their deepest subexpressions written as
    '…'. The inner parts of an expression are shown as they are in the final graph
    (a later rewrite of a subexpression shows up in both sides of earlier steps).
    """
    steps = Explanation(
        RewriteStep(e.rewrite or "?", e.phase, pprint_short(e.old, max_chars),
                    pprint_short(e.new, max_chars), e.source_line)
        for e in f.rewrites)
    if show:
        sys.stdout.write(str(steps) + "\n")
    return steps


# --------------------------------------------------------------------------------------
# LLVM IR and assembly (mode="llvm")

_KERNEL = re.compile(r"k(\d+)_")


def _module(f: Any, what: str) -> Any:
    module = getattr(getattr(f, "program", None), "module_ir", None)
    if module is None:
        raise ValueError(f"{f.name}.{what}(): this function was compiled with mode="
                         f"{f.mode!r}, which makes no native code; compile it with "
                         f"tj.function(..., mode='llvm') to see its IR and assembly")
    return module


def _all_kernel_functions(f: Any, what: str) -> list[str]:
    module = _module(f, what)
    return [fn.name for fn in module.functions
            if _KERNEL.match(fn.name) and not fn.is_declaration]


def kernel_names(f: Any) -> list[str]:
    """The names of f's kernels (``k<node index>_<Op>``), in module order; a kernel's
    helper functions (``<kernel>_body``, ``<kernel>_thread``) are not listed."""
    names = _all_kernel_functions(f, "kernel_names")
    return [n for n in names if not any(n.startswith(m + "_") for m in names if m != n)]


def _family(f: Any, kernel: int | str | None, what: str) -> list[str]:
    """The functions that make up one kernel (itself and its helpers), or all kernels."""
    every = _all_kernel_functions(f, what)
    if kernel is None:
        return every
    names = kernel_names(f)
    for name in names:
        if name == kernel or (isinstance(kernel, int) and not isinstance(kernel, bool)
                              and int(_KERNEL.match(name).group(1)) == kernel):
            return [n for n in every if n == name or n.startswith(name + "_")]
    raise ValueError(f"{f.name}.{what}(): no kernel {kernel!r}; the kernels are "
                     f"{', '.join(names) or 'none (every node runs in Python)'} (pass a "
                     f"name or the index after 'k')")


def _exported_text(module: Any, names: list[str]) -> str:
    """Module IR with the named kernels made external, so the optimizer keeps them as
    functions of their own instead of inlining them into the entry point."""
    text = str(module)
    for name in names:
        text = re.sub(rf'define internal (.*?@"?{re.escape(name)}"?\()', r"define \1", text)
    return text


def llvm_ir(f: Any, kernel: int | str | None = None, optimized: bool = False) -> str:
    """The LLVM IR of one kernel (by name or index) or the whole module; ``optimized``
    gives it after LLVM's optimization passes (what is turned into machine code)."""
    module = _module(f, "llvm_ir")
    names = _family(f, kernel, "llvm_ir")
    if not optimized:
        if kernel is None:
            return str(module)
        return "\n".join(str(module.get_global(n)) for n in names)
    from ..codegen.jit import optimized as optimize_ir
    text = optimize_ir(_exported_text(module, names), _pipeline(f, kernel))
    if kernel is None:
        return text
    return "\n".join(_section(text, rf'^define [^\n]*@"?{re.escape(n)}"?\(.*?^}}\n', n)
                     for n in names)


def asm(f: Any, kernel: int | str | None = None) -> str:
    """Host assembly of one kernel (by name or index), or of the module with every
    kernel kept as its own function."""
    module = _module(f, "asm")
    names = _family(f, kernel, "asm")
    from ..codegen.jit import assembly
    text = assembly(_exported_text(module, names), _pipeline(f, kernel))
    if kernel is None:
        return text
    return "\n".join(_section(text, rf'^"?{re.escape(n)}"?:\n.*?^\.Lfunc_end\d+:', n)
                     for n in names)


def _pipeline(f: Any, kernel: int | str | None) -> str:
    """The optimization pipeline one kernel is compiled with (compiler.kernel_pipeline);
    the whole module is shown as the full pipeline makes it."""
    if kernel is None:
        return "full"
    from ..codegen.compiler import kernel_pipeline
    index = kernel if isinstance(kernel, int) else int(_KERNEL.match(kernel).group(1))
    return kernel_pipeline(f.program.nodes[index])


def _section(text: str, pattern: str, name: str) -> str:
    """The part of an IR/asm listing that defines one function ('' if it was inlined)."""
    match = re.search(pattern, text, re.MULTILINE | re.DOTALL)
    return match.group(0) if match else f"; {name}: inlined into its caller\n"
