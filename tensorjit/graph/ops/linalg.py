"""Linear algebra: dot, matmul (``@``), outer and tensordot, with NumPy's semantics.

Two ops do the work:

- ``Dot``: a 2-D x 2-D matrix product, the BLAS-shaped op (GEMM) the native backend
  maps to a library call. 1-D operands are lifted to 1 x n / n x 1 matrices with
  DimShuffle and the length-1 axes dropped again: that costs no copy, and a single op
  keeps one gradient rule and one codegen rule (a GEMV is a GEMM with n = 1; the backend
  may pick gemv from the static shape).
- ``BatchedMatmul``: a[..., m, k] @ b[..., k, n] for inputs of equal ndim >= 3 whose
  batch axes broadcast (an axis broadcasts only where its static length is 1, as in
  elementwise ops), so 3-D @ 2-D is 3-D @ (1, k, n).

outer is an elementwise product of broadcast operands (no reduction, fusable).
tensordot transposes its operands so the contracted axes meet, flattens the free and
the contracted axes with reshape and calls Dot. The one exception: several contracted
axes whose lengths are unknown on both sides. Dot would only compare the products of
those lengths, so they become a broadcast product summed over the contracted axes,
whose strict broadcasting checks each length (it materializes the product, though).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..basic import OPERATORS, Apply, Op, Variable, as_variable
from ..types import TensorType, broadcast_shapes, shape_str, upcast
from .elemwise import broadcast_like, cast, mul, sum_to
from .reduce import axes_size
from .reduce import sum as tsum
from .shape import dimshuffle, flatten, reshape, shape_i, specify_shape

__all__ = ["dot", "matmul", "outer", "tensordot"]


def _where(*xs: Variable) -> str:
    for x in xs:
        if x.source_line:
            return f" (graph built at {x.source_line})"
    return ""


def _swap_last(x: Variable) -> Variable:
    """x with its last two axes exchanged."""
    order = list(range(x.ndim))
    order[-2], order[-1] = order[-1], order[-2]
    return dimshuffle(x, tuple(order))


def _check_operands(fname: str, a: Any, b: Any) -> tuple[Variable, Variable]:
    """Both inputs as variables of one op-level dtype (same dtype, tensor inputs)."""
    if not isinstance(a, Variable) or not isinstance(b, Variable):
        raise TypeError(f"{fname}: expected two Variables, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if a.dtype != b.dtype:
        raise TypeError(f"{fname}: inputs must share one dtype, got {a.dtype} and {b.dtype}; "
                        f"the public functions (dot, matmul) insert the casts{_where(a, b)}")
    return a, b


def _shape_of(x: Variable | np.ndarray | tuple) -> tuple:
    """The (static or run-time) shape of a variable, an array, or a shape itself."""
    if isinstance(x, tuple):
        return x
    return x.shape if isinstance(x, np.ndarray) else x.type.shape


def _inner_mismatch(fname: str, a: Variable | np.ndarray | tuple,
                    b: Variable | np.ndarray | tuple, ka: int, kb: int,
                    da: int | None, db: int | None, when: str = "") -> ValueError:
    return ValueError(
        f"{fname}(): inner dimensions do not match{when}: input 0 has shape "
        f"{shape_str(_shape_of(a))} (length {da} on axis {ka}) and input 1 has shape "
        f"{shape_str(_shape_of(b))} (length {db} on axis {kb})")


# --------------------------------------------------------------------------------------
# The ops


@dataclass(frozen=True)
class Dot(Op):
    """The matrix product of two 2-D inputs of one dtype (the GEMM-shaped op)."""

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = _check_operands("Dot", a, b)
        for i, x in enumerate((a, b)):
            if x.ndim != 2:
                raise TypeError(f"Dot: input {i} must be 2-d, got {x.describe()}; use "
                                f"tj.dot or tj.matmul for other ranks")
        k_a, k_b = a.type.shape[1], b.type.shape[0]
        if k_a is not None and k_b is not None and k_a != k_b:
            raise ValueError(str(_inner_mismatch("dot", a, b, 1, 0, k_a, k_b))
                             + _where(a, b))
        out = TensorType(a.dtype, (a.type.shape[0], b.type.shape[1]))
        return Apply(self, [a, b], [out])

    def perform(self, node, inputs):
        a, b = inputs
        if a.shape[1] != b.shape[0]:
            raise _inner_mismatch("dot", a, b, 1, 0, a.shape[1], b.shape[0], " at run time")
        return [np.asarray(np.dot(a, b), dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        (m, _), (_, n) = input_shapes
        return [(m, n)]

    def L_op(self, inputs, outputs, output_grads):
        a, b = inputs
        if not a.type.is_float:
            return [None, None]
        g = cast(output_grads[0], a.dtype)
        return [Dot()(g, _swap_last(b)), Dot()(_swap_last(a), g)]

    def R_op(self, inputs, outputs, eval_points):
        a, b = inputs
        if not a.type.is_float:
            return [None]
        ta, tb = (None if t is None else cast(t, a.dtype) for t in eval_points)
        terms = [Dot()(ta, b) if ta is not None else None,
                 Dot()(a, tb) if tb is not None else None]
        terms = [t for t in terms if t is not None]
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


def _op_dims(shape: tuple, trans: bool) -> tuple:
    """(rows, cols) of op(x): x's shape, or its reverse when x is used transposed."""
    return (shape[1], shape[0]) if trans else (shape[0], shape[1])


def _gemm_shape(m: int | None, n: int | None, c: Variable,
                where: str) -> tuple[int | None, int | None]:
    """The static (m, n) of alpha * op(a) @ op(b) + beta * c; c broadcasts along static 1s."""
    out = [m, n]
    for axis, dc in enumerate(c.type.shape):
        if dc is None or dc == 1:
            continue
        if out[axis] is None:
            out[axis] = dc
        elif out[axis] != dc:
            raise ValueError(f"Gemm: input 2 {c.describe()} does not broadcast to the "
                             f"product's shape {shape_str(tuple(out))} (axis {axis})"
                             f"{where}")
    return out[0], out[1]


@dataclass(frozen=True)
class Gemm(Op):
    """alpha * (op(a) @ op(b)) + beta * c for 2-D a, b, c of one float dtype (one gemm).

    op(x) is x, or x.T when ``trans_a`` / ``trans_b`` is set: the kernel reads the
    stored matrix transposed (BLAS 'T'), so no transposed copy is made. ``c`` is 2-D
    and broadcasts to the product's shape along its static length-1 axes (a bias row is
    (1, n)); with ``beta == 0`` it may be left out (two inputs: a plain product). The
    specialize phase makes Gemms from ``dot(a, b) + c`` and from products of ``x.T``.
    """

    alpha: float = 1.0
    beta: float = 1.0
    trans_a: bool = False
    trans_b: bool = False

    def make_node(self, a: Any, b: Any, c: Any = None) -> Apply:
        a, b = _check_operands("Gemm", a, b)
        if c is None and self.beta != 0.0:
            raise TypeError(f"Gemm: beta is {self.beta} but no input 2 (c) was given; "
                            f"only beta == 0 may leave c out{_where(a, b)}")
        inputs = [a, b] if c is None else [a, b, as_variable(c)]
        for i, x in enumerate(inputs):
            if x.ndim != 2 or x.dtype not in ("float32", "float64") or x.dtype != a.dtype:
                raise TypeError(f"Gemm: input {i} must be a 2-d float32/float64 tensor of "
                                f"input 0's dtype {a.dtype}, got {x.describe()}")
        (m, k_a), (k_b, n) = self._product_dims(a.type.shape, b.type.shape)
        if k_a is not None and k_b is not None and k_a != k_b:
            raise ValueError(str(self._mismatch(a, b, k_a, k_b)) + _where(a, b))
        if c is not None:
            m, n = _gemm_shape(m, n, inputs[2], _where(inputs[2], a, b))
        return Apply(self, inputs, [TensorType(a.dtype, (m, n))])

    def _product_dims(self, sa: tuple, sb: tuple) -> tuple[tuple, tuple]:
        """((m, k), (k, n)) of op(a) and op(b) from the stored shapes."""
        return _op_dims(sa, self.trans_a), _op_dims(sb, self.trans_b)

    def _mismatch(self, a: Any, b: Any, k_a: Any, k_b: Any, when: str = "") -> ValueError:
        err = _inner_mismatch("gemm", a, b, 0 if self.trans_a else 1, 1 if self.trans_b else 0,
                              k_a, k_b, when)
        flags = [f"input {i} is used transposed" for i, t in
                 enumerate((self.trans_a, self.trans_b)) if t]
        return ValueError(f"{err} ({'; '.join(flags)})") if flags else err

    def check_runtime_shapes(self, node: Apply, input_shapes) -> None:
        """Raise ValueError (before any kernel runs) if op(a), op(b), c do not fit."""
        (m, k_a), (k_b, n) = self._product_dims(input_shapes[0], input_shapes[1])
        if k_a != k_b:
            raise self._mismatch(tuple(input_shapes[0]), tuple(input_shapes[1]), k_a, k_b,
                                 " at run time")
        if len(input_shapes) == 3:
            for axis, static in enumerate(node.inputs[2].type.shape):
                if static != 1 and input_shapes[2][axis] != (m, n)[axis]:
                    raise ValueError(
                        f"gemm(): input 2 has shape {shape_str(tuple(input_shapes[2]))}; it "
                        f"must match the product's shape {shape_str((m, n))} on axis "
                        f"{axis} (it broadcasts only where its static length is 1)")

    def perform(self, node, inputs):
        self.check_runtime_shapes(node, [x.shape for x in inputs])
        a, b = inputs[0], inputs[1]
        a, b = (a.T if self.trans_a else a), (b.T if self.trans_b else b)
        out = self.alpha * np.dot(a, b)
        if self.beta != 0.0:  # beta == 0 never reads c (BLAS: a NaN there stays out)
            out = out + self.beta * np.broadcast_to(inputs[2], out.shape)
        return [np.asarray(out, dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        (m, _), (_, n) = self._product_dims(input_shapes[0], input_shapes[1])
        return [(m, n)]

    def L_op(self, inputs, outputs, output_grads):
        a, b = inputs[0], inputs[1]
        g = cast(output_grads[0], a.dtype)
        ta, tb, alpha = self.trans_a, self.trans_b, self.alpha
        # d op(a) = alpha g op(b)^T, d op(b) = alpha op(a)^T g; a stored transposed gets
        # the transpose of that, written as flags (no transposed copies)
        ga = (Gemm(alpha, 0.0, tb, True)(b, g) if ta else
              Gemm(alpha, 0.0, False, not tb)(g, b))
        gb = (Gemm(alpha, 0.0, True, ta)(g, a) if tb else
              Gemm(alpha, 0.0, not ta, False)(a, g))
        if len(inputs) == 2:
            return [ga, gb]
        gc = g if self.beta == 1.0 else mul(g, self.beta)
        return [ga, gb, sum_to(gc, inputs[2])]

    def R_op(self, inputs, outputs, eval_points):
        a, b = inputs[0], inputs[1]
        flags = (self.trans_a, self.trans_b)
        terms = []
        if eval_points[0] is not None:
            terms.append(Gemm(self.alpha, 0.0, *flags)(cast(eval_points[0], a.dtype), b))
        if eval_points[1] is not None:
            terms.append(Gemm(self.alpha, 0.0, *flags)(a, cast(eval_points[1], a.dtype)))
        if len(inputs) == 3 and eval_points[2] is not None and self.beta != 0.0:
            tc = cast(eval_points[2], a.dtype)
            terms.append(tc if self.beta == 1.0 else mul(tc, self.beta))
        if not terms:
            return [None]
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return [broadcast_like(out, outputs[0])]  # tc alone may be a (1, n) row


@dataclass(frozen=True)
class BatchedMatmul(Op):
    """a[..., m, k] @ b[..., k, n] for equal ndim >= 3; batch axes broadcast."""

    def make_node(self, a: Any, b: Any) -> Apply:
        a, b = _check_operands("BatchedMatmul", a, b)
        if a.ndim < 3 or a.ndim != b.ndim:
            raise TypeError(f"BatchedMatmul: inputs must have the same ndim >= 3, got "
                            f"{a.describe()} and {b.describe()}")
        k_a, k_b = a.type.shape[-1], b.type.shape[-2]
        if k_a is not None and k_b is not None and k_a != k_b:
            raise ValueError(str(_inner_mismatch("matmul", a, b, a.ndim - 1, b.ndim - 2,
                                                 k_a, k_b)) + _where(a, b))
        batch = broadcast_shapes(a.type.shape[:-2], b.type.shape[:-2],
                                 context="matmul() batch axes")
        shape = batch + (a.type.shape[-2], b.type.shape[-1])
        return Apply(self, [a, b], [TensorType(a.dtype, shape)])

    def perform(self, node, inputs):
        a, b = inputs
        if a.shape[-1] != b.shape[-2]:
            raise _inner_mismatch("matmul", a, b, a.ndim - 1, b.ndim - 2, a.shape[-1],
                                  b.shape[-2], " at run time")
        for axis, (sa, sb) in enumerate(zip(a.shape[:-2], b.shape[:-2])):
            ok_a = sa == sb or node.inputs[0].type.shape[axis] == 1
            ok_b = sa == sb or node.inputs[1].type.shape[axis] == 1
            if not (ok_a or ok_b):
                raise ValueError(
                    f"matmul(): batch axis {axis} has length {sa} in input 0 (shape "
                    f"{shape_str(a.shape)}) and {sb} in input 1 (shape {shape_str(b.shape)}); "
                    f"a batch axis broadcasts only where the static shape says 1")
        return [np.asarray(np.matmul(a, b), dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        sa, sb = input_shapes
        batch = np.broadcast_shapes(tuple(sa[:-2]), tuple(sb[:-2]))
        return [tuple(batch) + (sa[-2], sb[-1])]

    def L_op(self, inputs, outputs, output_grads):
        a, b = inputs
        if not a.type.is_float:
            return [None, None]
        g = cast(output_grads[0], a.dtype)
        # broadcast batch axes of an input collect the sum of their gradients
        return [sum_to(BatchedMatmul()(g, _swap_last(b)), a),
                sum_to(BatchedMatmul()(_swap_last(a), g), b)]

    def R_op(self, inputs, outputs, eval_points):
        a, b = inputs
        if not a.type.is_float:
            return [None]
        ta, tb = (None if t is None else cast(t, a.dtype) for t in eval_points)
        terms = [BatchedMatmul()(ta, b) if ta is not None else None,
                 BatchedMatmul()(a, tb) if tb is not None else None]
        terms = [t for t in terms if t is not None]
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


# --------------------------------------------------------------------------------------
# The public functions


def _promote(a: Any, b: Any) -> tuple[Variable, Variable]:
    """Both operands as variables of their NumPy-promoted dtype (int @ float -> float)."""
    a, b = as_variable(a), as_variable(b)
    dtype = upcast(a.dtype, b.dtype)
    return cast(a, dtype), cast(b, dtype)


def _check_inner(fname: str, a: Variable, b: Variable, ka: int, kb: int) -> None:
    """Raise at build time when the contracted axes have different static lengths."""
    da, db = a.type.shape[ka], b.type.shape[kb]
    if da is not None and db is not None and da != db:
        raise ValueError(str(_inner_mismatch(fname, a, b, ka % a.ndim, kb % b.ndim, da, db))
                         + _where(a, b))


def matmul(a: Any, b: Any) -> Variable:
    """Matrix product with NumPy's ``matmul`` semantics (also ``a @ b``).

    Parameters
    ----------
    a, b : tensors of ndim >= 1. A 1-D ``a`` is a row vector and a 1-D ``b`` a column
        vector (the added axis is removed from the result); inputs of ndim >= 3 are
        stacks of matrices whose leading (batch) axes broadcast, so 3-D @ 2-D applies
        the matrix to every item of the batch.

    Returns
    -------
    Variable of the promoted dtype (int @ float -> float). Static shapes are inferred:
    (3, None) @ (None, 5) is (3, 5). Contracted axes of different static lengths are an
    error when the graph is built, and of different run-time lengths when it runs.
    """
    a, b = _promote(a, b)
    for i, x in enumerate((a, b)):
        if x.ndim == 0:
            raise ValueError(f"matmul(): input {i} is 0-d ({x.describe()}); matmul needs "
                             f"at least 1-d inputs (use * to scale by a scalar)")
    _check_inner("matmul", a, b, -1, 0 if b.ndim == 1 else -2)
    # lift 1-D operands to matrices; the added axes are dropped from the result below
    a2 = dimshuffle(a, ("x", 0)) if a.ndim == 1 else a
    b2 = dimshuffle(b, (0, "x")) if b.ndim == 1 else b
    if a2.ndim == 2 and b2.ndim == 2:
        out = Dot()(a2, b2)
    else:
        nd = max(a2.ndim, b2.ndim)
        a2 = dimshuffle(a2, ("x",) * (nd - a2.ndim) + tuple(range(a2.ndim)))
        b2 = dimshuffle(b2, ("x",) * (nd - b2.ndim) + tuple(range(b2.ndim)))
        out = BatchedMatmul()(a2, b2)
    drop = ({out.ndim - 2} if a.ndim == 1 else set()) | ({out.ndim - 1} if b.ndim == 1
                                                        else set())
    if drop:
        out = dimshuffle(out, tuple(i for i in range(out.ndim) if i not in drop))
    return out


def dot(a: Any, b: Any) -> Variable:
    """Dot product with NumPy's ``dot`` semantics.

    0-d operands scale the other; 1-D and 2-D operands behave as ``matmul`` (inner
    product, matrix-vector, matrix-matrix); for N-D operands the last axis of ``a`` is
    contracted with the second-to-last axis of ``b`` (its only axis when 1-D), giving
    the shape a.shape[:-1] + b.shape[:-2] + b.shape[-1:], as ``np.dot``.
    """
    weak = (bool, int, float)
    if isinstance(a, weak) or isinstance(b, weak):
        return mul(a, b)  # Python scalars stay weak, as NumPy's dot(x, 2.0)
    a, b = as_variable(a), as_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [max(b.ndim - 2, 0)]))


def outer(a: Any, b: Any) -> Variable:
    """Outer product out[i, j] = a[i] * b[j]; N-D inputs are flattened, 0-d is length 1."""
    a, b = (flatten(x) if x.ndim > 1 else x for x in (as_variable(a), as_variable(b)))
    col = dimshuffle(a, (0, "x")) if a.ndim == 1 else dimshuffle(a, ("x", "x"))
    row = dimshuffle(b, ("x", 0)) if b.ndim == 1 else dimshuffle(b, ("x", "x"))
    return mul(col, row)


def _axis_list(spec: Any, x: Variable, which: int) -> list[int]:
    """One side's contracted axes, as non-negative ints."""
    items = [spec] if isinstance(spec, (int, np.integer)) else spec
    try:
        items = list(items)
    except TypeError:
        items = [None]
    out = []
    for k in items:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"tensordot(): axes for input {which} must be ints, got "
                            f"{spec!r}{_where(x)}")
        if not -x.ndim <= k < x.ndim:
            raise ValueError(f"tensordot(): axis {k} is out of range for input {which}, "
                             f"{x.describe()}")
        out.append(int(k) % x.ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"tensordot(): repeated axis in {spec!r} for input {which}{_where(x)}")
    return out


def _tensordot_axes(a: Variable, b: Variable, axes: Any) -> tuple[list[int], list[int]]:
    """np.tensordot's ``axes``: n (last n of a with first n of b) or (axes_a, axes_b)."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, (bool, np.bool_)):
        if not 0 <= axes <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot(): axes={axes} needs 0 <= axes <= "
                             f"{min(a.ndim, b.ndim)} for inputs of ndim {a.ndim} and "
                             f"{b.ndim}{_where(a, b)}")
        return list(range(a.ndim - axes, a.ndim)), list(range(axes))
    if not isinstance(axes, (tuple, list)) or len(axes) != 2:
        raise TypeError(f"tensordot(): axes must be an int or a pair (axes_a, axes_b), "
                        f"got {axes!r}{_where(a, b)}")
    axes_a, axes_b = _axis_list(axes[0], a, 0), _axis_list(axes[1], b, 1)
    if len(axes_a) != len(axes_b):
        raise ValueError(f"tensordot(): {len(axes_a)} axes given for input 0 but "
                         f"{len(axes_b)} for input 1: {axes!r}{_where(a, b)}")
    return axes_a, axes_b


def tensordot(a: Any, b: Any, axes: Any = 2) -> Variable:
    """Sum of products over the given axes, as ``np.tensordot``.

    Parameters
    ----------
    a, b : tensors.
    axes : an int n (the last n axes of a with the first n of b) or a pair
        (axes_a, axes_b) of ints or sequences of ints, contracted pairwise.

    Returns
    -------
    Variable with the free axes of a followed by the free axes of b, of the promoted
    dtype. Contracted axes of different static lengths are an error at build time.
    """
    a, b = _promote(a, b)
    axes_a, axes_b = _tensordot_axes(a, b, axes)
    for ka, kb in zip(axes_a, axes_b):
        _check_inner("tensordot", a, b, ka, kb)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    at = dimshuffle(a, tuple(free_a + axes_a))
    bt = dimshuffle(b, tuple(axes_b + free_b))
    na, nb, ns = len(free_a), len(free_b), len(axes_a)
    if ns == 0:
        return _broadcast_contract(at, bt, na, nb, ns)  # an outer product: no sum
    if ns == 1 and na <= 1 and nb <= 1:
        return matmul(at, bt)  # vector/matrix shaped: one Dot, no reshape
    at, bt, checked = _pin_contracted_lengths(at, bt, na, ns)
    if not checked:
        return _broadcast_contract(at, bt, na, nb, ns)
    return _reshape_contract(at, bt, na, nb, ns)


def _pin_contracted_lengths(at: Variable, bt: Variable, na: int,
                            ns: int) -> tuple[Variable, Variable, bool]:
    """Make the contracted lengths checked at run time; False if some can't be.

    Dot only sees the product of the contracted lengths, so (2, 3) against (3, 2) would
    pass unnoticed. One contracted axis is checked by Dot itself; for several, a length
    known on one side is asserted on the other with specify_shape. A pair unknown on
    both sides cannot be checked this way (the caller then multiplies elementwise,
    whose broadcasting checks every axis).
    """
    if ns == 1:
        return at, bt, True
    sa, sb = list(at.type.shape), list(bt.type.shape)
    for k in range(ns):
        da, db = sa[na + k], sb[k]
        if da is None and db is None:
            return at, bt, False
        sa[na + k] = sb[k] = da if da is not None else db
    return specify_shape(at, sa), specify_shape(bt, sb), True


def _reshape_contract(at: Variable, bt: Variable, na: int, nb: int, ns: int) -> Variable:
    """(free_a, summed) x (summed, free_b) as one Dot of the flattened operands."""
    free_a, summed = tuple(range(na)), tuple(range(na, na + ns))
    a2 = reshape(at, (axes_size(at, free_a), axes_size(at, summed)))
    summed, free_b = tuple(range(ns)), tuple(range(ns, ns + nb))
    b2 = reshape(bt, (axes_size(bt, summed), axes_size(bt, free_b)))
    out_shape = [shape_i(at, i) for i in range(na)] + [shape_i(bt, ns + j) for j in range(nb)]
    return reshape(Dot()(a2, b2), tuple(out_shape))


def _broadcast_contract(at: Variable, bt: Variable, na: int, nb: int, ns: int) -> Variable:
    """(free_a, summed) x (summed, free_b) as a broadcast product summed over `summed`."""
    ea = dimshuffle(at, tuple(range(na)) + ("x",) * nb + tuple(range(na, na + ns)))
    eb = dimshuffle(bt, ("x",) * na + tuple(range(ns, ns + nb)) + tuple(range(ns)))
    product = mul(ea, eb)
    if ns == 0:
        return product
    return tsum(product, axis=tuple(range(na + nb, na + nb + ns)))

OPERATORS["matmul"] = matmul
OPERATORS["dot"] = dot
