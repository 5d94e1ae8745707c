"""Reductions of elementwise expressions: fused into one loop vs not, vs NumPy.

Workloads (float32):

- ``sum(x * x, axis=1)`` on (4096, 1024);
- ``sum(exp(x - max(x, 1, keepdims)), axis=1)`` on (4096, 1024) (the softmax
  denominator written by hand: the row max is its own node, read as a column);
- ``mean(log1p(abs(x)))`` on 10M elements.

Each is timed as tensorjit (mode="llvm", default optimizer: the elementwise part is
fused into the reduction loop), tensorjit with ``exclude=["fuse_into_reduction"]`` (the
elementwise result is written to a buffer and then reduced), and NumPy. Medians and
ratios are printed as a table and written as JSON.

Usage: python benchmarks/bench_fused_reduce.py [--runs 50] [--threads N]
           [--json benchmarks/results/bench_fused_reduce.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

import tensorjit as tj
from tensorjit.graph.ops.fused_reduce import FusedReduce

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JSON = os.path.join(HERE, "results", "bench_fused_reduce.json")


def workloads(rng: np.random.Generator) -> list[tuple[str, Callable, Callable, np.ndarray]]:
    """(name, symbolic builder, NumPy version, input) per workload."""
    m = rng.standard_normal((4096, 1024)).astype(np.float32)
    v = rng.standard_normal(10_000_000).astype(np.float32)
    return [
        ("sum(x*x, axis=1) (4096,1024)", lambda x: tj.sum(x * x, axis=1),
         lambda a: np.sum(a * a, axis=1), m),
        ("sum(exp(x - max(x,1)), axis=1) (4096,1024)",
         lambda x: tj.sum(tj.exp(x - tj.max(x, axis=1, keepdims=True)), axis=1),
         lambda a: np.sum(np.exp(a - a.max(axis=1, keepdims=True)), axis=1), m),
        ("mean(log1p(abs(x))) 10M", lambda x: tj.mean(tj.log1p(abs(x))),
         lambda a: np.mean(np.log1p(np.abs(a))), v),
    ]


def compile_variant(build: Callable, ndim: int, fused: bool, threads: int | None):
    """The tensorjit function, fused or with fuse_into_reduction excluded."""
    x = tj.tensor("float32", (None,) * ndim, name="x")
    exclude = () if fused else ("fuse_into_reduction",)
    f = tj.function([x], build(x), mode="llvm", exclude=exclude, threads=threads)
    n_fused = sum(isinstance(n.op, FusedReduce) for n in f.fgraph.apply_nodes)
    if (n_fused > 0) != fused or f.fallbacks:
        raise RuntimeError(f"unexpected graph: {n_fused} FusedReduce nodes, fallbacks "
                           f"{f.fallbacks}")
    return f


def median_time(fn: Callable, arg: np.ndarray, runs: int) -> float:
    """Median seconds per call over ``runs`` calls after a few warm-ups."""
    for _ in range(3):
        fn(arg)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(runs: int, threads: int | None) -> list[dict]:
    """Time every workload three ways; check each result against float64 NumPy."""
    rows = []
    for name, build, ref, arg in workloads(np.random.default_rng(0)):
        want = ref(arg.astype(np.float64))
        impls = {"fused": compile_variant(build, arg.ndim, True, threads),
                 "unfused": compile_variant(build, arg.ndim, False, threads),
                 "numpy": ref}
        seconds = {}
        for label, fn in impls.items():
            np.testing.assert_allclose(np.asarray(fn(arg), np.float64), want, rtol=2e-6)
            seconds[label] = median_time(fn, arg, runs)
        rows.append({"workload": name, "seconds": seconds,
                     "unfused_over_fused": seconds["unfused"] / seconds["fused"],
                     "numpy_over_fused": seconds["numpy"] / seconds["fused"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=DEFAULT_JSON, help="write the results here")
    opts = parser.parse_args()
    rows = run(opts.runs, opts.threads)
    print(f"fused reductions, float32, median of {opts.runs} runs, threads="
          f"{opts.threads or 'default'} ({platform.processor() or platform.machine()})")
    print("| workload | fused ms | unfused ms | numpy ms | unfused / fused | "
          "numpy / fused |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        s = r["seconds"]
        print(f"| {r['workload']} | {s['fused'] * 1e3:.3f} | {s['unfused'] * 1e3:.3f} | "
              f"{s['numpy'] * 1e3:.3f} | {r['unfused_over_fused']:.2f} | "
              f"{r['numpy_over_fused']:.2f} |")
    if opts.json:
        os.makedirs(os.path.dirname(os.path.abspath(opts.json)), exist_ok=True)
        with open(opts.json, "w") as fh:
            json.dump({"benchmark": "fused_reduce", "runs": opts.runs,
                       "threads": opts.threads, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
