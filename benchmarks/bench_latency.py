"""Per-call latency and compile time (issue 5's last three rows).

    python benchmarks/bench_latency.py [--json PATH]

- logistic regression loss + gradient, X (32, 64) float64, per call incl. argument checks
- f(x) = x + 1 on a 0-d float64, per call
- compile time of the MLP 784-512-512-10 training step in a NEW process (imports
  excluded): cold disk cache, then warm

tensorjit mode="llvm" and mode="py" are shown next to hand-written NumPy for the
same computation in the same run; JAX/PyTensor rows appear when they are installed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

import tensorjit as tj


def per_call_us(fn, *args, n=20000) -> float:
    for _ in range(100):
        fn(*args)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n // 5):
            fn(*args)
        best = min(best, (time.perf_counter() - start) / (n // 5))
    return best * 1e6


def logistic(mode):
    x, y = tj.matrix("x"), tj.ivector("y")
    W = tj.shared(np.zeros((64, 10)), name="W")
    b = tj.shared(np.zeros(10), name="b")
    loss = -tj.mean(tj.log(tj.softmax(x @ W + b))[tj.arange(y.shape[0]), y])
    return tj.function([x, y], [loss, *tj.grad(loss, [W, b])], mode=mode)


def logistic_numpy(W, b):
    def step(X, Y):
        z = X @ W + b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(len(Y)), Y]))
        p[np.arange(len(Y)), Y] -= 1
        p /= len(Y)
        return loss, X.T @ p, p.sum(axis=0)
    return step


COMPILE_SCRIPT = r"""
import time, numpy as np
import tensorjit as tj
start = time.perf_counter()
sizes = (784, 512, 512, 10)
x, y = tj.fmatrix("x"), tj.ivector("y")
params, h = [], x
for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
    W = tj.shared(np.zeros((a, b), "float32"), name=f"W{k}")
    c = tj.shared(np.zeros(b, "float32"), name=f"b{k}")
    params += [W, c]
    h = h @ W + c
    if k < len(sizes) - 2:
        h = tj.relu(h)
loss = -tj.mean(tj.log(tj.softmax(h))[tj.arange(y.shape[0]), y])
grads = tj.grad(loss, params)
f = tj.function([x, y], loss, updates=[(p, p - 0.01 * g) for p, g in zip(params, grads)],
                mode="llvm")
print((time.perf_counter() - start) * 1e3)
"""


JAX_COMPILE_SCRIPT = r"""
import time, numpy as np
import jax, jax.numpy as jnp
start = time.perf_counter()
sizes = (784, 512, 512, 10)
rng = np.random.default_rng(0)
params = []
for a, b in zip(sizes, sizes[1:]):
    params += [jnp.zeros((a, b), jnp.float32), jnp.zeros(b, jnp.float32)]
def loss_fn(params, x, y):
    h = x
    for k in range(0, len(params), 2):
        h = h @ params[k] + params[k + 1]
        if k + 2 < len(params):
            h = jax.nn.relu(h)
    return -jnp.mean(jax.nn.log_softmax(h)[jnp.arange(len(y)), y])
@jax.jit
def step(params, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    return [p - 0.01 * g for p, g in zip(params, grads)], loss
x = jnp.zeros((128, 784), jnp.float32); y = jnp.zeros(128, jnp.int32)
step.lower(params, x, y).compile()
print((time.perf_counter() - start) * 1e3)
"""


def jax_logistic():
    """jax.jit(value_and_grad) of the same loss, called like tensorjit (NumPy in)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    params = (jnp.zeros((64, 10)), jnp.zeros(10))

    def loss_fn(params, X, Y):
        logp = jax.nn.log_softmax(X @ params[0] + params[1])
        return -jnp.mean(logp[jnp.arange(len(Y)), Y])

    fn = jax.jit(jax.value_and_grad(loss_fn))
    return lambda X, Y: jax.block_until_ready(fn(params, X, Y))


def jax_add_one():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    fn = jax.jit(lambda v: v + 1.0)
    return lambda v: jax.block_until_ready(fn(v))


def compile_ms(cache_dir: str, script: str = COMPILE_SCRIPT) -> float:
    env = dict(os.environ, TENSORJIT_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/bench_latency.json")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 64)), rng.integers(0, 10, 32).astype("int32")
    rows = {}
    rows["logistic loss+grad, tensorjit llvm (us)"] = per_call_us(logistic("llvm"), X, Y)
    rows["logistic loss+grad, tensorjit py (us)"] = per_call_us(logistic("py"), X, Y, n=5000)
    rows["logistic loss+grad, NumPy (us)"] = per_call_us(
        logistic_numpy(np.zeros((64, 10)), np.zeros(10)), X, Y)
    s = tj.dscalar("s")
    one = np.array(1.0)
    rows["x + 1 0-d, tensorjit llvm (us)"] = per_call_us(
        tj.function([s], s + 1.0, mode="llvm"), one)
    rows["x + 1 0-d, NumPy (us)"] = per_call_us(lambda v: v + 1.0, one)
    jax_fn, jax_one = jax_logistic(), jax_add_one()
    if jax_fn is not None:
        rows["logistic loss+grad, JAX jit (us)"] = per_call_us(jax_fn, X, Y, n=5000)
        rows["x + 1 0-d, JAX jit (us)"] = per_call_us(jax_one, one, n=5000)
    with tempfile.TemporaryDirectory() as d:
        rows["MLP step compile, cold cache (ms)"] = compile_ms(d)
        rows["MLP step compile, warm cache (ms)"] = min(compile_ms(d) for _ in range(3))
    if jax_fn is not None:
        with tempfile.TemporaryDirectory() as d:
            # JAX keeps no persistent compilation cache unless configured: every new
            # process compiles, so its one number is the cold one
            rows["MLP step compile, JAX jit, new process (ms)"] = compile_ms(
                d, JAX_COMPILE_SCRIPT)
    width = max(len(k) for k in rows)
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:10.2f}")
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
