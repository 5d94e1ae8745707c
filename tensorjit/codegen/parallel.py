"""Splitting a kernel's flat loop across threads, in native code.

``parallel_for(ctx, n, emit_range)`` emits the loop body once, as an internal function
``body(ptrs, meta, lo, hi)``, and calls it either directly (small n, or one thread) or
through the persistent thread pool (pool.py: ``tj_pool_run``), as tasks over contiguous
chunks of [0, n) that the calling thread and the pool's waiting workers claim
dynamically. A pool run costs about a microsecond, so loops of ``MIN_PARALLEL``
elements already gain (measured in benchmarks/bench_threads.py). The thread count lives
in the meta header (``THREADS_SLOT``), set by the runtime from the function's
``threads`` option or ``TENSORJIT_NUM_THREADS``; 1 disables threading.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from llvmlite import ir

from . import pool
from .registry import I8P, I32, I64, THREADS_SLOT, KernelContext

MIN_PARALLEL = 1 << 15
MAX_THREADS = 64
# tasks per thread: a helper that wakes late leaves the caller less to do alone
TASKS_PER_THREAD = 4
MIN_CHUNK = 1 << 14  # elements per task at least (a task costs ~0.1 us to claim)
# {ptrs, meta, n, chunk} shared by the tasks of one call
_ARG = ir.LiteralStructType([I8P.as_pointer(), I64.as_pointer(), I64, I64])


def _body_function(ctx: KernelContext, emit_range: Callable[[ir.IRBuilder, ir.Value, ir.Value,
                                                                   ir.Value, ir.Value], None]
                   ) -> ir.Function:
    ty = ir.FunctionType(ir.VoidType(), [I8P.as_pointer(), I64.as_pointer(), I64, I64])
    fn = ir.Function(ctx.module, ty, name=f"{ctx.function.name}_body")
    fn.linkage = "internal"
    # called from two places (directly and from the pool tasks): inlining it into both
    # would double the code LLVM optimizes, for no speed gain on a long loop
    fn.attributes.add("noinline")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    emit_range(b, *fn.args)
    b.ret_void()
    return fn


def _task_function(ctx: KernelContext, body: ir.Function) -> ir.Function:
    """task(arg, t): body over chunk t of [0, n)."""
    fn = ir.Function(ctx.module, pool.TASK, name=f"{ctx.function.name}_task")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    arg = b.bitcast(fn.args[0], _ARG.as_pointer())
    ptrs, meta, n, chunk = (b.load(b.gep(arg, [ir.Constant(I32, 0), ir.Constant(I32, k)]))
                            for k in range(4))
    lo = b.mul(fn.args[1], chunk)
    b.call(body, [ptrs, meta, lo, _min(b, b.add(lo, chunk), n)])
    b.ret_void()
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
    run = pool.declare(ctx.module)
    task = _task_function(ctx, body)
    with b.goto_entry_block():  # in the entry block: repeated calls don't grow the stack
        arg = b.alloca(_ARG, name="pool_arg")
    # chunk = ceil(n / (threads * TASKS_PER_THREAD)), at least MIN_CHUNK, rounded up to
    # a multiple of 64 elements (whole cache lines per task)
    parts = b.mul(threads, ir.Constant(I64, TASKS_PER_THREAD))
    chunk = b.sdiv(b.add(n, b.sub(parts, ir.Constant(I64, 1))), parts)
    chunk = b.select(b.icmp_signed("<", chunk, ir.Constant(I64, MIN_CHUNK)),
                     ir.Constant(I64, MIN_CHUNK), chunk)
    chunk = b.and_(b.add(chunk, ir.Constant(I64, 63)), ir.Constant(I64, -64))
    tasks = b.sdiv(b.add(n, b.sub(chunk, ir.Constant(I64, 1))), chunk)
    for k, value in enumerate([ptrs, meta, n, chunk]):
        b.store(value, b.gep(arg, [ir.Constant(I32, 0), ir.Constant(I32, k)]))
    # tj_pool_run returns 0 always: the tasks cannot fail (emit_range has no error exit)
    b.call(run, [task, b.bitcast(arg, I8P), tasks, threads])


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
