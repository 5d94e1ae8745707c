"""On-disk cache of compiled object code, keyed by what decides the machine code.

The key hashes the module's LLVM IR (which encodes the optimized graph, dtypes and
static shapes), the target CPU name and features, the llvmlite and tensorjit versions.
An entry is a small header (magic, payload length, SHA-256 of the payload) followed by
the payload (a JSON record, e.g. the exported names, and object code). Entries are
written to a temporary file and renamed into place, so a concurrent reader sees either
nothing or a whole entry; a truncated or corrupt entry fails its checksum, is counted,
removed and recompiled.

The directory is ``$TENSORJIT_CACHE_DIR`` or ``~/.cache/tensorjit``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

MAGIC = b"TJOBJ002"
_HEADER = struct.Struct("<8sQ32s")
_lock = threading.Lock()


@dataclass
class Stats:
    """Counts for this process (tj.cache.info() reports them)."""

    hits: int = 0
    misses: int = 0
    compiled: int = 0  # modules run through LLVM in this process
    corrupt: int = 0
    writes: int = 0
    errors: list[str] = field(default_factory=list)


STATS = Stats()


def cache_dir() -> Path:
    """The cache directory (not created until something is written)."""
    env = os.environ.get("TENSORJIT_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "tensorjit"


def enabled() -> bool:
    return os.environ.get("TENSORJIT_CACHE_DIR", "x") != ""


def key_for(ir_text: str, options: Mapping[str, object] | None = None) -> str:
    """The hex key of a module: IR, CPU, library versions and options."""
    h = hashlib.sha256()
    for part in (ir_text, _environment(),
                 json.dumps(dict(options or {}), sort_keys=True, default=str)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def _environment() -> str:
    """CPU name and features, llvmlite and tensorjit versions (asked once: slow)."""
    import llvmlite

    from . import jit
    cpu, features = jit.host_cpu()
    # llvmlite.__version__, not importlib.metadata (~20 ms of a cold start)
    return "\0".join((cpu, features, llvmlite.__version__, _package_version(),
                      " ".join(jit.LLVM_OPTIONS)))


def _package_version() -> str:
    from .. import __version__
    return __version__


def _path(key: str) -> Path:
    return cache_dir() / key[:2] / f"{key}.tjo"


def load(key: str) -> tuple[bytes, dict] | None:
    """(object code, record) of a valid entry, or None (missing or corrupt)."""
    path = _path(key)
    try:
        data = path.read_bytes()
    except OSError:
        STATS.misses += 1
        return None
    payload = _verify(data)
    if payload is None:
        STATS.corrupt += 1
        try:
            path.unlink()
        except OSError:
            pass
        return None
    n_record = struct.unpack_from("<I", payload)[0]
    record = json.loads(payload[4:4 + n_record].decode())
    STATS.hits += 1
    return payload[4 + n_record:], record


def _verify(data: bytes) -> bytes | None:
    if len(data) < _HEADER.size:
        return None
    magic, length, digest = _HEADER.unpack_from(data)
    payload = data[_HEADER.size:]
    if magic != MAGIC or length != len(payload) or hashlib.sha256(payload).digest() != digest:
        return None
    return payload


def store(key: str, object_code: bytes, record: dict) -> None:
    """Write an entry atomically (temporary file, then rename). Failures are recorded."""
    names = json.dumps(record, sort_keys=True).encode()
    payload = struct.pack("<I", len(names)) + names + object_code
    data = _HEADER.pack(MAGIC, len(payload), hashlib.sha256(payload).digest()) + payload
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".tjo")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        STATS.writes += 1
    except OSError as exc:  # a read-only or full disk must not break compilation
        STATS.errors.append(f"{path}: {exc}")


def clear() -> int:
    """Delete every cache entry; return how many were removed."""
    removed = 0
    root = cache_dir()
    if not root.exists():
        return 0
    for p in root.glob("*/*.tjo"):
        try:
            p.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def info() -> dict[str, object]:
    """Directory, entry count and size on disk, and this process's hits/misses."""
    root = cache_dir()
    files = list(root.glob("*/*.tjo")) if root.exists() else []
    return {"directory": str(root), "entries": len(files),
            "bytes": sum(p.stat().st_size for p in files if p.exists()),
            "hits": STATS.hits, "misses": STATS.misses, "corrupt": STATS.corrupt,
            "compiled": STATS.compiled,
            "writes": STATS.writes, "errors": list(STATS.errors)}


def compile_cached(ir_text: str, name: str, symbols: Mapping[str, int] | None = None):
    """A JITModule for this IR: from the cache when a valid entry exists, else compiled."""
    from . import jit
    if not enabled():
        STATS.compiled += 1
        return jit.compile_ir(ir_text, name=name, symbols=symbols)
    key = key_for(ir_text)
    hit = load(key)
    if hit is not None:
        code, record = hit
        return jit.load_object(code, record["exports"], name=name, symbols=symbols)
    STATS.compiled += 1
    module = jit.compile_ir(ir_text, name=name, symbols=symbols)
    store(key, module.object_code(), {"exports": module.exports})
    return module
