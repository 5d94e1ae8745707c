"""Lowering a run of nodes to one LLVM module: a kernel per node, one entry point per run.

``build_module`` reads the (already optimized) graph and never rewrites it. Buffer
slots and shape offsets come from the runtime's layout; see registry.py for the ABI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from llvmlite import ir

from ..graph.basic import Apply, Variable
from .pycall import PyEntrySpec, emit_py_entry
from .registry import (ERROR_SLOTS, HEADER_SLOTS, I8P, I32, I64, KERNEL_TYPE, THREADS_SLOT,
                       Buf, KernelContext, element_type, rule_for)


@dataclass
class Layout:
    """Where each variable's data pointer (slot) and dims (meta offset) live."""

    slot: dict[Variable, int]
    meta_offset: dict[Variable, int]
    meta_size: int

    @classmethod
    def build(cls, variables: Sequence[Variable]) -> "Layout":
        slot: dict[Variable, int] = {}
        offset: dict[Variable, int] = {}
        pos = HEADER_SLOTS
        for v in variables:
            if v in slot:
                continue
            slot[v] = len(slot)
            offset[v] = pos
            pos += v.ndim
        return cls(slot, offset, pos)


def kernel_name(index: int, node: Apply) -> str:
    op = type(node.op).__name__
    if hasattr(node.op, "scalar_op"):
        op += "_" + type(node.op.scalar_op).__name__
    return f"k{index}_{re.sub(r'[^A-Za-z0-9_]', '_', op)}"


def node_layout(node: Apply) -> Layout:
    """A kernel's own view of its buffers: its inputs then outputs, slots from 0, dims
    after the header. Kernels never see the program's layout, so a kernel's IR depends
    on its node alone and equal nodes of different functions share compiled code."""
    return Layout.build([*node.inputs, *node.outputs])


def _load_buf(b: ir.IRBuilder, var: Variable, layout: Layout, ptrs: ir.Value,
              meta: ir.Value) -> Buf:
    raw = b.load(b.gep(ptrs, [ir.Constant(I64, layout.slot[var])]))
    ptr = b.bitcast(raw, element_type(var.dtype).as_pointer())
    dims: list[ir.Value] = []
    for d, static in enumerate(var.type.shape):
        if static is not None:
            dims.append(ir.Constant(I64, static))
        else:
            off = ir.Constant(I64, layout.meta_offset[var] + d)
            dims.append(b.load(b.gep(meta, [off])))
    return Buf(var, ptr, dims, var.dtype)


def emit_kernel(module: ir.Module, node: Apply, name: str, internal: bool = True
                ) -> ir.Function:
    """One kernel function for one node (node-local ABI, see node_layout)."""
    rule = rule_for(node)
    if rule is None:
        raise NotImplementedError(f"no native rule for {node.op}")
    layout = node_layout(node)
    fn = ir.Function(module, KERNEL_TYPE, name=name)
    if internal:
        fn.linkage = "internal"
    fn.attributes.add("nounwind")
    ptrs, meta = fn.args
    for arg in fn.args:
        arg.add_attribute("noalias")
    entry = fn.append_basic_block("entry")
    ret_block = fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    ins = [_load_buf(b, v, layout, ptrs, meta) for v in node.inputs]
    outs = [_load_buf(b, v, layout, ptrs, meta) for v in node.outputs]

    def rebind(builder: ir.IRBuilder, ptrs_: ir.Value, meta_: ir.Value):
        return ([_load_buf(builder, v, layout, ptrs_, meta_) for v in node.inputs],
                [_load_buf(builder, v, layout, ptrs_, meta_) for v in node.outputs])

    # the error record's node index is the entry's to fill in (0 here)
    ctx = KernelContext(module, node, 0, fn, b, ins, outs, meta, ret_block, rebind=rebind)
    rule(ctx)
    if not ctx.builder.block.is_terminated:
        ctx.builder.branch(ret_block)
    ir.IRBuilder(ret_block).ret(ir.Constant(I32, 0))
    return fn


KERNEL_SYMBOL = "tj_kernel"


def kernel_ir(node: Apply) -> str:
    """The IR text of a module holding one node's kernel, exported as KERNEL_SYMBOL:
    what identifies a kernel (its cache key is a hash of this text)."""
    module = ir.Module(name="kernel")
    emit_kernel(module, node, KERNEL_SYMBOL, internal=False)
    return str(module)


def declare_kernel(module: ir.Module, name: str) -> ir.Function:
    """A declaration of an external kernel (compiled in its own module)."""
    if name in module.globals:
        return module.globals[name]
    fn = ir.Function(module, KERNEL_TYPE, name=name)
    return fn


@dataclass
class KernelTables:
    """Each kernel's own pointer table and meta (its node_layout), placed after the
    program's slots and meta in the same two arrays. A plan fills them once (buffer
    addresses, dims, thread count); a call stores each argument's and output's data
    pointer at its ``positions`` and calls the kernels - no copying per kernel per call.
    """

    ptrs_at: dict[int, int]            # node index -> offset of its pointer table
    meta_at: dict[int, int]            # node index -> offset of its meta
    uses: dict[Variable, list[int]]    # variable -> its places in the kernels' tables
    n_ptrs: int
    n_meta: int

    @classmethod
    def build(cls, layout: Layout, segments: Sequence[Sequence[tuple[int, Apply]]]
              ) -> "KernelTables":
        ptrs_at: dict[int, int] = {}
        meta_at: dict[int, int] = {}
        uses: dict[Variable, list[int]] = {}
        p, m = len(layout.slot), layout.meta_size
        for segment in segments:
            for index, node in segment:
                local = node_layout(node)
                ptrs_at[index], meta_at[index] = p, m
                for v, k in local.slot.items():
                    uses.setdefault(v, []).append(p + k)
                p, m = p + len(local.slot), m + local.meta_size
        return cls(ptrs_at, meta_at, uses, p, m)

    def positions(self, layout: Layout, v: Variable) -> list[int]:
        """Every place of v's data pointer: its program slot and its kernel-table ones."""
        return [layout.slot[v], *self.uses.get(v, [])]

    def fill_meta(self, meta, segments: Sequence[Sequence[tuple[int, Apply]]],
                  shapes: dict[Variable, tuple[int, ...]], threads: int) -> None:
        """Each kernel's header thread count and dims, for one plan's shapes."""
        for segment in segments:
            for index, node in segment:
                local, base = node_layout(node), self.meta_at[index]
                meta[base + THREADS_SLOT] = threads
                for v, off in local.meta_offset.items():
                    meta[base + off:base + off + v.ndim] = shapes[v]


def emit_entry(module: ir.Module, name: str,
               calls: Sequence[tuple[int, Apply, ir.Function]], tables: KernelTables
               ) -> ir.Function:
    """``i32 name(i8** ptrs, i64* meta)``: run each kernel on its own tables (see
    KernelTables), stop at the first error and copy its record out with the node index.
    """
    fn = ir.Function(module, KERNEL_TYPE, name=name)
    ptrs, meta = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    if not calls:
        b.ret(ir.Constant(I32, 0))
        return fn
    # one error exit for all kernels (phis say which): the entry stays linear in the
    # number of kernels, and short (an exit per kernel was half its IR)
    fail = fn.append_basic_block("fail")
    failed = ir.IRBuilder(fail)
    status_at = failed.phi(I32, name="status")
    index_at = failed.phi(I64, name="node")
    meta_at = failed.phi(meta.type, name="meta")

    def at(base: ir.Value, k: int) -> ir.Value:
        return b.gep(base, [ir.Constant(I64, k)])

    for index, node, kernel in calls:
        local_meta = at(meta, tables.meta_at[index])
        status = b.call(kernel, [at(ptrs, tables.ptrs_at[index]), local_meta])
        ok = fn.append_basic_block(f"k{index}")
        b.cbranch(b.icmp_signed("!=", status, ir.Constant(I32, 0)), fail, ok)
        b.block.terminator.set_weights([1, 1000])
        status_at.add_incoming(status, b.block)
        index_at.add_incoming(ir.Constant(I64, index), b.block)
        meta_at.add_incoming(local_meta, b.block)
        b.position_at_end(ok)
    for k in range(ERROR_SLOTS):
        value = index_at if k == 1 else failed.load(failed.gep(meta_at, [ir.Constant(I64, k)]))
        failed.store(value, failed.gep(meta, [ir.Constant(I64, k)]))
    failed.ret(status_at)
    b.ret(ir.Constant(I32, 0))
    return fn


# Offsets in NumPy's PyArrayObject (after PyObject_HEAD on a release build of
# CPython): data pointer, dims pointer, flags. The runtime verifies them once before
# trusting them (native._array_layout_ok).
ARRAY_DATA_OFFSET = 16
ARRAY_DIMS_OFFSET = 32
ARRAY_FLAGS_OFFSET = 64
NPY_C_CONTIGUOUS = 0x1
# What the array call returns when the arrays don't fit the plan it was given (other
# shapes, or not C-contiguous): nothing ran; the runtime finds the right plan.
STATUS_OTHER_PLAN = -1


def emit_array_call(module: ir.Module, name: str, entry: ir.Function,
                    slots: Sequence[Sequence[int]],
                    checks: Sequence[Sequence[int] | None] | None = None) -> ir.Function:
    """``i32 name(i8** ptrs, i64* meta, PyObject* a0, ...)``: store each array's data
    pointer at its places in ptrs (``slots[k]``: its program slot and its places in the
    kernels' tables, KernelTables.positions), then run ``entry``. Passing the arrays
    themselves through ctypes is far cheaper than reading ``arr.ctypes.data`` in Python.

    ``checks[k]`` lists the meta offsets of array k's dims (None: no check): it must be
    C-contiguous with exactly those dims, else STATUS_OTHER_PLAN is returned before
    anything runs. So the runtime can call with the last plan it used without first
    comparing shapes in Python."""
    fn = ir.Function(module, ir.FunctionType(I32, [I8P.as_pointer(), I64.as_pointer()]
                                             + [I8P] * len(slots)), name=name)
    ptrs, meta, *objs = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    other_plan = fn.append_basic_block("other_plan")
    ir.IRBuilder(other_plan).ret(ir.Constant(I32, STATUS_OTHER_PLAN))

    def field(obj: ir.Value, offset: int, ty: ir.Type) -> ir.Value:
        return b.load(b.bitcast(b.gep(obj, [ir.Constant(I64, offset)]), ty.as_pointer()))

    for obj, offsets in zip(objs, checks or ()):
        if offsets is None:
            continue
        flags = field(obj, ARRAY_FLAGS_OFFSET, I32)
        ok = b.icmp_unsigned("!=", b.and_(flags, ir.Constant(I32, NPY_C_CONTIGUOUS)),
                             ir.Constant(I32, 0))
        dims = field(obj, ARRAY_DIMS_OFFSET, I64.as_pointer()) if offsets else None
        for d, off in enumerate(offsets):
            got = b.load(b.gep(dims, [ir.Constant(I64, d)]))
            want = b.load(b.gep(meta, [ir.Constant(I64, off)]))
            ok = b.and_(ok, b.icmp_signed("==", got, want))
        nxt = fn.append_basic_block("checked")
        b.cbranch(ok, nxt, other_plan)
        b.position_at_end(nxt)
    for obj, places in zip(objs, slots):
        data = field(obj, ARRAY_DATA_OFFSET, I8P)
        for place in places:
            b.store(data, b.gep(ptrs, [ir.Constant(I64, place)]))
    b.ret(b.call(entry, [ptrs, meta]))
    return fn


def build_module(name: str, segments: Sequence[Sequence[tuple[int, Apply]]],
                 layout: Layout, call_slots: Sequence[Sequence[int]] | None = None,
                 kernel_symbols: dict[Apply, str] | None = None,
                 call_checks: Sequence[Sequence[int] | None] | None = None,
                 py_entry: PyEntrySpec | None = None, part: str = "all"
                 ) -> tuple[ir.Module, list[str]]:
    """A module with one entry function per segment of (node index, node) pairs.

    With ``kernel_symbols`` (node -> exported name) the kernels are only declared:
    they are compiled in modules of their own (kernel_ir). Without, each kernel is
    defined here as ``k<index>_<Op>`` (one readable module for f.llvm_ir() / f.asm()).
    With ``call_slots`` (one segment), also the array call ``<name>_call`` and, with
    ``py_entry``, the CPython entry ``<name>_py`` around it (pycall.py).

    ``part`` "segments" or "front" splits that module in two: the segment entries
    (which name the kernels) and the rest (which calls the segment entry, declared).
    The front depends on no kernel's code, so the compiler builds it first and LLVM
    compiles it while the kernels' IR is generated.
    """
    if part not in ("all", "segments", "front"):
        raise ValueError(f"build_module(): part must be all, segments or front, got {part!r}")
    module = ir.Module(name=name)
    entries = []
    for s, segment in enumerate(segments):
        entry = f"{name}_seg{s}"
        if part == "front":
            fn = ir.Function(module, KERNEL_TYPE, name=entry)  # declared only
        else:
            if kernel_symbols is None:
                calls = [(i, node, emit_kernel(module, node, kernel_name(i, node)))
                         for i, node in segment]
            else:
                calls = [(i, node, declare_kernel(module, kernel_symbols[node]))
                         for i, node in segment]
            fn = emit_entry(module, entry, calls, KernelTables.build(layout, segments))
            entries.append(entry)
        if call_slots is not None and len(segments) == 1 and part != "segments":
            call = emit_array_call(module, f"{name}_call", fn, call_slots, call_checks)
            entries.append(f"{name}_call")
            if py_entry is not None:
                emit_py_entry(module, f"{name}_py", call, py_entry)
                entries.append(f"{name}_py")
    return module, entries


__all__ = ["KernelTables", "Layout", "build_module", "emit_kernel", "emit_entry", "kernel_ir",
           "kernel_name", "node_layout", "I8P"]
