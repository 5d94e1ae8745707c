"""The persistent native thread pool: a small runtime library compiled once per process.

``tj_pool_run(fn, ctx, n_tasks, threads)`` (IR and protocol in pool_ir.py) runs
``fn(ctx, i)`` for i in [0, n_tasks) on up to ``threads`` threads, the caller included.
Its workers are started on first use and then wait for work (spinning ~100 us, then
asleep on a futex), so a parallel region costs a few microseconds instead of a
pthread_create/pthread_join per thread per call, which on this 2-vCPU VM made two
threads no faster than one below ~1 ms of work.

Like the GEMM library (gemm.py), graph modules only declare ``tj_pool_run`` (see
:func:`declare`); the library is built lazily through the on-disk object cache and its
address goes to the JIT linker through ``registry.EXTERNAL_SYMBOLS`` /
``SYMBOL_PROVIDERS`` (prefix ``tj_pool_``), so code loaded from the cache links to it.

Limits: one job at a time (a concurrent caller, from another Python thread or from
inside a task, runs its tasks alone on its own thread); after ``fork`` the child has no
workers and runs every job on its calling thread; workers are detached and never
joined, so process exit does not wait for them.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from llvmlite import ir

from . import cache, jit
from .pool_ir import RUN, TASK, PoolConfig, build_ir
from .registry import EXTERNAL_SYMBOLS, SYMBOL_PROVIDERS

if TYPE_CHECKING:
    from ..graph.basic import Apply

SYMBOL = "tj_pool_run"
CONFIG = PoolConfig()
_lock = threading.Lock()
_job: Future | None = None
_job_lock = threading.Lock()  # not _lock: library() holds that while it waits here


class PoolLibrary:
    """The linked pool: the address of tj_pool_run and ctypes entry points."""

    def __init__(self, cfg: PoolConfig = CONFIG) -> None:
        self.config = cfg
        code, exports = prefetch().result()
        # never unloaded: idle workers keep running (spinning or sleeping) in this code
        self.module = jit.load_object(code, exports, name="tj_pool")
        self.address = self.module.address(SYMBOL)
        i, p = ctypes.c_int64, ctypes.c_void_p
        self.run = ctypes.CFUNCTYPE(ctypes.c_int32, p, p, i, i)(self.address)
        self._set_spin = ctypes.CFUNCTYPE(None, i)(self.module.address("tj_pool_set_spin"))
        self._workers = ctypes.CFUNCTYPE(i)(self.module.address("tj_pool_workers"))
        # more threads than cores (TENSORJIT_NUM_THREADS=8 on 2 cores) are allowed, but
        # the workers beyond the cores must not spin next to the ones doing work
        from .parallel import available_cores
        ctypes.CFUNCTYPE(None, i)(self.module.address("tj_pool_set_spinners"))(
            max(available_cores() - 1, 0))

    def set_spin(self, cycles: int) -> None:
        """How long (TSC cycles) an idle thread spins before it sleeps on its futex."""
        if int(cycles) < 0:
            raise ValueError(f"set_spin(): cycles must be >= 0, got {cycles}")
        self._set_spin(int(cycles))

    def workers(self) -> int:
        """Worker threads started so far (the callers are not counted)."""
        return int(self._workers())


def prefetch() -> Future:
    """Start getting the library's object code (disk cache, else a compile on the
    compiler's worker threads; its IR is generated here, as gemm.prefetch's)."""
    global _job
    with _job_lock:
        if _job is None:
            _job = _library_object(CONFIG)
        return _job


def _library_object(cfg: PoolConfig) -> Future:
    """The job getting (object code, exports), keyed by the configuration and
    tensorjit's source."""
    from .compiler import done, source_digest, submit
    key = cache.key_for(f"pool library {cfg!r} {source_digest()}")
    hit = cache.load(key) if cache.enabled() else None
    if hit is not None:
        return done((hit[0], list(hit[1]["exports"])))
    return submit(_compile_library, key, build_ir(cfg))


def _compile_library(key: str, text: str) -> tuple[bytes, list[str]]:
    code, exports = jit.compile_object_concurrently(text, name="tj_pool", pipeline="explicit")
    # not counted in cache.STATS.compiled: that counts graph code (a function's kernels
    # and entry), and this runtime is built once per process at most, by whichever
    # function first splits a loop (tests count a function's compiles exactly)
    if cache.enabled():
        cache.store(key, code, {"exports": exports})
    return code, exports


@functools.cache
def _library() -> PoolLibrary:
    return PoolLibrary()


def library() -> PoolLibrary:
    """The process-wide pool library, built on first use."""
    with _lock:
        lib = _library()
        EXTERNAL_SYMBOLS[SYMBOL] = lib.address
    return lib


def address() -> int:
    """The address of tj_pool_run (building the library if needed)."""
    return library().address


def symbols() -> dict[str, int]:
    """What a module calling the pool needs from the linker."""
    return {SYMBOL: address()}


# code loaded from the disk cache names the pool without declaring it here
SYMBOL_PROVIDERS["tj_pool_"] = lambda name: library().module.address(name)


def declare(module: ir.Module) -> ir.Function:
    """Declare tj_pool_run in a module (and start building the library)."""
    if SYMBOL in module.globals:
        return module.globals[SYMBOL]
    prefetch()
    return ir.Function(module, RUN, name=SYMBOL)


PRODUCT_OPS = frozenset({"Dot", "BatchedMatmul", "Gemm"})


def calls_openblas(nodes: Iterable[Apply]) -> bool:
    """Whether some float matrix product among ``nodes`` goes to SciPy's OpenBLAS (whose
    threads keep spinning after each product) rather than to the JIT GEMM library.

    Mirrors blas.py's choice from the output's static (m, n): vectors (dot, gemv) and
    products ``gemm.use_jit`` declines are OpenBLAS's; integer products are loops.
    """
    from . import gemm
    for node in nodes:
        if type(node.op).__name__ not in PRODUCT_OPS:
            continue
        out = node.outputs[0].type
        if out.dtype not in ("float32", "float64"):
            continue
        if len(out.shape) < 2:
            return True
        m, n = out.shape[-2], out.shape[-1]
        if m == 1 or n == 1 or not gemm.use_jit(m, n):
            return True
    return False


def kernel_threads(nodes: Iterable[Apply], default: int) -> int:
    """Threads for a function's own kernels when the user did not say (for
    runtime/native.py ``_thread_count``): ``default`` unless OpenBLAS is called.

    The JIT GEMM library runs on this pool, so its products and the other kernels
    share the same waiting workers; only OpenBLAS's own spinning threads would compete
    with them for the cores.
    """
    return 1 if calls_openblas(nodes) else default


__all__ = ["TASK", "PoolLibrary", "address", "calls_openblas", "declare", "kernel_threads",
           "library", "prefetch", "symbols"]
