"""The JIT GEMM's direct path: register tiles straight from the operands, no packing.

Packing (gemm_ir.py) pays for itself when each packed element is reused many times
from cache. For small products (the logistic regression's (32, 64) @ (64, 10)) and
for narrow ones (n of one or two vectors: an MLP's last layer) it costs more than the
product, and a 6 x 64 tile over n = 10 is mostly padding. Here a tile of R rows by
NV = 1, 2 or 4 vectors accumulates ``C[i0:i0+R, j0:j0+NV*VW]`` in registers over the
whole k, reading B's rows with (masked) vector loads and broadcasting A's elements;
narrower tiles are taller (``tile_rows``), so each keeps as many FMAs in flight:

    for j0 in n step 4 VW:  NV = the narrowest that covers the block
        for i0 in m step R(NV):  tile(NV)

Edges: rows past m read row m-1 again (a valid address, computed but never stored);
columns past n are masked off in every load and store, so nothing outside the
operands is read and nothing outside C is written. B must have unit column stride;
a transposed B (stored (n, k)) is first copied into a row-major k x n buffer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from .irutils import I32, I64, for_range

if TYPE_CHECKING:
    from .gemm_ir import GemmBuilder

I1 = ir.IntType(1)
I8P = ir.IntType(8).as_pointer()


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


class DirectKernels:
    """Emits the direct path's functions into a module of their own (compiled next to
    the packed path's on another thread); the driver is exported as
    ``<prefix>_direct`` (DRIVER_TYPE) for the packed path's module to call."""

    def __init__(self, gb: GemmBuilder) -> None:
        self.gb = gb
        self.cfg = gb.cfg
        self.module = ir.Module(name=f"{gb.prefix}_direct")
        self.fma = ir.Function(self.module, gb.fma.ftype, name=gb.fma.name)
        self.vw = gb.cfg.vw
        self.mr = gb.cfg.mr
        vec = gb.vec
        mask_ty = ir.VectorType(I1, self.vw)
        suffix = f"v{self.vw}f{gb.size * 8}"
        self.mask_ty = mask_ty
        self.load = ir.Function(self.module, ir.FunctionType(
            vec, [vec.as_pointer(), I32, mask_ty, vec]), name=f"llvm.masked.load.{suffix}.p0")
        self.store = ir.Function(self.module, ir.FunctionType(
            ir.VoidType(), [vec, vec.as_pointer(), I32, mask_ty]),
            name=f"llvm.masked.store.{suffix}.p0")
        self.zero = ir.Constant(vec, [0.0] * self.vw)
        # tile widths in vectors: up to the packed tile's (MR x NV accumulators fit in the
        # register file there: 24 of 32 zmm with AVX-512, 12 of 16 ymm with AVX2)
        widest = gb.cfg.nr // self.vw
        self.counts = tuple(nv for nv in (1, 2, 4) if nv <= widest)
        self.tiles = {nv: self._tile(nv) for nv in self.counts}
        self.copy_b = self._copy_b()
        self.driver = self._driver()

    def tile_rows(self, nv: int) -> int:
        """Rows of an nv-vector tile: the packed tile's accumulator count (MR x widest)
        spread over fewer vectors, at most 2 MR (enough independent FMAs to hide their
        latency, few rows computed twice at the bottom edge)."""
        return min(self.mr * self.counts[-1] // nv, 2 * self.mr)

    # ------------------------------------------------------------------ helpers
    def _declare(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        if name in self.module.globals:
            return self.module.globals[name]
        return ir.Function(self.module, ir.FunctionType(ret, args), name=name)

    def _masks(self, b: ir.IRBuilder, cols: ir.Value, nv: int) -> list[ir.Value]:
        """Lane masks of the nv vectors of a tile whose first ``cols`` columns exist."""
        ivec = ir.VectorType(I64, self.vw)
        splat = b.insert_element(ir.Constant(ivec, ir.Undefined), cols, ir.Constant(I32, 0))
        splat = b.shuffle_vector(splat, ir.Constant(ivec, ir.Undefined),
                                 ir.Constant(ir.VectorType(I32, self.vw), [0] * self.vw))
        return [b.icmp_signed("<", ir.Constant(ivec, [v * self.vw + lane
                                                      for lane in range(self.vw)]), splat)
                for v in range(nv)]

    def _vptr(self, b: ir.IRBuilder, base: ir.Value, offset: ir.Value) -> ir.Value:
        return b.bitcast(b.gep(base, [offset]), self.gb.vec.as_pointer())

    def _masked_load(self, b, ptr, mask) -> ir.Value:
        return b.call(self.load, [ptr, ir.Constant(I32, self.gb.size), mask, self.zero])

    # ------------------------------------------------------------------ the tile
    def _tile(self, nv: int) -> ir.Function:
        """c[rows x cols] = alpha * A[rows, :k] . B[:k, cols] + beta * c (beta 0: not read).

        a points at the tile's first row of op(A) (strides rsa, csa); b at its first
        column of row-major B (row stride ldb); rows <= tile_rows(nv), cols <= nv * VW."""
        gb, mr = self.gb, self.tile_rows(nv)
        from .gemm_ir import _function
        fn, b = _function(self.module, f"{gb.prefix}_direct{nv}", ir.VoidType(),
                          [I64, gb.tp, I64, I64, gb.tp, I64, gb.tp, I64, I64, I64, gb.t, gb.t],
                          "k a rsa csa b ldb c ldc rows cols alpha beta", small=False)
        k, a, rsa, csa, bm, ldb, c, ldc, rows, cols, alpha, beta = fn.args
        masks = self._masks(b, cols, nv)
        last = b.sub(rows, c64(1))
        # rows past the edge re-read the last real row: valid addresses, never stored
        arows = [b.gep(a, [b.mul(b.select(b.icmp_signed("<", c64(r), rows), c64(r), last),
                                 rsa)]) for r in range(mr)]
        entry = b.block
        body = b.append_basic_block("k.body")
        done = b.append_basic_block("k.done")
        b.cbranch(b.icmp_signed(">", k, c64(0)), body, done)
        b.position_at_end(body)
        p = b.phi(I64, name="p")
        p.add_incoming(c64(0), entry)
        acc = [[b.phi(gb.vec, name=f"acc{r}_{v}") for v in range(nv)] for r in range(mr)]
        brow = b.mul(p, ldb)
        bvals = [self._masked_load(b, self._vptr(b, bm, b.add(brow, c64(v * self.vw))),
                                   masks[v]) for v in range(nv)]
        new = []
        for r in range(mr):
            splat = gb._splat(b, b.load(b.gep(arows[r], [b.mul(p, csa)])))
            new.append([b.call(self.fma, [splat, bvals[v], acc[r][v]]) for v in range(nv)])
        nxt = b.add(p, c64(1), flags=["nsw"])
        p.add_incoming(nxt, b.block)
        for r in range(mr):
            for v in range(nv):
                acc[r][v].add_incoming(self.zero, entry)
                acc[r][v].add_incoming(new[r][v], b.block)
        b.cbranch(b.icmp_signed("<", nxt, k), body, done)
        b.position_at_end(done)
        final = []
        for r in range(mr):
            row = []
            for v in range(nv):
                phi = b.phi(gb.vec)
                phi.add_incoming(self.zero, entry)
                phi.add_incoming(new[r][v], body)
                row.append(phi)
            final.append(row)
        self._store(b, final, masks, c, ldc, rows, alpha, beta)
        b.ret_void()
        return fn

    def _store(self, b, acc, masks, c, ldc, rows, alpha, beta) -> None:
        """Masked stores of alpha * acc (+ beta * c) into the tile's existing rows."""
        gb = self.gb
        va, vb = gb._splat(b, alpha), gb._splat(b, beta)
        keep_c = b.fcmp_ordered("!=", beta, ir.Constant(gb.t, 0.0))
        for r, row in enumerate(acc):
            with b.if_then(b.icmp_signed("<", c64(r), rows), likely=True):
                crow = b.mul(c64(r), ldc)
                for v, x in enumerate(row):
                    ptr = self._vptr(b, c, b.add(crow, c64(v * self.vw)))
                    scaled = b.fmul(x, va)
                    with b.if_else(keep_c) as (update, overwrite):
                        with update:
                            old = self._masked_load(b, ptr, masks[v])
                            b.call(self.store, [b.call(self.fma, [old, vb, scaled]), ptr,
                                                ir.Constant(I32, gb.size), masks[v]])
                        with overwrite:
                            b.call(self.store, [scaled, ptr, ir.Constant(I32, gb.size),
                                                masks[v]])

    # ------------------------------------------------------------------ drivers
    def _copy_b(self) -> ir.Function:
        """dst[p * n + j] = B[p * rsb + j * csb]: op(B) as a row-major k x n matrix."""
        gb = self.gb
        from .gemm_ir import _function
        fn, b = _function(self.module, f"{gb.prefix}_direct_copy_b", ir.VoidType(),
                          [gb.tp, gb.tp, I64, I64, I64, I64], "dst b rsb csb k n")
        dst, src, rsb, csb, k, n = fn.args
        # j outer: a transposed B is read along its contiguous rows
        with for_range(b, n, name="j") as j, for_range(b, k, name="p") as p:
            x = b.load(b.gep(src, [b.add(b.mul(p, rsb), b.mul(j, csb))]))
            b.store(x, b.gep(dst, [b.add(b.mul(p, n), j)]))
        b.ret_void()
        return fn

    def _driver(self) -> ir.Function:
        """direct(m n k alpha a rsa csa b rsb csb beta c ldc) -> 0, or 1 if malloc failed."""
        gb = self.gb
        from .gemm_ir import _function
        tp = gb.tp
        fn, b = _function(self.module, f"{gb.prefix}_direct", I32,
                          [I64, I64, I64, gb.t, tp, I64, I64, tp, I64, I64, gb.t, tp, I64],
                          "m n k alpha a rsa csa b rsb csb beta c ldc", internal=False,
                          small=False)
        m, n, k, alpha, a, rsa, csa, bm, rsb, csb, beta, c, ldc = fn.args
        raw = ir.Constant(I8P, None)
        unit = b.icmp_signed("==", csb, c64(1))
        with b.if_else(unit, likely=True) as (direct, copy):
            with direct:
                block_direct = b.block
            with copy:
                alloc = self._declare("malloc", I8P, [I64])
                copied = b.call(alloc, [b.mul(b.mul(k, n), c64(gb.size))])
                with b.if_then(b.icmp_unsigned("==", copied, raw), likely=False):
                    b.ret(ir.Constant(I32, 1))
                b.call(self.copy_b, [b.bitcast(copied, tp), bm, rsb, csb, k, n])
                block_copy = b.block
        buf = b.phi(I8P, name="copied")
        buf.add_incoming(raw, block_direct)
        buf.add_incoming(copied, block_copy)
        src = b.select(unit, bm, b.bitcast(buf, tp))
        ldb = b.select(unit, rsb, n)
        self._tile_loops(b, m, n, k, alpha, a, rsa, csa, src, ldb, beta, c, ldc)
        with b.if_then(b.icmp_unsigned("!=", buf, raw)):
            b.call(self._declare("free", ir.VoidType(), [I8P]), [buf])
        b.ret(ir.Constant(I32, 0))
        return fn

    def _tile_loops(self, b, m, n, k, alpha, a, rsa, csa, bm, ldb, beta, c, ldc) -> None:
        """Column blocks of the widest tile outside (a narrow product has one), row
        blocks of the chosen tile's height inside."""
        widest = self.counts[-1] * self.vw
        with for_range(b, b.sdiv(b.add(n, c64(widest - 1)), c64(widest)), name="jb") as jb:
            j0 = b.mul(jb, c64(widest))
            cols = b.sub(n, j0)
            cols = b.select(b.icmp_signed("<", cols, c64(widest)), cols, c64(widest))
            self._by_width(b, cols, list(self.counts),
                           lambda nv: self._row_blocks(b, nv, m, k, alpha, a, rsa, csa,
                                                       b.gep(bm, [j0]), ldb, beta,
                                                       b.gep(c, [j0]), ldc, cols))

    def _row_blocks(self, b, nv, m, k, alpha, a, rsa, csa, bm, ldb, beta, c, ldc,
                    cols) -> None:
        height = self.tile_rows(nv)
        with for_range(b, b.sdiv(b.add(m, c64(height - 1)), c64(height)), name="ib") as ib:
            i0 = b.mul(ib, c64(height))
            rows = b.sub(m, i0)
            rows = b.select(b.icmp_signed("<", rows, c64(height)), rows, c64(height))
            b.call(self.tiles[nv], [k, b.gep(a, [b.mul(i0, rsa)]), rsa, csa, bm, ldb,
                                    b.gep(c, [b.mul(i0, ldc)]), ldc, rows, cols, alpha, beta])

    def _by_width(self, b: ir.IRBuilder, cols: ir.Value, counts: list[int], emit) -> None:
        """emit(nv) for the narrowest tile width nv that covers ``cols`` columns."""
        if len(counts) == 1:
            emit(counts[0])
            return
        fits = b.icmp_signed("<=", cols, c64(counts[0] * self.vw))
        with b.if_else(fits) as (narrow, wider):
            with narrow:
                emit(counts[0])
            with wider:
                self._by_width(b, cols, counts[1:], emit)
