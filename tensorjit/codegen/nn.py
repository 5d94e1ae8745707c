"""Softmax-family kernels: softmax, log_softmax, logsumexp and the cross-entropies.

Each is a row kernel over the groups of reduce.py: for every kept position, a few
passes over the reduced elements (contiguous and vectorized when the class axes are
the innermost ones, strided otherwise). The shift follows the reference exactly: the
row max (NaN-propagating), replaced by 0 where it is not finite, so +-inf and NaN
inputs give what ``perform`` gives. Passes per row:

- softmax: max; exp(x - m) written into the output while summing; scale by 1/sum.
  The row stays in L1 between passes (an online single-pass max/sum would need two
  exps per element; exp, not memory, is the cost at these sizes).
- log_softmax: max; sum of exp (nothing stored); x - (m + log(sum)).
- logsumexp and the cross-entropies: max; sum of exp; one value per row.

Integer labels are bounds-checked before they are used: a label outside [0, n) fails
the kernel with ERR_INDEX (IndexError naming the node), and is never read through.
Label/target shapes are checked at kernel entry (ERR_SHAPE) before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llvmlite import ir

from . import irutils
from .elemwise import convert
from .mathlib import get_math_function
from .reduce import (
    Groups,
    c64,
    fold_reduced,
    for_kept_range,
    group_axes,
    load,
    make_fold,
    offset_of,
    run_rows,
    store,
)
from .registry import ERR_INDEX, ERR_SHAPE, Buf, KernelContext, register


def _math(b: ir.IRBuilder, name: str, x: ir.Value) -> ir.Value:
    return b.call(get_math_function(b.module, name, x.type), [x])


def _fast(instr: ir.Instruction) -> ir.Instruction:
    return irutils.set_fast_math(instr, ("contract",))


def for_each_reduced(b: ir.IRBuilder, groups: Groups, base: ir.Value,
                     body: Callable[[ir.Value], None]) -> None:
    """Call ``body(offset)`` for each reduced element of the row at ``base``."""
    def step(offset, i, state):
        body(offset)
        return []
    fold_reduced(b, groups.reduced, base, [], step)


def row_fold(b: ir.IRBuilder, op: str, dtype: str, groups: Groups, base: ir.Value,
             value: Callable[[ir.Value], ir.Value]) -> ir.Value:
    """Reduce ``value(offset)`` over the row with reduce.py's (vectorizable) fold."""
    fold = make_fold(op, dtype, dtype)

    def step(offset, i, state):
        return fold.step(b, state, value(offset), i)
    return fold.finish(b, fold_reduced(b, groups.reduced, base, fold.init, step, fold.block))


def row_shift(b: ir.IRBuilder, x: Buf, groups: Groups, base: ir.Value) -> ir.Value:
    """The row max, or 0 where it is not finite (all -inf, a +inf, a NaN, empty)."""
    m = row_fold(b, "max", x.dtype, groups, base, lambda off: load(b, x, off))
    finite = b.fcmp_ordered("!=", irutils.call_intrinsic(b, "llvm.fabs", m),
                            ir.Constant(m.type, float("inf")))
    return b.select(finite, m, ir.Constant(m.type, 0.0))


def exp_sum(b: ir.IRBuilder, x: Buf, groups: Groups, base: ir.Value, shift: ir.Value,
            out: Buf | None = None) -> ir.Value:
    """sum(exp(x - shift)) over the row, writing each exp into ``out`` when given."""
    def value(offset):
        e = _math(b, "exp", _fast(b.fsub(load(b, x, offset), shift)))
        if out is not None:
            store(b, out, offset, e)
        return e
    return row_fold(b, "sum", x.dtype, groups, base, value)


def row_logsumexp(b: ir.IRBuilder, x: Buf, groups: Groups, base: ir.Value) -> ir.Value:
    """shift + log(sum(exp(x - shift))) of one row."""
    shift = row_shift(b, x, groups, base)
    return b.fadd(_math(b, "log", exp_sum(b, x, groups, base, shift)), shift)


# --------------------------------------------------------------------------------------
# softmax, log_softmax, logsumexp


def row_kernel(ctx: KernelContext, axes: Sequence[int],
               row: Callable[[ir.IRBuilder, list[Buf], list[Buf], Groups, ir.Value, ir.Value],
                             None]) -> None:
    """Run ``row(b, ins, outs, groups, base, k)`` for every row, split across threads."""
    def rows(b, ins, outs, lo, hi):
        groups = group_axes(b, ins[0], axes)
        for_kept_range(b, groups, lo, hi,
                       lambda base, k: row(b, ins, outs, groups, base, k))
    run_rows(ctx, axes, rows)


@register("Softmax")
def emit_softmax(ctx: KernelContext) -> None:
    def row(b, ins, outs, groups, base, k):
        x, out = ins[0], outs[0]
        total = exp_sum(b, x, groups, base, row_shift(b, x, groups, base), out)
        # e * (1/s) is e / s within an ulp, and agrees on 0, inf and NaN sums
        inv = b.fdiv(ir.Constant(total.type, 1.0), total)
        for_each_reduced(b, groups, base,
                         lambda off: store(b, out, off, b.fmul(load(b, out, off), inv)))
    row_kernel(ctx, ctx.node.op.axis, row)


@register("LogSoftmax")
def emit_log_softmax(ctx: KernelContext) -> None:
    def row(b, ins, outs, groups, base, k):
        x, out = ins[0], outs[0]
        lse = row_logsumexp(b, x, groups, base)
        for_each_reduced(b, groups, base,
                         lambda off: store(b, out, off, b.fsub(load(b, x, off), lse)))
    row_kernel(ctx, ctx.node.op.axis, row)


@register("LogSumExp")
def emit_logsumexp(ctx: KernelContext) -> None:
    def row(b, ins, outs, groups, base, k):
        store(b, outs[0], k, row_logsumexp(b, ins[0], groups, base))
    row_kernel(ctx, ctx.node.op.axis, row)


# --------------------------------------------------------------------------------------
# labels


def check_dims(ctx: KernelContext, got: Sequence[ir.Value], want: Sequence[ir.Value]) -> None:
    """Fail with ERR_SHAPE (got, want) at the first dim that differs at run time."""
    b = ctx.builder
    for g, w in zip(got, want):
        if isinstance(g, ir.Constant) and isinstance(w, ir.Constant):
            continue  # static: make_node checked it
        with b.if_then(b.icmp_signed("!=", g, w), likely=False):
            ctx.fail(ERR_SHAPE, g, w)


def load_label(ctx: KernelContext, labels: Buf, offset: ir.Value, n: ir.Value) -> ir.Value:
    """labels[offset] as i64, failing with ERR_INDEX (label, n) unless 0 <= label < n."""
    b = ctx.builder
    label = convert(b, load(b, labels, offset), labels.dtype, "int64")
    # unsigned compare: a negative label is a huge unsigned one
    with b.if_then(b.icmp_unsigned(">=", label, n), likely=False):
        ctx.fail(ERR_INDEX, label, n)
    return label


def _rest(dims: Sequence[ir.Value], axis: int) -> list[ir.Value]:
    return list(dims[:axis]) + list(dims[axis + 1:])


def check_labels(ctx: KernelContext, labels: Buf, n: ir.Value) -> None:
    """Bounds-check every label up front, so the (threaded) row loops cannot fail."""
    b = ctx.builder
    with irutils.for_range(b, labels.size(b), name="lab") as i:
        load_label(ctx, labels, i, n)


@register("SoftmaxCrossEntropyWithIntegerLabels")
def emit_softmax_ce_labels(ctx: KernelContext) -> None:
    axis = ctx.node.op.axis
    x, labels = ctx.inputs
    check_dims(ctx, labels.dims, _rest(x.dims, axis))
    check_labels(ctx, labels, x.dims[axis])

    def row(b, ins, outs, groups, base, k):
        x, labels = ins
        shift = row_shift(b, x, groups, base)
        total = exp_sum(b, x, groups, base, shift)
        store(b, outs[0], k, _label_loss(b, x, labels, base, k, axis, shift, total))
    row_kernel(ctx, (axis,), row)


def _label_loss(b: ir.IRBuilder, x: Buf, labels: Buf, base: ir.Value, k: ir.Value,
                axis: int, shift: ir.Value, total: ir.Value) -> ir.Value:
    """(shift - x[label]) + log(total): the shift cancels exactly before anything is
    rounded at its magnitude (shift + log(total) - x[label] lost 1e-3 relative in
    float32 on a loss of 0.7 at logits of 1e4)."""
    label = convert(b, load(b, labels, k), labels.dtype, "int64")  # checked up front
    picked = load(b, x, b.add(base, b.mul(label, x.strides(b)[axis])))
    return b.fadd(b.fsub(shift, picked), _math(b, "log", total))


def _scale_row_minus_label(b: ir.IRBuilder, x: Buf, out: Buf, labels: Buf, groups: Groups,
                           base: ir.Value, k: ir.Value, axis: int, gk: ir.Value,
                           total: ir.Value) -> None:
    """out = gk * (out / total - onehot(label)) over a row whose exps out holds."""
    scale = b.fdiv(gk, total)
    for_each_reduced(b, groups, base,
                     lambda off: store(b, out, off, b.fmul(load(b, out, off), scale)))
    label = convert(b, load(b, labels, k), labels.dtype, "int64")  # checked up front
    at = b.add(base, b.mul(label, x.strides(b)[axis]))
    store(b, out, at, b.fsub(load(b, out, at), gk))


def _check_grad_inputs(ctx: KernelContext, axis: int) -> None:
    """(logits, labels, g): labels and g loss-shaped, every label in range, up front."""
    x, labels, g = ctx.inputs
    check_dims(ctx, labels.dims, _rest(x.dims, axis))
    check_dims(ctx, g.dims, _rest(x.dims, axis))
    check_labels(ctx, labels, x.dims[axis])


@register("SoftmaxCrossEntropyGrad")
def emit_softmax_ce_grad(ctx: KernelContext) -> None:
    """out = g[k] * (softmax(x) - onehot(label)) per row: max, exp (stored) + sum, scale.

    Replaces a softmax kernel, a one-hot buffer and an elementwise pass over (n, classes)
    with three passes over a row that stays in L1; the label is one extra store.
    """
    axis = ctx.node.op.axis
    _check_grad_inputs(ctx, axis)

    def row(b, ins, outs, groups, base, k):
        x, labels, g = ins
        out = outs[0]
        total = exp_sum(b, x, groups, base, row_shift(b, x, groups, base), out)
        _scale_row_minus_label(b, x, out, labels, groups, base, k, axis, load(b, g, k), total)
    row_kernel(ctx, (axis,), row)


@register("SoftmaxCrossEntropyWithGrad")
def emit_softmax_ce_with_grad(ctx: KernelContext) -> None:
    """(loss, g * (softmax - onehot)) per row: one max, one exp per element (stored in
    the gradient) and its sum, then the loss and the scaled row."""
    axis = ctx.node.op.axis
    _check_grad_inputs(ctx, axis)

    def row(b, ins, outs, groups, base, k):
        x, labels, g = ins
        loss, out = outs
        shift = row_shift(b, x, groups, base)
        total = exp_sum(b, x, groups, base, shift, out)
        store(b, loss, k, _label_loss(b, x, labels, base, k, axis, shift, total))
        _scale_row_minus_label(b, x, out, labels, groups, base, k, axis, load(b, g, k), total)
    row_kernel(ctx, (axis,), row)


@register("CategoricalCrossentropyIntegerLabels")
def emit_categorical_ce_labels(ctx: KernelContext) -> None:
    b, (p, labels), out = ctx.builder, ctx.inputs, ctx.outputs[0]
    axis = ctx.node.op.axis
    check_dims(ctx, labels.dims, _rest(p.dims, axis))
    groups = group_axes(b, p, (axis,))
    n, stride = p.dims[axis], p.strides(b)[axis]

    def row(base, k):
        label = load_label(ctx, labels, k, n)
        picked = load(b, p, b.add(base, b.mul(label, stride)))
        store(b, out, k, b.fneg(_math(b, "log", picked)))
    for_kept_range(b, groups, c64(0), groups.kept_size(b), row)


@register("LabelsOneHot")
def emit_labels_one_hot(ctx: KernelContext) -> None:
    """out = (index along axis == label); labels broadcast where their static dim is 1."""
    b, (labels, like), out = ctx.builder, ctx.inputs, ctx.outputs[0]
    axis = ctx.node.op.axis
    rest = _rest(like.dims, axis)
    rest_strides = _rest(like.strides(b), axis)
    pad = len(rest) - labels.ndim
    label_strides = [c64(0)] * pad
    for d, (static, stride) in enumerate(zip(labels.var.type.shape, labels.strides(b))):
        label_strides.append(c64(0) if static == 1 else stride)
        if static != 1:
            check_dims(ctx, [labels.dims[d]], [rest[pad + d]])
    n, stride = like.dims[axis], like.strides(b)[axis]
    with irutils.loop_nest(b, rest, name="k") as idx:
        label = load_label(ctx, labels, offset_of(b, idx, label_strides), n)
        base = offset_of(b, idx, rest_strides)
        with irutils.for_range(b, n, name="j") as j:
            hit = b.icmp_signed("==", j, label)
            store(b, out, b.add(base, b.mul(j, stride)), convert(b, hit, "bool", out.dtype))


# --------------------------------------------------------------------------------------
# probability targets


def _weighted_sum(b: ir.IRBuilder, t: Buf, groups: Groups, base: ir.Value,
                  term: Callable[[ir.Value], ir.Value]) -> ir.Value:
    """sum over the row of t * term(offset), where t == 0 contributes exactly 0."""
    def value(offset):
        w = load(b, t, offset)
        zero = ir.Constant(w.type, 0.0)
        product = _fast(b.fmul(w, term(offset)))
        return b.select(b.fcmp_ordered("==", w, zero), zero, product)
    return row_fold(b, "sum", t.dtype, groups, base, value)


@register("SoftmaxCrossEntropy")
def emit_softmax_ce(ctx: KernelContext) -> None:
    check_dims(ctx, ctx.inputs[1].dims, ctx.inputs[0].dims)

    def row(b, ins, outs, groups, base, k):
        x, t = ins
        lse = row_logsumexp(b, x, groups, base)
        total = _weighted_sum(b, t, groups, base, lambda off: b.fsub(load(b, x, off), lse))
        store(b, outs[0], k, b.fneg(total))
    row_kernel(ctx, (ctx.node.op.axis,), row)


@register("CategoricalCrossentropy")
def emit_categorical_ce(ctx: KernelContext) -> None:
    check_dims(ctx, ctx.inputs[1].dims, ctx.inputs[0].dims)

    def row(b, ins, outs, groups, base, k):
        p, t = ins
        total = _weighted_sum(b, t, groups, base, lambda off: _math(b, "log", load(b, p, off)))
        store(b, outs[0], k, b.fneg(total))
    row_kernel(ctx, (ctx.node.op.axis,), row)


__all__ = [
    "check_dims",
    "check_labels",
    "exp_sum",
    "for_each_reduced",
    "load_label",
    "row_fold",
    "row_kernel",
    "row_logsumexp",
    "row_shift",
]
