"""Op cases for linear algebra: Dot (2-D products, and 1-D via DimShuffle), BatchedMatmul,
and the public dot, matmul, outer and tensordot (references: NumPy's own functions)."""

import numpy as np

import tensorjit as tj
from opcases import OpCase

# Positive operands: no cancellation in the sums, so relative tolerances hold for float32
# whatever order the products are summed in.
POSITIVE = (0.5, 2.0)
RTOL = {"float32": 1e-5, "float64": 1e-12}
INTS = ("int32", "int64")

MATRIX_SHAPES = (((3, 4), (4, 5)), ((1, 4), (4, 1)), ((3, 0), (0, 5)), ((0, 4), (4, 2)),
                 ((2, 3), (3, 0)))
VECTOR_SHAPES = (((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((0,), (0,)),
                 ((0, 3), (3,)), ((1,), (1, 3)))
BATCHED_SHAPES = (((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((2, 3, 4), (1, 4, 5)),
                  ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((4,), (2, 4, 5)),
                  ((2, 3, 4), (4,)), ((0, 3, 4), (0, 4, 2)), ((2, 1, 3, 4), (5, 4, 2)))

CASES = [
    OpCase("matmul_matrix", ("Dot", "DimShuffle"), lambda a, b: a @ b, np.matmul,
           MATRIX_SHAPES, domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("matmul_vector", ("Dot",), lambda a, b: tj.matmul(a, b), np.matmul,
           VECTOR_SHAPES, domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("matmul_batched", ("BatchedMatmul",), lambda a, b: a @ b, np.matmul,
           BATCHED_SHAPES, domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("matmul_batched_vector", ("BatchedMatmul",), lambda a, b: tj.matmul(a, b),
           np.matmul, (((4,), (2, 4, 5)), ((2, 3, 4), (4,))), domain=POSITIVE, rtol=RTOL,
           grad_order=2),
    OpCase("matmul_static_shapes", ("Dot", "BatchedMatmul"), lambda a, b: a @ b,
           np.matmul, (((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 2))),
           static="exact", domain=POSITIVE, rtol=RTOL),
    OpCase("matmul_ints", ("Dot", "BatchedMatmul"), lambda a, b: a @ b, np.matmul,
           (((3, 4), (4, 5)), ((4,), (4,)), ((2, 3, 4), (4, 5))), dtypes=INTS,
           domain=(-5, 5), grad_order=0),
    # NumPy promotion: int @ float -> float, float32 @ float64 -> float64
    OpCase("matmul_mixed_dtypes", ("Dot", "Cast"), lambda a, b: a @ b, np.matmul,
           (((3, 4), (4, 5)), ((4,), (4, 2))),
           dtypes=(("int32", "float64"), ("float32", "float64"), ("int64", "float32")),
           domain=(-5, 5), rtol={"float32": 1e-5, "float64": 1e-12}, atol=1e-9,
           grad_order=0),
    OpCase("matmul_reflected_array", ("Dot",), lambda b: np.arange(12.0).reshape(3, 4) @ b,
           lambda b: np.arange(12.0).reshape(3, 4) @ b, (((4, 2),),), domain=POSITIVE,
           dtypes=("float64",), rtol=RTOL),
    OpCase("dot_matrix_vector", ("Dot",), lambda a, b: tj.dot(a, b), np.dot,
           MATRIX_SHAPES[:2] + VECTOR_SHAPES[:4], domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("dot_scalar", ("Mul",), lambda a, b: tj.dot(a, b), np.dot,
           (((), (3,)), ((2, 3), ()), ((), ())), rtol=RTOL, grad_order=2),
    OpCase("dot_python_scalar", ("Mul",), lambda a: a.dot(2.0), lambda a: np.dot(a, 2.0),
           (((3,),),), rtol=RTOL),
    # N-D dot: the last axis of a with the second-to-last of b
    OpCase("dot_nd", ("Reshape", "Dot"), lambda a, b: tj.dot(a, b), np.dot,
           (((2, 3, 4), (5, 4, 2)), ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 5)),
            ((2, 3, 4), (4,)), ((4,), (2, 4, 3))), domain=POSITIVE, rtol=RTOL,
           grad_order=2),
    OpCase("dot_ints", ("Dot",), lambda a, b: a.dot(b), np.dot,
           (((3, 4), (4, 5)), ((4,), (4,))), dtypes=INTS + ("int8",), domain=(-3, 3),
           grad_order=0),
    OpCase("outer", ("Mul", "DimShuffle"), lambda a, b: tj.outer(a, b), np.outer,
           (((3,), (4,)), ((), (4,)), ((0,), (3,)), ((1,), (1,))), rtol=RTOL, grad_order=2),
    OpCase("outer_ints", ("Mul",), lambda a, b: tj.outer(a, b), np.outer,
           (((3,), (4,)),), dtypes=INTS + (("int32", "float64"),), domain=(-5, 5),
           grad_order=0),
    # static lengths known: reshape + one Dot
    OpCase("tensordot_default", ("Reshape", "Dot", "SpecifyShape"),
           lambda a, b: tj.tensordot(a, b), np.tensordot,
           (((2, 3, 4), (3, 4, 5)), ((3, 4), (3, 4)), ((2, 0, 4), (0, 4, 3)),
            ((0, 3, 4), (3, 4, 2))), static="exact", domain=POSITIVE, rtol=RTOL,
           grad_order=2),
    # several contracted lengths unknown on both sides: broadcast product and sum
    OpCase("tensordot_unknown_lengths", ("Sum", "Mul"), lambda a, b: tj.tensordot(a, b),
           np.tensordot, (((2, 3, 4), (3, 4, 5)), ((3, 4), (3, 4)), ((2, 0, 4), (0, 4, 3))),
           domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("tensordot_pairs", ("Reshape", "Dot"),
           lambda a, b: tj.tensordot(a, b, axes=([0, 2], [1, 0])),
           lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])),
           (((2, 3, 4), (4, 2, 5)), ((2, 1, 4), (4, 2, 3))), static="exact",
           domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("tensordot_pairs_unknown", ("Sum", "Mul"),
           lambda a, b: tj.tensordot(a, b, axes=([0, 2], [1, 0])),
           lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])),
           (((2, 3, 4), (4, 2, 5)), ((2, 1, 4), (4, 2, 3))), domain=POSITIVE, rtol=RTOL,
           grad_order=2),
    # one contracted axis between several free ones: reshape + Dot, lengths unknown
    OpCase("tensordot_many_free", ("Reshape", "Dot", "ShapeI", "AxesSize"),
           lambda a, b: tj.tensordot(a, b, axes=([1], [1])),
           lambda a, b: np.tensordot(a, b, axes=([1], [1])),
           (((2, 3, 4), (5, 3, 2)), ((2, 3), (5, 3, 2)), ((0, 3, 1), (2, 3, 0))),
           domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("tensordot_one_axis", ("Dot",),
           lambda a, b: tj.tensordot(a, b, axes=([0], [-1])),
           lambda a, b: np.tensordot(a, b, axes=([0], [-1])),
           (((4, 3), (5, 4)), ((4,), (2, 4)), ((4, 3), (4,)), ((0, 3), (2, 0))),
           domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("tensordot_outer", ("Mul",), lambda a, b: tj.tensordot(a, b, axes=0),
           lambda a, b: np.tensordot(a, b, axes=0), (((2, 3), (4,)), ((), (3,))),
           rtol=RTOL, grad_order=2),
    OpCase("tensordot_ints", ("Reshape", "Dot"), lambda a, b: tj.tensordot(a, b, 1),
           lambda a, b: np.tensordot(a, b, 1), (((2, 3), (3, 4)), ((2, 3, 4), (4, 2))),
           dtypes=INTS + (("int32", "float64"),), domain=(-4, 4), grad_order=0),
]

CASES.append(
    OpCase("outer_flattens", ("Reshape", "Mul"), lambda a, b: tj.outer(a, b), np.outer,
           (((2, 3), (4,)), ((2, 2), (1, 3))), rtol=RTOL, grad_order=2))


def _gemm(alpha, beta):
    """(build, reference) of Gemm(alpha, beta); the reference is NumPy's matmul."""
    from tensorjit.graph.ops.linalg import Gemm
    return (lambda a, b, c: Gemm(alpha, beta)(a, b, c),
            lambda a, b, c: alpha * np.matmul(a, b) + beta * c)


GEMM_SHAPES = (((3, 4), (4, 5), (3, 5)), ((3, 4), (4, 5), (1, 5)), ((3, 4), (4, 5), (3, 1)),
               ((3, 4), (4, 5), (1, 1)), ((1, 4), (4, 1), (1, 1)), ((3, 0), (0, 5), (1, 5)),
               ((0, 4), (4, 2), (0, 2)))

CASES += [
    OpCase("gemm_bias", ("Gemm",), *_gemm(2.0, 0.5), GEMM_SHAPES, domain=POSITIVE,
           rtol=RTOL, grad_order=2),
    OpCase("gemm_negative_scales", ("Gemm",), *_gemm(-1.5, -1.0),
           (((3, 4), (4, 5), (1, 5)), ((2, 3), (3, 2), (2, 2))), dtypes=("float64",),
           rtol=RTOL, grad_order=2),
]


def _gemm_t(alpha, beta, trans_a, trans_b, with_c=True):
    """(build, reference) of Gemm with transpose flags: the inputs are the STORED
    matrices (a is (k, m) when trans_a); the reference transposes them in NumPy."""
    from tensorjit.graph.ops.linalg import Gemm
    op = Gemm(alpha, beta, trans_a, trans_b)

    def ref(a, b, c=None):
        prod = alpha * np.matmul(a.T if trans_a else a, b.T if trans_b else b)
        return prod if c is None else prod + beta * c
    if with_c:
        return (lambda a, b, c: op(a, b, c), ref)
    return (lambda a, b: op(a, b), ref)


# Logical (op(a), op(b), c) shapes: general, m = 1 (gemv on b), n = 1 (gemv on a),
# m = n = 1 (dot), k = 0, m = 0, and one spanning several register tiles of the JIT GEMM.
LOGICAL_GEMM_SHAPES = (((3, 4), (4, 5), (3, 5)), ((1, 4), (4, 5), (1, 5)),
                       ((3, 4), (4, 1), (3, 1)), ((1, 4), (4, 1), (1, 1)),
                       ((3, 0), (0, 5), (1, 5)), ((0, 4), (4, 2), (0, 2)),
                       ((13, 70), (70, 67), (1, 67)))


def _stored(trans_a, trans_b, with_c=True):
    """LOGICAL_GEMM_SHAPES as stored: an operand read transposed is stored reversed."""
    out = []
    for sa, sb, sc in LOGICAL_GEMM_SHAPES:
        shapes = (sa[::-1] if trans_a else sa, sb[::-1] if trans_b else sb)
        out.append(shapes + (sc,) if with_c else shapes)
    return tuple(out)


CASES += [
    OpCase("gemm_trans_a", ("Gemm",), *_gemm_t(1.5, 0.5, True, False),
           _stored(True, False), domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("gemm_trans_b", ("Gemm",), *_gemm_t(2.0, 1.0, False, True),
           _stored(False, True), domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("gemm_trans_both", ("Gemm",), *_gemm_t(-1.0, -0.5, True, True),
           _stored(True, True), domain=POSITIVE, rtol=RTOL, grad_order=2),
    # the C-less form (beta 0) that gemm_absorb_transpose makes from a Dot
    OpCase("gemm_no_c", ("Gemm",), *_gemm_t(1.0, 0.0, False, False, with_c=False),
           _stored(False, False, with_c=False), domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("gemm_no_c_trans_a", ("Gemm",), *_gemm_t(1.0, 0.0, True, False, with_c=False),
           _stored(True, False, with_c=False), domain=POSITIVE, rtol=RTOL, grad_order=2),
    OpCase("gemm_no_c_trans_b", ("Gemm",), *_gemm_t(0.5, 0.0, False, True, with_c=False),
           _stored(False, True, with_c=False), domain=POSITIVE, rtol=RTOL, grad_order=2),
]
