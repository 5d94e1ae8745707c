"""Compiling a program: kernels one module each (shared and cached), a small entry module.

A function's native code is one entry module (the calls, see program.emit_entry) and
one module per distinct kernel. A kernel's IR depends on its node alone (the
node-local ABI of program.node_layout), so equal nodes, in one function or in many,
compile once: kernels are kept by the hash of their IR, in this process and in the
on-disk cache. Everything is linked into one JIT library per function.

Warm starts skip code generation altogether: a function's record in the cache is
found under a *structure key*, a hash of the optimized graph's structure (ops, types,
wiring, constants) and of tensorjit's own source, and holds the entry object and the
keys of its kernels.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..graph.basic import Apply
from . import cache, jit
from .program import KERNEL_SYMBOL, Layout, build_module, kernel_ir
from .pycall import PyEntrySpec
from .registry import EXTERNAL_SYMBOLS, resolve_symbols

_lock = threading.Lock()
# kernel key -> (object code, external symbols it needs), compiled or loaded here
_KERNELS: dict[str, tuple[bytes, list[str]]] = {}
_DECLARE = re.compile(r'^declare [^@]*@"?([^"(]+)"?\(', re.MULTILINE)


@dataclass
class Compiled:
    """A linked program: the JIT library and the names of its entry points."""

    library: jit.JITModule
    entries: list[str]


def kernel_symbol(key: str) -> str:
    return f"tjk_{key[:32]}"


def _known_kernel(key: str) -> tuple[bytes, list[str]] | None:
    """A kernel's (object code, external symbols) from this process or the disk cache."""
    with _lock:
        found = _KERNELS.get(key)
    if found is not None:
        return found
    hit = cache.load(key) if cache.enabled() else None
    if hit is None:
        return None
    found = hit[0], list(hit[1].get("symbols", []))
    with _lock:
        _KERNELS[key] = found
    return found


# kernels whose every value has at most this many elements (static shapes): no loop
# worth vectorizing, so the light pipeline
SCALAR_KERNEL_SIZE = 16


def kernel_pipeline(node: Apply) -> str:
    """The optimization pipeline (jit.PIPELINES) for a node's kernel: straight-line
    code for tiny static shapes, no loop interleaving for elementwise loops, copies
    and rows (compile ~35% faster, run as fast or faster: see the tables below), the
    full O3 pipeline for reductions and the rest."""
    values = [*node.inputs, *node.outputs]
    if all(None not in v.type.shape and _size(v.type.shape) <= SCALAR_KERNEL_SIZE
           for v in values):
        return "scalar"
    name = type(node.op).__name__
    if name in ROW_OPS:
        # short rows: 256-bit vectors (more of each row in vector code); long: 512-bit
        return {True: "rows", False: "vector", None: "full"}[_short_rows(node)]
    if name in VECTOR_PIPELINE_OPS:
        return "vector"
    return "full"


def _short_rows(node: Apply) -> bool | None:
    """Whether a row op's reduced axes have a static length below SHORT_ROW (None:
    not static)."""
    axes = getattr(node.op, "axis", None)
    shape = node.inputs[0].type.shape
    if axes is None or not shape:
        return None
    length = 1
    for a in (axes,) if isinstance(axes, int) else axes:
        if shape[a] is None:
            return None
        length *= shape[a]
    return length < SHORT_ROW


# softmax-family rows: with static rows shorter than this, 256-bit vectors, else 512;
# "full" where the length is not static, the best compromise (measured with threads=1:
# softmax of (4096, 10) f32 94 us with "rows", 101 with "full", 171 with "vector";
# logsumexp of (1024, 1000) rows 520 us with "vector", 616 with "full")
SHORT_ROW = 64
ROW_OPS = frozenset({"Softmax", "LogSoftmax", "LogSumExp"})


# ops whose kernels are elementwise loops, copies, calls and cross-entropy rows:
# vectorized loops need no interleaving. Measured on the MLP step's kernels: Gemm (the
# bias or C copy, then a call) 17 -> 12 ms to compile, Subtensor 16 -> 9, IncSubtensor
# 17.5 -> 11, the fused cross-entropy with its gradient 52 -> 44, at the same run time
# or better (with 512-bit vectors, jit.WIDE_PIPELINES): that cross-entropy on (1024,
# 1000) f32 0.32 -> 0.30 ms, the logistic regression's call (rows of 10) 4.4 -> 4.1 us,
# Reductions keep "full": a sum's interleaved partial sums keep float32 within 1e-6 of
# NumPy's pairwise sum (one vector accumulator measured 1.1e-6 off), and the
# compare-select accumulators of max and min need it for speed (64K floats 3.9 vs 4.8 us).
VECTOR_PIPELINE_OPS = frozenset({
    "Elemwise", "Gemm", "Subtensor", "IncSubtensor", "DimShuffle", "Reshape", "Join",
    "Split", "Alloc", "ARange", "Eye", "MakeVector", "Repeat", "Tile", "Shape", "ShapeI",
    "SoftmaxCrossEntropy",
    "SoftmaxCrossEntropyWithGrad", "SoftmaxCrossEntropyWithIntegerLabels",
    "SoftmaxCrossEntropyGrad", "CategoricalCrossentropy",
    "CategoricalCrossentropyIntegerLabels",
    "SpecifyShape", "OneHot", "LabelsOneHot", "AxesSize"})


def _size(shape: Sequence[int]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


def _compile_kernel(key: str, text: str, pipeline: str) -> tuple[bytes, list[str]]:
    """Compile one kernel (on a worker thread) and keep it here and on disk."""
    named = text.replace(f'@"{KERNEL_SYMBOL}"', f'@"{kernel_symbol(key)}"')
    obj, _ = jit.compile_object_concurrently(named, name=kernel_symbol(key), pipeline=pipeline)
    found = obj, _DECLARE.findall(text)
    with _lock:
        cache.STATS.compiled += 1
        _KERNELS[key] = found
    if cache.enabled():
        cache.store(key, obj, {"kernel": kernel_symbol(key), "symbols": found[1]})
    return found


@functools.cache
def _pool() -> ThreadPoolExecutor | None:
    """Worker threads for LLVM (None on one core: compile on the calling thread)."""
    from .parallel import available_cores
    workers = min(available_cores(), 4)
    return ThreadPoolExecutor(workers, thread_name_prefix="tj-llvm") if workers > 1 else None


def submit(fn, *args) -> Future:
    """Run fn(*args) on the compiler's worker threads (or now, on one core)."""
    pool = _pool()
    if pool is not None:
        return pool.submit(fn, *args)
    done: Future = Future()
    done.set_result(fn(*args))
    return done


def _link(name: str, entry_objs: Sequence[bytes], kernels: Sequence[tuple[bytes, list[str]]],
          entries: list[str]) -> Compiled:
    resolve_symbols(sorted({s for _, syms in kernels for s in syms}))
    library = jit.load_object([*entry_objs, *(obj for obj, _ in kernels)], entries,
                              name=name, symbols=EXTERNAL_SYMBOLS)
    return Compiled(library, entries)


def compile_program(name: str, segments: Sequence[Sequence[tuple[int, Apply]]],
                    layout: Layout, call_slots: Sequence[int] | None,
                    structure: str | None,
                    call_checks: Sequence[Sequence[int] | None] | None = None,
                    py_entry: PyEntrySpec | None = None) -> Compiled:
    """Compile (or load) the program of ``segments``; ``structure`` is the structure
    key's text (see structure_text), None when the graph can't be keyed that way."""
    fkey = cache.key_for(f"{structure}\n{call_checks!r}\n{py_entry!r}\n{source_digest()}",
                         {"kind": "function"}) if structure is not None else None
    if fkey is not None:
        found = _load_function(fkey, name)
        if found is not None:
            return found
    keys: dict[Apply, str] = {}
    jobs: dict[str, Future] = {}
    texts: dict[str, str] = {}  # structural node key -> IR text, within this call
    # the array call and CPython entry first: they name no kernel, and as part of the
    # entry module they were the last job of a cold start, alone on one core
    front_job = None
    if call_slots is not None and len(segments) == 1:
        module, front_entries = build_module(name, segments, layout, call_slots, {},
                                             call_checks, py_entry, part="front")
        front_job = submit(jit.compile_object_concurrently, str(module), f"{name}_front",
                           "glue")
    # IR is generated here (Python, holding the GIL) while LLVM compiles the kernels
    # already generated on the worker threads (LLVM releases the GIL).
    for segment in segments:
        for _, node in segment:
            skey = _node_text(node)
            text = texts.get(skey) if skey is not None else None
            if text is None:
                text = kernel_ir(node)
                if skey is not None:
                    texts[skey] = text
            pipeline = kernel_pipeline(node)
            key = cache.key_for(text, {"kind": "kernel", "pipeline": pipeline})
            keys[node] = key
            if key not in jobs:
                known = _known_kernel(key)
                jobs[key] = submit(_compile_kernel, key, text, pipeline) if known is None \
                    else done(known)
    module, entries = build_module(name, segments, layout, call_slots,
                                   {n: kernel_symbol(k) for n, k in keys.items()},
                                   call_checks, py_entry,
                                   part="all" if front_job is None else "segments")
    # the entry is glue (copies of pointers and dims, calls): the light pipeline
    entry_job = submit(jit.compile_object_concurrently, str(module), name, "glue")
    kernels = [job.result() for job in jobs.values()]
    entry_objs = [entry_job.result()[0]]
    if front_job is not None:
        entry_objs.append(front_job.result()[0])
        entries += front_entries
    cache.STATS.compiled += len(entry_objs)
    if fkey is not None and cache.enabled():
        for k, obj in enumerate(entry_objs):
            cache.store(_entry_key(fkey, k), obj, {"entries": entries, "kernels": list(jobs),
                                                   "parts": len(entry_objs)})
    return _link(name, entry_objs, kernels, entries)


def _entry_key(fkey: str, part: int) -> str:
    """The cache key of a function's entry object ``part`` (0: the segments')."""
    return fkey if part == 0 else cache.key_for(f"{fkey} entry part {part}")


def done(value) -> Future:
    """A Future that already holds value."""
    future: Future = Future()
    future.set_result(value)
    return future


def _node_text(node: Apply) -> str | None:
    """What a node's kernel IR depends on, when its op's repr says all of it."""
    import numpy as np

    from ..graph.basic import Constant
    op = repr(node.op)
    if _UNSAFE_REPR.search(op):
        return None
    parts = [op]
    seen: dict = {}
    for v in (*node.inputs, *node.outputs):
        parts.append(f"{seen.setdefault(v, len(seen))}:{v.type!r}")
        if isinstance(v, Constant):
            data = np.ascontiguousarray(v.data)
            parts.append(hashlib.sha256(data.tobytes()).hexdigest() + str(data.shape))
    return "|".join(parts)


def _load_function(fkey: str, name: str) -> Compiled | None:
    hit = cache.load(fkey) if cache.enabled() else None
    if hit is None:
        return None
    entry_objs, record = [hit[0]], hit[1]
    for part in range(1, int(record.get("parts", 1))):
        more = cache.load(_entry_key(fkey, part))
        if more is None:
            return None  # a part was removed or corrupt: rebuild everything
        entry_objs.append(more[0])
    kernels = [_known_kernel(k) for k in record["kernels"]]
    if any(k is None for k in kernels):
        return None  # a kernel's entry was removed: rebuild everything
    return _link(name, entry_objs, kernels, list(record["entries"]))


@functools.cache
def source_digest() -> str:
    """A hash of tensorjit's Python source: what generated the code of a structure key."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


_UNSAFE_REPR = re.compile(r"\.\.\.| at 0x[0-9a-f]+")


def structure_text(name: str, nodes: Sequence[Apply], layout: Layout,
                   segments: Sequence[Sequence[tuple[int, Apply]]],
                   call_slots: Sequence[int] | None) -> str | None:
    """Everything the generated code depends on, as text; None if some op's repr is
    not a faithful description (elided arrays, object addresses)."""
    import numpy as np

    from ..graph.basic import Constant, SharedVariable
    parts = [name, repr(list(call_slots) if call_slots is not None else None)]
    for v, slot in layout.slot.items():
        kind = "c" if isinstance(v, Constant) else "s" if isinstance(v, SharedVariable) else "v"
        parts.append(f"{slot}:{kind}:{v.type!r}:{layout.meta_offset[v]}")
        if isinstance(v, Constant):
            data = np.ascontiguousarray(v.data)
            parts.append(hashlib.sha256(data.tobytes()).hexdigest() + str(data.shape))
    for s, segment in enumerate(segments):
        for i, node in segment:
            op = repr(node.op)
            if _UNSAFE_REPR.search(op):
                return None
            ins = [layout.slot[v] for v in node.inputs]
            outs = [layout.slot[v] for v in node.outputs]
            parts.append(f"{s}:{i}:{op}:{ins}:{outs}")
    return "\n".join(parts)
