"""Indexing kernels: x[key] reads (basic and integer-array) and increments/assignments.

One ``IndexMap`` serves all four ops. From the key's static structure (``idx_list``) it
lays out the axes of the indexed part ``x[key]`` exactly as NumPy does (basic axes in
order; the broadcast shape of the index arrays in place of adjacent advanced indices,
or first when they are separated) and maps a position in that part to an offset in x.

Safety: every integer index, scalar or array entry, is wrapped (negative counts from
the end) and checked against its axis length in the kernel; an index out of range makes
the kernel return ERR_INDEX (IndexError in Python naming the node) before any access.
Slice bounds were evaluated at plan time and are clamped here as Python clamps them.

Boolean masks: a mask over axes [a, a+k) is NumPy's ``nonzero()`` arrays, i.e. one
index dimension of length ``count`` (its number of True entries) in the broadcast shape
of the advanced indices. The kernel first checks the mask's shape against those axes of
x (ERR_INDEX) and counts its True entries; then, at the output axis the mask's count
occupies, it *walks* the mask in C order instead of looping 0..count: the n-th True
position seen is output index n (or, when the other index arrays broadcast the count of
1 up, every output index along that axis). So no table of positions is built. A read's
mask was evaluated at plan time (it decides the output shape), an increment's at run
time; both are read from their buffer here. Keys with more than one mask are declined
(``_supported``) and run their NumPy ``perform``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from llvmlite import ir

from ..graph.ops.indexing_keys import SYM, index_input_kinds
from . import irutils
from .registry import ERR_INDEX, ERR_SHAPE, I64, Buf, KernelContext, register
from .shape import ONE, ZERO, c_strides, check_equal, entry_alloca, i64, linear, load_int, memcpy

I1 = ir.IntType(1)


@dataclass
class AxisRule:
    """How one axis of x is indexed: 'slice' (start + i*step), 'int', 'array', 'mask'
    (axis ``sub`` of a boolean mask) or 'full'."""

    kind: str
    entry: tuple = ()
    buf: Buf | None = None  # the index input (array, mask, or a symbolic int)
    out_axis: int = -1      # the part's axis this input axis follows (slice, full)
    start: ir.Value | None = None
    step: ir.Value | None = None
    length: ir.Value | None = None
    sub: int = 0            # which axis of the mask (kind 'mask')


@dataclass
class MaskRule:
    """A boolean mask covering x's axes [first, first + buf.ndim)."""

    buf: Buf
    first: int
    count: ir.Value | None = None  # number of True entries
    strides: list | None = None


class IndexMap:
    """The axes of x[key] and the offset in x of each of its elements."""

    def __init__(self, ctx: KernelContext, x: Buf, index_bufs: list[Buf]) -> None:
        self.ctx, self.x = ctx, x
        self.b = ctx.builder
        entries = ctx.node.op.idx_list
        bufs = iter(index_bufs)
        self.rules: list[AxisRule] = []
        self.parts: list[tuple[bool, object]] = []  # (advanced, rule or 'newaxis')
        self.mask: MaskRule | None = None
        self.mask_idx: tuple[ir.Value, ...] = ()  # the walk's position in the mask
        for entry in entries:
            kind = entry[0]
            if kind == "newaxis":
                self.parts.append((False, "newaxis"))
                continue
            if kind == "mask":
                self._add_mask(next(bufs))
                continue
            n_sym = sum(p == SYM for p in entry[1:]) if kind in ("int", "slice") else 1
            own = [next(bufs) for _ in range(n_sym)]
            rule = self._rule(entry, own, len(self.rules))
            self.rules.append(rule)
            self.parts.append((kind in ("int", "array"), rule))
        for axis in range(len(self.rules), x.ndim):
            rule = AxisRule("full", length=x.dims[axis])
            self.rules.append(rule)
            self.parts.append((False, rule))
        self.arrays = [r for r in self.rules if r.kind == "array"]
        self.n_b = max([r.buf.ndim for r in self.arrays] + [1] * (self.mask is not None),
                       default=0)
        self._layout()
        if self.mask is not None:
            self._check_and_count_mask()

    # -- structure
    def _rule(self, entry: tuple, own: list[Buf], axis: int) -> AxisRule:
        if entry[0] == "array":
            return AxisRule("array", entry, buf=own[0])
        if entry[0] == "int":
            value = load_int(self.b, own[0]) if own else i64(entry[1])
            return AxisRule("int", entry, start=self._wrap_checked(value, axis))
        parts = iter(own)
        start, stop, step = (None if p is None else
                             load_int(self.b, next(parts)) if p == SYM else i64(p)
                             for p in entry[1:])
        return self._slice(entry, axis, start, stop, step if step is not None else ONE)

    def _layout(self) -> None:
        """Assign the output axis of each basic part and where the broadcast dims go."""
        adv = [k for k, (is_adv, _) in enumerate(self.parts) if is_adv]
        adjacent = bool(adv) and adv == list(range(adv[0], adv[-1] + 1))
        axis = 0
        self.b_pos = 0 if adv and not adjacent else None
        if self.b_pos == 0:
            axis = self.n_b
        self.basic: list[tuple[int, object]] = []  # (output axis, rule or 'newaxis')
        for k, (is_adv, rule) in enumerate(self.parts):
            if adjacent and k == adv[0]:
                self.b_pos, axis = axis, axis + self.n_b
            if not is_adv:
                self.basic.append((axis, rule))
                if rule != "newaxis":
                    rule.out_axis = axis
                axis += 1
        self.ndim = axis if adv else len(self.basic)

    def _add_mask(self, buf: Buf) -> None:
        if self.mask is not None:
            raise NotImplementedError("more than one boolean mask in a key")
        self.mask = MaskRule(buf, len(self.rules))
        self.rules.extend(AxisRule("mask", ("mask",), buf=buf, sub=d)
                          for d in range(buf.ndim))
        self.parts.append((True, self.mask))

    def _check_and_count_mask(self) -> None:
        """ERR_INDEX unless the mask's shape is that of the axes it covers; count Trues."""
        b, m = self.b, self.mask
        for d, got in enumerate(m.buf.dims):
            want = self.x.dims[m.first + d]
            if isinstance(got, ir.Constant) and isinstance(want, ir.Constant) and \
                    got.constant == want.constant:
                continue
            with b.if_then(b.icmp_signed("!=", got, want), likely=False):
                self.ctx.fail(ERR_INDEX, got, want)
        m.strides = c_strides(b, m.buf.dims)
        total = _counter(self.ctx, "mask.count")
        b.store(ZERO, total)
        with irutils.for_range(b, m.buf.size(b), name="mc") as i:
            true = b.icmp_unsigned("!=", load_int(b, m.buf, i), ZERO)
            b.store(b.add(b.load(total), b.zext(true, I64)), total)
        m.count = b.load(total)

    # -- values
    def _wrap_checked(self, value: ir.Value, axis: int) -> ir.Value:
        """value + n if negative; ERR_INDEX unless the result is in [0, n)."""
        b, n = self.b, self.x.dims[axis]
        wrapped = b.select(b.icmp_signed("<", value, ZERO), b.add(value, n), value)
        # unsigned compare: a still-negative index is huge, so one test covers both ends
        with b.if_then(b.icmp_unsigned(">=", wrapped, n), likely=False):
            self.ctx.fail(ERR_INDEX, value, n)
        return wrapped

    def _slice(self, entry, axis, start, stop, step) -> AxisRule:
        """Python's slice.indices(n) and the slice length, in IR."""
        b, n = self.b, self.x.dims[axis]
        up = b.icmp_signed(">", step, ZERO)
        lo = b.select(up, ZERO, i64(-1))
        hi = b.select(up, n, b.sub(n, ONE))
        first = self._bound(start, b.select(up, ZERO, b.sub(n, ONE)), n, lo, hi)
        last = self._bound(stop, b.select(up, n, i64(-1)), n, lo, hi)
        span = b.select(up, b.sub(last, first), b.sub(first, last))
        mag = b.select(up, step, b.neg(step))
        count = b.sdiv(b.add(span, b.sub(mag, ONE)), mag)
        length = b.select(b.icmp_signed(">", span, ZERO), count, ZERO)
        return AxisRule("slice", entry, start=first, step=step, length=length)

    def _bound(self, value, default, n, lo, hi) -> ir.Value:
        if value is None:
            return default
        b = self.b
        v = b.select(b.icmp_signed("<", value, ZERO), b.add(value, n), value)
        v = b.select(b.icmp_signed("<", v, lo), lo, v)
        return b.select(b.icmp_signed(">", v, hi), hi, v)

    def sub_dims(self) -> list[ir.Value]:
        """The shape of x[key] computed from the inputs (index arrays must broadcast)."""
        dims: list[ir.Value] = [ONE] * self.ndim
        for axis, rule in self.basic:
            dims[axis] = ONE if rule == "newaxis" else rule.length
        for j in range(self.n_b):
            dims[self.b_pos + j] = self._broadcast_dim(j)
        return dims

    def _broadcast_dim(self, j: int) -> ir.Value:
        b = self.b
        aligned = [r.buf.dims[j - (self.n_b - r.buf.ndim)] for r in self.arrays
                   if j >= self.n_b - r.buf.ndim]
        if self.mask is not None and j == self.n_b - 1:
            aligned.append(self.mask.count)  # the mask's nonzero() arrays are 1-d
        dim: ir.Value = ONE
        for d in aligned:
            dim = b.select(b.icmp_signed("!=", d, ONE), d, dim)
        for d in aligned:
            ok = b.or_(b.icmp_signed("==", d, ONE), b.icmp_signed("==", d, dim))
            with b.if_then(b.not_(ok), likely=False):
                self.ctx.fail(ERR_SHAPE, d, dim)
        return dim

    def prepare(self, dims: list[ir.Value]) -> None:
        """Strides of x and of each index array over the broadcast dims (0 where 1)."""
        b = self.b
        self.x_strides = c_strides(b, self.x.dims)
        for r in self.arrays:
            strides = c_strides(b, r.buf.dims)
            lead = self.n_b - r.buf.ndim
            r.bstrides = [ZERO] * lead + [
                ZERO if r.buf.var.type.shape[i] == 1 else
                b.select(b.icmp_signed("==", r.buf.dims[i], ONE), ZERO, strides[i])
                for i in range(r.buf.ndim)]

    def offset(self, idx: tuple[ir.Value, ...]) -> ir.Value:
        """The offset in x of element idx of x[key] (checks array entries)."""
        b = self.b
        bidx = idx[self.b_pos:self.b_pos + self.n_b] if self.n_b else ()
        terms: list[ir.Value] = []
        for axis, r in enumerate(self.rules):
            if r.kind == "int":
                pos = r.start
            elif r.kind == "array":
                raw = load_int(b, r.buf, linear(b, bidx, r.bstrides))
                pos = self._wrap_checked(raw, axis)
            elif r.kind == "mask":
                pos = self.mask_idx[r.sub]  # in range: the mask's shape was checked
            elif r.kind == "slice":
                pos = b.add(r.start, b.mul(idx[r.out_axis], r.step))
            else:
                pos = idx[r.out_axis]
            terms.append(pos)
        return linear(b, terms, self.x_strides)

    # -- loops
    @contextmanager
    def loop(self, dims: list[ir.Value], name: str) -> Iterator[tuple[ir.Value, ...]]:
        """A loop nest over x[key]'s dims; with a mask, its axis walks the mask."""
        if self.mask is None:
            with irutils.loop_nest(self.b, dims, name=name) as idx:
                yield idx
            return
        axis = self.b_pos + self.n_b - 1  # where the mask's count dim is
        with irutils.loop_nest(self.b, dims[:axis], name=f"{name}o") as outer, \
                self._walk(dims[axis], name) as j, \
                irutils.loop_nest(self.b, dims[axis + 1:], name=f"{name}i") as inner:
            yield (*outer, j, *inner)

    @contextmanager
    def _walk(self, bdim: ir.Value, name: str) -> Iterator[ir.Value]:
        """The mask's True positions in C order; yields the output index along its axis
        with ``mask_idx`` set: n for the n-th True, or 0..bdim-1 when a count of 1 is
        broadcast up by other index arrays."""
        b, m = self.b, self.mask
        seen = _counter(self.ctx, f"{name}.seen")
        b.store(ZERO, seen)
        spread = b.icmp_signed("!=", m.count, bdim)
        with irutils.loop_nest(b, m.buf.dims, name=f"{name}m") as md:
            flag = load_int(b, m.buf, linear(b, md, m.strides))
            with b.if_then(b.icmp_unsigned("!=", flag, ZERO)):
                n = b.load(seen)
                after = b.add(n, ONE)
                b.store(after, seen)
                self.mask_idx = md
                with irutils.for_range(b, b.select(spread, bdim, after),
                                       start=b.select(spread, ZERO, n), name=f"{name}j") as j:
                    yield j


def _counter(ctx: KernelContext, name: str) -> ir.Value:
    """An i64 stack slot in the entry block (promoted to a register by mem2reg)."""
    if ctx.builder.block is ctx.function.entry_basic_block:
        # entry_alloca would insert before this builder's insertion point and shift it
        return ctx.builder.alloca(I64, name=name)
    return entry_alloca(ctx, I64, name)


def _supported(node) -> bool:
    """At most one boolean mask in the key (two would need a table of positions)."""
    return index_input_kinds(node.op.idx_list).count("mask") <= 1


@register("Subtensor", "AdvancedSubtensor", supports=_supported)
def emit_read(ctx: KernelContext) -> None:
    x, out = ctx.inputs[0], ctx.outputs[0]
    b = ctx.builder
    imap = IndexMap(ctx, x, ctx.inputs[1:])
    dims = list(out.dims)  # the plan computed x[key]'s shape from the same values
    if imap.mask is not None:
        # the walk writes where the mask says: never past what the plan allocated
        for got, want in zip(imap.sub_dims(), dims):
            check_equal(ctx, got, want)
    imap.prepare(dims)
    out_strides = c_strides(b, dims)
    with imap.loop(dims, name="g") as idx:
        value = b.load(b.gep(x.ptr, [imap.offset(idx)]))
        b.store(value, b.gep(out.ptr, [linear(b, idx, out_strides)]))


@register("IncSubtensor", "AdvancedIncSubtensor", supports=_supported)
def emit_write(ctx: KernelContext) -> None:
    x, v = ctx.inputs[0], ctx.inputs[1]
    out = ctx.outputs[0]
    b = ctx.builder
    imap = IndexMap(ctx, x, ctx.inputs[2:])
    dims = imap.sub_dims()
    imap.prepare(dims)
    v_strides = _value_strides(ctx, v, dims)
    memcpy(b, out.ptr, x.ptr, x.size(b), x.dtype)
    setting = ctx.node.op.set_instead_of_inc
    with imap.loop(dims, name="w") as idx:
        value = b.load(b.gep(v.ptr, [linear(b, idx, v_strides)]))
        slot = b.gep(out.ptr, [imap.offset(idx)])
        if not setting:  # sequential, so repeated indices accumulate (np.add.at)
            value = _add(b, b.load(slot), value, x.dtype)
        b.store(value, slot)


def _value_strides(ctx: KernelContext, v: Buf, dims: list[ir.Value]) -> list[ir.Value]:
    """v's strides over x[key]'s axes; strict broadcasting (static 1 only)."""
    b = ctx.builder
    if v.ndim > len(dims):
        raise NotImplementedError("value has more axes than the indexed part")
    strides = c_strides(b, v.dims)
    lead = len(dims) - v.ndim
    out: list[ir.Value] = [ZERO] * lead
    for i in range(v.ndim):
        if v.var.type.shape[i] == 1:
            out.append(ZERO)
            continue
        check_equal(ctx, v.dims[i], dims[lead + i])
        out.append(strides[i])
    return out


def _add(b: ir.IRBuilder, a: ir.Value, c: ir.Value, dtype: str) -> ir.Value:
    if dtype in ("float32", "float64"):
        return b.fadd(a, c)
    if dtype == "bool":
        return b.or_(a, c)
    return b.add(a, c)


__all__ = ["IndexMap", "emit_read", "emit_write"]
