"""Matrix products: float32/float64 through BLAS, integers and bool through a loop kernel.

The BLAS is SciPy's (``scipy.linalg.cython_blas``): each routine is exported as a
PyCapsule holding its address. Kernels declare the routines under our own names
(``tj_blas_sgemm``...) so they can never bind to some other BLAS loaded in the process;
declaring one puts its address in ``registry.EXTERNAL_SYMBOLS``, the table the runtime
hands to the JIT linker (``external_symbols(module)`` lists a module's own).

The calling convention is Fortran's: every argument by pointer (the pointed-to scalars
live in stack slots of the kernel's entry block), matrices column-major. A row-major
C = A @ B is the column-major C^T = B^T @ A^T, so the operands are passed swapped and
no data is transposed. Static shapes pick the routine: gemv when one side is a
vector-shaped matrix, dot when both are, gemm otherwise. A Gemm's ``trans_a`` /
``trans_b`` (set by the specialize phase where an operand was ``x.T``) become the
routines' 'T' flags and leading dimensions, so a transposed operand is never copied.
"""

from __future__ import annotations

import ctypes
import functools

from llvmlite import ir

from . import gemm, irutils
from .registry import (
    ERR_SHAPE,
    ERR_VALUE,
    EXTERNAL_SYMBOLS,
    I32,
    SYMBOL_PROVIDERS,
    THREADS_SLOT,
    I64,
    Buf,
    KernelContext,
    element_type,
    register,
)
from .shape import (
    ZERO,
    c_strides,
    check_equal,
    entry_alloca,
    i64,
    if_nonempty,
    linear,
    memzero,
    product,
)

FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "bool")
I8 = ir.IntType(8)
PREFIX = "tj_blas_"
INT32_MAX = 2**31 - 1


# --------------------------------------------------------------------------------------
# The routines and their addresses


def _signature(name: str, fty: ir.Type) -> ir.FunctionType:
    """The Fortran signature of one routine (all pointers; dot returns a value)."""
    p, ip, cp = fty.as_pointer(), I32.as_pointer(), I8.as_pointer()
    kind = name[1:]
    if kind == "gemm":  # transa transb m n k alpha a lda b ldb beta c ldc
        return ir.FunctionType(ir.VoidType(), [cp, cp, ip, ip, ip, p, p, ip, p, ip, p, p, ip])
    if kind == "gemv":  # trans m n alpha a lda x incx beta y incy
        return ir.FunctionType(ir.VoidType(), [cp, ip, ip, p, p, ip, p, ip, p, p, ip])
    if kind == "dot":  # n x incx y incy
        return ir.FunctionType(fty, [ip, p, ip, p, ip])
    raise KeyError(name)


def _prefix(dtype: str) -> str:
    return "s" if dtype == "float32" else "d"


def declare(module: ir.Module, routine: str, dtype: str) -> ir.Function:
    """Declare (once) the BLAS routine ``routine`` ('gemm', 'gemv', 'dot') for dtype."""
    name = _prefix(dtype) + routine
    full = PREFIX + name
    if full in module.globals:
        return module.globals[full]
    # the address goes to the JIT linker with every module (the runtime passes the table)
    EXTERNAL_SYMBOLS[full] = blas_address(name)
    return ir.Function(module, _signature(name, irutils.float_type(dtype)), name=full)


@functools.cache
def blas_address(name: str) -> int:
    """The address of SciPy's BLAS routine ``name`` (e.g. 'sgemm')."""
    from scipy.linalg import cython_blas

    capsule = cython_blas.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = get_pointer(capsule, get_name(capsule))
    if not address:
        raise RuntimeError(f"scipy.linalg.cython_blas exports no address for {name!r}")
    return int(address)


SYMBOL_PROVIDERS[PREFIX] = lambda full: blas_address(full[len(PREFIX):])


def external_symbols(module: ir.Module) -> dict[str, int]:
    """{symbol: address} for the BLAS routines ``module`` declares (for the JIT)."""
    return {name: blas_address(name[len(PREFIX):]) for name in module.globals
            if name.startswith(PREFIX)}


# --------------------------------------------------------------------------------------
# Calls


class FortranArgs:
    """Stack slots for by-pointer scalar arguments, allocated once per kernel."""

    def __init__(self, ctx: KernelContext, fty: ir.Type) -> None:
        self.ctx = ctx
        self.fty = fty
        self._ints: list[ir.Value] = []
        self._floats: list[ir.Value] = []
        self._chars: list[ir.Value] = []

    def _slot(self, pool: list, k: int, ty: ir.Type) -> ir.Value:
        while len(pool) <= k:
            pool.append(entry_alloca(self.ctx, ty))
        return pool[k]

    def ints(self, *values: ir.Value) -> list[ir.Value]:
        b = self.ctx.builder
        slots = [self._slot(self._ints, k, I32) for k in range(len(values))]
        for slot, v in zip(slots, values):
            b.store(b.trunc(v, I32) if v.type == I64 else v, slot)
        return slots

    def floats(self, *values: float) -> list[ir.Value]:
        slots = [self._slot(self._floats, k, self.fty) for k in range(len(values))]
        for slot, v in zip(slots, values):
            self.ctx.builder.store(ir.Constant(self.fty, v), slot)
        return slots

    def chars(self, *values: str) -> list[ir.Value]:
        slots = [self._slot(self._chars, k, I8) for k in range(len(values))]
        for slot, v in zip(slots, values):
            self.ctx.builder.store(ir.Constant(I8, ord(v)), slot)
        return slots


def emit_matmul_2d(ctx: KernelContext, args: FortranArgs, dtype: str, a: ir.Value,
                   b_ptr: ir.Value, c: ir.Value, m: ir.Value, n: ir.Value, k: ir.Value,
                   kind: str, alpha: float = 1.0, beta: float = 0.0,
                   trans: tuple[bool, bool] = (False, False)) -> None:
    """c(m, n) = alpha * op(a) @ op(b) + beta * c, row-major contiguous, via BLAS.

    op(a) is (m, k): a itself, or with ``trans[0]`` the transpose of a stored (k, m)
    row-major matrix (``trans[1]`` likewise for b, stored (n, k)).
    """
    b = ctx.builder
    k_zero = b.icmp_signed("==", k, ZERO)
    with if_nonempty(b, b.mul(m, n)), b.if_else(k_zero, likely=False) as (empty, full):
        with empty:
            if beta == 0.0:  # BLAS wants lda >= 1: do it here (beta == 1 keeps c)
                memzero(b, c, b.mul(m, n), dtype)
        with full:
            _blas_call(ctx, args, dtype, a, b_ptr, c, (m, n, k), kind, (alpha, beta), trans)


def _blas_call(ctx, args, dtype, a, b_ptr, c, mnk, kind, scalars, trans) -> None:
    """One routine call; see emit_matmul_2d. Row-major X is column-major X^T."""
    b = ctx.builder
    m, n, k = mnk
    alpha, beta = scalars
    trans_a, trans_b = trans
    if kind == "dot":  # (1, k) @ (k, 1): both contiguous vectors, transposed or not
        (kk, one) = args.ints(k, i64(1))
        value = b.call(declare(b.module, "dot", dtype), [kk, a, one, b_ptr, one])
        if alpha != 1.0:
            value = b.fmul(value, ir.Constant(value.type, alpha))
        if beta != 0.0:
            value = b.fadd(value, b.fmul(b.load(c), ir.Constant(value.type, beta)))
        b.store(value, c)
    elif kind == "gemv_a":  # (m, k) @ (k, 1): y = op(A) x
        # A row-major (m, k) is (k, m) column-major: 'T'; a stored (k, m) A is (m, k): 'N'
        rows, cols = (m, k) if trans_a else (k, m)
        (flag,) = args.chars("N" if trans_a else "T")
        rr, cc, one = args.ints(rows, cols, i64(1))
        alpha, beta = args.floats(*scalars)
        b.call(declare(b.module, "gemv", dtype),
               [flag, rr, cc, alpha, a, rr, b_ptr, one, beta, c, one])
    elif kind == "gemv_b":  # (1, k) @ (k, n): y = op(B)^T x
        # B row-major (k, n) is B^T (n, k) column-major: 'N'; a stored (n, k) B: 'T'
        rows, cols = (k, n) if trans_b else (n, k)
        (flag,) = args.chars("T" if trans_b else "N")
        rr, cc, one = args.ints(rows, cols, i64(1))
        alpha, beta = args.floats(*scalars)
        b.call(declare(b.module, "gemv", dtype),
               [flag, rr, cc, alpha, b_ptr, rr, a, one, beta, c, one])
    elif kind == "jit":  # the JIT GEMM library (gemm.py): row-major, as is
        _jit_gemm_call(ctx, dtype, a, b_ptr, c, mnk, scalars, trans)
    else:  # column-major C^T (n, m) = op(B)^T (n, k) @ op(A)^T (k, m): operands swapped
        # a row-major operand is its transpose column-major: op(B)^T is B as stored
        # ('N', ld n) or, for a stored (n, k) B, that read transposed ('T', ld k)
        ta, tb = args.chars("T" if trans_b else "N", "T" if trans_a else "N")
        mm, nn, kk = args.ints(m, n, k)
        ldb_, lda_ = (kk if trans_b else nn), (mm if trans_a else kk)
        alpha, beta = args.floats(*scalars)
        b.call(declare(b.module, "gemm", dtype),
               [ta, tb, nn, mm, kk, alpha, b_ptr, ldb_, a, lda_, beta, c, nn])


def _jit_gemm_call(ctx, dtype, a, b_ptr, c, mnk, scalars, trans) -> None:
    b = ctx.builder
    fty = element_type(dtype)
    m, n, k = mnk
    trans_a, trans_b = trans
    lda, ldb = (m if trans_a else k), (k if trans_b else n)
    # the function's thread count (its threads= option, else TENSORJIT_NUM_THREADS or
    # the cores), as for its other kernels; the library's threads are the pool's
    threads = b.load(b.gep(ctx.meta, [i64(THREADS_SLOT)]))
    status = b.call(gemm.declare(b.module, dtype),
                    [i64(int(trans_a)), i64(int(trans_b)), m, n, k,
                     ir.Constant(fty, scalars[0]), a, lda, b_ptr, ldb,
                     ir.Constant(fty, scalars[1]), c, n, threads])
    with b.if_then(b.icmp_signed("!=", status, ir.Constant(I32, 0)), likely=False):
        ctx.fail(ERR_VALUE, b.zext(status, I64), i64(0))  # workspace allocation failed


def _kind(m_static: int | None, n_static: int | None) -> str:
    if m_static == 1 and n_static == 1:
        return "dot"
    if n_static == 1:
        return "gemv_a"
    if m_static == 1:
        return "gemv_b"
    return "jit" if gemm.use_jit(m_static, n_static) else "gemm"


def emit_int_matmul_2d(b: ir.IRBuilder, dtype: str, a: ir.Value, b_ptr: ir.Value,
                       c: ir.Value, m: ir.Value, n: ir.Value, k: ir.Value) -> None:
    """c = a @ b for integers (wrapping, as NumPy) or bool (or of ands); i-k-j order."""
    memzero(b, c, b.mul(m, n), dtype)
    with irutils.for_range(b, m, name="i") as i, irutils.for_range(b, k, name="p") as p:
        av = b.load(b.gep(a, [b.add(b.mul(i, k), p)]))
        with irutils.for_range(b, n, name="j") as j:
            bv = b.load(b.gep(b_ptr, [b.add(b.mul(p, n), j)]))
            slot = b.gep(c, [b.add(b.mul(i, n), j)])
            if dtype == "bool":
                b.store(b.or_(b.load(slot), b.and_(av, bv)), slot)
            else:
                b.store(b.add(b.load(slot), b.mul(av, bv)), slot)


def _check_blas_dims(ctx: KernelContext, dims: list[ir.Value]) -> None:
    """BLAS takes 32-bit ints: refuse (ValueError) rather than truncate a larger dim."""
    b = ctx.builder
    for d in dims:
        if isinstance(d, ir.Constant):
            continue
        with b.if_then(b.icmp_signed(">", d, i64(INT32_MAX)), likely=False):
            ctx.fail(ERR_SHAPE, d, i64(INT32_MAX))


# --------------------------------------------------------------------------------------
# Rules


def _supported(node) -> bool:
    return node.outputs[0].dtype in FLOAT_DTYPES + INT_DTYPES


@register("Dot", supports=_supported)
def emit_dot(ctx: KernelContext) -> None:
    a, bm = ctx.inputs
    c = ctx.outputs[0]
    m, k = a.dims
    n = bm.dims[1]
    check_equal(ctx, k, bm.dims[0])  # plan shapes do not check the inner dimension
    if c.dtype not in FLOAT_DTYPES:
        emit_int_matmul_2d(ctx.builder, c.dtype, a.ptr, bm.ptr, c.ptr, m, n, k)
        return
    _check_blas_dims(ctx, [m, n, k])
    kind = _kind(a.var.type.shape[0], bm.var.type.shape[1])
    args = FortranArgs(ctx, element_type(c.dtype))
    emit_matmul_2d(ctx, args, c.dtype, a.ptr, bm.ptr, c.ptr, m, n, k, kind)


def _gemm_supported(node) -> bool:
    return node.outputs[0].dtype in FLOAT_DTYPES


def _fill_scaled(ctx: KernelContext, src: Buf, dst: Buf, beta: float) -> None:
    """dst(m, n) = beta * src broadcast along src's static length-1 axes."""
    b = ctx.builder
    strides = c_strides(b, src.dims)
    use = []
    for axis in range(2):
        if src.var.type.shape[axis] == 1:
            use.append(ZERO)
        else:
            check_equal(ctx, src.dims[axis], dst.dims[axis])  # strict broadcasting
            use.append(strides[axis])
    out_strides = c_strides(b, dst.dims)
    scale = ir.Constant(element_type(dst.dtype), beta)
    with irutils.loop_nest(b, dst.dims, name="c") as idx:
        value = b.load(b.gep(src.ptr, [linear(b, idx, use)]))
        if beta != 1.0:
            value = b.fmul(value, scale)
        b.store(value, b.gep(dst.ptr, [linear(b, idx, out_strides)]))


def _op_dims(dims: list, trans: bool) -> tuple:
    """(rows, cols) of op(x) from x's stored dims (values or static lengths)."""
    return (dims[1], dims[0]) if trans else (dims[0], dims[1])


@register("Gemm", supports=_gemm_supported)
def emit_gemm(ctx: KernelContext) -> None:
    """out = alpha * op(a) @ op(b) + beta * c: c (scaled, broadcast) into out, then
    gemm(beta=1); a C-less Gemm (beta 0) is the plain product."""
    a, bm = ctx.inputs[0], ctx.inputs[1]
    out = ctx.outputs[0]
    op = ctx.node.op
    m, k = _op_dims(a.dims, op.trans_a)
    k_b, n = _op_dims(bm.dims, op.trans_b)
    check_equal(ctx, k, k_b)  # Gemm.check_runtime_shapes raised first; kept as a guard
    _check_blas_dims(ctx, [m, n, k])
    if op.beta != 0.0:
        _fill_scaled(ctx, ctx.inputs[2], out, op.beta)
    kind = _kind(_op_dims(a.var.type.shape, op.trans_a)[0],
                 _op_dims(bm.var.type.shape, op.trans_b)[1])
    args = FortranArgs(ctx, element_type(out.dtype))
    emit_matmul_2d(ctx, args, out.dtype, a.ptr, bm.ptr, out.ptr, m, n, k, kind,
                   alpha=op.alpha, beta=1.0 if op.beta != 0.0 else 0.0,
                   trans=(op.trans_a, op.trans_b))


def _batch_strides(ctx: KernelContext, x: Buf, out: Buf) -> list[ir.Value]:
    """Per output batch axis: x's stride in elements (0 where x's static length is 1)."""
    b = ctx.builder
    nb = out.ndim - 2
    strides = c_strides(b, x.dims)
    out_strides = []
    for d in range(nb):
        if x.var.type.shape[d] == 1:
            out_strides.append(ZERO)
            continue
        check_equal(ctx, x.dims[d], out.dims[d])  # strict broadcasting of batch axes
        out_strides.append(strides[d])
    return out_strides


@register("BatchedMatmul", supports=_supported)
def emit_batched_matmul(ctx: KernelContext) -> None:
    a, bm = ctx.inputs
    c = ctx.outputs[0]
    b = ctx.builder
    m, k, n = a.dims[-2], a.dims[-1], bm.dims[-1]
    check_equal(ctx, k, bm.dims[-2])
    a_strides, b_strides = _batch_strides(ctx, a, c), _batch_strides(ctx, bm, c)
    c_str = c_strides(b, c.dims)[:-2]
    floating = c.dtype in FLOAT_DTYPES
    if floating:
        _check_blas_dims(ctx, [m, n, k])
        kind = _kind(a.var.type.shape[-2], bm.var.type.shape[-1])
        args = FortranArgs(ctx, element_type(c.dtype))
    batch = c.dims[:-2]
    with if_nonempty(b, product(b, batch)), irutils.loop_nest(b, batch, name="bt") as idx:
        pa = b.gep(a.ptr, [linear(b, idx, a_strides)])
        pb = b.gep(bm.ptr, [linear(b, idx, b_strides)])
        pc = b.gep(c.ptr, [linear(b, idx, c_str)])
        if floating:
            emit_matmul_2d(ctx, args, c.dtype, pa, pb, pc, m, n, k, kind)
        else:
            emit_int_matmul_2d(b, c.dtype, pa, pb, pc, m, n, k)


__all__ = [
    "FortranArgs",
    "blas_address",
    "declare",
    "emit_int_matmul_2d",
    "emit_matmul_2d",
    "external_symbols",
]
