"""Softmax cross-entropy loss + gradient wrt the logits: tensorjit vs NumPy (and peers).

Workload: logits (1024, 1000) float32, int64 labels; outputs the mean loss and its
gradient wrt the logits. tensorjit runs mode="llvm" with the default optimizer; NumPy is
the stable hand-written version (max shift, exp, sum, log; gradient softmax - onehot).
JAX and PyTensor are timed when installed. Target: tensorjit >= 2x faster than NumPy.

Usage: python benchmarks/bench_softmax_ce.py [--runs 200] [--threads N] [--json out.json]
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


def numpy_loss_and_grad(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable NumPy: mean(logsumexp(x) - x[label]) and (softmax(x) - onehot) / n."""
    n = x.shape[0]
    rows = np.arange(n)
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(s[:, 0]) - z[rows, y])
    g = e / s
    g[rows, y] -= 1.0
    g /= n
    return loss, g


def tensorjit_loss_and_grad(threads: int | None) -> Callable:
    """The compiled tensorjit function (loss, grad wrt logits)."""
    x = tj.tensor("float32", (None, None), name="logits")
    y = tj.tensor("int64", (None,), name="labels")
    loss = tj.mean(tj.softmax_cross_entropy_with_integer_labels(x, y))
    f = tj.function([x, y], [loss, tj.grad(loss, x)], mode="llvm", threads=threads)
    if f.fallbacks:
        print(f"warning: nodes run by the reference evaluator: {f.fallbacks}")
    return f


def jax_loss_and_grad() -> Callable | None:
    """jax.jit(value_and_grad) of the same loss, or None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def loss_fn(x, y):
        logp = jax.nn.log_softmax(x, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))
    fn = jax.jit(jax.value_and_grad(loss_fn))
    return lambda x, y: jax.block_until_ready(fn(x, y))


def pytensor_loss_and_grad() -> Callable | None:
    """The same loss compiled by PyTensor, or None when it is not installed."""
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    x = pt.matrix("x", dtype="float32")
    y = pt.lvector("y")
    logp = pt.special.log_softmax(x, axis=1)
    loss = -pt.mean(logp[pt.arange(y.shape[0]), y])
    return pytensor.function([x, y], [loss, pytensor.grad(loss, x)])


def median_time(fn: Callable, args: tuple, runs: int) -> float:
    """Median seconds per call over ``runs`` calls after a few warm-ups."""
    for _ in range(3):
        fn(*args)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check(fn: Callable, args: tuple, want: tuple) -> None:
    """Fail loudly if an implementation disagrees with NumPy."""
    loss, grad = fn(*args)
    np.testing.assert_allclose(np.asarray(loss), want[0], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), want[1], rtol=1e-4, atol=1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="write the results here")
    opts = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1024, 1000)).astype(np.float32) * 3
    y = rng.integers(0, 1000, size=1024).astype(np.int64)
    want = numpy_loss_and_grad(x, y)
    impls = {"numpy": numpy_loss_and_grad, "tensorjit": tensorjit_loss_and_grad(opts.threads),
             "jax": jax_loss_and_grad(), "pytensor": pytensor_loss_and_grad()}
    results = {}
    for name, fn in impls.items():
        if fn is None:
            print(f"{name}: not installed")
            continue
        check(fn, (x, y), want)
        results[name] = median_time(fn, (x, y), opts.runs)
    base = results["numpy"]
    print(f"softmax CE loss + grad, logits (1024, 1000) float32, median of {opts.runs} runs "
          f"({platform.processor() or platform.machine()})")
    print("| implementation | ms | numpy / it |")
    print("|---|---|---|")
    for name, t in results.items():
        print(f"| {name} | {t * 1e3:.3f} | {base / t:.2f} |")
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump({"workload": "softmax_ce_1024x1000_f32", "runs": opts.runs,
                       "seconds": results}, fh, indent=2)


if __name__ == "__main__":
    main()
