"""Time tensorjit's vectorized math loop kernels against the NumPy ufuncs.

Usage: python benchmarks/bench_mathlib.py [--n 10000000] [--repeat 5] [names ...]
Prints ns/element (median of ``repeat`` runs) for each function and dtype, and the
ratio NumPy time / tensorjit time (> 1 means tensorjit is faster).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np
import scipy.special

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "codegen"))
from mathkernels import math_kernel

from tensorjit.codegen.mathlib import available_functions

NUMPY = {
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "tanh": np.tanh, "sqrt": np.sqrt, "sin": np.sin,
    "cos": np.cos, "sinh": np.sinh, "cosh": np.cosh, "erf": scipy.special.erf,
    "sigmoid": scipy.special.expit, "softplus": lambda x, out: np.logaddexp(0, x, out=out),
    "pow": np.power, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan,
}
# Input range per function (typical values, not the edge cases).
DOMAIN = {"log": (1e-3, 100), "log2": (1e-3, 100), "log10": (1e-3, 100), "log1p": (-0.9, 100),
          "sqrt": (0, 100), "exp": (-80, 80), "exp2": (-120, 120), "sinh": (-80, 80),
          "cosh": (-80, 80), "sin": (-100, 100), "cos": (-100, 100), "tan": (-100, 100),
          "arcsin": (-1, 1), "arccos": (-1, 1), "arctan": (-100, 100)}


def _median_times(fns, repeat: int) -> list[float]:
    """Median wall time of each ``fn()`` over ``repeat`` rounds (after one warm-up). The
    functions alternate within a round, so load from other processes hits all alike."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, fn_times in zip(fns, times):
            start = time.perf_counter()
            fn()
            fn_times.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def bench(name: str, dtype: str, n: int, repeat: int) -> tuple[float, float]:
    """Return (tensorjit ns/elem, numpy ns/elem) for one function and dtype."""
    rng = np.random.default_rng(0)
    lo, hi = DOMAIN.get(name, (-10, 10))
    args = [rng.uniform(lo, hi, n).astype(dtype)]
    if name == "pow":
        args = [rng.uniform(0, 10, n).astype(dtype), rng.uniform(-10, 10, n).astype(dtype)]
    out = np.empty_like(args[0])
    kernel = math_kernel(name, dtype)
    ufunc = NUMPY[name]
    with np.errstate(all="ignore"):
        t_jit, t_np = _median_times([lambda: kernel(*args, out=out),
                                     lambda: ufunc(*args, out=out)], repeat)
    return t_jit / n * 1e9, t_np / n * 1e9


def main() -> None:
    """Parse arguments and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*",
                        default=sorted(set(NUMPY) & set(available_functions())))
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    print(f"n = {opts.n:,}, median of {opts.repeat} runs, ns/element")
    print("| function | dtype | tensorjit | numpy | numpy/tensorjit |")
    print("|---|---|---|---|---|")
    for name in opts.names:
        for dtype in ("float32", "float64"):
            t_jit, t_np = bench(name, dtype, opts.n, opts.repeat)
            print(f"| {name} | {dtype} | {t_jit:.2f} | {t_np:.2f} | {t_np / t_jit:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
