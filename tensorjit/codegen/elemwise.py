"""Elementwise kernels: a loop nest over the output, the scalar op inlined in the body.

Broadcasting is static (an axis broadcasts only where the input's type says 1), so
every input's stride along every output axis is known to be 0 or "its C stride" at
compile time. When nothing broadcasts the kernel is one flat loop over all elements,
which LLVM vectorizes; otherwise the innermost axis is a loop whose per-input strides
are the constants 0 or 1, which it vectorizes too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from llvmlite import ir

from ..graph.basic import Apply
from . import irutils
from .parallel import parallel_for
from .registry import ERR_VALUE, I64, Buf, KernelContext, element_type, register

# ScalarOp class name -> emit(builder, args, in_dtypes, out_dtype, op) -> value
ScalarEmit = Callable[[ir.IRBuilder, list[ir.Value], list[str], str, object], ir.Value]
SCALAR_RULES: dict[str, ScalarEmit] = {}


def scalar_rule(*names: str):
    """Register the IR of scalar ops by ScalarOp class name."""
    def deco(fn: ScalarEmit) -> ScalarEmit:
        for n in names:
            SCALAR_RULES[n] = fn
        return fn
    return deco


def _supported(node: Apply) -> bool:
    return _scalar_supported(node.op.scalar_op)


def _scalar_supported(op) -> bool:
    if type(op).__name__ == "Composite":
        return all(_scalar_supported(inner) for inner in op.scalar_ops())
    return type(op).__name__ in SCALAR_RULES


@register("Elemwise", supports=_supported)
def emit_elemwise(ctx: KernelContext) -> None:
    b = ctx.builder
    out = ctx.outputs[0]
    flat = all(i.ndim == out.ndim and i.var.type.broadcastable == out.var.type.broadcastable
               for i in ctx.inputs)
    if (flat and is_float(out.dtype) and ctx.rebind is not None
            and not may_raise(ctx.node.op.scalar_op, out.dtype)):
        # kernels that raise no value errors can run in chunks on other threads
        def emit_range(bb, ptrs, meta, lo, hi):
            ins, outs = ctx.rebind(bb, ptrs, meta)
            sub = replace(ctx, builder=bb, inputs=ins, outputs=outs)
            with irutils.for_range(bb, hi, start=lo, name="i") as i:
                _body(sub, [i] * len(ins), i)
        parallel_for(ctx, out.size(b), emit_range)
    elif flat:
        with irutils.for_range(b, out.size(b), name="i") as i:
            _body(ctx, [i] * len(ctx.inputs), i)
    else:
        in_strides = [_broadcast_strides(b, inp, out.ndim) for inp in ctx.inputs]
        out_strides = out.strides(b)
        with irutils.loop_nest(b, out.dims, name="a") as idx:
            offsets = [_dot(b, idx, s) for s in in_strides]
            _body(ctx, offsets, _dot(b, idx, out_strides))
    _check_value_error(ctx)


# A scalar rule that meets a value NumPy refuses (an integer to a negative power) ORs
# the condition into a per-kernel flag instead of leaving the loop (which would stop
# vectorization); the kernel fails with ERR_VALUE after the loop.
_VALUE_ERROR_FLAG = "_tj_value_error_flag"


def report_value_error(b: ir.IRBuilder, cond: ir.Value) -> None:
    """Make the current kernel fail with ERR_VALUE if ``cond`` (i1) is ever true."""
    flag = getattr(b, _VALUE_ERROR_FLAG, None)
    if flag is None:
        entry = b.function.entry_basic_block
        eb = ir.IRBuilder(entry)
        eb.position_at_start(entry)
        flag = eb.alloca(ir.IntType(1), name="value_error")
        eb.store(ir.Constant(ir.IntType(1), 0), flag)
        setattr(b, _VALUE_ERROR_FLAG, flag)
    b.store(b.or_(b.load(flag), cond), flag)


def may_raise(op, out_dtype: str) -> bool:
    """Whether a scalar op's IR may call report_value_error (a float composite may hold
    an integer power)."""
    if type(op).__name__ == "Composite":
        return any(may_raise(inner, op.ref_dtype(op.nin + k))
                   for k, (inner, _) in enumerate(op.entries))
    return type(op).__name__ == "Pow" and not is_float(out_dtype)


def _check_value_error(ctx: KernelContext) -> None:
    b = ctx.builder
    flag = getattr(b, _VALUE_ERROR_FLAG, None)
    if flag is None:
        return
    with b.if_then(b.load(flag), likely=False):
        ctx.fail(ERR_VALUE, ir.Constant(I64, 0), ir.Constant(I64, 0))


def _broadcast_strides(b: ir.IRBuilder, inp: Buf, ndim: int) -> list[ir.Value]:
    """Per output axis: 0 where the input broadcasts (or is padded), else its C stride."""
    strides = inp.strides(b)
    pad = ndim - inp.ndim
    out = [ir.Constant(I64, 0)] * pad
    for d, s in enumerate(inp.var.type.shape):
        out.append(ir.Constant(I64, 0) if s == 1 else strides[d])
    return out


def _dot(b: ir.IRBuilder, idx: Sequence[ir.Value], strides: Sequence[ir.Value]) -> ir.Value:
    total: ir.Value = ir.Constant(I64, 0)
    for i, s in zip(idx, strides):
        if isinstance(s, ir.Constant) and s.constant == 0:
            continue
        total = b.add(total, b.mul(i, s))
    return total


def _body(ctx: KernelContext, offsets: Sequence[ir.Value], out_offset: ir.Value) -> None:
    b = ctx.builder
    args = [_load(b, inp, off) for inp, off in zip(ctx.inputs, offsets)]
    node = ctx.node
    value = emit_scalar(b, node.op.scalar_op, args, [i.dtype for i in node.inputs],
                        node.outputs[0].dtype)
    out = ctx.outputs[0]
    b.store(_to_storage(b, value, out.dtype), b.gep(out.ptr, [out_offset]))


def _load(b: ir.IRBuilder, buf: Buf, offset: ir.Value) -> ir.Value:
    value = b.load(b.gep(buf.ptr, [offset]))
    if buf.dtype == "bool":  # stored as i8 0/1, computed as i1
        return b.icmp_unsigned("!=", value, ir.Constant(ir.IntType(8), 0))
    return value


def _to_storage(b: ir.IRBuilder, value: ir.Value, dtype: str) -> ir.Value:
    if dtype == "bool" and value.type == ir.IntType(1):
        return b.zext(value, ir.IntType(8))
    return value


def emit_scalar(b: ir.IRBuilder, op, args: list[ir.Value], in_dtypes: list[str],
                out_dtype: str) -> ir.Value:
    """The IR of one scalar op application (Composite ops expand their inner graph)."""
    rule = SCALAR_RULES[type(op).__name__]
    return rule(b, args, in_dtypes, out_dtype, op)


def is_float(dtype: str) -> bool:
    return dtype in ("float32", "float64")


def value_type(dtype: str) -> ir.Type:
    """The type a scalar is computed in (bool as i1)."""
    return ir.IntType(1) if dtype == "bool" else element_type(dtype)


def fast(instr: ir.Instruction) -> ir.Value:
    """Arithmetic may be contracted into FMA; IEEE specials are kept (no nnan/ninf)."""
    return irutils.set_fast_math(instr, ("contract",))


@scalar_rule("Add")
def _add(b, args, dt, out, op):
    if out == "bool":  # NumPy: True + True is True
        return b.or_(*args)
    return fast(b.fadd(*args)) if is_float(out) else b.add(*args)


@scalar_rule("Sub")
def _sub(b, args, dt, out, op):
    return fast(b.fsub(*args)) if is_float(out) else b.sub(*args)


@scalar_rule("Mul")
def _mul(b, args, dt, out, op):
    if out == "bool":
        return b.and_(*args)
    return fast(b.fmul(*args)) if is_float(out) else b.mul(*args)


@scalar_rule("TrueDiv")
def _div(b, args, dt, out, op):
    return b.fdiv(*args)


@scalar_rule("Neg")
def _neg(b, args, dt, out, op):
    return b.fneg(args[0]) if is_float(out) else b.neg(args[0])


@scalar_rule("Second")
def _second(b, args, dt, out, op):
    return args[1]


@scalar_rule("Cast")
def _cast(b, args, dt, out, op):
    return convert(b, args[0], dt[0], out)


def convert(b: ir.IRBuilder, v: ir.Value, src: str, dst: str) -> ir.Value:
    """NumPy astype semantics between our dtypes (float -> int truncates toward zero)."""
    if src == dst:
        return v
    dst_t = value_type(dst)
    if dst == "bool":
        if is_float(src):
            return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))
        return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
    if is_float(src) and is_float(dst):
        return b.fptrunc(v, dst_t) if src == "float64" else b.fpext(v, dst_t)
    if is_float(src):
        return b.fptosi(v, dst_t)
    unsigned = src in ("uint8", "bool")
    if is_float(dst):
        return b.uitofp(v, dst_t) if unsigned else b.sitofp(v, dst_t)
    if v.type.width < dst_t.width:
        return b.zext(v, dst_t) if unsigned else b.sext(v, dst_t)
    if v.type.width > dst_t.width:
        return b.trunc(v, dst_t)
    return v
