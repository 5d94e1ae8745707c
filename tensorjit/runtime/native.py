"""The native program: the optimized graph as JIT-compiled kernels, run per shape plan.

Nodes fall in three groups. *Plan-time* nodes compute values that decide shapes
(shape(x), arange(n) sizes, reshape targets); they run in Python once per plan.
*Native* nodes have a codegen rule. *Fallback* nodes run their NumPy ``perform``;
they split the native nodes into segments, each one entry point. With no fallback
the whole function is one native call. ``fallbacks`` names the fallback nodes.

A plan is made once per combination of input (and shared-variable) shapes: all
shapes, the meta array, one arena holding every intermediate, and a pointer table in
which only inputs, outputs and shared values change from call to call.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..codegen import pool, rules  # noqa: F401  (rules registers the kernels)
from ..codegen.compiler import compile_program, structure_text
from ..codegen.parallel import default_threads
from ..codegen.program import STATUS_OTHER_PLAN, KernelTables, Layout, build_module
from ..codegen.registry import ERR_INDEX, ERR_SHAPE, ERROR_SLOTS, THREADS_SLOT, rule_for
from ..graph.basic import Apply, Constant, SharedVariable, Variable
from ..graph.fg import FunctionGraph
from ..graph.ops.composite import Composite
from ..graph.ops.elemwise import Elemwise, Second
from .evaluator import Program, raise_op_error
from .pyentry import CallLock, PyEntry, entry_spec

empty = np.empty
# Plan-time ops that read only their input's shape, never its values.
SHAPE_READERS = frozenset({"Shape", "ShapeI", "AxesSize"})
_ENTRY = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p)
ALIGN = 64


def plan_time_nodes(fg: FunctionGraph, order: Sequence[Apply]) -> tuple[set[Apply], bool]:
    """Nodes whose values decide shapes, and whether they read input *values*."""
    needed: list[Variable] = []
    for node in order:
        for pos in getattr(node.op, "shape_value_inputs", ()):
            if pos < len(node.inputs):  # Split(mode="sections") has no input 1
                needed.append(node.inputs[pos])
    plan: set[Apply] = set()
    reads_values = False
    stack = list(needed)
    seen: set[Variable] = set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v.owner is None:
            reads_values |= not isinstance(v, Constant)
            continue
        plan.add(v.owner)
        if type(v.owner.op).__name__ in SHAPE_READERS:
            continue  # only the input's shape is read, never its values
        stack.extend(v.owner.inputs)
    return plan | shape_only_nodes(order), reads_values


def shape_only_nodes(order: Sequence[Apply]) -> set[Apply]:
    """Nodes whose values depend on shapes and constants only (a mean's 1/n, its
    gradient's fill(y, -1/n), a label count): the same for every call with the same
    shapes, so computed once when the plan is made instead of by a kernel per call
    (each kernel call costs ~50 ns; the logistic regression's graph had ten of them)."""
    static: set[Apply] = set()
    for node in order:
        if all(isinstance(v, Constant) or (v.owner is not None and v.owner in static)
               for v in value_inputs(node)):
            static.add(node)
    return static


def value_inputs(node: Apply) -> list[Variable]:
    """The inputs whose values (not only shapes) the node reads: none for a shape
    reader, and no first argument of a fill (``Second``), also inside a fused Composite."""
    op = node.op
    if type(op).__name__ in SHAPE_READERS:
        return []
    if not isinstance(op, Elemwise):
        return list(node.inputs)
    scalar = op.scalar_op
    if isinstance(scalar, Second):
        return [node.inputs[1]]
    if not isinstance(scalar, Composite):
        return list(node.inputs)
    n = len(scalar.in_dtypes)
    read = {scalar.output} if scalar.output < n else set()
    for inner, refs in scalar.entries:
        read.update(r for k, r in enumerate(refs)
                    if r < n and not (isinstance(inner, Second) and k == 0))
    return [node.inputs[k] for k in sorted(read)]


@dataclass
class Step:
    """One thing a call does: a native segment (entry address) or a fallback node."""

    native: Any  # ctypes function or None
    node: Apply | None = None
    node_index: int = -1


class NativeProgram:
    """Runs an optimized FunctionGraph natively; same interface as evaluator.Program."""

    def __init__(self, fg: FunctionGraph, name: str = "tj", threads: int | None = None,
                 entry_container: Any = False, updated: Sequence[SharedVariable] = ()
                 ) -> None:
        """``entry_container``: None, list or tuple (how outputs are returned) to get a
        native Python entry (``py_entry``, see pyentry.py) where the program allows one;
        False for none. ``updated``: the shared variables that the last outputs of
        ``fg`` are the new values of, in order."""
        self.fg = fg
        self.name = name
        # the plans' pointer tables and arenas serve one call at a time: concurrent
        # calls from several threads take turns (the native entry declines when busy)
        self.lock = CallLock()
        self._reference: Program | None = None
        self.nodes = fg.toposort()
        self.threads = self._thread_count(threads)
        self.plan_nodes, self.plan_reads_values = plan_time_nodes(fg, self.nodes)
        runtime = [(i, n) for i, n in enumerate(self.nodes) if n not in self.plan_nodes]
        self.fallbacks = [n for _, n in runtime if rule_for(n) is None]
        segments: list[list[tuple[int, Apply]]] = []
        layout_order: list[tuple[int, Apply | None]] = []
        current: list[tuple[int, Apply]] = []
        for i, n in runtime:
            if rule_for(n) is None:
                if current:
                    segments.append(current)
                    layout_order.append((len(segments) - 1, None))
                    current = []
                layout_order.append((-1, n))
            else:
                current.append((i, n))
        if current:
            segments.append(current)
            layout_order.append((len(segments) - 1, None))
        variables = [v for n in self.nodes for v in (*n.inputs, *n.outputs)] + list(fg.outputs)
        self.layout = Layout.build(variables)
        self.shared = [v for v in self.layout.slot if isinstance(v, SharedVariable)]
        self.input_slots = [self.layout.slot.get(v) for v in fg.inputs]
        self.tables = KernelTables.build(self.layout, segments)
        # every place of a variable's data pointer (its slot, its kernels' tables)
        self.positions = {v: self.tables.positions(self.layout, v) for v in self.layout.slot}
        self._choose_fast_call(segments)
        slots = [self.positions[v] for v in self.call_vars] if self.call_vars else None
        n_outs = len(self.fast_outputs)
        checks = [list(range(self.layout.meta_offset[v], self.layout.meta_offset[v] + v.ndim))
                  for v in self.call_vars[:len(self.call_vars) - n_outs]] + [None] * n_outs \
            if self.call_vars else None
        self._segments, self._call_slots, self._call_checks = segments, slots, checks
        spec = None if entry_container is False else entry_spec(self, entry_container,
                                                                 len(updated))
        self._entry_spec = spec
        self._module_ir = None
        entries: list[str] = []
        self.jit = None
        if segments:
            structure = structure_text(_symbol(name), self.nodes, self.layout, segments, slots)
            compiled = compile_program(_symbol(name), segments, self.layout, slots, structure,
                                       checks, spec)
            self.jit, entries = compiled.library, compiled.entries
        self.entries = [_ENTRY(self.jit.address(e)) for e in entries
                        if not e.endswith(("_call", "_py"))]
        self.py_entry = None if spec is None else PyEntry(
            self, spec, self.jit.address(f"{_symbol(name)}_py"), updated)
        self.fast_call = None
        if self.call_vars:
            argtypes = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.py_object] * len(slots)
            self.fast_call = ctypes.CFUNCTYPE(ctypes.c_int32, *argtypes)(
                self.jit.address(f"{_symbol(name)}_call"))
        self.steps = [Step(self.entries[s]) if s >= 0 else
                      Step(None, n, self.nodes.index(n)) for s, n in layout_order]
        self.plans: dict[tuple, "Plan"] = {}
        # The plan of the last call: tried first, the array call itself checking that
        # the arrays fit it (emit_array_call), so a steady-state call does no shape
        # work in Python.
        self._last_plan: Plan | None = None
        used = [k for k, v in enumerate(fg.inputs) if v in self.layout.slot]
        self._used_inputs = None if len(used) == len(fg.inputs) else used

    @property
    def module_ir(self):
        """One readable module with every kernel defined in it (for f.llvm_ir(), f.asm()
        and tests): the same kernels as the compiled ones, each under the name
        ``k<node index>_<Op>`` instead of being linked from its own module."""
        if self._module_ir is None:
            self._module_ir, _ = build_module(_symbol(self.name), self._segments,
                                              self.layout, self._call_slots,
                                              call_checks=self._call_checks,
                                              py_entry=self._entry_spec)
        return self._module_ir

    def _thread_count(self, threads: int | None) -> int:
        """The threads our kernels may use. Unless told, a function that calls OpenBLAS
        leaves the cores to it (its threads keep spinning after each product, and ours
        would only compete for the same cores); products in the JIT GEMM library run on
        our own pool, so they leave the other kernels the default (pool.kernel_threads)."""
        if threads is not None:
            if int(threads) < 1:
                raise ValueError(f"function(): threads must be >= 1, got {threads}")
            return int(threads)
        return pool.kernel_threads(self.nodes, default_threads())

    def _choose_fast_call(self, segments) -> None:
        """One segment whose every output is written natively: one call per call.

        The call then takes the arrays themselves (inputs, shared values, outputs) and
        reads their data pointers natively."""
        fg = self.fg
        self.call_vars: list[Variable] = []
        self.fast_outputs: list[Variable] = []
        self.fresh_results = False
        if len(segments) != 1 or self.fallbacks or not _array_layout_ok():
            return
        outs = []
        for v in fg.outputs:
            if v.owner is None or v.owner in self.plan_nodes or v in fg.inputs:
                return
            if v not in outs:
                outs.append(v)
        ins = [v for v in fg.inputs if v in self.layout.slot]
        self.fast_outputs = outs
        self.call_vars = ins + self.shared + outs
        # Each result is its own new array: the caller need not check for aliasing.
        self.fresh_results = len(outs) == len(fg.outputs)

    def shared_values(self) -> list[np.ndarray]:
        """The current values of the shared variables the program reads."""
        return [v._value for v in self.shared]

    # -- planning
    def plan_for(self, args: Sequence[np.ndarray]) -> "Plan":
        key = tuple(a.shape for a in args) + tuple(v._value.shape for v in self.shared)
        plan = None if self.plan_reads_values else self.plans.get(key)
        if plan is None:
            plan = Plan(self, args)
            if not self.plan_reads_values:
                self.plans[key] = plan
        return plan

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        try:
            with self.lock:  # one call at a time in the plan's buffers
                return self._run(args)
        except (ValueError, IndexError, TypeError, ArithmeticError) as exc:
            self._explain_failure(args, exc)
            raise

    def _explain_failure(self, args: Sequence[np.ndarray], exc: Exception) -> None:
        """Raise the reference evaluator's error for the same call, if it has one.

        A native kernel reports a code and two numbers; the reference evaluator names
        the op, its inputs' shapes, the user's line and what exactly was wrong. A
        failed call has changed no state, so running it again on the reference
        evaluator is safe, and costs nothing on the success path. When the reference
        evaluator succeeds (the two disagree), the native error stands."""
        if self._reference is None:
            self._reference = Program(self.fg, self.name)
        try:
            self._reference.run(args)
        except Exception as ref_exc:
            ref_exc.native_error = exc  # type: ignore[attr-defined]
            raise

    def _run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.fast_call is None:
            args = [a if a.flags.c_contiguous else _contiguous(a) for a in args]
            return self.plan_for(args).run(args)
        plan = self._last_plan
        if plan is not None:
            used = args if self._used_inputs is None else [args[k] for k in self._used_inputs]
            outs = [empty(shape, dtype) for shape, dtype in plan.fast_alloc]
            if self.shared:
                used = [*used, *[v._value for v in self.shared]]
            status = self.fast_call(plan.ptrs_addr, plan.meta_addr, *used, *outs)
            if status == 0:
                order = plan.output_order
                return outs if order is None else [outs[k] for k in order]
            if status != STATUS_OTHER_PLAN:
                plan._raise(status)
        arrays = [*args, *[v._value for v in self.shared]]
        for a in arrays:
            if not a.flags.c_contiguous:
                arrays = [_contiguous(a) for a in arrays]
                break
        key = tuple([a.shape for a in arrays])
        plan = self.plans.get(key)
        if plan is None or self.plan_reads_values:
            plan = self.plan_for(arrays[:len(args)])
        if not self.plan_reads_values and plan is not self._last_plan:
            self._last_plan = plan
            if self.py_entry is not None:
                self.py_entry.set_plan(plan)
        return plan.run_fast(arrays)


class Plan:
    """Shapes, meta, arena and pointer table for one combination of input shapes."""

    def __init__(self, prog: NativeProgram, args: Sequence[np.ndarray]) -> None:
        self.prog = prog
        fg, layout = prog.fg, prog.layout
        values: dict[Variable, np.ndarray] = dict(zip(fg.inputs, args))
        shapes: dict[Variable, tuple[int, ...]] = {v: a.shape for v, a in values.items()}
        for v in layout.slot:
            if isinstance(v, Constant):
                values[v], shapes[v] = v.data, v.data.shape
            elif isinstance(v, SharedVariable):
                shapes[v] = v._value.shape
        for node in prog.nodes:
            ins = [values.get(v) for v in node.inputs]
            if node in prog.plan_nodes:
                # an input read for its shape only may be made natively (no value yet)
                ins = [_shape_only(shapes[v], v.dtype) if x is None else x
                       for v, x in zip(node.inputs, ins)]
                outs = node.op.perform(node, ins)
                for o, r in zip(node.outputs, outs):
                    values[o], shapes[o] = r, r.shape
                continue
            in_shapes = [shapes[v] for v in node.inputs]
            check = getattr(node.op, "check_runtime_shapes", None)
            if check is not None:
                check(node, in_shapes)
            inferred = node.op.infer_shape(node, in_shapes, ins)
            for o, s in zip(node.outputs, inferred):
                shapes[o] = tuple(int(d) for d in s)
        self.meta = np.zeros(prog.tables.n_meta, dtype=np.int64)
        self.meta[THREADS_SLOT] = prog.threads
        for v, off in layout.meta_offset.items():
            self.meta[off:off + v.ndim] = shapes[v]
        prog.tables.fill_meta(self.meta, prog._segments, shapes, prog.threads)
        self.ptrs = np.zeros(prog.tables.n_ptrs, dtype=np.uint64)
        self.shapes = shapes
        self._allocate(values)

    def _allocate(self, values: dict[Variable, np.ndarray]) -> None:
        """Fixed buffers (arena intermediates, constants, plan values) and per-call slots."""
        prog, layout = self.prog, self.prog.layout
        outputs = set(prog.fg.outputs)
        per_call = set(prog.fg.inputs) | outputs | set(prog.shared)
        sizes = {v: _nbytes(self.shapes[v], v.dtype) for v in layout.slot
                 if v not in per_call and v not in values}
        offsets, total = assign_offsets(
            [n for n in prog.nodes if n not in prog.plan_nodes], sizes)
        self.arena = np.empty(total + ALIGN, dtype=np.uint8)
        base = -self.arena.ctypes.data % ALIGN
        self.views: dict[Variable, np.ndarray] = {}
        for v, nbytes in sizes.items():
            start = base + offsets[v]
            view = self.arena[start:start + nbytes].view(v.dtype).reshape(self.shapes[v])
            self.views[v] = view
        self.keep = []
        for v, val in values.items():
            # a plan-time value that is also an output still needs its buffer for kernels
            plan_output = v in outputs and v.owner is not None and v.owner in prog.plan_nodes
            if v in layout.slot and (v not in per_call or plan_output):
                arr = _contiguous(np.asarray(val, dtype=v.dtype))
                self.keep.append(arr)
                self.views[v] = arr
        for v, arr in self.views.items():
            self.ptrs[prog.positions[v]] = arr.ctypes.data
        self.out_specs = [(prog.positions.get(v), self.shapes.get(v), v.dtype)
                          for v in prog.fg.outputs]
        self.fast_alloc = [(self.shapes[v], np.dtype(v.dtype)) for v in prog.fast_outputs]
        self.unused_inputs = {k for k, slot in enumerate(prog.input_slots) if slot is None}
        order = [prog.fast_outputs.index(v) for v in prog.fg.outputs] if prog.fast_outputs \
            else []
        self.output_order = None if order == list(range(len(order))) else order
        self.ptrs_addr = self.ptrs.ctypes.data
        self.meta_addr = self.meta.ctypes.data
        # the bytes a call touches (inputs, outputs, intermediates): how large its work is
        self.nbytes = sum(_nbytes(shape, v.dtype) for v, shape in self.shapes.items())

    def run_fast(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One native call; the arrays go in as objects (see emit_array_call)."""
        outs = [np.empty(shape, dtype) for shape, dtype in self.fast_alloc]
        if self.unused_inputs:
            arrays = [a for k, a in enumerate(arrays) if k not in self.unused_inputs]
        status = self.prog.fast_call(self.ptrs_addr, self.meta_addr, *arrays, *outs)
        if status:
            self._raise(status)  # STATUS_OTHER_PLAN here would be a bug: it raises
        if self.output_order is None:
            return outs
        return [outs[k] for k in self.output_order]

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        prog, ptrs = self.prog, self.ptrs
        for v, a in zip(prog.fg.inputs, args):
            if v in prog.positions:
                ptrs[prog.positions[v]] = a.ctypes.data
        shared_vals = []
        for v in prog.shared:
            val = v._value if v._value.flags.c_contiguous else _contiguous(v._value)
            shared_vals.append(val)
            ptrs[prog.positions[v]] = val.ctypes.data
        outs = []
        made: dict[Variable, np.ndarray] = {}  # one array per variable, however often
        for (slot, shape, dtype), v in zip(self.out_specs, prog.fg.outputs):  # it is output
            if v.owner is None or v.owner in prog.plan_nodes:
                outs.append(None)
                continue
            arr = made.get(v)
            if arr is None:  # a second array would take the pointer the kernel writes to
                arr = made[v] = np.empty(shape, dtype=dtype)
                ptrs[slot] = arr.ctypes.data
            outs.append(arr)
        store = {v: a for v, a in zip(prog.fg.inputs, args)}
        store.update(zip(prog.shared, shared_vals))
        store.update((v, o) for v, o in zip(prog.fg.outputs, outs) if o is not None)
        for step in prog.steps:
            if step.native is not None:
                status = step.native(self.ptrs_addr, self.meta_addr)
                if status:
                    self._raise(status)
            else:
                self._fallback(step.node, store)
        return [self._leaf_output(v, store) if o is None else o
                for v, o in zip(prog.fg.outputs, outs)]

    def _fallback(self, node: Apply, store: dict) -> None:
        ins = [self._value(v, store) for v in node.inputs]
        try:
            results = node.op.perform(node, ins)
        except Exception as exc:
            raise_op_error(node, ins, exc, self.prog.name)
        for o, r in zip(node.outputs, results):
            target = store.get(o)
            if target is None:
                target = self.views[o]
            np.copyto(target, np.asarray(r).reshape(target.shape), casting="unsafe")

    def _value(self, v: Variable, store: dict) -> np.ndarray:
        if v in store and store[v] is not None:
            return store[v]
        return self.views[v]

    def _leaf_output(self, v: Variable, store: dict) -> np.ndarray:
        """An output that no native kernel writes: a leaf or a plan-time value."""
        if isinstance(v, SharedVariable):
            return v.get_value()
        if isinstance(v, Constant):
            return np.array(v.data)
        return np.array(store[v] if store.get(v) is not None else self.views[v])

    def _raise(self, status: int) -> None:
        """The kernel's error record as an exception (NativeProgram.run then looks for
        the reference evaluator's fuller message)."""
        code, index, value, limit = (int(x) for x in self.meta[:ERROR_SLOTS])
        self.meta[:ERROR_SLOTS] = 0
        node = self.prog.nodes[index]
        where = f" (node created at {node.source_line})" if node.source_line else ""
        head = f"{self.prog.name}(): {node.op}{where}"
        if code == ERR_INDEX:
            raise IndexError(f"{head}: index {value} is out of bounds for an axis of "
                             f"size {limit}")
        if code == ERR_SHAPE:
            raise ValueError(f"{head}: shape mismatch at run time, {value} vs {limit}")
        raise ValueError(f"{head}: failed with code {code} ({value}, {limit})")


def _shape_only(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Stands for an array whose shape is known at plan time but whose values are not
    (a zero-stride view: no memory, and any dtype and ndim checks see the real ones)."""
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def assign_offsets(order: Sequence[Apply], sizes: dict[Variable, int]
                   ) -> tuple[dict[Variable, int], int]:
    """Arena offsets for intermediates: a block is reused once its value is dead.

    Walking the nodes in execution order, a node's outputs get blocks (first fit among
    freed blocks, else the end of the arena) BEFORE its dead inputs are freed, so a
    kernel never writes over an input it is still reading.
    """
    last_use: dict[Variable, int] = {}
    for i, node in enumerate(order):
        for v in node.inputs:
            if v in sizes:
                last_use[v] = i
    free: list[tuple[int, int]] = []  # (offset, size), kept sorted by offset
    offsets: dict[Variable, int] = {}
    end = 0
    for i, node in enumerate(order):
        for v in node.outputs:
            if v not in sizes or v in offsets:
                continue
            need = _round(max(sizes[v], 1))
            for k, (off, size) in enumerate(free):
                if size >= need:
                    offsets[v] = off
                    free[k:k + 1] = [(off + need, size - need)] if size > need else []
                    break
            else:
                offsets[v], end = end, end + need
        dead = [v for v in (*node.inputs, *node.outputs)
                if v in offsets and last_use.get(v, i) <= i]
        for v in dict.fromkeys(dead):
            free.append((offsets[v], _round(max(sizes[v], 1))))
            last_use[v] = -1  # freed once
        free.sort()
    for v in sizes:  # values no node here writes (none expected): their own block
        if v not in offsets:
            offsets[v], end = end, end + _round(max(sizes[v], 1))
    return offsets, end


@functools.cache
def _array_layout_ok() -> bool:
    """Whether an ndarray's data pointer, dims pointer and flags sit where
    emit_array_call reads them (checked on probes, once)."""
    import sys
    from ..codegen.program import ARRAY_DATA_OFFSET, ARRAY_DIMS_OFFSET, ARRAY_FLAGS_OFFSET
    if hasattr(sys, "gettotalrefcount"):  # a debug CPython has a larger object header
        return False
    for probe in (np.zeros((3, 5, 7)), np.zeros((4, 6))[:, ::2]):
        base = id(probe)
        data = ctypes.c_void_p.from_address(base + ARRAY_DATA_OFFSET).value
        dims = ctypes.c_void_p.from_address(base + ARRAY_DIMS_OFFSET).value
        flags = ctypes.c_int32.from_address(base + ARRAY_FLAGS_OFFSET).value
        if data != probe.ctypes.data or flags != probe.flags.num or not dims:
            return False
        if tuple((ctypes.c_int64 * probe.ndim).from_address(dims)) != probe.shape:
            return False
    return True


def _contiguous(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _nbytes(shape: tuple[int, ...], dtype: str) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _round(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _symbol(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "tj"
