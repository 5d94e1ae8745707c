"""The JIT GEMM: a small runtime library compiled once per process, called from kernels.

Graph modules never contain the GEMM: they only ``declare`` ``tj_gemm_s`` /
``tj_gemm_d`` (see :func:`declare`), whose addresses go to the JIT linker through
``registry.EXTERNAL_SYMBOLS`` like SciPy's BLAS routines. The library itself (IR in
gemm_ir.py) is built the first time a graph or a caller needs it, through the on-disk
object cache, so a later process links the cached object instead of running LLVM.

Which products use it is decided by ``TENSORJIT_GEMM``: ``blas`` (SciPy's BLAS),
``jit`` (this library) or ``auto`` (the default: ``jit`` on hosts with AVX-512F for all
but narrow products, else ``blas``; ``backend()`` notes the measurement).
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Iterable

import numpy as np
from llvmlite import ir

from . import cache, jit, pool
from .gemm_ir import PARTS, GemmConfig
from .registry import EXTERNAL_SYMBOLS, I32, I64, SYMBOL_PROVIDERS

if TYPE_CHECKING:
    from ..graph.basic import Apply

BACKENDS = ("blas", "jit", "auto")
_lock = threading.Lock()


def host_has(feature: str) -> bool:
    """True if the host CPU (as LLVM sees it) has ``feature`` (e.g. 'avx512f')."""
    return f"+{feature}" in jit.host_cpu()[1].split(",")


def config(dtype: str) -> GemmConfig:
    """Tile and block sizes for dtype on this host (see gemm_ir's docstring)."""
    size = 4 if dtype == "float32" else 8
    if host_has("avx512f"):
        vw, nr_vectors = 64 // size, 4
    elif host_has("avx2") and host_has("fma"):
        vw, nr_vectors = 32 // size, 2
    else:
        vw, nr_vectors = 16 // size, 2
    nr = vw * nr_vectors
    kc = 256
    # the packed B block (kc x nb) takes about half of a 1 MiB L2
    nb = max(nr, (512 * 1024 // (kc * size)) // nr * nr)
    # direct path (gemm_direct_ir.py) up to 2^19 multiply-adds or two vectors of columns:
    # measured faster than packing there on one thread (32x64x10 f32: 0.8 vs 4.4 us;
    # (128, 512) @ (512, 10): 20 vs 143 us), slower from ~(128, 128, 128) up
    return GemmConfig(dtype=dtype, vw=vw, mr=6, nr=nr, kc=kc, nb=nb,
                      direct_work=1 << 19, direct_n=2 * vw)


def symbol(dtype: str) -> str:
    """The exported name of the GEMM for dtype."""
    return "tj_gemm_" + ("s" if dtype == "float32" else "d")


# code loaded from the disk cache names the library without declaring it here
SYMBOL_PROVIDERS["tj_gemm_"] = lambda name: library(
    "float32" if name == symbol("float32") else "float64").address


def backend() -> str:
    """'blas' or 'jit': what float matrix products use (TENSORJIT_GEMM, default auto)."""
    choice = os.environ.get("TENSORJIT_GEMM", "auto").strip().lower() or "auto"
    if choice not in BACKENDS:
        raise ValueError(f"TENSORJIT_GEMM must be one of {BACKENDS}, got {choice!r}")
    if choice == "auto":
        # measured here (2-vCPU AVX-512 EPYC, OPENBLAS_CORETYPE=Haswell): the MLP step of
        # bench_mlp.py takes 1.7 ms with the library vs 2.2 ms with OpenBLAS-AVX2; one
        # GEMM on one thread runs at 1.8x OpenBLAS's (bench_gemm.py)
        return "jit" if host_has("avx512f") else "blas"
    return choice


def use_jit(m_static: int | None = None, n_static: int | None = None) -> bool:
    """Whether a general float product (static dims, None = unknown) uses the library.

    Every shape does when the backend is the library: small and narrow products take
    its direct path (gemm_direct_ir.py), which measured at OpenBLAS's speed there
    ((128, 512) @ (512, 10) f32: 17 vs 19 us; 32 x 64 x 10: 0.7 vs 0.8 us) while a call
    into SciPy's BLAS from a kernel costs ~3 us by itself. The static dims are kept for
    callers that ask per shape."""
    return backend() == "jit"


class GemmLibrary:
    """The linked library for one dtype: address, ctypes entry, thread setting."""

    def __init__(self, dtype: str, cfg: GemmConfig | None = None) -> None:
        self.dtype = dtype
        self.config = cfg or config(dtype)
        self.name = symbol(dtype)
        parts = [job.result() for job in prefetch(dtype, self.config)]
        exports = sorted({name for _, names in parts for name in names})
        # its threads are the pool's (pool.py), linked in by address
        self.module = jit.load_object([code for code, _ in parts], exports, name=self.name,
                                      symbols=pool.symbols())
        self.address = self.module.address(self.name)
        t = ctypes.c_float if dtype == "float32" else ctypes.c_double
        i, p = ctypes.c_int64, ctypes.c_void_p
        self.entry = ctypes.CFUNCTYPE(ctypes.c_int32, i, i, i, i, i, t, p, i, p, i, t, p, i, i)(
            self.address)
        self._set_threads = ctypes.CFUNCTYPE(None, i)(
            self.module.address(f"{self.name}_set_threads"))
        self.set_threads(_default_threads())

    def set_threads(self, threads: int) -> None:
        """The thread count used when a caller passes threads <= 0."""
        if int(threads) < 1:
            raise ValueError(f"set_threads(): threads must be >= 1, got {threads}")
        self._set_threads(int(threads))


_objects: dict[tuple[str, str], list[Future]] = {}
_objects_lock = threading.Lock()  # not _lock: library() holds that while it waits here


def prefetch(dtype: str, cfg: GemmConfig | None = None) -> list[Future]:
    """Start getting the library's object code, one job per part (disk cache, else a
    compile on the compiler's worker threads), so it is ready, or nearly, when a graph
    is linked."""
    cfg = cfg or config(dtype)
    with _objects_lock:
        jobs = _objects.get((dtype, repr(cfg)))
        if jobs is None:
            # the IR is generated here, on the calling thread (Python: on an LLVM worker
            # it would hold that worker while it waits for the GIL), and LLVM's jobs
            # go to the workers' queue first: they are a cold start's longest
            jobs = _objects[(dtype, repr(cfg))] = [
                _library_part(dtype, cfg, k) for k in range(len(PARTS))]
    pool.prefetch()
    return jobs


def prefetch_for(nodes: Iterable[Apply]) -> None:
    """Start building the library for every float dtype whose matrix products among
    ``nodes`` (a graph before rewriting) will likely use it. The library is the
    largest part of a cold start (~40% of its LLVM work) and depends on no graph, so a
    function starts it before rewriting its graph: the rewrite passes and the kernels'
    IR generation (Python) then run beside it. A product the passes remove leaves the
    library built for nothing, but cached on disk for the next process."""
    from .pool import PRODUCT_OPS
    if not use_jit():
        return
    for dtype in sorted({node.outputs[0].type.dtype for node in nodes
                         if type(node.op).__name__ in PRODUCT_OPS
                         and len(node.outputs[0].type.shape) >= 2}):
        if dtype in ("float32", "float64"):
            prefetch(dtype)


def _library_part(dtype: str, cfg: GemmConfig, part: int) -> Future:
    """The job getting one part's (object code, exports), keyed by configuration,
    part and tensorjit's source, so a warm start does not even generate the IR."""
    from .compiler import done, source_digest, submit
    name = f"{symbol(dtype)}_{PARTS[part].__name__}"
    key = cache.key_for(f"gemm library {name} {cfg!r} {source_digest()}")
    hit = cache.load(key) if cache.enabled() else None
    if hit is not None:
        return done((hit[0], list(hit[1]["exports"])))
    return submit(_compile_part, key, name, PARTS[part](cfg))


def _compile_part(key: str, name: str, text: str) -> tuple[bytes, list[str]]:
    code, exports = jit.compile_object_concurrently(text, name=name,
                                                    pipeline="explicit")  # vector IR
    cache.STATS.compiled += 1
    if cache.enabled():
        cache.store(key, code, {"exports": exports})
    return code, exports


def _default_threads() -> int:
    from .parallel import default_threads
    return default_threads()


@functools.cache
def _library(dtype: str) -> GemmLibrary:
    return GemmLibrary(dtype)


def library(dtype: str) -> GemmLibrary:
    """The process-wide library for dtype ('float32' or 'float64'), built on first use."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"gemm.library(): dtype {dtype!r}; expected float32 or float64")
    with _lock:
        lib = _library(dtype)
        EXTERNAL_SYMBOLS[lib.name] = lib.address
    return lib


def declare(module: ir.Module, dtype: str) -> ir.Function:
    """Declare the library GEMM in a graph module (and start building the library)."""
    name = symbol(dtype)
    if name in module.globals:
        return module.globals[name]
    prefetch(dtype)  # linking resolves the symbol through SYMBOL_PROVIDERS (library())
    t = ir.FloatType() if dtype == "float32" else ir.DoubleType()
    tp = t.as_pointer()
    ty = ir.FunctionType(I32, [I64, I64, I64, I64, I64, t, tp, I64, tp, I64, t, tp, I64, I64])
    return ir.Function(module, ty, name=name)


def _operand(x: np.ndarray, dtype: np.dtype, name: str) -> tuple[np.ndarray, int, int]:
    """(array, trans, ld): a row-major view, or the transpose of one (trans = 1)."""
    if x.ndim != 2 or x.dtype != dtype:
        raise ValueError(f"gemm(): {name} must be a 2-d {dtype} array, got {x.dtype} "
                         f"{x.shape}")
    item = x.itemsize
    rows, cols = x.shape
    s0, s1 = x.strides
    if (s1 == item or cols <= 1) and s0 % item == 0 and s0 >= max(cols, 1) * item:
        return x, 0, max(s0 // item, cols, 1)
    if (s0 == item or rows <= 1) and s1 % item == 0 and s1 >= max(rows, 1) * item:
        return x, 1, max(s1 // item, rows, 1)
    x = np.ascontiguousarray(x)
    return x, 0, max(x.shape[1], 1)


def _row_major(c: np.ndarray) -> bool:
    """Unit column stride and non-overlapping rows (or nothing to write)."""
    m, n = c.shape
    if c.size == 0:
        return True
    return (c.strides[1] == c.itemsize or n == 1) and (m == 1 or c.strides[0] >= n * c.itemsize)


def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None, alpha: float = 1.0,
         beta: float = 0.0, threads: int = 0, lib: GemmLibrary | None = None) -> np.ndarray:
    """c = alpha * a @ b + beta * c with the JIT library (a and b may be transposed views).

    ``c`` (written in place when given) must be C-contiguous (rows may be padded);
    threads <= 0 uses the library default (TENSORJIT_NUM_THREADS or the cores); ``lib``
    is a library of another configuration (default: the process-wide one for the dtype).
    """
    dtype = np.result_type(a, b)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"gemm(): dtype {dtype}; expected float32 or float64")
    a, ta, lda = _operand(np.asarray(a, dtype), dtype, "a")
    b, tb, ldb = _operand(np.asarray(b, dtype), dtype, "b")
    (m, k), (k2, n) = a.shape, b.shape
    if k != k2:
        raise ValueError(f"gemm(): inner dimensions differ: a {a.shape}, b {b.shape}")
    if c is None:
        c, beta = np.empty((m, n), dtype), 0.0
    if c.shape != (m, n) or c.dtype != dtype or not _row_major(c):
        raise ValueError(f"gemm(): c must be a ({m}, {n}) {dtype} array with unit column "
                         f"stride, got {c.dtype} {c.shape} strides {c.strides}")
    ldc = max(c.strides[0] // c.itemsize, n, 1)
    if lib is None:
        lib = library(str(np.dtype(dtype)))
    elif lib.dtype != str(np.dtype(dtype)):
        raise ValueError(f"gemm(): lib is the {lib.dtype} library; the operands are {dtype}")
    status = lib.entry(ta, tb, m, n, k, alpha, a.ctypes.data, lda, b.ctypes.data, ldb, beta,
                       c.ctypes.data, ldc, threads)
    if status:
        raise MemoryError("gemm(): the GEMM workspace could not be allocated")
    return c


__all__ = ["GemmLibrary", "backend", "config", "declare", "gemm", "library", "symbol",
           "use_jit"]
