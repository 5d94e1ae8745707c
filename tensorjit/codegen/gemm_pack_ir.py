"""Packing a transposed B for the JIT GEMM through in-register transposes.

A B stored as its (n, k) transpose (the backward pass's ``g @ W.T``) has its panel
columns along contiguous rows: panel[p * NR + j] = src[j * ld + p]. Copied element by
element that costs as much as a third of the product ((128, 512) @ (512, 512)^T ran at
73 GFLOP/s vs 142 untransposed). Here each VW x VW block is read as VW row vectors,
transposed with shufflevectors and written as VW panel rows: log2(VW) stages of VW
two-input shuffles, each stage swapping one bit of the row index with the same bit
of the column index (the butterfly form of a transpose, which LLVM lowers to
unpack/permute instructions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from .irutils import I32, I64, for_range

if TYPE_CHECKING:
    from .gemm_ir import GemmBuilder


def c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def transpose(b: ir.IRBuilder, rows: list[ir.Value], width: int) -> list[ir.Value]:
    """The transpose of the width x width block whose rows are ``rows`` (vectors)."""
    rows = list(rows)
    bit = 1
    while bit < width:
        low = [j if not j & bit else width + j - bit for j in range(width)]
        high = [j + bit if not j & bit else width + j for j in range(width)]
        for i in range(width):
            if i & bit:
                continue
            a, c = rows[i], rows[i | bit]
            rows[i] = b.shuffle_vector(a, c, ir.Constant(ir.VectorType(I32, width), low))
            rows[i | bit] = b.shuffle_vector(a, c, ir.Constant(ir.VectorType(I32, width),
                                                               high))
        bit <<= 1
    return rows


def emit_transposed_panel(gb: GemmBuilder) -> ir.Function:
    """``pack(panel, src, ld, kc)``: a whole NR-wide panel of a B stored transposed,
    panel[p * NR + j] = src[j * ld + p] for j < NR, p < kc."""
    from .gemm_ir import _function
    cfg, vw = gb.cfg, gb.cfg.vw
    fn, b = _function(gb.module, f"{gb.prefix}_pack_b_transposed", ir.VoidType(),
                      [gb.tp, gb.tp, I64, I64], "panel src ld kc", small=False)
    panel, src, ld, kc = fn.args
    vp = gb.vec.as_pointer()
    blocks = b.sdiv(kc, c64(vw))
    # one transpose in the loop body, not NR / VW of them unrolled: a quarter of the
    # code for LLVM to lower (the unrolled form took 90 ms of the library's compile)
    with for_range(b, blocks, name="q") as q, \
            for_range(b, c64(cfg.nr // vw), name="g") as group:
        p0 = b.mul(q, c64(vw))
        first = b.mul(group, c64(vw))
        rows = [b.load(b.bitcast(b.gep(src, [b.add(b.mul(b.add(first, c64(r)), ld), p0)]),
                                 vp), align=gb.size) for r in range(vw)]
        for r, vec in enumerate(transpose(b, rows, vw)):
            out = b.gep(panel, [b.add(b.mul(b.add(p0, c64(r)), c64(cfg.nr)), first)])
            b.store(vec, b.bitcast(out, vp), align=gb.size)
    with for_range(b, kc, start=b.mul(blocks, c64(vw)), name="pt") as p, \
            for_range(b, c64(cfg.nr), name="jt") as j:
        x = b.load(b.gep(src, [b.add(b.mul(j, ld), p)]))
        b.store(x, b.gep(panel, [b.add(b.mul(p, c64(cfg.nr)), j)]))
    b.ret_void()
    return fn
