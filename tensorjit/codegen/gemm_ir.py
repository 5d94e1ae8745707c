"""LLVM IR of the JIT GEMM library: packing, a register-blocked micro-kernel, threads.

One module per dtype exports ``tj_gemm_<s|d>(transa, transb, m, n, k, alpha, a, lda,
b, ldb, beta, c, ldc, threads)``: row-major ``C = alpha * op(A) @ op(B) + beta * C``
where op(A) is (m, k) and ``transa`` says A is stored as its (k, m) transpose (same
for B). ``beta == 0`` never reads C (BLAS semantics: NaN in C does not propagate).

Roles (the row-major view of GotoBLAS/BLIS with the operands swapped): the vector
direction is n. The micro-kernel keeps an MR x NR tile of C in MR * NR / VW vector
registers; per k step it loads NR / VW vectors of packed B and broadcasts MR packed
elements of A (folded into the FMAs' memory operands). Loops, outermost first:

    for j0 in n step NB:  for p0 in k step KC:
        pack B[p0:p0+KC, j0:j0+NB] into NR-wide panels      (KC x NB: stays in L2)
        for i in m step MR:
            pack A[i:i+MR, p0:p0+KC] into one MR-tall panel  (MR x KC: stays in L1)
            for j in NB step NR: micro-kernel                (B panel streamed from L2)

Packing reads any strides, so transposed operands cost nothing extra, and pads the
edges with zeros: the micro-kernel always computes a whole tile, and an edge tile is
written through a small temporary, so nothing outside C is read or written.
Threads: C is split along m or n (whichever repacks less) into parts, each an
independent blocked product, run as tasks of the persistent thread pool (pool_ir.py:
``tj_pool_run``, linked from outside the module); the caller works on them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .gemm_direct_ir import DirectKernels
from .gemm_pack_ir import emit_transposed_panel
from .irutils import I32, I64, for_range
from .pool_ir import RUN

I8P = ir.IntType(8).as_pointer()
MAX_THREADS = 64


@dataclass(frozen=True)
class GemmConfig:
    """Tile and block sizes of one generated library."""

    dtype: str      # 'float32' or 'float64'
    vw: int         # elements per vector register
    mr: int         # rows of the register tile
    nr: int         # columns of the register tile (a multiple of vw)
    kc: int         # k block
    nb: int         # n block (multiple of nr): the packed B block is kc x nb
    min_thread_work: int = 1 << 21  # m*n*k below which one thread does it all
    tasks_per_thread: int = 1       # parts per thread (pool tasks, claimed dynamically)
    # the direct path (gemm_direct_ir.py) for parts with m*n*k up to direct_work, or
    # at most direct_n columns: there packing costs more than it saves
    direct_work: int = 1 << 17
    direct_n: int = 0

    @property
    def suffix(self) -> str:
        return "s" if self.dtype == "float32" else "d"


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def _min(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def _max(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed(">", x, y), x, y)


def _ceil_div(b: ir.IRBuilder, x: ir.Value, d: int) -> ir.Value:
    return b.sdiv(b.add(x, c64(d - 1)), c64(d))


def _function(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type],
              names: str, internal: bool = True, small: bool = True
              ) -> tuple[ir.Function, ir.IRBuilder]:
    fn = ir.Function(module, ir.FunctionType(ret, args), name=name)
    if small:
        # O(m n + m k + k n) code whose speed hardly matters: optimizing it for size keeps
        # LLVM from versioning and vectorizing it (most of the library's compile time)
        fn.attributes.add("optsize")
        fn.attributes.add("minsize")
    for arg, arg_name in zip(fn.args, names.split()):
        arg.name = arg_name
    if internal:
        fn.linkage = "internal"
        # small separate functions: inlining them all into the driver only multiplies
        # what LLVM optimizes (the library's compile time), not its speed
        fn.attributes.add("noinline")
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


class GemmBuilder:
    """Builds the library module for one GemmConfig."""

    FIELDS = ("m", "n", "k", "alpha", "a", "rsa", "csa", "b", "rsb", "csb", "beta", "c", "ldc")

    def __init__(self, cfg: GemmConfig) -> None:
        self.cfg = cfg
        self.t = ir.FloatType() if cfg.dtype == "float32" else ir.DoubleType()
        self.tp = self.t.as_pointer()
        self.vec = ir.VectorType(self.t, cfg.vw)
        self.size = 4 if cfg.dtype == "float32" else 8
        self.module = ir.Module(name=f"tj_gemm_{cfg.suffix}")
        self.prefix = f"tj_gemm_{cfg.suffix}"
        suffix = f"v{cfg.vw}f{self.size * 8}"  # llvmlite has no intrinsic_name for vectors
        self.fma = ir.Function(self.module, ir.FunctionType(self.vec, [self.vec] * 3),
                               name=f"llvm.fma.{suffix}")
        self.default_threads = ir.GlobalVariable(self.module, I64, f"{self.prefix}_threads")
        self.default_threads.initializer = c64(1)
        self.default_threads.linkage = "internal"

    def build(self) -> ir.Module:
        """Emit every function; return the module."""
        self.ukernel = self._ukernel()
        self.pack_a = self._pack_a()
        self.pack_transposed = emit_transposed_panel(self)
        self.pack_b = self._pack_b()
        self.edge = self._edge_update()
        self.scale = self._scale_c()
        # defined in the direct path's own module (direct_ir), linked in beside this one
        self.direct = ir.Function(self.module, self.driver_type(), name=f"{self.prefix}_direct")
        self.serial = self._serial()
        # the fields of a part (FIELDS), then along_m, per, total, status: one pool job
        self.args_ty = ir.LiteralStructType(
            [I64, I64, I64, self.t, self.tp, I64, I64, self.tp, I64, I64, self.t, self.tp, I64,
             I64, I64, I64, I32])
        self.task = self._task()
        self._entry()
        self._set_threads()
        return self.module

    def driver_type(self) -> ir.FunctionType:
        """i32 (m n k alpha a rsa csa b rsb csb beta c ldc): serial and direct drivers."""
        t, tp = self.t, self.tp
        return ir.FunctionType(I32, [I64, I64, I64, t, tp, I64, I64, tp, I64, I64, t, tp, I64])

    # ------------------------------------------------------------------ micro-kernel
    def _ukernel(self) -> ir.Function:
        """c[MR x NR] (row stride ldc) = alpha * Ap . Bp + beta * c, beta == 0: no read."""
        cfg, t = self.cfg, self.t
        fn, b = _function(self.module, f"{self.prefix}_ukernel", ir.VoidType(),
                          [I64, self.tp, self.tp, self.tp, I64, t, t],
                          "kc ap bp c ldc alpha beta", small=False)
        kc, ap, bp, c, ldc, alpha, beta = fn.args
        nv = cfg.nr // cfg.vw
        vp = self.vec.as_pointer()
        zero = ir.Constant(self.vec, [0.0] * cfg.vw)
        entry = b.block
        body = b.append_basic_block("k.body")
        done = b.append_basic_block("k.done")
        b.cbranch(b.icmp_signed(">", kc, c64(0)), body, done)
        b.position_at_end(body)
        p = b.phi(I64, name="p")
        p.add_incoming(c64(0), entry)
        acc = [[b.phi(self.vec, name=f"acc{r}_{v}") for v in range(nv)] for r in range(cfg.mr)]
        for row in acc:
            for phi in row:
                phi.add_incoming(zero, entry)
        bvals = [b.load(b.bitcast(b.gep(bp, [b.add(b.mul(p, c64(cfg.nr)), c64(v * cfg.vw))]),
                                  vp), align=self.size) for v in range(nv)]
        new = []
        for r in range(cfg.mr):
            a = b.load(b.gep(ap, [b.add(b.mul(p, c64(cfg.mr)), c64(r))]))
            splat = self._splat(b, a)
            new.append([b.call(self.fma, [splat, bvals[v], acc[r][v]]) for v in range(nv)])
        nxt = b.add(p, c64(1), flags=["nsw"])
        p.add_incoming(nxt, b.block)
        for r in range(cfg.mr):
            for v in range(nv):
                acc[r][v].add_incoming(new[r][v], b.block)
        b.cbranch(b.icmp_signed("<", nxt, kc), body, done)
        b.position_at_end(done)
        final = [[b.phi(self.vec) for _ in range(nv)] for _ in range(cfg.mr)]
        for r in range(cfg.mr):
            for v in range(nv):
                final[r][v].add_incoming(zero, entry)
                final[r][v].add_incoming(new[r][v], body)
        self._store_tile(b, final, c, ldc, alpha, beta)
        b.ret_void()
        return fn

    def _splat(self, b: ir.IRBuilder, x: ir.Value) -> ir.Value:
        one = b.insert_element(ir.Constant(self.vec, ir.Undefined), x, ir.Constant(I32, 0))
        mask = ir.Constant(ir.VectorType(I32, self.cfg.vw), [0] * self.cfg.vw)
        return b.shuffle_vector(one, ir.Constant(self.vec, ir.Undefined), mask)

    def _store_tile(self, b, acc, c, ldc, alpha, beta) -> None:
        cfg = self.cfg
        va, vb = self._splat(b, alpha), self._splat(b, beta)
        vp = self.vec.as_pointer()
        rows = [[b.bitcast(b.gep(c, [b.add(b.mul(c64(r), ldc), c64(v * cfg.vw))]), vp)
                 for v in range(len(acc[0]))] for r in range(cfg.mr)]
        zero_beta = b.fcmp_ordered("==", beta, ir.Constant(self.t, 0.0))
        with b.if_else(zero_beta) as (overwrite, update):
            with overwrite:
                for r, row in enumerate(acc):
                    for v, x in enumerate(row):
                        b.store(b.fmul(x, va), rows[r][v], align=self.size)
            with update:
                for r, row in enumerate(acc):
                    for v, x in enumerate(row):
                        old = b.load(rows[r][v], align=self.size)
                        b.store(b.call(self.fma, [x, va, b.fmul(old, vb)]), rows[r][v],
                                align=self.size)

    # ------------------------------------------------------------------ packing
    def _pack_a(self) -> ir.Function:
        """dst[p * MR + r] = A[r, p] for r < mr (zero for mr <= r < MR), p < kc."""
        cfg = self.cfg
        fn, b = _function(self.module, f"{self.prefix}_pack_a", ir.VoidType(),
                          [self.tp, self.tp, I64, I64, I64, I64], "dst a rs cs mr kc")
        dst, a, rs, cs, mr, kc = fn.args
        full = b.icmp_signed("==", mr, c64(cfg.mr))
        zero = ir.Constant(self.t, 0.0)
        with b.if_else(full) as (whole, part):
            with whole, for_range(b, kc, name="p") as p:
                col = b.gep(a, [b.mul(p, cs)])
                for r in range(cfg.mr):
                    x = b.load(b.gep(col, [b.mul(c64(r), rs)]))
                    b.store(x, b.gep(dst, [b.add(b.mul(p, c64(cfg.mr)), c64(r))]))
            with part, for_range(b, kc, name="q") as p:
                col = b.gep(a, [b.mul(p, cs)])
                for r in range(cfg.mr):
                    slot = b.gep(dst, [b.add(b.mul(p, c64(cfg.mr)), c64(r))])
                    with b.if_else(b.icmp_signed("<", c64(r), mr)) as (load, pad):
                        with load:
                            b.store(b.load(b.gep(col, [b.mul(c64(r), rs)])), slot)
                        with pad:
                            b.store(zero, slot)
        b.ret_void()
        return fn

    def _pack_b(self) -> ir.Function:
        """NR-wide panels of B[0:kc, 0:nb]: dst[jp * kc * NR + p * NR + j], zero padded."""
        cfg = self.cfg
        fn, b = _function(self.module, f"{self.prefix}_pack_b", ir.VoidType(),
                          [self.tp, self.tp, I64, I64, I64, I64], "dst src rs cs nb kc",
                          small=False)
        dst, src, rs, cs, nb, kc = fn.args
        with for_range(b, _ceil_div(b, nb, cfg.nr), name="jp") as jp:
            j0 = b.mul(jp, c64(cfg.nr))
            nr = _min(b, b.sub(nb, j0), c64(cfg.nr))
            panel = b.gep(dst, [b.mul(j0, kc)])
            first = b.gep(src, [b.mul(j0, cs)])
            unit = b.icmp_signed("==", cs, c64(1))
            full = b.icmp_signed("==", nr, c64(cfg.nr))
            transposed = b.icmp_signed("==", rs, c64(1))
            with b.if_else(b.and_(unit, full)) as (rows, other):
                with rows:  # row-major B: NR contiguous elements per k step
                    self._copy_rows(b, panel, first, rs, kc)
                with other:
                    with b.if_else(b.and_(transposed, full)) as (columns, edge):
                        with columns:  # B stored transposed: a panel's columns are rows
                            b.call(self.pack_transposed, [panel, first, cs, kc])
                        with edge:
                            b.call(self._copy_generic_function(),
                                   [panel, first, rs, cs, nr, kc])
        b.ret_void()
        return fn

    def _copy_rows(self, b, panel, src, rs, kc) -> None:
        vp = self.vec.as_pointer()
        with for_range(b, kc, name="pr") as p:
            row = b.gep(src, [b.mul(p, rs)])
            out = b.gep(panel, [b.mul(p, c64(self.cfg.nr))])
            for v in range(self.cfg.nr // self.cfg.vw):
                x = b.load(b.bitcast(b.gep(row, [c64(v * self.cfg.vw)]), vp), align=self.size)
                b.store(x, b.bitcast(b.gep(out, [c64(v * self.cfg.vw)]), vp), align=self.size)

    def _copy_generic_function(self) -> ir.Function:
        """Column by column (contiguous reads when B is transposed), then zero padding."""
        cfg = self.cfg
        fn, b = _function(self.module, f"{self.prefix}_pack_b_strided", ir.VoidType(),
                          [self.tp, self.tp, I64, I64, I64, I64], "panel src rs cs nr kc")
        panel, src, rs, cs, nr, kc = fn.args
        with for_range(b, nr, name="jc") as j:
            col = b.gep(src, [b.mul(j, cs)])
            with for_range(b, kc, name="pc") as p:
                x = b.load(b.gep(col, [b.mul(p, rs)]))
                b.store(x, b.gep(panel, [b.add(b.mul(p, c64(cfg.nr)), j)]))
        zero = ir.Constant(self.t, 0.0)
        with for_range(b, c64(cfg.nr), start=nr, name="jz") as j, \
                for_range(b, kc, name="pz") as p:
            b.store(zero, b.gep(panel, [b.add(b.mul(p, c64(cfg.nr)), j)]))
        b.ret_void()
        return fn

    # ------------------------------------------------------------------ C updates
    def _edge_update(self) -> ir.Function:
        """c[r, j] = alpha * tile[r * NR + j] + beta * c[r, j] for r < mr, j < nr."""
        fn, b = _function(self.module, f"{self.prefix}_edge", ir.VoidType(),
                          [self.tp, self.tp, I64, I64, I64, self.t, self.t],
                          "tile c ldc mr nr alpha beta")
        tile, c, ldc, mr, nr, alpha, beta = fn.args
        zero_beta = b.fcmp_ordered("==", beta, ir.Constant(self.t, 0.0))
        with for_range(b, mr, name="r") as r, for_range(b, nr, name="j") as j:
            x = b.fmul(b.load(b.gep(tile, [b.add(b.mul(r, c64(self.cfg.nr)), j)])), alpha)
            slot = b.gep(c, [b.add(b.mul(r, ldc), j)])
            with b.if_else(zero_beta) as (overwrite, update):
                with overwrite:
                    b.store(x, slot)
                with update:
                    b.store(b.fadd(x, b.fmul(b.load(slot), beta)), slot)
        b.ret_void()
        return fn

    def _scale_c(self) -> ir.Function:
        """c = beta * c (beta == 0: zeros, c not read); for k == 0 or alpha == 0."""
        fn, b = _function(self.module, f"{self.prefix}_scale", ir.VoidType(),
                          [self.tp, I64, I64, I64, self.t], "c m n ldc beta")
        c, m, n, ldc, beta = fn.args
        zero_beta = b.fcmp_ordered("==", beta, ir.Constant(self.t, 0.0))
        with for_range(b, m, name="r") as r, for_range(b, n, name="j") as j:
            slot = b.gep(c, [b.add(b.mul(r, ldc), j)])
            value = b.select(zero_beta, ir.Constant(self.t, 0.0), b.fmul(b.load(slot), beta))
            b.store(value, slot)
        b.ret_void()
        return fn

    # ------------------------------------------------------------------ drivers
    def _declare(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        if name in self.module.globals:
            return self.module.globals[name]
        return ir.Function(self.module, ir.FunctionType(ret, args), name=name)

    def _serial(self) -> ir.Function:
        """One thread's blocked product; returns 0, or 1 when the workspace malloc failed."""
        cfg = self.cfg
        tp = self.tp
        fn, b = _function(self.module, f"{self.prefix}_serial", I32,
                          [I64, I64, I64, self.t, tp, I64, I64, tp, I64, I64, self.t, tp, I64],
                          "m n k alpha a rsa csa b rsb csb beta c ldc")
        m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, ldc = fn.args
        small = b.icmp_signed("<=", b.mul(b.mul(m, n), k), c64(cfg.direct_work))
        narrow = b.icmp_signed("<=", n, c64(cfg.direct_n))
        with b.if_then(b.or_(small, narrow)):
            b.ret(b.call(self.direct, list(fn.args)))
        elems = cfg.kc * cfg.nb + cfg.mr * cfg.kc + cfg.mr * cfg.nr
        nbytes = (elems * self.size + 63) // 64 * 64
        alloc = self._declare("aligned_alloc", I8P, [I64, I64])
        free = self._declare("free", ir.VoidType(), [I8P])
        raw = b.call(alloc, [c64(64), c64(nbytes)])
        with b.if_then(b.icmp_unsigned("==", raw, ir.Constant(I8P, None)), likely=False):
            b.ret(ir.Constant(I32, 1))
        bbuf = b.bitcast(raw, tp)
        abuf = b.gep(bbuf, [c64(cfg.kc * cfg.nb)])
        tile = b.gep(abuf, [c64(cfg.mr * cfg.kc)])
        with for_range(b, _ceil_div(b, n, cfg.nb), name="jb") as jb:
            j0 = b.mul(jb, c64(cfg.nb))
            nb = _min(b, b.sub(n, j0), c64(cfg.nb))
            with for_range(b, _ceil_div(b, k, cfg.kc), name="pb") as pb:
                p0 = b.mul(pb, c64(cfg.kc))
                kc = _min(b, b.sub(k, p0), c64(cfg.kc))
                beta_p = b.select(b.icmp_signed("==", pb, c64(0)), beta,
                                  ir.Constant(self.t, 1.0))
                b.call(self.pack_b, [bbuf, b.gep(bm, [b.add(b.mul(p0, rsb), b.mul(j0, csb))]),
                                     rsb, csb, nb, kc])
                with for_range(b, _ceil_div(b, m, cfg.mr), name="ib") as ib:
                    i0 = b.mul(ib, c64(cfg.mr))
                    mr = _min(b, b.sub(m, i0), c64(cfg.mr))
                    b.call(self.pack_a, [abuf, b.gep(a, [b.add(b.mul(i0, rsa), b.mul(p0, csa))]),
                                         rsa, csa, mr, kc])
                    crow = b.gep(c, [b.add(b.mul(i0, ldc), j0)])
                    self._panel_loop(b, abuf, bbuf, tile, crow, ldc, mr, nb, kc, alpha, beta_p)
        b.call(free, [raw])
        b.ret(ir.Constant(I32, 0))
        return fn

    def _panel_loop(self, b, abuf, bbuf, tile, crow, ldc, mr, nb, kc, alpha, beta) -> None:
        cfg = self.cfg
        one, zero = ir.Constant(self.t, 1.0), ir.Constant(self.t, 0.0)
        full_rows = b.icmp_signed("==", mr, c64(cfg.mr))
        with for_range(b, _ceil_div(b, nb, cfg.nr), name="jp") as jp:
            jj = b.mul(jp, c64(cfg.nr))
            nr = _min(b, b.sub(nb, jj), c64(cfg.nr))
            cptr = b.gep(crow, [jj])
            panel = b.gep(bbuf, [b.mul(jj, kc)])
            full = b.and_(full_rows, b.icmp_signed("==", nr, c64(cfg.nr)))
            with b.if_else(full, likely=True) as (inner, edge):
                with inner:
                    b.call(self.ukernel, [kc, abuf, panel, cptr, ldc, alpha, beta])
                with edge:
                    b.call(self.ukernel, [kc, abuf, panel, tile, c64(cfg.nr), one, zero])
                    b.call(self.edge, [tile, cptr, ldc, mr, nr, alpha, beta])

    def _task(self) -> ir.Function:
        """task(job, t): part t of the product; a failure is ORed into job.status."""
        fn, b = _function(self.module, f"{self.prefix}_task", ir.VoidType(), [I8P, I64],
                          "job t")
        job = b.bitcast(fn.args[0], self.args_ty.as_pointer())
        values = [b.load(b.gep(job, [ir.Constant(I32, 0), ir.Constant(I32, i)]))
                  for i in range(len(self.FIELDS) + 3)]
        fields = dict(zip(self.FIELDS, values))
        along_m = b.icmp_signed("!=", values[-3], c64(0))
        per, total = values[-2], values[-1]
        lo = b.mul(fn.args[1], per)
        status = b.call(self.serial, self._part_args(b, fields, along_m, lo,
                                                     _min(b, b.add(lo, per), total)))
        with b.if_then(b.icmp_signed("!=", status, ir.Constant(I32, 0)), likely=False):
            slot = b.gep(job, [ir.Constant(I32, 0), ir.Constant(I32, len(self.FIELDS) + 3)])
            b.atomic_rmw("or", slot, status, "seq_cst")
        b.ret_void()
        return fn

    def _entry(self) -> ir.Function:
        """The exported C-ABI function (see the module docstring)."""
        tp, t = self.tp, self.t
        fn, b = _function(self.module, self.prefix, I32,
                          [I64, I64, I64, I64, I64, t, tp, I64, tp, I64, t, tp, I64, I64],
                          "transa transb m n k alpha a lda b ldb beta c ldc threads",
                          internal=False)
        ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc, threads = fn.args
        empty = b.or_(b.icmp_signed("<=", m, c64(0)), b.icmp_signed("<=", n, c64(0)))
        with b.if_then(empty, likely=False):
            b.ret(ir.Constant(I32, 0))
        no_product = b.or_(b.icmp_signed("<=", k, c64(0)),
                           b.fcmp_ordered("==", alpha, ir.Constant(t, 0.0)))
        with b.if_then(no_product, likely=False):
            b.call(self.scale, [c, m, n, ldc, beta])
            b.ret(ir.Constant(I32, 0))
        one = c64(1)
        trans_a, trans_b = b.icmp_signed("!=", ta, c64(0)), b.icmp_signed("!=", tb, c64(0))
        rsa, csa = b.select(trans_a, one, lda), b.select(trans_a, lda, one)
        rsb, csb = b.select(trans_b, one, ldb), b.select(trans_b, ldb, one)
        count = self._thread_count(b, threads, m, n, k)
        with b.if_then(b.icmp_signed("==", count, one), likely=False):
            b.ret(b.call(self.serial, [m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, ldc]))
        along_m = b.icmp_signed(">=", m, n)
        units = b.select(along_m, _ceil_div(b, m, self.cfg.mr), _ceil_div(b, n, self.cfg.nr))
        unit = b.select(along_m, c64(self.cfg.mr), c64(self.cfg.nr))
        total = b.select(along_m, m, n)
        wanted = _min(b, b.mul(count, c64(self.cfg.tasks_per_thread)), units)
        per = b.mul(b.sdiv(b.add(units, b.sub(wanted, one)), wanted), unit)
        parts = b.sdiv(b.add(total, b.sub(per, one)), per)
        # part t: [t * per, min((t + 1) * per, total)) of m (or n)
        fields = {"m": m, "n": n, "k": k, "alpha": alpha, "a": a, "rsa": rsa, "csa": csa,
                  "b": bm, "rsb": rsb, "csb": csb, "beta": beta, "c": c, "ldc": ldc}
        b.ret(self._run_parts(b, fields, along_m, per, parts, total, count))
        return fn

    def _thread_count(self, b, threads, m, n, k) -> ir.Value:
        """threads (<= 0: the library default), at most MAX_THREADS, at least one part
        of min_thread_work per thread, and no more than the tiles along m or n."""
        threads = b.select(b.icmp_signed("<=", threads, c64(0)), b.load(self.default_threads),
                           threads)
        threads = _max(b, _min(b, threads, c64(MAX_THREADS)), c64(1))
        work = b.mul(b.mul(m, n), k)
        by_work = _max(b, b.sdiv(work, c64(self.cfg.min_thread_work)), c64(1))
        tiles = _max(b, _ceil_div(b, m, self.cfg.mr), _ceil_div(b, n, self.cfg.nr))
        return _min(b, _min(b, threads, by_work), tiles)

    def _part_args(self, b, fields, along_m, lo, hi) -> list[ir.Value]:
        f = dict(fields)
        size = b.sub(hi, lo)
        f["m"] = b.select(along_m, size, f["m"])
        f["n"] = b.select(along_m, f["n"], size)
        f["a"] = b.select(along_m, b.gep(f["a"], [b.mul(lo, f["rsa"])]), f["a"])
        f["b"] = b.select(along_m, f["b"], b.gep(f["b"], [b.mul(lo, f["csb"])]))
        f["c"] = b.gep(f["c"], [b.select(along_m, b.mul(lo, f["ldc"]), lo)])
        return [f[name] for name in self.FIELDS]

    def _run_parts(self, b, fields, along_m, per, parts, total, count) -> ir.Value:
        """Run the parts as pool tasks on ``count`` threads; the ORed statuses."""
        run = self._declare("tj_pool_run", RUN.return_type, list(RUN.args))
        with b.goto_entry_block():  # a static alloca: one stack frame however it branches
            job = b.alloca(self.args_ty, name="job")
        values = [fields[name] for name in self.FIELDS]
        values += [b.zext(along_m, I64), per, total, ir.Constant(I32, 0)]
        for i, value in enumerate(values):
            b.store(value, b.gep(job, [ir.Constant(I32, 0), ir.Constant(I32, i)]))
        b.call(run, [self.task, b.bitcast(job, I8P), parts, count])
        status = b.gep(job, [ir.Constant(I32, 0), ir.Constant(I32, len(values) - 1)])
        return b.load_atomic(status, "seq_cst", 4)

    def _set_threads(self) -> None:
        fn, b = _function(self.module, f"{self.prefix}_set_threads", ir.VoidType(), [I64],
                          "threads", internal=False)
        b.store(fn.args[0], self.default_threads)
        b.ret_void()


def packed_ir(cfg: GemmConfig) -> str:
    """The packed path's module: the exported entry, packing, micro-kernel, threads."""
    return str(GemmBuilder(cfg).build())


def direct_ir(cfg: GemmConfig) -> str:
    """The direct path's module (gemm_direct_ir.py), exporting ``<prefix>_direct``."""
    return str(DirectKernels(GemmBuilder(cfg)).module)


# The library is these modules, compiled apart (on two threads: LLVM took 214 ms for
# them as one module, the critical path of a cold start) and linked as one library.
PARTS = (packed_ir, direct_ir)


def build_ir(cfg: GemmConfig) -> list[str]:
    """The textual IR of every part of the library for ``cfg``."""
    return [part(cfg) for part in PARTS]
