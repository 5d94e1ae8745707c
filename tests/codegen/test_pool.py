"""The persistent native thread pool (codegen/pool.py): every task runs exactly once,
concurrent callers, threads beyond the cores, and a process using it exits promptly."""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from llvmlite import ir

from tensorjit.codegen import gemm, jit, pool

I32, I64 = ir.IntType(32), ir.IntType(64)
I8P = ir.IntType(8).as_pointer()


def _counting_module() -> str:
    """task(ctx, i): counts[i] += 1 (atomically), then spins ctx-given cycles; recorded
    thread id in ids[i]. drive(counts, ids, spin, n, threads) runs the pool."""
    m = ir.Module(name="pool_test")
    run = pool.declare(m)
    self_id = ir.Function(m, ir.FunctionType(I64, []), "pthread_self")
    ctx_ty = ir.LiteralStructType([I32.as_pointer(), I64.as_pointer(), I64, I64])
    task = ir.Function(m, ir.FunctionType(ir.VoidType(), [I8P, I64]), "task")
    b = ir.IRBuilder(task.append_basic_block("entry"))
    ctx = b.bitcast(task.args[0], ctx_ty.as_pointer())
    counts, ids, spin = (b.load(b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, k)]))
                         for k in range(3))
    i = task.args[1]
    b.atomic_rmw("add", b.gep(counts, [i]), ir.Constant(I32, 1), "seq_cst")
    b.store(b.call(self_id, []), b.gep(ids, [i]))
    # a little work, so that several threads get to claim tasks
    loop, out = task.append_basic_block("loop"), task.append_basic_block("out")
    start = b.block
    b.branch(loop)
    b.position_at_end(loop)
    k = b.phi(I64)
    k.add_incoming(ir.Constant(I64, 0), start)
    acc = b.phi(I64)
    acc.add_incoming(i, start)
    nacc = b.add(b.mul(acc, ir.Constant(I64, 6364136223846793005)), ir.Constant(I64, 1))
    nk = b.add(k, ir.Constant(I64, 1))
    k.add_incoming(nk, loop)
    acc.add_incoming(nacc, loop)
    b.cbranch(b.icmp_signed("<", nk, spin), loop, out)
    b.position_at_end(out)
    sink = b.gep(ctx, [ir.Constant(I32, 0), ir.Constant(I32, 3)])
    b.store_atomic(nacc, sink, "monotonic", 8)  # keeps the loop from being folded away
    b.ret_void()
    drive = ir.Function(m, ir.FunctionType(I32, [I8P, I64, I64]), "drive")
    b = ir.IRBuilder(drive.append_basic_block("entry"))
    b.ret(b.call(run, [task, drive.args[0], drive.args[1], drive.args[2]]))
    return str(m)


@functools.cache
def _driver():
    lib = jit.compile_ir(_counting_module(), "pool_test", symbols=pool.symbols())
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)(
        lib.address("drive"))
    return lib, fn


class _Ctx(ctypes.Structure):
    _fields_ = [("counts", ctypes.c_void_p), ("ids", ctypes.c_void_p),
                ("spin", ctypes.c_int64), ("sink", ctypes.c_int64)]


def _run(n: int, threads: int, spin: int = 0) -> tuple[np.ndarray, np.ndarray]:
    _, drive = _driver()
    counts = np.zeros(max(n, 1), np.int32)
    ids = np.zeros(max(n, 1), np.uint64)
    ctx = _Ctx(counts.ctypes.data, ids.ctypes.data, spin, 0)
    assert drive(ctypes.addressof(ctx), n, threads) == 0
    return counts[:n], ids[:n]


@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_every_task_runs_exactly_once(n, threads):
    for _ in range(20):
        counts, _ = _run(n, threads)
        assert counts.tolist() == [1] * n


def test_both_threads_work_and_workers_persist():
    lib = pool.library()
    _run(64, 2, spin=200_000)  # first use starts the worker
    before = lib.workers()
    assert before >= 1
    used = set()
    for _ in range(20):
        counts, ids = _run(64, 2, spin=200_000)
        assert (counts == 1).all()
        used |= set(ids.tolist())
    assert len(used) >= 2, "no task ever ran on a worker"
    assert lib.workers() == before  # no new threads per call


def test_more_threads_than_cores():
    counts, _ = _run(5000, 8, spin=100)
    assert (counts == 1).all()
    assert pool.library().workers() >= 7


def test_after_the_workers_fell_asleep():
    lib = pool.library()
    lib.set_spin(0)  # idle threads go straight to their futex
    try:
        for _ in range(50):
            _run(100, 2, spin=1000)
            time.sleep(0.001)
            counts, _ = _run(100, 2, spin=1000)
            assert (counts == 1).all()
    finally:
        lib.set_spin(pool.CONFIG.spin_cycles)


def test_concurrent_callers_from_two_python_threads():
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(300):
            n = int(rng.integers(0, 300))
            counts, _ = _run(n, int(rng.integers(1, 4)), spin=int(rng.integers(0, 2000)))
            if counts.tolist() != [1] * n:
                errors.append(f"n={n}: {np.unique(counts)}")
    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_runs_its_tasks_alone():
    # documented limit: the child has no workers; every task still runs exactly once
    _run(100, 2)  # the parent's workers exist
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        ok = all((_run(300, 2, spin=100)[0] == 1).all() for _ in range(10))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_kernels_call_the_pool():
    import tensorjit as tj
    x = tj.fvector("x")
    f = tj.function([x], tj.exp(x) * 2.0, mode="llvm", threads=2, optimizer=None)
    assert "tj_pool_run" in str(f.program.module_ir)
    a = np.linspace(-3, 3, 1 << 20, dtype=np.float32)
    np.testing.assert_allclose(f(a), np.exp(a) * 2, rtol=1e-6)


def test_process_using_the_pool_exits_promptly():
    code = textwrap.dedent("""
        import numpy as np, tensorjit as tj
        from tensorjit.codegen import gemm, pool
        x = tj.fvector("x")
        f = tj.function([x], tj.exp(x) + 1.0, mode="llvm", threads=2)
        a = np.ones(1 << 20, np.float32)
        for _ in range(5):
            f(a)
        m = np.ones((256, 256), np.float32)
        gemm.gemm(m, m, threads=2)
        assert pool.library().workers() >= 1
        import time
        print("ok", time.time(), flush=True)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "ok"
    # the exit itself, with the workers still spinning, does not wait for them
    exit_s = time.time() - float(out.stdout.split()[-1])
    assert exit_s < 5, f"exit took {exit_s:.1f} s"


def test_calls_openblas_follows_the_gemm_choice(monkeypatch):
    import tensorjit as tj
    monkeypatch.setenv("TENSORJIT_GEMM", "blas")
    x = tj.fmatrix("x")
    wide, narrow = tj.tensor("float32", (512, 512)), tj.tensor("float32", (512, 10))
    f = tj.function([x, wide], x @ wide, mode="llvm")
    assert pool.calls_openblas(f.program.nodes)
    assert pool.kernel_threads(f.program.nodes, 2) == 1
    monkeypatch.setenv("TENSORJIT_GEMM", "jit")
    assert not pool.calls_openblas(f.program.nodes)
    assert pool.kernel_threads(f.program.nodes, 2) == 2
    g = tj.function([x, narrow], tj.exp(x @ narrow), mode="llvm")
    monkeypatch.setenv("TENSORJIT_GEMM", "auto")
    # n = 10 takes the library's direct path wherever the library is the backend
    assert pool.calls_openblas(g.program.nodes) == (gemm.backend() == "blas")
    v = tj.fvector("v")
    h = tj.function([v, wide], v @ wide, mode="llvm")  # a gemv: always OpenBLAS
    assert pool.calls_openblas(h.program.nodes)
    assert not pool.calls_openblas(tj.function([v], v * 2.0, mode="llvm").program.nodes)

