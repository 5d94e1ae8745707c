"""Reduction kernels: sum, prod, max, min, all, any, argmax, argmin (and AxesSize).

Every buffer is C-contiguous, so the input is first described as *groups*: runs of
adjacent axes that are all reduced or all kept merge into one axis (static length-1
axes are dropped). Two loop shapes then cover every case:

- kept-major ("rows"): for each output element, fold over the reduced groups. When the
  reduced axes are the innermost ones (sum over the last axis, or over everything) the
  fold is one contiguous loop, which LLVM vectorizes because the float adds carry
  ``reassoc`` and the max/min compare-selects ``nnan nsz`` (NaN is tracked separately,
  so max still propagates it as NumPy does). Other axis sets use a strided loop nest.
- reduced-major ("columns", groups K?RK: e.g. a sum over axis 0, the bias gradient):
  initialize an output row, then combine each input row into it elementwise. The inner
  loop runs contiguously over the kept axis, so it vectorizes without any reassociation.

float32 sums are blocked: each block of ``SUM_BLOCK`` elements is summed in float32
(vectorized, i.e. in many interleaved partial sums), and the block sums are added in
float64. That keeps the result within ~1e-7 relative of the exact sum, better than
NumPy's pairwise summation, at the speed of the naive loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llvmlite import ir

from . import irutils
from .elemwise import convert, is_float, value_type
from .parallel import parallel_for
from .registry import ERR_VALUE, I64, Buf, KernelContext, register

SUM_BLOCK = 2048
I1 = ir.IntType(1)
F64 = ir.DoubleType()
# float compares of a vectorized max/min reduction: NaN is handled by a separate flag
MINMAX_FLAGS = ("nnan", "nsz")


def c64(value: int) -> ir.Constant:
    """An i64 constant."""
    return ir.Constant(I64, value)


# --------------------------------------------------------------------------------------
# loops that carry values


def fold_range(b: ir.IRBuilder, start: ir.Value, stop: ir.Value, init: Sequence[ir.Value],
               step: Callable[[ir.Value, list[ir.Value]], Sequence[ir.Value]],
               name: str = "f") -> list[ir.Value]:
    """``state = init; for i in [start, stop): state = step(i, state)``; returns state.

    Loop-carried values are phis (no memory), the form the vectorizer recognizes as a
    reduction; the loop is rotated (guard + do-while) like ``irutils.for_range``.
    """
    pre = b.basic_block
    body = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.done")
    b.cbranch(b.icmp_signed("<", start, stop), body, done)
    b.position_at_end(body)
    index = b.phi(I64, name=name)
    index.add_incoming(start, pre)
    phis = []
    for v in init:
        phi = b.phi(v.type)
        phi.add_incoming(v, pre)
        phis.append(phi)
    new = list(step(index, list(phis)))
    latch = b.basic_block
    following = b.add(index, c64(1), flags=["nsw"])
    index.add_incoming(following, latch)
    for phi, v in zip(phis, new):
        phi.add_incoming(v, latch)
    b.cbranch(b.icmp_signed("<", following, stop), body, done)
    b.position_at_end(done)
    out = []
    for v, n in zip(init, new):
        phi = b.phi(v.type)
        phi.add_incoming(v, pre)
        phi.add_incoming(n, latch)
        out.append(phi)
    return out


# --------------------------------------------------------------------------------------
# the input as groups of merged axes


@dataclass
class Group:
    """Adjacent axes merged into one: all reduced or all kept."""

    reduced: bool
    size: ir.Value
    stride: ir.Value


@dataclass
class Groups:
    """The groups of an input for a set of reduced axes (outermost first)."""

    groups: list[Group]

    @property
    def kept(self) -> list[Group]:
        return [g for g in self.groups if not g.reduced]

    @property
    def reduced(self) -> list[Group]:
        return [g for g in self.groups if g.reduced]

    def pattern(self) -> str:
        return "".join("R" if g.reduced else "K" for g in self.groups)

    def reduced_size(self, b: ir.IRBuilder) -> ir.Value:
        return product(b, [g.size for g in self.reduced])

    def kept_size(self, b: ir.IRBuilder) -> ir.Value:
        return product(b, [g.size for g in self.kept])


def product(b: ir.IRBuilder, values: Sequence[ir.Value]) -> ir.Value:
    """The product of i64 values (1 for none)."""
    total: ir.Value = c64(1)
    for v in values:
        total = v if _is_one(total) else b.mul(total, v)
    return total


def _is_one(v: ir.Value) -> bool:
    return isinstance(v, ir.Constant) and v.constant == 1


def group_axes(b: ir.IRBuilder, buf: Buf, axes: Sequence[int]) -> Groups:
    """Merge adjacent axes of the same kind; static length-1 axes are dropped."""
    strides = buf.strides(b)
    groups: list[Group] = []
    for d in range(buf.ndim):
        if buf.var.type.shape[d] == 1:
            continue
        kind = d in axes
        if groups and groups[-1].reduced == kind:
            last = groups[-1]
            last.size, last.stride = b.mul(last.size, buf.dims[d]), strides[d]
        else:
            groups.append(Group(kind, buf.dims[d], strides[d]))
    return Groups(groups)


def gep(b: ir.IRBuilder, buf: Buf, offset: ir.Value) -> ir.Value:
    """Pointer to element ``offset`` of a buffer."""
    return b.gep(buf.ptr, [offset], inbounds=True)


def load(b: ir.IRBuilder, buf: Buf, offset: ir.Value) -> ir.Value:
    """Element ``offset`` of a buffer in its compute type (bool as i1)."""
    value = b.load(gep(b, buf, offset))
    if buf.dtype == "bool":
        return b.icmp_unsigned("!=", value, ir.Constant(ir.IntType(8), 0))
    return value


def store(b: ir.IRBuilder, buf: Buf, offset: ir.Value, value: ir.Value) -> None:
    """Store a compute-type value (bool i1 becomes i8) at element ``offset``."""
    if value.type == I1:
        value = b.zext(value, ir.IntType(8))
    b.store(value, gep(b, buf, offset))


def offset_of(b: ir.IRBuilder, index: Sequence[ir.Value],
              strides: Sequence[ir.Value]) -> ir.Value:
    """sum(index * stride). Strides that are tuples (one per buffer, as fused_reduce.py
    groups several inputs) give a tuple of offsets."""
    if strides and isinstance(strides[0], tuple):
        return tuple(offset_of(b, index, list(per_buf)) for per_buf in zip(*strides))
    total: ir.Value = c64(0)
    for i, s in zip(index, strides):
        term = i if _is_one(s) else b.mul(i, s)
        total = term if isinstance(total, ir.Constant) and total.constant == 0 \
            else b.add(total, term)
    return total


def for_kept_range(b: ir.IRBuilder, groups: Groups, lo: ir.Value, hi: ir.Value,
                   body: Callable[[ir.Value, ir.Value], None]) -> None:
    """Call ``body(input offset, output index)`` for the kept positions [lo, hi) (C order)."""
    kept = groups.kept
    with irutils.for_range(b, hi, start=lo, name="k") as k:
        rest, index = k, []
        for g in reversed(kept[1:]):
            index.append(b.urem(rest, g.size))
            rest = b.udiv(rest, g.size)
        index = [rest] + index[::-1] if kept else []
        body(offset_of(b, index, [g.stride for g in kept]), k)


# emit(builder, inputs, outputs, first kept position, end): a kernel's rows [lo, hi)
RowsFn = Callable[[ir.IRBuilder, list[Buf], list[Buf], ir.Value, ir.Value], None]


def run_rows(ctx: KernelContext, axes: Sequence[int], emit: RowsFn,
             threads: bool = True) -> None:
    """Run ``emit`` over all kept positions of input 0 (reduced over ``axes``); rows are
    split across threads when the kernel is large and ``emit`` cannot fail."""
    b, x = ctx.builder, ctx.inputs[0]
    groups = group_axes(b, x, axes)
    rows = groups.kept_size(b)
    if not threads or ctx.rebind is None or not groups.kept:  # one row: nothing to split
        emit(b, ctx.inputs, ctx.outputs, c64(0), rows)
        return

    def row_weight(bb: ir.IRBuilder, buf: Buf) -> ir.Value:
        n = product(bb, [buf.dims[a] for a in axes])
        return bb.select(bb.icmp_signed(">", n, c64(1)), n, c64(1))

    def emit_range(bb, ptrs, meta, lo, hi):
        ins, outs = ctx.rebind(bb, ptrs, meta)
        # parallel_for splits [0, rows * weight) into element ranges; a row belongs
        # to the range holding its first element
        w = row_weight(bb, ins[0])
        first = bb.sdiv(bb.add(lo, bb.sub(w, c64(1))), w)
        end = bb.sdiv(bb.add(hi, bb.sub(w, c64(1))), w)
        emit(bb, ins, outs, first, end)
    parallel_for(ctx, b.mul(rows, row_weight(b, x)), emit_range)
    # parallel_for calls the body from two places; inlining it into both would compile
    # the (large, vectorized) row loops twice for the price of one call per kernel
    body = ctx.module.globals.get(f"{ctx.function.name}_body")
    if isinstance(body, ir.Function):
        body.attributes.add("noinline")


StepFn = Callable[[ir.Value, ir.Value, list[ir.Value]], Sequence[ir.Value]]


def advance(b: ir.IRBuilder, base: ir.Value, i: ir.Value, stride: ir.Value) -> ir.Value:
    """base + i * stride; for a tuple of offsets (and of strides), one per buffer."""
    if isinstance(base, tuple):
        return tuple(advance(b, o, i, s) for o, s in zip(base, stride))
    return b.add(base, b.mul(i, stride))


def fold_reduced(b: ir.IRBuilder, groups: Sequence[Group], base: ir.Value,
                 init: Sequence[ir.Value], step: StepFn,
                 block: Blocking | None = None) -> list[ir.Value]:
    """Fold ``step(offset, index in the innermost group, state)`` over reduced groups."""
    if not groups:  # one element (all reduced axes have static length 1)
        if block is None:
            return list(step(base, c64(0), list(init)))
        return block.merge(b, list(init), list(step(base, c64(0), block.partial_init())))
    head, rest = groups[0], groups[1:]
    if rest:
        def outer(i, state):
            off = advance(b, base, i, head.stride)
            return fold_reduced(b, rest, off, state, step, block)
        return fold_range(b, c64(0), head.size, init, outer, name="r")

    def inner(i, state):
        return step(advance(b, base, i, head.stride), i, state)
    if block is None:
        return fold_range(b, c64(0), head.size, init, inner, name="r")
    return block.fold(b, head.size, init, inner)


@dataclass
class Blocking:
    """Fold a long run in blocks: a fresh partial state per block, merged into the total."""

    size: int
    partial_init: Callable[[], list[ir.Value]]
    merge: Callable[[ir.IRBuilder, list[ir.Value], list[ir.Value]], list[ir.Value]]

    def fold(self, b: ir.IRBuilder, n: ir.Value, init: Sequence[ir.Value],
             inner: Callable[[ir.Value, list[ir.Value]], Sequence[ir.Value]]) -> list[ir.Value]:
        nblocks = b.sdiv(b.add(n, c64(self.size - 1)), c64(self.size))

        def one_block(j, total):
            start = b.mul(j, c64(self.size))
            end = b.add(start, c64(self.size))
            stop = b.select(b.icmp_signed("<", end, n), end, n)
            partial = fold_range(b, start, stop, self.partial_init(), inner, name="blk")
            return self.merge(b, total, partial)
        return fold_range(b, c64(0), nblocks, init, one_block, name="blocks")


# --------------------------------------------------------------------------------------
# what each reduction accumulates


def _identity(op: str, dtype: str) -> ir.Constant:
    """The starting value of a fold in compute type (min/max: the extreme of the type)."""
    ty = value_type(dtype)
    if op in ("sum", "any"):
        return ir.Constant(ty, 0)
    if op in ("prod", "all"):
        return ir.Constant(ty, 1)
    if is_float(dtype):
        return ir.Constant(ty, float("-inf") if op in ("max", "argmax") else float("inf"))
    if dtype in ("bool", "uint8"):
        return ir.Constant(ty, 0 if op in ("max", "argmax") else (1 << ty.width) - 1)
    half = 1 << (ty.width - 1)
    return ir.Constant(ty, -half if op in ("max", "argmax") else half - 1)


def better(b: ir.IRBuilder, op: str, x: ir.Value, acc: ir.Value, dtype: str,
           flags: Sequence[str] = ()) -> ir.Value:
    """x strictly beats acc for max/argmax ('>') or min/argmin ('<') (ordered floats)."""
    cmp = ">" if op in ("max", "argmax") else "<"
    if is_float(dtype):
        return b.fcmp_ordered(cmp, x, acc, flags=flags)
    if dtype in ("bool", "uint8"):
        return b.icmp_unsigned(cmp, x, acc)
    return b.icmp_signed(cmp, x, acc)


def truth(b: ir.IRBuilder, x: ir.Value, dtype: str) -> ir.Value:
    """NumPy truth of a value (NaN is true)."""
    if dtype == "bool":
        return x
    if is_float(dtype):
        return b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0))
    return b.icmp_unsigned("!=", x, ir.Constant(x.type, 0))


def is_nan(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    return b.fcmp_unordered("uno", x, x)


def combine(b: ir.IRBuilder, op: str, acc: ir.Value, x: ir.Value, in_dtype: str,
            out_dtype: str) -> ir.Value:
    """acc (out_dtype, compute type) combined with one input value (exact NaN rules)."""
    if op in ("all", "any"):
        t = truth(b, x, in_dtype)
        return b.and_(acc, t) if op == "all" else b.or_(acc, t)
    x = convert(b, x, in_dtype, out_dtype)
    if op in ("max", "min"):
        take = better(b, op, x, acc, out_dtype)
        if is_float(out_dtype):  # NaN is contagious, as in NumPy
            take = b.or_(take, is_nan(b, x))
        return b.select(take, x, acc)
    if is_float(out_dtype):
        fn = b.fadd if op == "sum" else b.fmul
        return irutils.set_fast_math(fn(acc, x), ("contract",))
    return b.add(acc, x) if op == "sum" else b.mul(acc, x)


@dataclass
class Fold:
    """One reduction as a fold: initial state, step, result, optional blocking."""

    init: list[ir.Value]
    step: Callable[[ir.IRBuilder, list[ir.Value], ir.Value, ir.Value], list[ir.Value]]
    finish: Callable[[ir.IRBuilder, list[ir.Value]], ir.Value]
    block: Blocking | None = None


def make_fold(op: str, in_dtype: str, out_dtype: str) -> Fold:
    """The vectorizable fold of a reduction (see the module docstring)."""
    if op == "sum" and is_float(out_dtype):
        return _float_sum_fold(in_dtype, out_dtype)
    if op in ("max", "min") and is_float(out_dtype):
        return _float_extremum_fold(op, out_dtype)

    def step(b, state, x, i):
        if op in ("sum", "prod") and is_float(out_dtype):
            x = convert(b, x, in_dtype, out_dtype)
            fn = b.fadd if op == "sum" else b.fmul
            return [irutils.set_fast_math(fn(state[0], x), irutils.SAFE_FAST_MATH)]
        return [combine(b, op, state[0], x, in_dtype, out_dtype)]
    return Fold([_identity(op, out_dtype)], step, lambda b, state: state[0])


def _float_sum_fold(in_dtype: str, out_dtype: str) -> Fold:
    """Blocks summed in out_dtype (reassociated), block sums added in float64."""
    ty = value_type(out_dtype)

    def step(b, state, x, i):
        x = convert(b, x, in_dtype, out_dtype)
        return [irutils.set_fast_math(b.fadd(state[0], x), irutils.SAFE_FAST_MATH)]

    def merge(b, total, partial):
        wide = partial[0] if ty == F64 else b.fpext(partial[0], F64)
        return [b.fadd(total[0], wide)]

    def finish(b, state):
        return state[0] if ty == F64 else b.fptrunc(state[0], ty)
    blocking = Blocking(SUM_BLOCK, lambda: [ir.Constant(ty, 0.0)], merge)
    return Fold([ir.Constant(F64, 0.0)], step, finish, blocking)


def _float_extremum_fold(op: str, dtype: str) -> Fold:
    """Compare-select with nnan nsz (vectorizes) plus an 'any NaN seen' flag."""
    ty = value_type(dtype)

    def step(b, state, x, i):
        acc, seen_nan = state
        take = better(b, op, x, acc, dtype, flags=MINMAX_FLAGS)
        return [b.select(take, x, acc, flags=MINMAX_FLAGS), b.or_(seen_nan, is_nan(b, x))]

    def finish(b, state):
        return b.select(state[1], ir.Constant(ty, float("nan")), state[0])
    return Fold([_identity(op, dtype), ir.Constant(I1, 0)], step, finish)


FIND_BLOCK = 64


def scan(b: ir.IRBuilder, start: ir.Value, stop: ir.Value,
         pred: Callable[[ir.Value], ir.Value]) -> ir.Value:
    """The first i in [start, stop) where pred(i) holds (an early-exit loop), or stop."""
    pre = b.basic_block
    body = b.append_basic_block("scan.body")
    latch = b.append_basic_block("scan.next")
    done = b.append_basic_block("scan.done")
    b.cbranch(b.icmp_signed("<", start, stop), body, done)
    b.position_at_end(body)
    index = b.phi(I64, name="scan")
    index.add_incoming(start, pre)
    hit = pred(index)
    hit_block = b.basic_block
    b.cbranch(hit, done, latch)
    b.position_at_end(latch)
    following = b.add(index, c64(1), flags=["nsw"])
    index.add_incoming(following, latch)
    b.cbranch(b.icmp_signed("<", following, stop), body, done)
    b.position_at_end(done)
    result = b.phi(I64)
    result.add_incoming(stop, pre)
    result.add_incoming(index, hit_block)
    result.add_incoming(stop, latch)
    return result


def find_first(b: ir.IRBuilder, n: ir.Value, pred: Callable[[ir.Value], ir.Value]) -> ir.Value:
    """The first i in [0, n) where pred(i) holds, or n.

    Early-exit loops do not vectorize, so whole blocks of FIND_BLOCK are tested with
    a vectorized OR first; only the block that holds the hit is scanned one by one.
    """
    nblocks = b.sdiv(n, c64(FIND_BLOCK))

    def block_hit(j):
        start = b.mul(j, c64(FIND_BLOCK))
        found = fold_range(b, start, b.add(start, c64(FIND_BLOCK)), [ir.Constant(I1, 0)],
                           lambda i, st: [b.or_(st[0], pred(i))], name="any")
        return found[0]
    block = scan(b, c64(0), nblocks, block_hit)
    start = b.mul(block, c64(FIND_BLOCK))
    in_block = b.icmp_signed("<", block, nblocks)
    stop = b.select(in_block, b.add(start, c64(FIND_BLOCK)), n)
    return scan(b, start, stop, pred)


def arg_extremum(b: ir.IRBuilder, op: str, x: Buf, group: Group | None,
                 base: ir.Value) -> ir.Value:
    """Index of the first max/min (first NaN if any) of a run: a vectorized max/min
    pass, then an early-exit search for the first element equal to it."""
    kind = "max" if op == "argmax" else "min"
    if group is None:
        return c64(0)
    fold = make_fold(kind, x.dtype, x.dtype)

    def at(i):
        return load(b, x, b.add(base, b.mul(i, group.stride)))

    def step(offset, i, state):
        return fold.step(b, state, load(b, x, offset), i)
    best = fold.finish(b, fold_reduced(b, [group], base, fold.init, step))
    if not is_float(x.dtype):
        return find_first(b, group.size, lambda i: b.icmp_unsigned("==", at(i), best))
    best_is_nan = is_nan(b, best)

    def pred(i):
        v = at(i)
        return b.select(best_is_nan, is_nan(b, v), b.fcmp_ordered("==", v, best))
    return find_first(b, group.size, pred)


# --------------------------------------------------------------------------------------
# the kernels


def reduce_rows(ctx: KernelContext, axes: Sequence[int], fold_of: Callable[[], Fold]
                ) -> None:
    """Kept-major loop: one fold over the reduced groups per output element."""
    def rows(b, ins, outs, lo, hi):
        x, out = ins[0], outs[0]
        groups = group_axes(b, x, axes)
        fold = fold_of()

        def position(in_base, out_index):
            def step(offset, i, state):
                return fold.step(b, state, load(b, x, offset), i)
            state = fold_reduced(b, groups.reduced, in_base, fold.init, step, fold.block)
            store(b, out, out_index, fold.finish(b, state))
        for_kept_range(b, groups, lo, hi, position)
    run_rows(ctx, axes, rows)


def reduce_arg(ctx: KernelContext, axes: Sequence[int], op: str) -> None:
    """argmax/argmin: the reduced axes (one axis, or all) always form at most one group."""
    def rows(b, ins, outs, lo, hi):
        x, out = ins[0], outs[0]
        groups = group_axes(b, x, axes)
        if len(groups.reduced) > 1:
            raise NotImplementedError(f"{op} over non-adjacent axes")  # never built
        group = groups.reduced[0] if groups.reduced else None

        def position(in_base, out_index):
            store(b, out, out_index, arg_extremum(b, op, x, group, in_base))
        for_kept_range(b, groups, lo, hi, position)
    run_rows(ctx, axes, rows)


def reduce_columns(ctx: KernelContext, groups: Groups, op: str) -> None:
    """Reduced-major loop for groups K?RK: combine whole input rows into the output row."""
    b, x, out = ctx.builder, ctx.inputs[0], ctx.outputs[0]
    gs = groups.groups
    outer = gs[0].size if len(gs) == 3 else c64(1)
    red, inner = gs[-2].size, gs[-1].size
    in_dtype, out_dtype = x.dtype, out.dtype
    identity = _identity(op, out_dtype)
    with irutils.for_range(b, outer, name="o") as o:
        out_base = b.mul(o, inner)
        in_base = b.mul(o, b.mul(red, inner))
        with irutils.for_range(b, inner, name="c") as i:
            store(b, out, b.add(out_base, i), identity)
        with irutils.for_range(b, red, name="r") as r:
            row = b.add(in_base, b.mul(r, inner))
            with irutils.for_range(b, inner, name="c") as i:
                where = b.add(out_base, i)
                acc = load(b, out, where)
                new = combine(b, op, acc, load(b, x, b.add(row, i)), in_dtype, out_dtype)
                store(b, out, where, new)


def fail_if_empty(ctx: KernelContext, groups: Groups) -> None:
    """max/min/argmax of no elements: an error (the op's runtime shape check says why)."""
    b = ctx.builder
    red = groups.reduced_size(b)
    with b.if_then(b.icmp_signed("==", red, c64(0)), likely=False):
        ctx.fail(ERR_VALUE, c64(0), red)


def emit_reduction(ctx: KernelContext, op: str, axes: Sequence[int]) -> None:
    """A reduction over ``axes`` of ctx.inputs[0] into ctx.outputs[0]."""
    x, out = ctx.inputs[0], ctx.outputs[0]
    groups = group_axes(ctx.builder, x, axes)
    if op in ("max", "min", "argmax", "argmin"):
        fail_if_empty(ctx, groups)
    if groups.pattern() in ("RK", "KRK") and op not in ("argmax", "argmin"):
        reduce_columns(ctx, groups, op)
        return
    if op in ("argmax", "argmin"):
        reduce_arg(ctx, axes, op)
        return
    reduce_rows(ctx, axes, lambda: make_fold(op, x.dtype, out.dtype))


_OPS = {"Sum": "sum", "Prod": "prod", "Max": "max", "Min": "min", "All": "all",
        "Any": "any"}


@register(*_OPS)
def emit_axis_reduction(ctx: KernelContext) -> None:
    op = ctx.node.op
    emit_reduction(ctx, _OPS[type(op).__name__], op.axis)


@register("Argmax", "Argmin")
def emit_arg_reduction(ctx: KernelContext) -> None:
    op = ctx.node.op
    axes = range(ctx.inputs[0].ndim) if op.axis is None else (op.axis,)
    emit_reduction(ctx, type(op).__name__.lower(), tuple(axes))


@register("AxesSize")
def emit_axes_size(ctx: KernelContext) -> None:
    b, x = ctx.builder, ctx.inputs[0]
    store(b, ctx.outputs[0], c64(0), product(b, [x.dims[a] for a in ctx.node.op.axis]))


__all__ = [
    "Blocking",
    "Group",
    "Groups",
    "emit_reduction",
    "fold_range",
    "fold_reduced",
    "for_kept_range",
    "gep",
    "group_axes",
    "load",
    "make_fold",
    "run_rows",
    "store",
]
