"""MLP training-step benchmark: tensorjit (mode="llvm") vs hand-written NumPy (and peers).

Workload (issue 5): MLP 784-512-512-10, relu, softmax cross-entropy with integer labels,
batch 128, float32; one step = forward + backward + SGD update through ``updates``.
Also: the Hessian-vector product of the loss vs the gradient's time, and the step's
eight GEMMs timed alone (tensorjit vs ``np.dot``).

Run: ``python benchmarks/bench_mlp.py [--repeat 40] [--rounds 5] [--json PATH]``.
Each thread setting runs in its own process: "1" pinned to one core with every
library's thread count set to 1 before import (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
TENSORJIT_NUM_THREADS, XLA_FLAGS), and "default" with the machine's cores. Inside a
process the implementations are timed in turns, ``rounds`` times, each after a pause
of ``COOL_DOWN_S`` so that no library's idle threads still spin (OpenBLAS's do for
~0.1 s after a product) while another is timed; the figure is the median of the
rounds' medians. JAX and PyTensor are timed when installed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # shared helper
from timing import median_seconds  # noqa: E402

import tensorjit as tj

SIZES = (784, 512, 512, 10)
BATCH = 128
LR = np.float32(0.01)


def init_params(seed: int = 0) -> list[np.ndarray]:
    """He-initialized weights and zero biases, float32."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in itertools.pairwise(SIZES):
        params.append((rng.normal(size=(n_in, n_out)) * np.sqrt(2 / n_in)).astype("float32"))
        params.append(np.zeros(n_out, dtype="float32"))
    return params


def data(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(BATCH, SIZES[0])).astype("float32"),
            rng.integers(0, SIZES[-1], BATCH).astype("int32"))


def median_ms(fn, repeat: int, warmup: int = 3) -> float:
    """Median wall time of fn() in milliseconds."""
    return median_seconds(fn, repeat, warmup) * 1e3


# --------------------------------------------------------------------------------------
# tensorjit


def tj_loss(params, x, y):
    h = x
    for k in range(0, len(params), 2):
        h = h @ params[k] + params[k + 1]
        if k + 2 < len(params):
            h = tj.relu(h)
    return tj.mean(tj.softmax_cross_entropy_with_integer_labels(h, y))


def build_tensorjit(values):
    """(step, grad, hvp) functions and compile seconds."""
    shared = [tj.shared(v.copy(), name=f"p{k}") for k, v in enumerate(values)]
    x, y = tj.fmatrix("x"), tj.ivector("y")
    loss = tj_loss(shared, x, y)
    grads = tj.grad(loss, shared)
    start = time.perf_counter()
    step = tj.function([x, y], loss, mode="llvm", name="mlp_step",
                       updates=[(p, p - LR * g) for p, g in zip(shared, grads)])
    compile_s = time.perf_counter() - start
    grad_fn = tj.function([x, y], grads, mode="llvm", name="mlp_grad")
    vs = [tj.tensor("float32", v.shape, name=f"v{k}") for k, v in enumerate(values)]
    hvp = tj.hessian_vector_product(loss, shared, vs)
    hvp_fn = tj.function([x, y, *vs], hvp, mode="llvm", name="mlp_hvp")
    return step, grad_fn, hvp_fn, compile_s


# --------------------------------------------------------------------------------------
# NumPy by hand


def numpy_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """One SGD step in place; returns the loss (stable log-softmax)."""
    acts, h = [x], x
    n_layers = len(params) // 2
    for k in range(n_layers):
        h = h @ params[2 * k] + params[2 * k + 1]
        if k + 1 < n_layers:
            h = np.maximum(h, 0)
        acts.append(h)
    z = h - h.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
    g = e / s
    g[rows, y] -= 1
    g /= len(y)
    for k in reversed(range(n_layers)):
        gw, gb = acts[k].T @ g, g.sum(axis=0)
        if k:
            g = (g @ params[2 * k].T) * (acts[k] > 0)
        params[2 * k] -= LR * gw
        params[2 * k + 1] -= LR * gb
    return loss


# --------------------------------------------------------------------------------------
# where the time goes


def gemm_shapes() -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (a, b) shapes of the eight matrix products of one step."""
    out = []
    dims = list(itertools.pairwise(SIZES))
    for n_in, n_out in dims:
        out.append(((BATCH, n_in), (n_in, n_out)))         # forward
    for k, (n_in, n_out) in enumerate(dims):
        out.append(((n_in, BATCH), (BATCH, n_out)))        # dW = a^T g
        if k:
            out.append(((BATCH, n_out), (n_out, n_in)))    # dX = g W^T
    return out


def time_gemms(repeat: int) -> tuple[float, float, list[dict]]:
    """Total ms of the step's GEMMs through tensorjit and np.dot, and per shape."""
    rows, total_tj, total_np = [], 0.0, 0.0
    rng = np.random.default_rng(2)
    for sa, sb in gemm_shapes():
        a = rng.normal(size=sa).astype("float32")
        b = rng.normal(size=sb).astype("float32")
        va, vb = tj.tensor("float32", sa), tj.tensor("float32", sb)
        f = tj.function([va, vb], va @ vb, mode="llvm")
        time.sleep(COOL_DOWN_S)
        t_tj = median_ms(lambda f=f, a=a, b=b: f(a, b), repeat)
        time.sleep(COOL_DOWN_S)
        t_np = median_ms(lambda a=a, b=b: np.dot(a, b), repeat)
        flops = 2 * sa[0] * sa[1] * sb[1]
        rows.append({"shape": f"{sa}@{sb}", "tensorjit_ms": t_tj, "numpy_ms": t_np,
                     "tensorjit_gflops": flops / t_tj / 1e6})
        total_tj += t_tj
        total_np += t_np
    return total_tj, total_np, rows


# --------------------------------------------------------------------------------------
# optional peers


def jax_step(values, x, y):
    """One JAX step as a callable (None when JAX is not installed)."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def loss_fn(params, x, y):
        h = x
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            if k + 2 < len(params):
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(logp[jnp.arange(len(y)), y])

    @jax.jit
    def step(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [p - LR * g for p, g in zip(params, grads)], loss

    params = [jnp.asarray(v) for v in values]
    state = {"p": params}

    def run():
        state["p"], loss = step(state["p"], x, y)
        loss.block_until_ready()
    return run


def pytensor_step(values, x, y):
    """One PyTensor step as a callable (None when PyTensor is not installed)."""
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        return None
    shared = [pytensor.shared(v.copy()) for v in values]
    xs, ys = pt.fmatrix(), pt.ivector()
    h = xs
    for k in range(0, len(shared), 2):
        h = h @ shared[k] + shared[k + 1]
        if k + 2 < len(shared):
            h = pt.maximum(h, 0)
    loss = -pt.mean(pt.special.log_softmax(h, axis=-1)[pt.arange(ys.shape[0]), ys])
    grads = pytensor.grad(loss, shared)
    f = pytensor.function([xs, ys], loss,
                          updates=[(p, p - LR * g) for p, g in zip(shared, grads)])
    return lambda: f(x, y)


# --------------------------------------------------------------------------------------


COOL_DOWN_S = 0.25
ONE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "TENSORJIT_NUM_THREADS": "1",
                  "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false "
                               "intra_op_parallelism_threads=1"}


def timed_in_turns(fns: dict, repeat: int, rounds: int) -> dict:
    """name -> median over rounds of the median ms of ``repeat`` calls, each fn timed
    after a cool-down, the fns taking turns within a round."""
    per_round: dict = {name: [] for name, fn in fns.items() if fn is not None}
    for _ in range(rounds):
        for name in per_round:
            time.sleep(COOL_DOWN_S)
            per_round[name].append(median_ms(fns[name], repeat))
    out = {name: statistics.median(ms) for name, ms in per_round.items()}
    out.update({name: None for name, fn in fns.items() if fn is None})
    return out


def measure(repeat: int, rounds: int) -> dict:
    """Everything timed in this process (its thread setting is the environment's)."""
    values = init_params()
    x, y = data()
    step, grad_fn, hvp_fn, compile_s = build_tensorjit(values)
    vs = [np.random.default_rng(3).normal(size=v.shape).astype("float32") for v in values]
    np_params = [v.copy() for v in values]
    fns = {"tensorjit_step_ms": lambda: step(x, y),
           "numpy_step_ms": lambda: numpy_step(np_params, x, y),
           "jax_step_ms": jax_step(values, x, y),
           "pytensor_step_ms": pytensor_step(values, x, y),
           "tensorjit_grad_ms": lambda: grad_fn(x, y),
           "tensorjit_hvp_ms": lambda: hvp_fn(x, y, *vs)}
    res = timed_in_turns(fns, repeat, rounds)
    res["compile_step_s"] = compile_s
    res["fallbacks"] = {"step": [str(n.op) for n in step.fallbacks],
                        "grad": [str(n.op) for n in grad_fn.fallbacks],
                        "hvp": sorted({str(n.op) for n in hvp_fn.fallbacks})}
    gemm_tj, gemm_np, rows = time_gemms(repeat)
    res.update(gemm_total_tensorjit_ms=gemm_tj, gemm_total_numpy_ms=gemm_np, gemms=rows)
    return res


def run_setting(threads: str, repeat: int, rounds: int) -> dict:
    """measure() in a new process with the thread setting ("1" or "default")."""
    env = dict(os.environ)
    pin = None
    if threads == "1":
        env.update(ONE_THREAD_ENV)
        pin = sorted(os.sched_getaffinity(0))[:1]
    code = (f"import json, os, sys; sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})\n"
            f"{'os.sched_setaffinity(0, ' + repr(set(pin)) + ')' if pin else ''}\n"
            f"import bench_mlp\nprint(json.dumps(bench_mlp.measure({repeat}, {rounds})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", choices=["1", "default", "both"], default="both")
    parser.add_argument("--json", default=str(pathlib.Path(__file__).parent / "results" /
                                              "bench_mlp.json"))
    args = parser.parse_args()
    settings = ["1", "default"] if args.threads == "both" else [args.threads]
    results = {}
    for threads in settings:
        res = run_setting(threads, args.repeat, args.rounds)
        report(res, threads)
        results[threads] = res
    results["machine"] = {"cpu": platform.processor() or platform.machine(),
                          "cores": os.cpu_count(),
                          "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {path}")


def report(res: dict, threads: str) -> None:
    step = res["tensorjit_step_ms"]
    print(f"\nMLP 784-512-512-10 relu, softmax CE, batch {BATCH}, float32, threads: {threads} "
          f"(compile {res['compile_step_s'] * 1e3:.0f} ms)")
    print(f"{'':28s}{'ms/step':>10s}{'vs tensorjit':>14s}")
    for key, label in [("tensorjit_step_ms", "tensorjit llvm"), ("numpy_step_ms", "NumPy"),
                       ("jax_step_ms", "JAX jit"), ("pytensor_step_ms", "PyTensor")]:
        value = res[key]
        if value is None:
            print(f"{label:28s}{'n/a':>10s}")
        else:
            print(f"{label:28s}{value:10.3f}{value / step:13.2f}x")
    grad, hvp = res["tensorjit_grad_ms"], res["tensorjit_hvp_ms"]
    print(f"gradient {grad:.3f} ms, Hessian-vector product {hvp:.3f} ms "
          f"(ratio {hvp / grad:.2f}, target <= 2.5)")
    print(f"the step's 8 GEMMs alone: tensorjit {res['gemm_total_tensorjit_ms']:.3f} ms, "
          f"np.dot {res['gemm_total_numpy_ms']:.3f} ms")
    for row in res["gemms"]:
        print(f"  {row['shape']:28s} tj {row['tensorjit_ms']:.3f} ms "
              f"({row['tensorjit_gflops']:.0f} GFLOP/s)  np.dot {row['numpy_ms']:.3f} ms")
    for name, ops in res["fallbacks"].items():
        print(f"fallbacks ({name}): {ops or 'none'}")


if __name__ == "__main__":
    main()
