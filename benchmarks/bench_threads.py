"""Thread benchmark: the persistent pool (codegen/pool.py) for kernels, GEMMs and the MLP.

Sections (medians, microseconds unless said otherwise):

- ``pool``: the cost of one tj_pool_run of two empty tasks on 1 and 2 threads.
- ``elemwise``: ``exp(x)`` and ``x * 2 + 1`` float32 at 16K..4M elements, threads=1 vs
  2, with the split threshold forced to 0 (``parallel.MIN_PARALLEL``): where 2 threads
  win. (The function cache is off for this section: the threshold is not in its key.)
- ``gemm``: the MLP step's products (bench_gemm.SHAPES) through the JIT GEMM library on
  1 and 2 threads.
- ``mlp``: the MLP step of bench_mlp.py (forward + backward + SGD through updates) in
  three settings: TENSORJIT_NUM_THREADS=1 (everything on one thread), the default (the
  GEMMs on the library's default threads, the other kernels on 1 thread: runtime/
  native.py's rule for functions with matrix products), and threads=2 for the kernels
  too; plus JAX when installed. Each setting runs in a fresh subprocess.

Run: ``python benchmarks/bench_threads.py [--repeat 200] [--only pool,elemwise,gemm,mlp]
[--json PATH]``. It also runs on a tree without the pool (prints what it can), which
is how the before/after numbers of the pool's introduction were taken.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # shared helper
from timing import median_seconds  # noqa: E402

if "--only" not in sys.argv or "elemwise" in sys.argv[sys.argv.index("--only") + 1]:
    os.environ["TENSORJIT_CACHE_DIR"] = ""  # before tensorjit is imported; see above

HERE = pathlib.Path(__file__).resolve().parent


def median_us(fn, repeat: int, warmup: int = 10) -> float:
    """Median wall time of fn() in microseconds."""
    return median_seconds(fn, repeat, warmup) * 1e6


def bench_pool(repeat: int) -> dict:
    """One run of two empty tasks through tj_pool_run (None without the pool)."""
    try:
        from tensorjit.codegen import pool
    except ImportError:
        return {}
    from llvmlite import ir

    from tensorjit.codegen import jit
    m = ir.Module(name="bench_pool")
    run = pool.declare(m)
    task = ir.Function(m, pool.TASK, "task")
    ir.IRBuilder(task.append_basic_block("entry")).ret_void()
    drive = ir.Function(m, ir.FunctionType(ir.IntType(32), [ir.IntType(64)]), "drive")
    b = ir.IRBuilder(drive.append_basic_block("entry"))
    b.ret(b.call(run, [task, ir.Constant(ir.IntType(8).as_pointer(), None),
                       ir.Constant(ir.IntType(64), 2), drive.args[0]]))
    lib = jit.compile_ir(str(m), "bench_pool", symbols=pool.symbols())
    import ctypes
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64)(lib.address("drive"))
    return {f"pool_run_{t}t_us": median_us(lambda t=t: fn(t), repeat * 10) for t in (1, 2)}


def bench_elemwise(repeat: int) -> list[dict]:
    """exp(x) on 1 and 2 threads, the split threshold at 0."""
    import tensorjit as tj
    from tensorjit.codegen import parallel
    saved = parallel.MIN_PARALLEL
    parallel.MIN_PARALLEL = 1
    rows = []
    try:
        x = tj.fvector("x")
        for name, expr in (("exp(x)", tj.exp(x)), ("x*2+1", x * 2.0 + 1.0)):
            fs = {t: tj.function([x], expr, mode="llvm", threads=t) for t in (1, 2)}
            for log2 in range(14, 23):
                a = np.random.default_rng(log2).standard_normal(1 << log2).astype("float32")
                row = {"expr": name, "n": 1 << log2}
                for t, f in fs.items():
                    row[f"{t}t_us"] = median_us(lambda f=f, a=a: f(a), repeat)
                row["speedup"] = row["1t_us"] / row["2t_us"]
                rows.append(row)
    finally:
        parallel.MIN_PARALLEL = saved
    return rows


def bench_gemm(repeat: int) -> list[dict]:
    """The MLP's products through the JIT GEMM library on 1 and 2 threads."""
    sys.path.insert(0, str(HERE))
    from bench_gemm import SHAPES, operands

    from tensorjit.codegen import gemm
    rows = []
    for m, k, n, ta, tb in SHAPES:
        a, b = operands(m, k, n, ta, tb, "float32")
        c = np.empty((m, n), "float32")
        row = {"shape": f"({m},{k})@({k},{n}){'T' if ta else 'N'}{'T' if tb else 'N'}"}
        reps = max(repeat // 4, 10) if m * n * k > 1 << 27 else repeat
        for t in (1, 2):
            def run(t=t, a=a, b=b, c=c):
                gemm.gemm(a, b, c, threads=t)
            row[f"{t}t_us"] = median_us(run, reps)
        row["speedup"] = row["1t_us"] / row["2t_us"]
        rows.append(row)
    return rows


MLP_SCRIPT = """
import json, sys, numpy as np
sys.path.insert(0, {here!r})
import tensorjit as tj
from bench_mlp import init_params, data, tj_loss, LR, median_ms
values = init_params(); x, y = data()
shared = [tj.shared(v.copy(), name=f"p{{k}}") for k, v in enumerate(values)]
xs, ys = tj.fmatrix("x"), tj.ivector("y")
loss = tj_loss(shared, xs, ys)
grads = tj.grad(loss, shared)
kw = {{}} if {threads} is None else {{"threads": {threads}}}
step = tj.function([xs, ys], loss, mode="llvm", name="mlp_step",
                   updates=[(p, p - LR * g) for p, g in zip(shared, grads)], **kw)
runs = [median_ms(lambda: step(x, y), {repeat}) for _ in range(5)]
print(json.dumps({{"step_ms": min(runs), "threads": step.program.threads}}))
"""


def bench_mlp(repeat: int) -> list[dict]:
    """The MLP step in fresh processes, per thread setting (best of 5 medians)."""
    settings = [("TENSORJIT_NUM_THREADS=1", {"TENSORJIT_NUM_THREADS": "1"}, None),
                ("default", {}, None),
                ("kernels threads=2", {}, 2)]
    rows = []
    for label, env, threads in settings:
        code = MLP_SCRIPT.format(here=str(HERE), threads=threads, repeat=repeat)
        full_env = {**os.environ, **env}
        if not env:
            full_env.pop("TENSORJIT_NUM_THREADS", None)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=full_env, cwd=HERE.parent, timeout=600, check=False)
        if out.returncode:
            raise RuntimeError(out.stderr)
        rows.append({"setting": label, **json.loads(out.stdout.strip().splitlines()[-1])})
    sys.path.insert(0, str(HERE))
    from bench_mlp import data, init_params, jax_step_ms
    x, y = data()
    jax_ms = jax_step_ms(init_params(), x, y, repeat)
    if jax_ms is not None:
        rows.append({"setting": "jax (own threads)", "step_ms": jax_ms, "threads": None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--only", default="pool,elemwise,gemm,mlp")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    parts = args.only.split(",")
    result: dict = {"cpu_count": os.cpu_count(),
                    "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
    if "pool" in parts:
        result["pool"] = bench_pool(args.repeat)
        for key, value in result["pool"].items():
            print(f"{key:24s}{value:10.2f}")
    if "elemwise" in parts:
        result["elemwise"] = rows = bench_elemwise(args.repeat)
        print(f"\n{'float32, split threshold 0':34s}{'n':>10s}{'1 thread':>12s}"
              f"{'2 threads':>12s}{'speedup':>9s}")
        for r in rows:
            print(f"{r['expr']:34s}{r['n']:>10d}{r['1t_us']:12.1f}{r['2t_us']:12.1f}"
                  f"{r['speedup']:9.2f}")
    if "gemm" in parts:
        result["gemm"] = rows = bench_gemm(args.repeat)
        print(f"\n{'JIT GEMM float32':34s}{'1 thread us':>12s}{'2 threads':>12s}"
              f"{'speedup':>9s}")
        for r in rows:
            print(f"{r['shape']:34s}{r['1t_us']:12.1f}{r['2t_us']:12.1f}{r['speedup']:9.2f}")
    if "mlp" in parts:
        result["mlp"] = rows = bench_mlp(max(args.repeat // 4, 30))
        print(f"\n{'MLP step':34s}{'ms':>8s}{'kernel threads':>16s}")
        for r in rows:
            print(f"{r['setting']:34s}{r['step_ms']:8.3f}{r['threads']!s:>16}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
