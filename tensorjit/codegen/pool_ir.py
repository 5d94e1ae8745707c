"""LLVM IR of the persistent thread pool: workers that wait, spin, then sleep on a futex.

The module exports ``i32 tj_pool_run(void (*fn)(i8* ctx, i64 task), i8* ctx, i64 n_tasks,
i64 threads)``: fn(ctx, i) runs exactly once for every i in [0, n_tasks), on up to
``threads`` threads counting the caller, which works too; it returns (0) once all have
finished. Also ``tj_pool_set_spin(cycles)`` (how long an idle thread spins before it
sleeps), ``tj_pool_set_spinners(k)`` (only workers 0..k-1 spin; the others, beyond the
cores, sleep at once) and ``tj_pool_workers()`` (workers started so far).

Protocol (all atomics sequentially consistent; the costs are nothing next to a task):

- One job at a time, under a try-lock: a caller that finds the pool busy (another
  Python thread, or a task calling the pool again) runs its tasks alone, on its thread.
- A job is published seqlock-style: ``ticket`` = (generation << 32 | next task) is
  first closed (next = 0xffffffff, nothing claimable), then fn/ctx/n are stored, then
  the ticket opens at (generation, 0). A thread claims task i by a compare-and-swap of
  the ticket from (g, i) to (g, i + 1); it succeeds only if the ticket never changed
  since the thread read it and the job's fields, so the fields it read are that job's.
  Claims are dynamic: a late helper costs nothing, the caller takes what is left.
- ``done`` counts finished tasks; the caller returns when it reaches n_tasks, so no
  thread touches ``ctx`` after the call returned (a task is claimed before the count is
  reached and counted after fn returned).
- Workers wait for ``wake`` (a counter bumped per job) to change: spinning with
  ``pause`` for ``spin`` cycles (rdtsc), then in FUTEX_WAIT_PRIVATE on their own word
  ``asleep[w]`` (set to 1 first, then ``wake`` re-checked). The caller bumps ``wake``,
  then swaps 0 into ``asleep[w]`` of the workers it wants and wakes those that were 1
  (Dekker-style: either the worker sees the new ``wake`` or the caller sees its flag;
  a swap that came first makes the futex wait return at once). Workers not taking part
  are not woken. The caller waits for ``done`` the same way (flag ``waiting``).

Workers are created on first use (pthread_create + pthread_detach, all signals blocked
so the interpreter's handlers run on its own threads) and are never joined: process exit
(exit_group) ends them wherever they are, so exit never waits for them. Not fork-safe
in the sense of keeping threads: a child process has no workers (it still inherits
their count), so its callers run every task themselves - correct, single-threaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .irutils import I32, I64, for_range

I8P = ir.IntType(8).as_pointer()
I1 = ir.IntType(1)
TASK = ir.FunctionType(ir.VoidType(), [I8P, I64])
RUN = ir.FunctionType(I32, [TASK.as_pointer(), I8P, I64, I64])
_START = ir.FunctionType(I8P, [I8P])
SYS_FUTEX = 202            # x86-64
FUTEX_WAIT_PRIVATE = 128   # FUTEX_WAIT | FUTEX_PRIVATE_FLAG
FUTEX_WAKE_PRIVATE = 129
CLOSED = 0xFFFFFFFF
_SEQ = "seq_cst"


@dataclass(frozen=True)
class PoolConfig:
    """Build parameters of the pool library."""

    max_workers: int = 63     # helper threads at most (the caller is one more)
    spin_cycles: int = 1 << 18  # default idle spin, in TSC cycles (~100 us at 2.6 GHz)


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def c32(v: int) -> ir.Constant:
    return ir.Constant(I32, v)


class PoolBuilder:
    """Builds the pool module."""

    def __init__(self, cfg: PoolConfig) -> None:
        self.cfg = cfg
        m = self.module = ir.Module(name="tj_pool")
        self.g = {name: self._global(name, ty, init) for name, ty, init in [
            ("lock", I32, 0), ("workers", I64, 0), ("ticket", I64, 0), ("fn", I8P, None),
            ("ctx", I8P, None), ("n", I64, 0), ("helpers", I64, 0), ("done", I32, 0),
            ("waiting", I32, 0), ("wake", I32, 0),
            ("spin", I64, cfg.spin_cycles), ("spinners", I64, cfg.max_workers)]}
        # asleep[w]: worker w's futex word (1 while it sleeps), one cache line each
        line = ir.ArrayType(I32, 16)
        self.g["asleep"] = self._global("asleep", ir.ArrayType(line, cfg.max_workers), None)
        self.pause = ir.Function(m, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
        self.rdtsc = ir.Function(m, ir.FunctionType(I64, []), "llvm.readcyclecounter")
        self.syscall = ir.Function(m, ir.FunctionType(I64, [I64], var_arg=True), "syscall")

    def _global(self, name: str, ty: ir.Type, init) -> ir.GlobalVariable:
        var = ir.GlobalVariable(self.module, ty, f"tj_pool.{name}")
        var.initializer = ir.Constant(ty, init)
        var.linkage = "internal"
        var.align = 64  # one cache line each: the spinning threads read wake/done/ticket
        return var

    def _load(self, b: ir.IRBuilder, name: str) -> ir.Value:
        var = self.g[name]
        return b.load_atomic(var, _SEQ, 8 if var.value_type in (I64, I8P) else 4)

    def _store(self, b: ir.IRBuilder, name: str, value: ir.Value) -> None:
        var = self.g[name]
        b.store_atomic(value, var, _SEQ, 8 if var.value_type in (I64, I8P) else 4)

    def _futex(self, b: ir.IRBuilder, name: str, op: int, value: ir.Value) -> None:
        addr = b.bitcast(self.g[name], I8P)
        b.call(self.syscall, [c64(SYS_FUTEX), addr, c64(op), value, ir.Constant(I8P, None)])

    def build(self) -> ir.Module:
        """Emit every function; return the module."""
        self.claim = self._claim_loop()
        self.wait = self._wait_change()
        self.worker = self._worker()
        self.grow = self._grow()
        self._run()
        for name in ("spin", "spinners"):
            fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [I64]),
                             f"tj_pool_set_{name}")
            b = ir.IRBuilder(fn.append_basic_block("entry"))
            self._store(b, name, fn.args[0])
            b.ret_void()
        fn = ir.Function(self.module, ir.FunctionType(I64, []), "tj_pool_workers")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        b.ret(self._load(b, "workers"))
        return self.module

    def _internal(self, name: str, ret: ir.Type, args: list[ir.Type]
                  ) -> tuple[ir.Function, ir.IRBuilder]:
        fn = ir.Function(self.module, ir.FunctionType(ret, args), f"tj_pool_{name}")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def _claim_loop(self) -> ir.Function:
        """claim(w): run tasks of the open job while any is left; w < 0 (the caller) or
        w < helpers takes part. Returns 1 if it ran at least one task."""
        fn, b = self._internal("claim", I1, [I64])
        (w,) = fn.args
        loop, claimed, out = (b.append_basic_block(s) for s in ("loop", "claimed", "out"))
        entry = b.block
        b.branch(loop)
        b.position_at_end(loop)
        ran = b.phi(I1, "ran")
        ran.add_incoming(ir.Constant(I1, 0), entry)
        ticket = self._load(b, "ticket")
        task = b.and_(ticket, c64(CLOSED))
        job_fn = b.bitcast(self._load(b, "fn"), TASK.as_pointer())
        ctx, n, helpers = (self._load(b, k) for k in ("ctx", "n", "helpers"))
        mine = b.icmp_signed("<", w, helpers)
        left = b.icmp_signed("<", task, n)
        try_claim = b.append_basic_block("try")
        b.cbranch(b.and_(mine, left), try_claim, out)
        b.position_at_end(try_claim)
        pair = b.cmpxchg(self.g["ticket"], ticket, b.add(ticket, c64(1)), _SEQ, _SEQ)
        b.cbranch(b.extract_value(pair, 1), claimed, loop)
        ran.add_incoming(ran, try_claim)
        b.position_at_end(claimed)
        b.call(job_fn, [ctx, task])
        finished = b.add(b.atomic_rmw("add", self.g["done"], c32(1), _SEQ), c32(1))
        last = b.icmp_signed("==", b.zext(finished, I64), n)
        with b.if_then(b.and_(last, b.icmp_signed("!=", self._load(b, "waiting"), c32(0)))):
            self._futex(b, "done", FUTEX_WAKE_PRIVATE, c64(1))
        ran.add_incoming(ir.Constant(I1, 1), b.block)
        b.branch(loop)
        b.position_at_end(out)
        b.ret(ran)
        return fn

    def _wait_change(self) -> ir.Function:
        """wait(word, seen, spin, flag, addr, value): return the 32-bit ``word``'s value
        once it differs from ``seen``: spin with pause for ``spin`` cycles, then sleep:
        set ``flag`` to 1 (the waker reads it), re-check ``word``, FUTEX_WAIT on
        ``addr`` while it holds ``value``; repeat until ``word`` changed."""
        ptr = I32.as_pointer()
        fn, b = self._internal("wait", I32, [ptr, I32, I64, ptr, ptr, I32])
        word, seen, spin, flag, addr, value = fn.args
        start = b.call(self.rdtsc, [])
        spin_bb, pause_bb, sleep_bb, got = (b.append_basic_block(s) for s in
                                            ("spin", "pause", "sleep", "got"))
        b.branch(spin_bb)
        b.position_at_end(spin_bb)
        cur = b.load_atomic(word, _SEQ, 4)
        b.cbranch(b.icmp_unsigned("!=", cur, seen), got, pause_bb)
        b.position_at_end(pause_bb)
        b.call(self.pause, [])
        elapsed = b.sub(b.call(self.rdtsc, []), start)
        b.cbranch(b.icmp_unsigned("<", elapsed, spin), spin_bb, sleep_bb)
        b.position_at_end(sleep_bb)
        b.store_atomic(c32(1), flag, _SEQ, 4)
        again = b.load_atomic(word, _SEQ, 4)
        with b.if_then(b.icmp_unsigned("==", again, seen)):
            b.call(self.syscall, [c64(SYS_FUTEX), b.bitcast(addr, I8P),
                                  c64(FUTEX_WAIT_PRIVATE), b.zext(value, I64),
                                  ir.Constant(I8P, None)])
        cur2 = b.load_atomic(word, _SEQ, 4)
        woke = b.append_basic_block("woke")
        b.cbranch(b.icmp_unsigned("!=", cur2, seen), woke, sleep_bb)
        b.position_at_end(woke)
        b.store_atomic(c32(0), flag, _SEQ, 4)  # awake: spare the waker a futex call
        tail = b.block
        b.branch(got)
        b.position_at_end(got)
        result = b.phi(I32)
        result.add_incoming(cur, spin_bb)
        result.add_incoming(cur2, tail)
        b.ret(result)
        return fn

    def _worker(self) -> ir.Function:
        """A worker's whole life: wait for a job, take part, wait again."""
        fn, b = self._internal("worker", I8P, [I8P])
        w = b.ptrtoint(fn.args[0], I64)
        entry = b.block
        first = self._load(b, "wake")
        spin0 = self._spin_budget(b, w)
        loop = b.append_basic_block("loop")
        b.branch(loop)
        b.position_at_end(loop)
        seen = b.phi(I32, "seen")
        spin = b.phi(I64, "spin")
        seen.add_incoming(first, entry)
        spin.add_incoming(spin0, entry)
        asleep = b.gep(self.g["asleep"], [c32(0), w, c32(0)])
        cur = b.call(self.wait, [self.g["wake"], seen, spin, asleep, asleep, c32(1)])
        b.call(self.claim, [w])
        seen.add_incoming(cur, b.block)
        # spin again even if this job was over before the worker got to it: jobs come
        # in runs (the kernels of one call), and a sleeper costs the next one a wake-up
        spin.add_incoming(self._spin_budget(b, w), b.block)
        b.branch(loop)
        return fn

    def _spin_budget(self, b: ir.IRBuilder, w: ir.Value) -> ir.Value:
        """Worker w's idle spin: none for workers beyond ``spinners`` (set to the cores
        minus one), which would only take the cores from the threads doing work."""
        mine = b.icmp_signed("<", w, self._load(b, "spinners"))
        return b.select(mine, self._load(b, "spin"), c64(0))

    def _grow(self) -> ir.Function:
        """grow(target): start workers until there are ``target``; returns how many
        there are (fewer if pthread_create failed). Called under the run lock."""
        m = self.module
        create = ir.Function(m, ir.FunctionType(I32, [I64.as_pointer(), I8P,
                                                      _START.as_pointer(), I8P]),
                             "pthread_create")
        detach = ir.Function(m, ir.FunctionType(I32, [I64]), "pthread_detach")
        sigmask = ir.Function(m, ir.FunctionType(I32, [I32, I8P, I8P]), "pthread_sigmask")
        fn, b = self._internal("grow", I64, [I64])
        (target,) = fn.args
        sigset = ir.ArrayType(I64, 16)  # glibc's sigset_t: 1024 bits
        full, old = b.alloca(sigset, name="full"), b.alloca(sigset, name="old")
        tid = b.alloca(I64, name="tid")
        for i in range(16):
            b.store(c64(-1), b.gep(full, [c32(0), c32(i)]))
        have = self._load(b, "workers")
        entry = b.block
        head, body, out = (b.append_basic_block(s) for s in ("head", "body", "out"))
        b.branch(head)
        b.position_at_end(head)
        count = b.phi(I64, "count")
        count.add_incoming(have, entry)
        b.cbranch(b.icmp_signed("<", count, target), body, out)
        b.position_at_end(body)
        # the worker inherits a mask blocking every signal: handlers run elsewhere
        b.call(sigmask, [c32(0), b.bitcast(full, I8P), b.bitcast(old, I8P)])
        rc = b.call(create, [tid, ir.Constant(I8P, None), self.worker,
                             b.inttoptr(count, I8P)])
        b.call(sigmask, [c32(2), b.bitcast(old, I8P), ir.Constant(I8P, None)])
        started = b.append_basic_block("started")
        b.cbranch(b.icmp_signed("==", rc, c32(0)), started, out)
        b.position_at_end(started)
        b.call(detach, [b.load(tid)])
        nxt = b.add(count, c64(1))
        self._store(b, "workers", nxt)
        count.add_incoming(nxt, started)
        b.branch(head)
        b.position_at_end(out)
        result = b.phi(I64)
        result.add_incoming(count, head)
        result.add_incoming(count, body)
        b.ret(result)
        return fn

    def _run(self) -> ir.Function:
        """The exported tj_pool_run (see the module docstring)."""
        fn = ir.Function(self.module, RUN, "tj_pool_run")
        task_fn, ctx, n, threads = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        serial, pooled = b.append_basic_block("serial"), b.append_basic_block("pooled")
        with b.if_then(b.icmp_signed("<=", n, c64(0))):
            b.ret(c32(0))
        alone = b.or_(b.icmp_signed("<=", threads, c64(1)), b.icmp_signed("==", n, c64(1)))
        alone = b.or_(alone, b.icmp_signed(">=", n, c64(CLOSED)))
        locked = b.append_basic_block("try_lock")
        b.cbranch(alone, serial, locked)
        b.position_at_end(locked)
        got = b.cmpxchg(self.g["lock"], c32(0), c32(1), _SEQ, _SEQ)
        b.cbranch(b.extract_value(got, 1), pooled, serial)

        b.position_at_end(pooled)
        want = _min(b, _min(b, b.sub(threads, c64(1)), c64(self.cfg.max_workers)),
                    b.sub(n, c64(1)))
        helpers = _min(b, want, b.call(self.grow, [want]))
        go, give_up = b.append_basic_block("go"), b.append_basic_block("give_up")
        b.cbranch(b.icmp_signed("<=", helpers, c64(0)), give_up, go)
        b.position_at_end(give_up)  # no worker could be started: unlock, run alone
        self._store(b, "lock", c32(0))
        b.branch(serial)
        b.position_at_end(go)
        base = b.shl(b.add(b.lshr(self._load(b, "ticket"), c64(32)), c64(1)), c64(32))
        self._store(b, "ticket", b.or_(base, c64(CLOSED)))
        self._store(b, "fn", b.bitcast(task_fn, I8P))
        self._store(b, "ctx", ctx)
        self._store(b, "n", n)
        self._store(b, "helpers", helpers)
        self._store(b, "done", c32(0))
        self._store(b, "waiting", c32(0))
        self._store(b, "ticket", base)
        b.atomic_rmw("add", self.g["wake"], c32(1), _SEQ)
        self._wake_helpers(b, helpers)
        b.call(self.claim, [c64(-1)])
        self._wait_done(b, n)
        self._store(b, "lock", c32(0))
        b.ret(c32(0))

        b.position_at_end(serial)
        loop = b.append_basic_block("serial.loop")
        start = b.block
        b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(I64, "i")
        i.add_incoming(c64(0), start)
        b.call(task_fn, [ctx, i])
        nxt = b.add(i, c64(1))
        i.add_incoming(nxt, loop)
        end = b.append_basic_block("serial.end")
        b.cbranch(b.icmp_signed("<", nxt, n), loop, end)
        b.position_at_end(end)
        b.ret(c32(0))
        return fn

    def _wake_helpers(self, b: ir.IRBuilder, helpers: ir.Value) -> None:
        """Wake the sleeping workers among 0..helpers-1 (each on its own futex word, so
        workers not taking part sleep on)."""
        with for_range(b, helpers, name="w") as w:
            slot = b.gep(self.g["asleep"], [c32(0), w, c32(0)])
            was = b.atomic_rmw("xchg", slot, c32(0), _SEQ)
            with b.if_then(b.icmp_unsigned("!=", was, c32(0))):
                b.call(self.syscall, [c64(SYS_FUTEX), b.bitcast(slot, I8P),
                                      c64(FUTEX_WAKE_PRIVATE), c64(1), ir.Constant(I8P, None)])

    def _wait_done(self, b: ir.IRBuilder, n: ir.Value) -> None:
        """Wait until ``done`` reaches n (tasks others claimed may still be running)."""
        before = b.block
        head, body, out = (b.append_basic_block(s) for s in ("wait", "wait.body", "wait.out"))
        first = self._load(b, "done")
        b.branch(head)
        b.position_at_end(head)
        d = b.phi(I32, "d")
        d.add_incoming(first, before)
        b.cbranch(b.icmp_signed("==", b.zext(d, I64), n), out, body)
        b.position_at_end(body)
        nxt = b.call(self.wait, [self.g["done"], d, self._load(b, "spin"), self.g["waiting"],
                                 self.g["done"], d])
        d.add_incoming(nxt, body)
        b.branch(head)
        b.position_at_end(out)


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def build_ir(cfg: PoolConfig) -> str:
    """The textual IR of the pool library for ``cfg``."""
    return str(PoolBuilder(cfg).build())
