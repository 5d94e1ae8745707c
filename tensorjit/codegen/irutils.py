"""Small helpers for building LLVM IR with ``llvmlite.ir`` (no binding, no JIT).

Loop helpers are context managers in the style of numba's ``cgutils``; the value
helpers cover what generated numerics code needs over and over: typed constants,
float <-> same-width-integer bitcasts, intrinsic calls and fast-math flags.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from llvmlite import ir

I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F32 = ir.FloatType()
F64 = ir.DoubleType()

# Fast-math flags that keep IEEE special values meaningful: reassociation and
# contraction only. "nnan"/"ninf" would let LLVM delete our nan/inf handling.
SAFE_FAST_MATH = ("reassoc", "contract")
# Everything ("fast"): only for code that is proven free of nan/inf/-0 concerns.
ALL_FAST_MATH = ("fast",)


def float_type(dtype: str) -> ir.Type:
    """Return the LLVM float type for a NumPy dtype name ('float32' or 'float64')."""
    types = {"float32": F32, "float64": F64}
    if dtype not in types:
        raise ValueError(f"float_type(): dtype {dtype!r}; expected 'float32' or 'float64'")
    return types[dtype]


def float_bits(fptype: ir.Type) -> int:
    """Return the width in bits of an LLVM float type."""
    if isinstance(fptype, ir.FloatType):
        return 32
    if isinstance(fptype, ir.DoubleType):
        return 64
    raise TypeError(f"float_bits(): {fptype}; expected float or double")


def int_type_like(fptype: ir.Type) -> ir.IntType:
    """Return the integer type with the same width as a float type."""
    return ir.IntType(float_bits(fptype))


def const(ty: ir.Type, value: float) -> ir.Constant:
    """Return a typed constant (floats are rounded to the type's precision by LLVM)."""
    if isinstance(ty, ir.IntType):
        return ir.Constant(ty, int(value))
    return ir.Constant(ty, float(value))


def bitcast_to_int(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """Reinterpret a float value as the integer of the same width."""
    return builder.bitcast(value, int_type_like(value.type))


def bitcast_to_float(builder: ir.IRBuilder, value: ir.Value, fptype: ir.Type) -> ir.Value:
    """Reinterpret an integer value as the float type of the same width."""
    return builder.bitcast(value, fptype)


def intrinsic(
    module: ir.Module, name: str, ret: ir.Type, args: Sequence[ir.Type]
) -> ir.Function:
    """Declare (once) an overloaded intrinsic, e.g. ``intrinsic(m, 'llvm.fma', F32, [F32]*3)``."""
    suffix = ret.intrinsic_name if not isinstance(ret, ir.VoidType) else args[0].intrinsic_name
    full_name = f"{name}.{suffix}"
    if full_name in module.globals:
        return module.globals[full_name]
    return ir.Function(module, ir.FunctionType(ret, list(args)), name=full_name)


def call_intrinsic(builder: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    """Call an intrinsic whose result type equals its first argument's (fabs, fma, ...)."""
    module = builder.module
    fn = intrinsic(module, name, args[0].type, [a.type for a in args])
    return builder.call(fn, list(args))


def set_fast_math(instr: ir.Instruction, flags: Sequence[str] = SAFE_FAST_MATH) -> ir.Instruction:
    """Add fast-math flags to a float instruction (fadd, fmul, call ...) and return it."""
    for flag in flags:
        if flag not in instr.flags:
            instr.flags.append(flag)
    return instr


@contextmanager
def for_range(
    builder: ir.IRBuilder, count: ir.Value, start: ir.Value | None = None, name: str = "i"
) -> Iterator[ir.Value]:
    """Emit ``for (i = start; i < count; ++i)`` and yield ``i`` inside the body.

    The loop is in rotated form (guard + do-while), which is what LLVM's loop
    vectorizer and unroller expect without extra canonicalization.
    """
    ty = count.type
    start = start if start is not None else ir.Constant(ty, 0)
    entry = builder.basic_block
    body = builder.append_basic_block(f"{name}.body")
    done = builder.append_basic_block(f"{name}.done")
    builder.cbranch(builder.icmp_signed("<", start, count), body, done)
    builder.position_at_end(body)
    index = builder.phi(ty, name=name)
    index.add_incoming(start, entry)
    yield index
    # The body may have created new blocks: the back edge comes from the current one.
    latch = builder.basic_block
    following = builder.add(index, ir.Constant(ty, 1), name=f"{name}.next", flags=["nsw"])
    index.add_incoming(following, latch)
    builder.cbranch(builder.icmp_signed("<", following, count), body, done)
    builder.position_at_end(done)


@contextmanager
def loop_nest(
    builder: ir.IRBuilder, shape: Sequence[ir.Value], name: str = "i"
) -> Iterator[tuple[ir.Value, ...]]:
    """Emit nested ``for_range`` loops over ``shape`` (outermost first); yield the indices."""
    with _nest(builder, list(shape), (), name) as indices:
        yield indices


@contextmanager
def _nest(builder, shape, indices, name):
    """Recursive worker of ``loop_nest``."""
    if not shape:
        yield indices
        return
    with (
        for_range(builder, shape[0], name=f"{name}{len(indices)}") as index,
        _nest(builder, shape[1:], indices + (index,), name) as inner,
    ):
        yield inner


@contextmanager
def if_likely(builder: ir.IRBuilder, cond: ir.Value) -> Iterator[None]:
    """Emit ``if (cond) {...}`` with branch weights telling LLVM ``cond`` is usually true."""
    with builder.if_then(cond, likely=True):
        yield


@contextmanager
def if_unlikely(builder: ir.IRBuilder, cond: ir.Value) -> Iterator[None]:
    """Emit ``if (cond) {...}`` with branch weights telling LLVM ``cond`` is rarely true."""
    with builder.if_then(cond, likely=False):
        yield


def define_function(
    module: ir.Module, name: str, ret: ir.Type, args: Sequence[ir.Type],
    arg_names: Sequence[str] = (),
) -> tuple[ir.Function, ir.IRBuilder]:
    """Create a function with an entry block and return it with a builder positioned there."""
    fn = ir.Function(module, ir.FunctionType(ret, list(args)), name=name)
    for arg, arg_name in zip(fn.args, arg_names):
        arg.name = arg_name
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    return fn, builder
