"""Splitting a kernel's flat loop across threads, in native code.

``parallel_for(ctx, n, emit_range)`` emits the loop body once, as an internal function
``body(ptrs, meta, lo, hi)``, and calls it either directly (small n, or one thread) or
from T threads started with pthread_create, each on a contiguous chunk, the calling
thread taking the first chunk. Thread start costs some microseconds, so only loops of
at least ``MIN_PARALLEL`` elements are split. The thread count lives in the meta
header (``THREADS_SLOT``), set by the runtime from the function's ``threads`` option or
``TENSORJIT_NUM_THREADS``; 1 disables threading.
"""

from __future__ import annotations

import os
from typing import Callable

from llvmlite import ir

from .irutils import for_range
from .registry import I8P, I32, I64, THREADS_SLOT, KernelContext

MIN_PARALLEL = 1 << 18
MAX_THREADS = 64
# {ptrs, meta, lo, hi} handed to each thread
_ARG = ir.LiteralStructType([I8P.as_pointer(), I64.as_pointer(), I64, I64])
_START = ir.FunctionType(I8P, [I8P])


def _pthread(module: ir.Module) -> tuple[ir.Function, ir.Function]:
    def declare(name: str, ty: ir.FunctionType) -> ir.Function:
        if name in module.globals:
            return module.globals[name]
        return ir.Function(module, ty, name=name)
    create = declare("pthread_create", ir.FunctionType(
        I32, [I64.as_pointer(), I8P, _START.as_pointer(), I8P]))
    join = declare("pthread_join", ir.FunctionType(I32, [I64, I8P.as_pointer()]))
    return create, join


def _body_function(ctx: KernelContext, emit_range: Callable[[ir.IRBuilder, ir.Value, ir.Value,
                                                                   ir.Value, ir.Value], None]
                   ) -> ir.Function:
    ty = ir.FunctionType(ir.VoidType(), [I8P.as_pointer(), I64.as_pointer(), I64, I64])
    fn = ir.Function(ctx.module, ty, name=f"{ctx.function.name}_body")
    fn.linkage = "internal"
    # called from two places (inline and from the threads): inlining it into both
    # would double the code LLVM optimizes, for no speed gain on a long loop
    fn.attributes.add("noinline")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    emit_range(b, *fn.args)
    b.ret_void()
    return fn


def _start_function(ctx: KernelContext, body: ir.Function) -> ir.Function:
    fn = ir.Function(ctx.module, _START, name=f"{ctx.function.name}_thread")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    arg = b.bitcast(fn.args[0], _ARG.as_pointer())
    fields = [b.load(b.gep(arg, [ir.Constant(I32, 0), ir.Constant(I32, k)])) for k in range(4)]
    b.call(body, fields)
    b.ret(ir.Constant(I8P, None))
    return fn


def parallel_for(ctx: KernelContext, n: ir.Value,
                 emit_range: Callable[..., None]) -> None:
    """Run ``emit_range(builder, ptrs, meta, lo, hi)`` over [0, n), split across threads.

    ``emit_range`` must only read its buffers through ptrs/meta (it is emitted in a
    separate function) and must write disjoint elements for disjoint ranges.
    """
    b = ctx.builder
    ptrs, meta = ctx.function.args
    body = _body_function(ctx, emit_range)
    threads = b.load(b.gep(meta, [ir.Constant(I64, THREADS_SLOT)]))
    threads = b.select(b.icmp_signed(">", threads, ir.Constant(I64, MAX_THREADS)),
                       ir.Constant(I64, MAX_THREADS), threads)
    big = b.icmp_signed(">=", n, ir.Constant(I64, MIN_PARALLEL))
    many = b.icmp_signed(">", threads, ir.Constant(I64, 1))
    with b.if_else(b.and_(big, many)) as (split, single):
        with split:
            _spawn(ctx, body, n, threads)
        with single:
            b.call(body, [ptrs, meta, ir.Constant(I64, 0), n])


def _spawn(ctx: KernelContext, body: ir.Function, n: ir.Value, threads: ir.Value) -> None:
    b = ctx.builder
    ptrs, meta = ctx.function.args
    create, join = _pthread(ctx.module)
    start = _start_function(ctx, body)
    # allocas live in the entry block so repeated calls don't grow the stack
    with b.goto_entry_block():
        args = b.alloca(_ARG, size=ir.Constant(I64, MAX_THREADS), name="thread_args")
        tids = b.alloca(I64, size=ir.Constant(I64, MAX_THREADS), name="thread_ids")
    # chunk = ceil(n / threads), rounded up to a multiple of 64 elements (cache lines)
    chunk = b.sdiv(b.add(n, b.sub(threads, ir.Constant(I64, 1))), threads)
    chunk = b.and_(b.add(chunk, ir.Constant(I64, 63)), ir.Constant(I64, -64))
    with for_range(b, threads, start=ir.Constant(I64, 1), name="t") as t:
        lo = b.mul(t, chunk)
        hi = _min(b, b.add(lo, chunk), n)
        lo = _min(b, lo, n)
        slot = b.gep(args, [t])
        for k, value in enumerate([ptrs, meta, lo, hi]):
            b.store(value, b.gep(slot, [ir.Constant(I32, 0), ir.Constant(I32, k)]))
        tid = b.gep(tids, [t])
        status = b.call(create, [tid, ir.Constant(I8P, None), start, b.bitcast(slot, I8P)])
        with b.if_then(b.icmp_signed("!=", status, ir.Constant(I32, 0)), likely=False):
            # no thread to be had: do that chunk here, and mark it as not to be joined
            b.call(body, [ptrs, meta, lo, hi])
            b.store(ir.Constant(I64, 0), tid)
    b.call(body, [ptrs, meta, ir.Constant(I64, 0), _min(b, chunk, n)])
    with for_range(b, threads, start=ir.Constant(I64, 1), name="j") as t:
        tid = b.load(b.gep(tids, [t]))
        with b.if_then(b.icmp_signed("!=", tid, ir.Constant(I64, 0)), likely=True):
            b.call(join, [tid, ir.Constant(I8P.as_pointer(), None)])


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def default_threads() -> int:
    """TENSORJIT_NUM_THREADS, else the cores this process may run on."""
    env = os.environ.get("TENSORJIT_NUM_THREADS")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"TENSORJIT_NUM_THREADS must be a positive integer, "
                             f"got {env!r}") from None
        if value < 1:
            raise ValueError(f"TENSORJIT_NUM_THREADS must be >= 1, got {value}")
        return value
    return available_cores()


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
