"""Kernels of the shape, join and creation ops: copies, permutations, fills.

Every value is a C-contiguous buffer (see registry.py), so a reshape is a copy of the
bytes, a dimshuffle that keeps the order of its axes is a copy too, and a real
permutation is a loop nest over the output (blocked when the input's contiguous axis
moves, so both sides are read and written in cache-sized tiles). Shape-valued inputs
(reshape targets, arange bounds, split sizes) were evaluated at plan time; kernels read
them from their buffers like any other input, and the output dims come from the plan.

The small IR helpers at the top (memcpy, memset, element offsets, integer loads) are
shared with blas.py and indexing.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
from llvmlite import ir

from . import irutils
from .registry import ERR_SHAPE, ERR_VALUE, I64, Buf, KernelContext, element_type, register

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I8P = I8.as_pointer()
ZERO = ir.Constant(I64, 0)
ONE = ir.Constant(I64, 1)
BLOCK = 32  # tile edge of blocked transposes (32 x 32 doubles = 8 KiB per side)


# --------------------------------------------------------------------------------------
# Shared helpers


def itemsize(dtype: str) -> int:
    """Bytes per element of a dtype (bool is one byte)."""
    return np.dtype(dtype).itemsize


def i64(v: int) -> ir.Constant:
    """An i64 constant."""
    return ir.Constant(I64, int(v))


def product(b: ir.IRBuilder, values: Sequence[ir.Value]) -> ir.Value:
    """The product of i64 values (1 for none)."""
    total: ir.Value = ONE
    for v in values:
        total = v if total is ONE else b.mul(total, v)
    return total


def c_strides(b: ir.IRBuilder, dims: Sequence[ir.Value]) -> list[ir.Value]:
    """C-order strides in elements of a buffer with these dims."""
    out: list[ir.Value] = []
    acc: ir.Value = ONE
    for d in reversed(dims):
        out.append(acc)
        acc = b.mul(acc, d)
    return list(reversed(out))


def linear(b: ir.IRBuilder, idx: Sequence[ir.Value], strides: Sequence[ir.Value]) -> ir.Value:
    """sum(idx * strides), skipping constant-zero strides."""
    total: ir.Value = ZERO
    for i, s in zip(idx, strides):
        if isinstance(s, ir.Constant) and s.constant == 0:
            continue
        term = i if isinstance(s, ir.Constant) and s.constant == 1 else b.mul(i, s)
        total = term if total is ZERO else b.add(total, term)
    return total


def memcpy(b: ir.IRBuilder, dst: ir.Value, src: ir.Value, count: ir.Value, dtype: str) -> None:
    """Copy ``count`` elements (buffers never overlap: every value has its own buffer)."""
    fn = b.module.declare_intrinsic("llvm.memcpy", [I8P, I8P, I64])
    nbytes = b.mul(count, i64(itemsize(dtype)))
    b.call(fn, [b.bitcast(dst, I8P), b.bitcast(src, I8P), nbytes, ir.Constant(I1, 0)])


def memzero(b: ir.IRBuilder, dst: ir.Value, count: ir.Value, dtype: str) -> None:
    """Set ``count`` elements to 0 (all-zero bits are 0 for every dtype we have)."""
    fn = b.module.declare_intrinsic("llvm.memset", [I8P, I64])
    nbytes = b.mul(count, i64(itemsize(dtype)))
    b.call(fn, [b.bitcast(dst, I8P), ir.Constant(I8, 0), nbytes, ir.Constant(I1, 0)])


def load_int(b: ir.IRBuilder, buf: Buf, offset: ir.Value = ZERO) -> ir.Value:
    """One element of an integer (or bool) buffer as i64 (uint8/bool zero-extended)."""
    v = b.load(b.gep(buf.ptr, [offset]))
    if v.type.width == 64:
        return v
    return b.zext(v, I64) if buf.dtype in ("uint8", "bool") else b.sext(v, I64)


def store_int(b: ir.IRBuilder, buf: Buf, offset: ir.Value, value: ir.Value) -> None:
    """Store an i64 into an integer buffer (truncating as NumPy's astype)."""
    ty = element_type(buf.dtype)
    b.store(value if ty.width == 64 else b.trunc(value, ty), b.gep(buf.ptr, [offset]))


def entry_alloca(ctx: KernelContext, ty: ir.Type, name: str = "") -> ir.Value:
    """A stack slot allocated once in the kernel's entry block (safe to use in loops)."""
    entry = ctx.function.entry_basic_block
    b = ir.IRBuilder(entry)
    b.position_at_start(entry)
    return b.alloca(ty, name=name)


def check_equal(ctx: KernelContext, got: ir.Value, want: ir.Value) -> None:
    """Fail with ERR_SHAPE (a ValueError naming the node) unless got == want."""
    b = ctx.builder
    if isinstance(got, ir.Constant) and isinstance(want, ir.Constant) and \
            got.constant == want.constant:
        return
    with b.if_then(b.icmp_signed("!=", got, want), likely=False):
        ctx.fail(ERR_SHAPE, got, want)


@contextmanager
def if_nonempty(b: ir.IRBuilder, count: ir.Value):
    """Run the body only when count > 0 (skips empty loops and empty library calls)."""
    with b.if_then(b.icmp_signed(">", count, ZERO), likely=True):
        yield


# --------------------------------------------------------------------------------------
# Copies: reshape, specify_shape, order-keeping dimshuffle


@register("Reshape")
def emit_reshape(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    # the plan checked that the sizes agree (infer_shape raises otherwise)
    memcpy(b, out.ptr, x.ptr, out.size(b), x.dtype)


@register("SpecifyShape")
def emit_specify_shape(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    for d, want in enumerate(ctx.node.op.shape):
        if want is not None and x.var.type.shape[d] is None:
            check_equal(ctx, x.dims[d], i64(want))
    memcpy(b, out.ptr, x.ptr, x.size(b), x.dtype)


@register("DimShuffle")
def emit_dimshuffle(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    axes = [a for a in ctx.node.op.new_order if a != "x"]
    if axes == sorted(axes):  # only size-1 axes added/dropped: same bytes
        memcpy(b, out.ptr, x.ptr, out.size(b), x.dtype)
        return
    x_strides = c_strides(b, x.dims)
    # input stride of each output axis (0 for 'x' axes, which have length 1)
    strides = [ZERO if a == "x" else x_strides[a] for a in ctx.node.op.new_order]
    src_pos = ctx.node.op.new_order.index(x.ndim - 1) if x.ndim - 1 in axes else None
    last = out.ndim - 1
    if src_pos is None or src_pos == last:
        _permute_loop(b, x, out, strides)
    else:
        _permute_blocked(b, x, out, strides, src_pos)


def _permute_loop(b: ir.IRBuilder, x: Buf, out: Buf, strides: list[ir.Value]) -> None:
    """Loop nest over the output in C order (the input's inner axis stays inner)."""
    out_strides = c_strides(b, out.dims)
    with irutils.loop_nest(b, out.dims, name="p") as idx:
        value = b.load(b.gep(x.ptr, [linear(b, idx, strides)]))
        b.store(value, b.gep(out.ptr, [linear(b, idx, out_strides)]))


def _permute_blocked(b: ir.IRBuilder, x: Buf, out: Buf, strides: list[ir.Value],
                     src_pos: int) -> None:
    """Tile the output's last axis and the axis holding the input's contiguous axis."""
    last = out.ndim - 1
    out_strides = c_strides(b, out.dims)
    outer = [d for d in range(out.ndim) if d not in (src_pos, last)]
    block = i64(BLOCK)
    n_src, n_last = out.dims[src_pos], out.dims[last]
    tiles_src = b.sdiv(b.add(n_src, i64(BLOCK - 1)), block)
    tiles_last = b.sdiv(b.add(n_last, i64(BLOCK - 1)), block)
    tiles = [tiles_src, tiles_last]
    with irutils.loop_nest(b, [out.dims[d] for d in outer] + tiles, name="o") as loop_idx:
        outer_idx, (ts, tl) = loop_idx[:-2], loop_idx[-2:]
        s0, l0 = b.mul(ts, block), b.mul(tl, block)
        s1 = _smin(b, b.add(s0, block), n_src)
        l1 = _smin(b, b.add(l0, block), n_last)
        with irutils.for_range(b, s1, start=s0, name="s") as s, \
                irutils.for_range(b, l1, start=l0, name="l") as lo:
            idx: list[ir.Value] = [ZERO] * out.ndim
            for d, i in zip(outer, outer_idx):
                idx[d] = i
            idx[src_pos], idx[last] = s, lo
            value = b.load(b.gep(x.ptr, [linear(b, idx, strides)]))
            b.store(value, b.gep(out.ptr, [linear(b, idx, out_strides)]))


def _smin(b: ir.IRBuilder, a: ir.Value, c: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", a, c), a, c)


# --------------------------------------------------------------------------------------
# Shapes as values


@register("Shape")
def emit_shape(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    for d, dim in enumerate(x.dims):
        store_int(ctx.builder, out, i64(d), dim)


@register("ShapeI")
def emit_shape_i(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    store_int(ctx.builder, out, ZERO, x.dims[ctx.node.op.i])


@register("AxesSize")
def emit_axes_size(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    store_int(b, out, ZERO, product(b, [x.dims[a] for a in ctx.node.op.axis]))


@register("MakeVector")
def emit_make_vector(ctx: KernelContext) -> None:
    out = ctx.outputs[0]
    for k, s in enumerate(ctx.inputs):
        store_int(ctx.builder, out, i64(k), load_int(ctx.builder, s))


# --------------------------------------------------------------------------------------
# Creation: alloc (broadcast_to/full/zeros), arange, eye, one_hot


@register("Alloc")
def emit_alloc(ctx: KernelContext) -> None:
    value, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    lead = out.ndim - value.ndim
    v_strides = c_strides(b, value.dims)
    strides: list[ir.Value] = [ZERO] * lead
    for k, static in enumerate(value.var.type.shape):
        if static == 1:
            strides.append(ZERO)  # broadcast axis
            continue
        check_equal(ctx, value.dims[k], out.dims[lead + k])  # strict broadcasting
        strides.append(v_strides[k])
    out_strides = c_strides(b, out.dims)
    with irutils.loop_nest(b, out.dims, name="a") as idx:
        v = b.load(b.gep(value.ptr, [linear(b, idx, strides)]))
        b.store(v, b.gep(out.ptr, [linear(b, idx, out_strides)]))


@register("ARange")
def emit_arange(ctx: KernelContext) -> None:
    start_buf, _, step_buf = ctx.inputs
    out = ctx.outputs[0]
    b = ctx.builder
    start = b.load(start_buf.ptr)
    step = b.load(step_buf.ptr)
    n = out.dims[0]
    if out.dtype in ("float32", "float64"):
        # as NumPy: the step actually used is (start + step) - start in the dtype
        delta = b.fsub(b.fadd(start, step), start)
        with irutils.for_range(b, n, name="r") as i:
            value = b.fadd(start, b.fmul(b.sitofp(i, start.type), delta))
            b.store(value, b.gep(out.ptr, [i]))
        return
    start64, step64 = load_int(b, start_buf), load_int(b, step_buf)
    with irutils.for_range(b, n, name="r") as i:
        store_int(b, out, i, b.add(start64, b.mul(i, step64)))


@register("Eye")
def emit_eye(ctx: KernelContext) -> None:
    out = ctx.outputs[0]
    b = ctx.builder
    n, m = out.dims
    k = load_int(b, ctx.inputs[2])
    memzero(b, out.ptr, b.mul(n, m), out.dtype)
    one = _one(out.dtype)
    with irutils.for_range(b, n, name="r") as i:
        j = b.add(i, k)
        inside = b.and_(b.icmp_signed(">=", j, ZERO), b.icmp_signed("<", j, m))
        with b.if_then(inside):
            b.store(one, b.gep(out.ptr, [b.add(b.mul(i, m), j)]))


def _one(dtype: str) -> ir.Constant:
    ty = element_type(dtype)
    return ir.Constant(ty, 1.0 if dtype in ("float32", "float64") else 1)


@register("OneHot")
def emit_one_hot(ctx: KernelContext) -> None:
    indices, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    depth = out.dims[-1]
    count = indices.size(b)
    memzero(b, out.ptr, b.mul(count, depth), out.dtype)
    one = _one(out.dtype)
    with irutils.for_range(b, count, name="h") as i:
        idx = load_int(b, indices, i)
        # unsigned compare: negative indices are huge, so one test covers both ends
        with b.if_then(b.icmp_unsigned(">=", idx, depth), likely=False):
            ctx.fail(ERR_VALUE, idx, depth)
        b.store(one, b.gep(out.ptr, [b.add(b.mul(i, depth), idx)]))


# --------------------------------------------------------------------------------------
# Join, split, repeat, tile


def _outer_inner(b: ir.IRBuilder, buf: Buf, axis: int) -> tuple[ir.Value, ir.Value]:
    """(product of the dims before axis, product of the dims after it)."""
    return product(b, buf.dims[:axis]), product(b, buf.dims[axis + 1:])


@register("Join")
def emit_join(ctx: KernelContext) -> None:
    axis = ctx.node.op.axis
    out = ctx.outputs[0]
    b = ctx.builder
    for x in ctx.inputs:  # all axes but the join axis must agree (checked before copying)
        for d in range(out.ndim):
            if d != axis:
                check_equal(ctx, x.dims[d], out.dims[d])
    outer, inner = _outer_inner(b, out, axis)
    row = b.mul(out.dims[axis], inner)
    offset: ir.Value = ZERO
    for x in ctx.inputs:
        chunk = b.mul(x.dims[axis], inner)
        with irutils.for_range(b, outer, name="j") as i:
            dst = b.gep(out.ptr, [b.add(b.mul(i, row), offset)])
            memcpy(b, dst, b.gep(x.ptr, [b.mul(i, chunk)]), chunk, x.dtype)
        offset = b.add(offset, chunk)


@register("Split")
def emit_split(ctx: KernelContext) -> None:
    axis = ctx.node.op.axis
    x = ctx.inputs[0]
    b = ctx.builder
    outer, inner = _outer_inner(b, x, axis)
    row = b.mul(x.dims[axis], inner)
    # pieces are consecutive, as in Split.perform (lengths were fixed by the plan)
    offset: ir.Value = ZERO
    for out in ctx.outputs:
        chunk = b.mul(out.dims[axis], inner)
        with irutils.for_range(b, outer, name="s") as i:
            src = b.gep(x.ptr, [b.add(b.mul(i, row), offset)])
            memcpy(b, b.gep(out.ptr, [b.mul(i, chunk)]), src, chunk, x.dtype)
        offset = b.add(offset, chunk)


@register("Repeat")
def emit_repeat(ctx: KernelContext) -> None:
    op = ctx.node.op
    x, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    outer, inner = _outer_inner(b, x, op.axis)
    n = x.dims[op.axis]
    reps = i64(op.repeats)
    with irutils.loop_nest(b, [outer, n, reps], name="r") as (i, j, r):
        src = b.gep(x.ptr, [b.mul(b.add(b.mul(i, n), j), inner)])
        out_row = b.add(b.mul(b.add(b.mul(i, n), j), reps), r)
        memcpy(b, b.gep(out.ptr, [b.mul(out_row, inner)]), src, inner, x.dtype)


@register("Tile")
def emit_tile(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    lead = out.ndim - x.ndim
    x_dims = [ONE] * lead + list(x.dims)
    x_strides = c_strides(b, x_dims)
    out_strides = c_strides(b, out.dims)
    inner_n = x_dims[-1] if out.ndim else ONE
    if out.ndim == 0:
        memcpy(b, out.ptr, x.ptr, ONE, x.dtype)
        return
    # the innermost input row is copied whole, once per repetition along the last axis
    with irutils.loop_nest(b, out.dims[:-1], name="t") as idx:
        src_idx = [b.srem(i, d) for i, d in zip(idx, x_dims[:-1])]
        src = b.gep(x.ptr, [linear(b, src_idx, x_strides[:-1])])
        base = linear(b, idx, out_strides[:-1])
        with irutils.for_range(b, i64(ctx.node.op.reps[-1]), name="c") as c:
            dst = b.gep(out.ptr, [b.add(base, b.mul(c, inner_n))])
            memcpy(b, dst, src, inner_n, x.dtype)


__all__ = [
    "c_strides",
    "check_equal",
    "entry_alloca",
    "if_nonempty",
    "linear",
    "load_int",
    "memcpy",
    "memzero",
    "product",
    "store_int",
]
