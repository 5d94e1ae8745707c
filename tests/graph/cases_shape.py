"""Op cases for shape manipulation, joining and creation (shape.py, join.py, creation.py).

References are independent of the ops' perform where the op is more than a NumPy call
(index arithmetic for eye/one_hot/arange, slicing for split/repeat/tile); for pure
data-movement ops (reshape, concatenate) the NumPy routine IS the definition, while
the op resolves shapes, -1 and static types on its own.
"""

from __future__ import annotations

import numpy as np
from opcases import OpCase, random_array

import tensorjit as tj

FLOATS = ("float64", "float32")
WITH_INT = ("float64", "float32", "int32")
EXACT = {"float32": 0.0, "float64": 0.0}


def ints_after(*values):
    """make_inputs: input 0 random (its dtype), then the given integers (their dtypes)."""
    def make(rng, shapes, dtypes):
        head = [random_array(rng, shapes[0], dtypes[0])] if len(shapes) > len(values) else []
        # gradient checks ask for float64 everywhere; the integer inputs stay integer
        rest = [np.array(v, dtype=d if np.dtype(d).kind in "iu" else "int64")
                for v, d in zip(values, dtypes[len(head):])]
        return head + rest
    return make


def fixed(*values):
    """make_inputs: exactly these values (cast to the trial's dtypes)."""
    def make(rng, shapes, dtypes):
        return [np.array(v, dtype=d if isinstance(v, float) or np.dtype(d).kind in "iu"
                         else "int64") for v, d in zip(values, dtypes)]
    return make


def eye_reference(n, m, k):
    rows, cols = np.arange(int(n))[:, None], np.arange(int(m))[None, :]
    return (cols - rows == int(k)).astype("float64")


def one_hot_reference(i, depth=5):
    return (i[..., None] == np.arange(depth)).astype("float64")


def tile_reference(a, reps):
    """np.tile by explicit index arithmetic: out[i] = a[i mod shape]."""
    a = np.asarray(a).reshape((1,) * (len(reps) - a.ndim) + a.shape)
    out_shape = tuple(s * r for s, r in zip(a.shape, reps))
    idx = np.indices(out_shape)
    return a[tuple(ix % s for ix, s in zip(idx, a.shape))] if a.size else \
        np.zeros(out_shape, a.dtype)


RESHAPE = [
    OpCase("reshape_minus1", ("Reshape",), lambda a: tj.reshape(a, (-1, 2)),
           lambda a: np.reshape(a, (a.size // 2, 2)),
           (((3, 4),), ((0, 4),), ((2, 1, 2),)), WITH_INT, grad_order=2, rtol=EXACT),
    OpCase("reshape_0d", ("Reshape",), lambda a: a.reshape(1, 1, 1),
           lambda a: np.full((1, 1, 1), a.item(), a.dtype), (((),), ((1,),)), WITH_INT,
           grad_order=2, rtol=EXACT),
    OpCase("reshape_to_0d", ("Reshape",), lambda a: tj.reshape(a, ()),
           lambda a: np.asarray(a).reshape(()), (((1, 1),),), FLOATS, grad_order=2,
           rtol=EXACT),
    OpCase("reshape_symbolic_entry", ("Reshape", "MakeVector"),
           lambda a, n: tj.reshape(a, (n, -1)), lambda a, n: a.reshape(int(n), -1),
           (((4, 3), ()), ((2, 0), ())), (("float64", "int64"), ("float32", "int32")),
           make_inputs=ints_after(2), grad_order=2, rtol=EXACT),
    OpCase("reshape_to_shape_of", ("Reshape", "Shape"),
           lambda a, b: tj.reshape(a, tj.shape(b)), lambda a, b: a.reshape(b.shape),
           (((3, 4), (2, 6)), ((6,), (2, 3)), ((0, 2), (2, 0))), FLOATS, grad_order=2,
           rtol=EXACT),
    OpCase("flatten", ("Reshape", "ShapeI"), lambda a: tj.flatten(a),
           lambda a: np.array(a.tolist(), dtype=a.dtype).reshape(a.size),
           (((2, 3, 4),), ((0, 3),), ((),)), WITH_INT, grad_order=2, rtol=EXACT),
    OpCase("flatten_ndim2", ("Reshape", "ShapeI"), lambda a: a.flatten(2),
           lambda a: a.reshape(a.shape[0], int(np.prod(a.shape[1:]))),
           (((2, 3, 4),), ((0, 3, 2),), ((3, 0, 2),)), FLOATS, grad_order=2, rtol=EXACT),
    OpCase("transpose_default", ("DimShuffle",), lambda a: a.T,
           lambda a: np.einsum("ijk->kji", a), (((2, 3, 4),), ((0, 2, 1),)), WITH_INT,
           grad_order=2, rtol=EXACT),
    OpCase("transpose_axes", ("DimShuffle",), lambda a: tj.transpose(a, (2, 0, 1)),
           lambda a: np.einsum("ijk->kij", a), (((2, 3, 4),),), FLOATS, grad_order=2,
           rtol=EXACT),
    OpCase("expand_dims", ("DimShuffle",), lambda a: tj.expand_dims(a, (0, -1)),
           lambda a: a[None, ..., None], (((2, 3),), ((),), ((0,),)), WITH_INT,
           grad_order=2, rtol=EXACT),
    OpCase("squeeze_static", ("DimShuffle",), lambda a: tj.squeeze(a),
           lambda a: a[:, 0, :, 0], (((2, 1, 3, 1),), ((0, 1, 2, 1),)), WITH_INT,
           grad_order=2, rtol=EXACT),
    OpCase("specify_shape", ("SpecifyShape",),
           lambda a: tj.specify_shape(a, (None, 4)) * 2,
           lambda a: a * 2, (((3, 4),), ((0, 4),)), FLOATS, grad_order=2),
    OpCase("size", ("ShapeI", "Mul"), lambda a: tj.size(a),
           lambda a: np.int64(len(a.reshape(-1))), (((3, 4),), ((0, 3),), ((5,),)),
           grad_order=0),
    OpCase("shape_i", ("ShapeI",), lambda a: tj.shape_i(a, -1) + 0,
           lambda a: np.int64(a.shape[-1]), (((3, 4),), ((2, 0),)), grad_order=0),
    OpCase("make_vector", ("MakeVector",), lambda n, m: tj.make_vector(n, m, 3),
           lambda n, m: np.array([int(n), int(m), 3]), (((), ()),),
           (("int64", "int32"), ("uint8", "int16")), make_inputs=fixed(5, 7),
           grad_order=0),
]

CREATION = [
    OpCase("broadcast_to", ("Alloc",), lambda a: tj.broadcast_to(a, (2, 3, 4)),
           lambda a: np.broadcast_to(a, (2, 3, 4)),
           (((3, 4),), ((1, 4),), ((3, 1),), ((),), ((4,),)), WITH_INT, grad_order=2,
           rtol=EXACT),
    OpCase("broadcast_to_symbolic", ("Alloc", "MakeVector"),
           lambda a, n: tj.broadcast_to(a, (n, tj.shape_i(a, 0), 4)),
           lambda a, n: np.broadcast_to(a, (int(n), a.shape[0], 4)),
           (((3, 1), ()), ((0, 4), ())), (("float64", "int64"), ("float32", "int32")),
           make_inputs=ints_after(2), grad_order=2, rtol=EXACT),
    OpCase("broadcast_to_size0", ("Alloc",), lambda a, n: tj.broadcast_to(a, (n, 3)),
           lambda a, n: np.zeros((0, 3), a.dtype) + a, (((3,), ()),),
           (("float64", "int64"),), make_inputs=ints_after(0), grad_order=1),
    OpCase("zeros", ("Alloc",), lambda n: tj.zeros((n, 3)),
           lambda n: np.array([[0.0] * 3] * int(n)).reshape(int(n), 3),
           (((),),), ("int64", "int32"), make_inputs=fixed(4), grad_order=0),
    OpCase("zeros_size0", ("Alloc",), lambda n: tj.zeros((2, n)),
           lambda n: np.empty((2, 0)), (((),),), ("int64",), make_inputs=fixed(0),
           grad_order=0),
    OpCase("ones_int", ("Alloc",), lambda n: tj.ones(n, dtype="int32"),
           lambda n: np.array([1] * int(n), dtype="int32"), (((),),), ("int64",),
           make_inputs=fixed(3), grad_order=0),
    OpCase("full_value", ("Alloc",), lambda v, n: tj.full((n, 2), v),
           lambda v, n: np.array([[v, v]] * int(n)), (((), ()),),
           (("float64", "int64"), ("float32", "int64"), ("int32", "int64")),
           make_inputs=ints_after(3), grad_order=2, rtol=EXACT),
    OpCase("full_shape_vector", ("Alloc",), lambda v, s: tj.full(s, v),
           lambda v, s: np.broadcast_to(v, tuple(s)), (((3,), (2,)),),
           (("float64", "int64"), ("float32", "int32")),
           make_inputs=lambda rng, sh, dt: [random_array(rng, (3,), dt[0]),
                                             np.array([2, 3], dtype="int64")],
           grad_order=2, rtol=EXACT, static="exact"),
    OpCase("arange_int", ("ARange",), lambda n: tj.arange(n),
           lambda n: np.array(list(range(int(n))), dtype="int64"), (((),),),
           ("int64", "int32"), make_inputs=fixed(6), grad_order=0),
    OpCase("arange_int_empty", ("ARange",), lambda a, b: tj.arange(a, b, 2),
           lambda a, b: np.array(list(range(int(a), int(b), 2)), dtype="int64"),
           (((), ()),), ("int64",), make_inputs=fixed(5, 3), grad_order=0),
    OpCase("arange_float", ("ARange",), lambda a, b, s: tj.arange(a, b, s),
           lambda a, b, s: a + s * np.array(range(int(np.ceil((b - a) / s)))),
           (((), (), ()),), FLOATS, make_inputs=fixed(0.25, 3.9, 0.5),
           rtol={"float32": 1e-6, "float64": 1e-12}, grad_order=2),
    OpCase("arange_negative_step", ("ARange",), lambda a: tj.arange(a, -1.0, -0.75),
           lambda a: a - 0.75 * np.array(range(int(np.ceil((a + 1.0) / 0.75)))),
           (((),),), FLOATS, make_inputs=fixed(2.1), grad_order=2,
           rtol={"float32": 1e-6, "float64": 1e-12}),
    OpCase("eye", ("Eye",), lambda n, m, k: tj.eye(n, m, k), eye_reference,
           (((), (), ()),), (("int64", "int64", "int64"), ("int32", "int64", "int16")),
           make_inputs=fixed(3, 5, 1), grad_order=0),
    OpCase("eye_square_neg_k", ("Eye",), lambda n: tj.eye(n, k=-1, dtype="int32"),
           lambda n: eye_reference(n, n, -1).astype("int32"), (((),),), ("int64",),
           make_inputs=fixed(4), grad_order=0),
    OpCase("one_hot", ("OneHot",), lambda i: tj.one_hot(i, 5), one_hot_reference,
           (((6,),), ((2, 3),), ((),), ((0,),)), ("int64", "int32", "uint8"),
           domain=(0, 4), grad_order=0),
    OpCase("one_hot_symbolic_depth", ("OneHot",), lambda i, d: tj.one_hot(i, d, "int32"),
           lambda i, d: one_hot_reference(i, int(d)).astype("int32"), (((4,), ()),),
           (("int64", "int64"),),
           make_inputs=fixed([0, 2, 1, 2], 3), grad_order=0),
]

JOIN = [
    OpCase("concatenate", ("Join",), lambda a, b: tj.concatenate([a, b], axis=0),
           lambda a, b: np.concatenate([a, b]),
           (((2, 3), (4, 3)), ((0, 3), (2, 3)), ((1, 3), (2, 3)), ((2,), (3,))),
           WITH_INT + (("float32", "float64"),), grad_order=2, rtol=EXACT),
    OpCase("concatenate_last_axis", ("Join", "Split"),
           lambda a, b, c: tj.concatenate([a, b, c], axis=-1),
           lambda a, b, c: np.concatenate([a, b, c], axis=-1),
           (((2, 3), (2, 1), (2, 0)), ((0, 2), (0, 3), (0, 1))), FLOATS, grad_order=2,
           rtol=EXACT),
    OpCase("stack", ("Join",), lambda a, b: tj.stack([a, b], axis=1),
           lambda a, b: np.stack([a, b], axis=1), (((2, 3), (2, 3)), ((0,), (0,))),
           WITH_INT, grad_order=2, rtol=EXACT),
    OpCase("stack_scalars", ("Join",), lambda a, b: tj.stack([a, b, a]),
           lambda a, b: np.array([a, b, a]), (((), ()),), FLOATS, grad_order=2,
           rtol=EXACT),
    OpCase("split_sections", ("Split", "Join"),
           lambda a: tj.concatenate(tj.split(a, 3, axis=1)[::-1], axis=1),
           lambda a: np.concatenate([a[:, 2 * a.shape[1] // 3:],
                                     a[:, a.shape[1] // 3:2 * a.shape[1] // 3],
                                     a[:, :a.shape[1] // 3]], axis=1),
           (((2, 6),), ((0, 3),), ((2, 0),)), WITH_INT, grad_order=2, rtol=EXACT),
    OpCase("split_indices", ("Split",), lambda a: tj.split(a, [1, 3])[1] * 3,
           lambda a: a[1:3] * 3, (((4, 2),), ((5,),)), FLOATS, grad_order=2),
    OpCase("split_indices_clipped", ("Split",), lambda a: tj.split(a, [-2, 9])[1],
           lambda a: a[a.shape[0] - 2:], (((4, 2),),), FLOATS, grad_order=2, rtol=EXACT),
    OpCase("split_symbolic_index", ("Split", "MakeVector"),
           lambda a, k: tj.split(a, [k], axis=0)[1], lambda a, k: a[int(k):],
           (((4, 3), ()), ((3,), ())), (("float64", "int64"), ("float32", "int32")),
           make_inputs=ints_after(1), grad_order=2, rtol=EXACT),
    OpCase("repeat_axis", ("Repeat",), lambda a: tj.repeat(a, 3, axis=1),
           lambda a: a[:, [j for j in range(a.shape[1]) for _ in range(3)]],
           (((2, 3),), ((0, 2),), ((2, 0),)), WITH_INT, grad_order=2, rtol=EXACT),
    OpCase("repeat_flat", ("Repeat",), lambda a: a.repeat(2),
           lambda a: np.array([v for v in np.asarray(a).reshape(-1) for _ in range(2)],
                              dtype=a.dtype).reshape(2 * a.size),
           (((2, 3),), ((),)), FLOATS, grad_order=2, rtol=EXACT),
    OpCase("repeat_zero", ("Repeat",), lambda a: tj.repeat(a, 0, axis=0),
           lambda a: a[:0], (((3, 2),),), FLOATS, grad_order=1),
    OpCase("tile", ("Tile",), lambda a: tj.tile(a, (2, 1, 3)),
           lambda a: tile_reference(a, (2, 1, 3)),
           (((2, 3),), ((3,),), ((),), ((0, 2),), ((1, 2, 2),)), WITH_INT, grad_order=2,
           rtol=EXACT),
    OpCase("tile_short_reps", ("Tile",), lambda a: tj.tile(a, 2),
           lambda a: tile_reference(a, (1, 2)), (((2, 3),),), FLOATS, grad_order=2,
           rtol=EXACT),
]

CASES = RESHAPE + CREATION + JOIN
