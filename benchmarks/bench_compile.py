"""Compile-time benchmark: rewriting a 3-layer MLP's loss and gradient graph.

Target: under 50 ms for the whole pipeline (merge, canonicalize, stabilize,
specialize). Run: ``python benchmarks/bench_compile.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import tensorjit as tj
from tensorjit.graph.fg import FunctionGraph
from tensorjit.passes.pipeline import optimize


def mlp_graph() -> tuple[list, list]:
    """Inputs and outputs (loss, 6 gradients) of a 3-layer tanh MLP, softmax cross-entropy."""
    x = tj.matrix("x")
    t = tj.matrix("t")
    params = []
    h = x
    for k, act in enumerate((tj.tanh, tj.tanh, None)):
        w = tj.matrix(f"W{k}")
        b = tj.vector(f"b{k}")
        params += [w, b]
        h = tj.dot(h, w) + b
        if act is not None:
            h = act(h)
    e = tj.exp(h)
    probs = e / tj.sum(e, axis=1, keepdims=True)
    loss = -tj.mean(tj.sum(t * tj.log(probs), axis=1))
    grads = tj.grad(loss, params)
    return [x, t, *params], [loss, *grads]


def time_rewrites(runs: int) -> tuple[list[float], int, int, int]:
    """Per-run seconds of optimize() on a fresh clone of the graph, and graph sizes."""
    inputs, outputs = mlp_graph()
    times = []
    before = after = events = 0
    for _ in range(runs):
        fg = FunctionGraph(inputs, outputs, clone=True)
        before = len(fg.apply_nodes)
        start = time.perf_counter()
        log = optimize(fg, optimizer="fast_run")
        times.append(time.perf_counter() - start)
        after, events = len(fg.apply_nodes), len(log)
    return times, before, after, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    times, before, after, events = time_rewrites(args.runs)
    median_ms = statistics.median(times) * 1e3
    print(f"3-layer MLP loss + 6 gradients: {before} nodes -> {after} nodes, "
          f"{events} rewrites")
    print(f"rewrite time: median {median_ms:.1f} ms, min {min(times) * 1e3:.1f} ms, "
          f"max {max(times) * 1e3:.1f} ms over {args.runs} runs (target < 50 ms)")


if __name__ == "__main__":
    main()
