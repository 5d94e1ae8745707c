"""Native FusedReduce: reduce.py's kernels with each element computed where it is folded.

reduce.py describes its input as groups of merged axes. Here that input is the
elementwise result X, which never exists: every input of the node is read at its own
offset (stride 0 along the axes where it broadcasts), and the scalar expression (the
Elemwise rules of elemwise.py, a Composite inlined) gives the element that the fold
takes. Adjacent axes merge into one group only where every input agrees on
broadcasting, so a group carries one stride per input (a tuple; reduce.py's
``offset_of``/``fold_reduced`` map over such tuples).

The loops and folds are reduce.py's:

- kept-major rows (as ``reduce_rows``): per output element, ``make_fold`` over the
  reduced groups. Sums over the innermost axes are one contiguous loop that LLVM
  vectorizes (``reassoc`` adds; ``nnan nsz`` compare-selects with a NaN flag), and
  float32 sums are blocked (``Blocking``: float32 partial sums per block of
  ``SUM_BLOCK``, added in float64). Rows are split across threads by ``run_rows``.
- reduced-major columns (as ``reduce_columns``) for sums over leading axes (groups
  K?RK): each row of elements is combined into the output row, contiguous inner loop.
- a reduction of everything (one group, e.g. a mean of a vector) has a single row that
  ``run_rows`` cannot split, so the range is split instead: each thread folds a part
  and combines its result into the output with a compare-and-swap loop (two float32
  partial sums are added in float32: one more rounding, still within 1e-6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from llvmlite import ir

from ..graph.basic import Apply, Variable
from . import irutils
from .elemwise import (
    _broadcast_strides,
    _check_value_error,
    _scalar_supported,
    emit_scalar,
    may_raise,
)
from .parallel import parallel_for
from .reduce import (
    Group,
    Groups,
    _identity,
    advance,
    c64,
    combine,
    fail_if_empty,
    fold_reduced,
    for_kept_range,
    load,
    make_fold,
    run_rows,
    store,
)
from .registry import I64, Buf, KernelContext, element_type, register


def _broadcasts(inp: Buf, ndim: int, axis: int) -> bool:
    """Whether an input broadcasts along an axis of the ndim-d result (static rule)."""
    pad = ndim - inp.ndim
    return axis < pad or inp.var.type.shape[axis - pad] == 1


def result_buf(result: Variable, ins: Sequence[Buf]) -> Buf:
    """A shape-only Buf (no data) of the elementwise result: each dim is a static one, or
    the dim of an input that does not broadcast along it (strict broadcasting: equal)."""
    ndim = result.ndim
    dims: list[ir.Value] = []
    for d, static in enumerate(result.type.shape):
        if static is not None:
            dims.append(ir.Constant(I64, static))
            continue
        inp = next(i for i in ins if not _broadcasts(i, ndim, d))
        dims.append(inp.dims[d - (ndim - inp.ndim)])
    return Buf(result, None, dims, result.dtype)


def group_inputs(b: ir.IRBuilder, ins: Sequence[Buf], x: Buf,
                 axes: Sequence[int]) -> Groups:
    """The groups of the result x, with one stride per input in every group."""
    strides = [_broadcast_strides(b, inp, x.ndim) for inp in ins]
    groups: list[Group] = []
    last_pattern: tuple[bool, ...] | None = None
    for d in range(x.ndim):
        if x.var.type.shape[d] == 1:
            continue
        kind = d in axes
        pattern = tuple(_broadcasts(inp, x.ndim, d) for inp in ins)
        per_input = tuple(s[d] for s in strides)
        if groups and groups[-1].reduced == kind and pattern == last_pattern:
            last = groups[-1]
            last.size, last.stride = b.mul(last.size, x.dims[d]), per_input
        else:
            groups.append(Group(kind, x.dims[d], per_input))
        last_pattern = pattern
    return Groups(groups)


def element(b: ir.IRBuilder, node: Apply, ins: Sequence[Buf],
            offsets: Sequence[ir.Value], dtype: str) -> ir.Value:
    """The elementwise result at one position: the inputs loaded, the scalar op inlined."""
    args = [load(b, buf, off) for buf, off in zip(ins, offsets)]
    return emit_scalar(b, node.op.scalar_op, args, [v.dtype for v in node.inputs], dtype)


def _as_offsets(base, n: int) -> tuple:
    """for_kept_range gives a plain 0 when nothing is kept: one offset per input."""
    return base if isinstance(base, tuple) else (base,) * n


def fused_rows(ctx: KernelContext, result: Variable, op: str, threads: bool) -> None:
    """Kept-major: one fold per output element (reduce_rows, with inline elements)."""
    node, axes = ctx.node, ctx.node.op.reduce_op.axis

    # run_rows sizes and splits the rows by input 0: put the result's shape there
    def shaped(bb: ir.IRBuilder, ins: list[Buf]) -> list[Buf]:
        return [result_buf(result, ins)] + ins
    rebind = None
    if ctx.rebind is not None:
        def rebind(bb, ptrs, meta):
            ins, outs = ctx.rebind(bb, ptrs, meta)
            return shaped(bb, ins), outs
    wrapped = replace(ctx, inputs=shaped(ctx.builder, ctx.inputs), rebind=rebind)

    def rows(b, ins, outs, lo, hi):
        x, real, out = ins[0], ins[1:], outs[0]
        groups = group_inputs(b, real, x, axes)
        fold = make_fold(op, x.dtype, out.dtype)

        def position(base, out_index):
            def step(offsets, i, state):
                return fold.step(b, state, element(b, node, real, offsets, x.dtype), i)
            bases = _as_offsets(base, len(real))
            state = fold_reduced(b, groups.reduced, bases, fold.init, step, fold.block)
            store(b, out, out_index, fold.finish(b, state))
        for_kept_range(b, groups, lo, hi, position)
    run_rows(wrapped, axes, rows, threads=threads)


def fused_columns(ctx: KernelContext, groups: Groups, op: str, dtype: str) -> None:
    """Reduced-major for groups K?RK (reduce_columns, with inline elements)."""
    b, out, ins = ctx.builder, ctx.outputs[0], ctx.inputs
    gs = groups.groups
    outer = gs[0] if len(gs) == 3 else None
    red, inner = gs[-2], gs[-1]
    start = (c64(0),) * len(ins)
    with irutils.for_range(b, outer.size if outer else c64(1), name="o") as o:
        out_base = b.mul(o, inner.size)
        in_base = advance(b, start, o, outer.stride) if outer else start
        with irutils.for_range(b, inner.size, name="c") as i:
            store(b, out, b.add(out_base, i), _identity(op, out.dtype))
        with irutils.for_range(b, red.size, name="r") as r:
            row = advance(b, in_base, r, red.stride)
            with irutils.for_range(b, inner.size, name="c") as i:
                where = b.add(out_base, i)
                value = element(b, ctx.node, ins, advance(b, row, i, inner.stride), dtype)
                acc = load(b, out, where)
                store(b, out, where, combine(b, op, acc, value, dtype, out.dtype))


def fused_total(ctx: KernelContext, result: Variable, op: str) -> None:
    """A reduction of everything (one reduced group), split across threads: each thread
    folds its range, then combines its result into the output with a compare-and-swap
    loop. Without a split, that is one combine with the identity (exact)."""
    b, out = ctx.builder, ctx.outputs[0]
    axes = ctx.node.op.reduce_op.axis
    (group,) = group_inputs(b, ctx.inputs, result_buf(result, ctx.inputs), axes).groups
    store(b, out, c64(0), _identity(op, out.dtype))

    def emit_range(bb, ptrs, meta, lo, hi):
        ins, outs = ctx.rebind(bb, ptrs, meta)
        x = result_buf(result, ins)
        (whole,) = group_inputs(bb, ins, x, axes).groups
        chunk = Group(True, bb.sub(hi, lo), whole.stride)
        base = advance(bb, (c64(0),) * len(ins), lo, whole.stride)
        fold = make_fold(op, x.dtype, outs[0].dtype)

        def step(offsets, i, state):
            return fold.step(bb, state, element(bb, ctx.node, ins, offsets, x.dtype), i)
        state = fold_reduced(bb, [chunk], base, fold.init, step, fold.block)
        atomic_combine(bb, op, outs[0], fold.finish(bb, state))
    parallel_for(ctx, group.size, emit_range)


def atomic_combine(b: ir.IRBuilder, op: str, out: Buf, value: ir.Value) -> None:
    """out[0] = combine(out[0], value), atomically (a compare-and-swap loop)."""
    dtype = out.dtype
    ptr = b.gep(out.ptr, [c64(0)], inbounds=True)
    is_float = dtype in ("float32", "float64")
    as_int = ir.IntType(int(dtype[-2:]) if is_float else element_type(dtype).width)
    iptr = b.bitcast(ptr, as_int.as_pointer())

    def to_bits(v):
        if v.type == ir.IntType(1):
            return b.zext(v, as_int)
        return b.bitcast(v, as_int) if v.type != as_int else v

    def from_bits(v):
        if dtype == "bool":
            return b.icmp_unsigned("!=", v, ir.Constant(as_int, 0))
        return b.bitcast(v, element_type(dtype)) if is_float else v
    first = b.load(iptr)
    pre = b.basic_block
    loop = b.append_basic_block("cas")
    done = b.append_basic_block("cas.done")
    b.branch(loop)
    b.position_at_end(loop)
    old = b.phi(as_int)
    old.add_incoming(first, pre)
    new = combine(b, op, from_bits(old), value, dtype, dtype)
    pair = b.cmpxchg(iptr, old, to_bits(new), "seq_cst", "seq_cst")
    old.add_incoming(b.extract_value(pair, 0), loop)
    b.cbranch(b.extract_value(pair, 1), done, loop)
    b.position_at_end(done)


def _supported(node: Apply) -> bool:
    return bool(node.inputs) and _scalar_supported(node.op.scalar_op)


@register("FusedReduce", supports=_supported)
def emit_fused_reduce(ctx: KernelContext) -> None:
    node = ctx.node
    op = node.op.reduce_op.fname
    result = node.op.elemwise_node(node.inputs).outputs[0]
    # an integer power may flag a value error: such kernels run on one thread
    raises = may_raise(node.op.scalar_op, result.dtype)
    groups = group_inputs(ctx.builder, ctx.inputs, result_buf(result, ctx.inputs),
                          node.op.reduce_op.axis)
    if op in ("max", "min"):
        fail_if_empty(ctx, groups)
    if groups.pattern() in ("RK", "KRK"):
        fused_columns(ctx, groups, op, result.dtype)
    elif groups.pattern() == "R" and ctx.rebind is not None and not raises:
        fused_total(ctx, result, op)
    else:
        fused_rows(ctx, result, op, threads=not raises)
    _check_value_error(ctx)


__all__ = ["element", "emit_fused_reduce", "group_inputs", "result_buf"]
