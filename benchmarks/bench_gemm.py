"""GEMM benchmark: tensorjit's JIT GEMM library vs np.dot, SciPy's sgemm/dgemm and JAX.

Shapes: the eight products of the MLP step (benchmarks/bench_mlp.py), with the
backward ones as the transposed operands they really are (x.T @ g, g @ W.T), and one
square 1024 product. Each is timed as a compiled tensorjit ``x @ y`` (its JIT GEMM) with
threads=1 and 2, np.dot and SciPy's BLAS on 1 and on the default threads
(threadpoolctl), and jax.numpy.dot under jax.jit (its own threads), each after a
cool-down (idle BLAS threads spin). Every call allocates its result, as a user's does.
Medians; GFLOP/s = 2 m n k / time (per-call overhead included: it dominates the
narrow shapes).

Run: ``python benchmarks/bench_gemm.py [--repeat 50] [--dtype float32] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import platform
import time

import numpy as np
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # shared helper
from timing import median_seconds  # noqa: E402
from scipy.linalg import blas as scipy_blas

from tensorjit.codegen import gemm

# (m, k, n, trans_a, trans_b): C (m, n) = op(A) @ op(B)
SHAPES = [
    (128, 784, 512, False, False),
    (128, 512, 512, False, False),
    (128, 512, 10, False, False),
    (784, 128, 512, True, False),   # dW1 = x.T @ g1
    (512, 128, 512, True, False),   # dW2 = h1.T @ g2
    (512, 128, 10, True, False),    # dW3 = h2.T @ g3
    (128, 512, 512, False, True),   # dh1 = g2 @ W2.T
    (128, 10, 512, False, True),    # dh2 = g3 @ W3.T
    (1024, 1024, 1024, False, False),
]


def median_s(fn, repeat: int) -> float:
    """Median wall time of fn() in seconds."""
    return median_seconds(fn, repeat)


def operands(m, k, n, ta, tb, dtype, seed=0):
    """A (m, k) and B (k, n), as transposed views where ta/tb say so."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return (a.T if ta else a), (b.T if tb else b)


def scipy_call(a, b, dtype):
    """C = A @ B through SciPy's BLAS without copies: C^T = B^T A^T column-major."""
    routine = scipy_blas.sgemm if dtype == "float32" else scipy_blas.dgemm
    bt, at = b.T, a.T  # F-contiguous views of C-contiguous arrays, or C-contiguous ones
    trans_b, trans_a = int(not bt.flags.f_contiguous), int(not at.flags.f_contiguous)
    x = bt.T if trans_b else bt
    y = at.T if trans_a else at
    return lambda: routine(1.0, x, y, trans_a=trans_b, trans_b=trans_a)


def tensorjit_call(a, b, threads: int):
    """A compiled ``x @ y`` as users get it (transposed operands as ``x.T`` in the
    graph: the Gemm reads them through its flags), called on the stored matrices."""
    import tensorjit as tj
    sa = a.T if a.flags.f_contiguous and not a.flags.c_contiguous else a
    sb = b.T if b.flags.f_contiguous and not b.flags.c_contiguous else b
    x = tj.tensor(str(a.dtype), sa.shape, name="x")
    y = tj.tensor(str(b.dtype), sb.shape, name="y")
    f = tj.function([x, y], (x.T if sa is not a else x) @ (y.T if sb is not b else y),
                    threads=threads)
    return lambda: f(sa, sb)


def jax_call(a, b):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    if a.dtype == np.float64 and not jax.config.jax_enable_x64:
        return None  # JAX would compute in float32
    f = jax.jit(jnp.dot)
    ja, jb = jnp.asarray(np.ascontiguousarray(a)), jnp.asarray(np.ascontiguousarray(b))
    f(ja, jb).block_until_ready()
    return lambda: f(ja, jb).block_until_ready()


def limited(threads: int | None):
    """A context limiting OpenBLAS's threads (None: leave the default)."""
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits
    return nullcontext() if threads is None else threadpool_limits(threads)


# Between implementations: OpenBLAS's and JAX's idle threads spin for up to ~0.1 s after
# a product and would take the cores from the next one timed (bench_mlp.py does the same).
COOL_DOWN_S = 0.25


def timed(fn, repeat: int) -> float:
    """median_s(fn) after a cool-down."""
    time.sleep(COOL_DOWN_S)
    return median_s(fn, repeat)


def bench_shape(shape, dtype: str, repeat: int) -> dict:
    m, k, n, ta, tb = shape
    a, b = operands(m, k, n, ta, tb, dtype)
    c = np.empty((m, n), dtype)
    flop = 2.0 * m * n * k
    row = {"shape": f"({m},{k})@({k},{n})", "trans_a": ta, "trans_b": tb, "dtype": dtype}
    ref = a.astype(np.float64) @ b.astype(np.float64)
    gemm.gemm(a, b, c)
    row["max_rel_err"] = float(np.abs(c - ref).max() / max(np.abs(ref).max(), 1e-30))
    for threads in (1, 2):
        row[f"jit_{threads}t"] = flop / timed(tensorjit_call(a, b, threads), repeat) / 1e9
    for label, threads in (("1t", 1), ("default", None)):
        with limited(threads):
            row[f"numpy_{label}"] = flop / timed(lambda: np.dot(a, b), repeat) / 1e9
            row[f"scipy_{label}"] = flop / timed(scipy_call(a, b, dtype), repeat) / 1e9
    jx = jax_call(a, b)
    row["jax"] = flop / timed(jx, repeat) / 1e9 if jx else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    gemm.library(args.dtype)  # build (or load) the library before timing
    cols = ["jit_1t", "jit_2t", "numpy_1t", "numpy_default", "scipy_1t", "scipy_default",
            "jax"]
    print(f"{args.dtype} GFLOP/s (median of {args.repeat}); ratio = best jit / best BLAS")
    print(f"{'shape':24s}{'T':>3s}" + "".join(f"{c:>14s}" for c in cols) + f"{'ratio':>8s}")
    rows = []
    for shape in SHAPES:
        row = bench_shape(shape, args.dtype, args.repeat)
        best_jit = max(row["jit_1t"], row["jit_2t"])
        best_blas = max(row[c] for c in cols[2:6])
        row["ratio_jit_vs_blas"] = best_jit / best_blas
        rows.append(row)
        trans = ("T" if row["trans_a"] else "N") + ("T" if row["trans_b"] else "N")
        cells = "".join(f"{row[c]:14.1f}" if row[c] is not None else f"{'-':>14s}"
                        for c in cols)
        print(f"{row['shape']:24s}{trans:>3s}{cells}{row['ratio_jit_vs_blas']:8.2f}")
    result = {
        "machine": {"cpu": gemm.jit.host_cpu()[0], "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                    "TENSORJIT_NUM_THREADS": os.environ.get("TENSORJIT_NUM_THREADS"),
                    "load_average": os.getloadavg()},
        "config": gemm.config(args.dtype).__dict__,
        "rows": rows,
    }
    out = pathlib.Path(args.json or pathlib.Path(__file__).parent / "results"
                       / f"bench_gemm_{args.dtype}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
