"""Fused elementwise: exp(-x*x/2)*sin(3*x) + log1p(abs(x))*tanh(x) on 10M elements.

tensorjit (mode="llvm", default optimizer: the whole expression is one fused kernel)
against NumPy written by hand (one pass over memory per operation), in the same run,
for float32 and float64; JAX and PyTensor too when installed. Reports the median of
``--runs`` calls and the NumPy/implementation ratio. Targets: >= 3x NumPy in float32,
>= 2x in float64. ``--threads 1`` shows the single-core kernel.

Usage: python benchmarks/bench_elemwise.py [--n 10000000] [--runs 7] [--threads N]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

import tensorjit as tj


def numpy_workload(x: np.ndarray) -> np.ndarray:
    """The workload as a NumPy user writes it."""
    return np.exp(-x * x / 2) * np.sin(3 * x) + np.log1p(np.abs(x)) * np.tanh(x)


def tensorjit_workload(dtype: str, threads: int | None) -> Callable:
    """The compiled tensorjit function (one fused kernel)."""
    x = tj.tensor(dtype, (None,), name="x")
    y = tj.exp(-x * x / 2) * tj.sin(3 * x) + tj.log1p(abs(x)) * tj.tanh(x)
    f = tj.function([x], y, mode="llvm", threads=threads)
    if f.fallbacks:
        print(f"warning: nodes run by the reference evaluator: {f.fallbacks}")
    kernels = len(f.fgraph.apply_nodes)
    if kernels != 1:
        print(f"warning: {kernels} kernels, expected one fused kernel")
    return f


def jax_workload() -> Callable | None:
    """jax.jit of the same expression, or None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    fn = jax.jit(lambda x: jnp.exp(-x * x / 2) * jnp.sin(3 * x)
                 + jnp.log1p(jnp.abs(x)) * jnp.tanh(x))
    return lambda x: jax.block_until_ready(fn(x))


def pytensor_workload(dtype: str) -> Callable | None:
    """The same expression compiled by PyTensor, or None when it is not installed."""
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    x = pt.vector("x", dtype=dtype)
    y = pt.exp(-x * x / 2) * pt.sin(3 * x) + pt.log1p(pt.abs(x)) * pt.tanh(x)
    return pytensor.function([x], y)


def median_time(fn: Callable, x: np.ndarray, runs: int) -> float:
    """Median seconds per call over ``runs`` calls after two warm-ups."""
    for _ in range(2):
        fn(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_dtype(dtype: str, n: int, runs: int, threads: int | None) -> dict[str, float]:
    """Seconds per call of every available implementation for one dtype."""
    x = np.random.default_rng(0).uniform(-5, 5, n).astype(dtype)
    want = numpy_workload(x)
    impls = {"numpy": numpy_workload, "tensorjit": tensorjit_workload(dtype, threads),
             "jax": jax_workload(), "pytensor": pytensor_workload(dtype)}
    results = {}
    for name, fn in impls.items():
        if fn is None:
            continue
        got = np.asarray(fn(x))
        rtol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
        results[name] = median_time(fn, x, runs)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="write the results here")
    opts = parser.parse_args()
    print(f"exp(-x*x/2)*sin(3*x) + log1p(abs(x))*tanh(x), n = {opts.n}, median of "
          f"{opts.runs} runs, threads = {opts.threads or 'default'} "
          f"({platform.processor() or platform.machine()})")
    print("| dtype | implementation | ms | numpy / it |")
    print("|---|---|---|---|")
    table = {}
    for dtype in ("float32", "float64"):
        results = bench_dtype(dtype, opts.n, opts.runs, opts.threads)
        base = results["numpy"]
        for name, t in results.items():
            print(f"| {dtype} | {name} | {t * 1e3:.2f} | {base / t:.2f} |")
        table[dtype] = results
    for missing in ("jax", "pytensor"):
        if missing not in table["float32"]:
            print(f"{missing}: not installed")
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump({"workload": "elemwise_exp_sin_log1p_tanh", "n": opts.n,
                       "runs": opts.runs, "threads": opts.threads, "seconds": table},
                      fh, indent=2)


if __name__ == "__main__":
    main()
