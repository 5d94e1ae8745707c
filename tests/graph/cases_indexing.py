"""Op cases for indexing: Subtensor, AdvancedSubtensor, IncSubtensor, AdvancedIncSubtensor.

``shapes`` lists the data inputs only; index inputs (integer arrays, masks, scalar
bounds) are appended by ``make_inputs`` and are symbolic inputs in the evaluator tests
and constants in verify_grad. References use NumPy indexing and ``np.add.at`` directly.
Float outputs are squared so that the second-order check goes through the gradient ops'
own gradients (a linear function has a constant gradient).
"""

from __future__ import annotations

import numpy as np
from opcases import OpCase, random_array

import tensorjit as tj

READ_DTYPES = ("float64", "float32", "int32")
WRITE_DTYPES = ("float64", "float32", "int64")
F32_RTOL = {"float32": 1e-5, "float64": 1e-12}


def with_indices(*makers):
    """make_inputs: random data inputs (from shapes), then makers(rng, data) -> indices."""
    def make(rng, shapes, dtypes):
        data = [random_array(rng, s, d) for s, d in zip(shapes, dtypes)]
        return data + [m(rng, data) for m in makers]
    return make


def ints(size=(5,), axis=0, data=0, unique=False):
    """Random int64 indices into data[data].shape[axis], negatives and repeats included."""
    def make(rng, arrays):
        n = arrays[data].shape[axis]
        if n == 0:
            return np.zeros((0,), "int64")
        if unique:
            p = rng.permutation(n)[:int(np.prod(size))]
            return np.where(rng.random(p.shape) < 0.5, p - n, p).reshape(size)
        return rng.integers(-n, n, size=size).astype("int64")
    return make


def arange_of(axis=0, data=0):
    """0, 1, ..., n-1 for n = data[data].shape[axis] (the p[arange(n), y] pattern)."""
    return lambda rng, arrays: np.arange(arrays[data].shape[axis], dtype="int64")


def per_row(data=0):
    """One random column index per row of data[data] (the y of p[arange(n), y])."""
    def make(rng, arrays):
        n, m = arrays[data].shape[:2]
        return rng.integers(-m, m, size=n).astype("int64")
    return make


def mask(ndim, axis=0, data=0):
    """A random boolean mask over ndim axes of data[data] starting at axis."""
    def make(rng, arrays):
        return rng.random(arrays[data].shape[axis:axis + ndim]) < 0.5
    return make


def scalar(value, dtype="int64"):
    """A fixed 0-d integer (a symbolic scalar bound in the evaluator tests)."""
    return lambda rng, arrays: np.array(value, dtype=dtype)


def sq(v):
    """v * v (see the module docstring)."""
    return v * v


def np_inc(key_fn):
    """Reference of inc_subtensor(a[key], b) with accumulation (np.add.at)."""
    def ref(a, b, *idx):
        out = a.copy()
        np.add.at(out, key_fn(*idx), b)
        return out * out
    return ref


def np_set(key_fn):
    """Reference of set_subtensor(a[key], b)."""
    def ref(a, b, *idx):
        out = a.copy()
        out[key_fn(*idx)] = b
        return out * out
    return ref


def read(name, key_fn, shapes, makers=(), dtypes=READ_DTYPES, covers=("Subtensor",),
         grad_order=2, **kw):
    """A case for sq(a[key_fn(*indices)]) against NumPy's a[key]**2."""
    return OpCase(name, covers, lambda a, *idx: sq(a[key_fn(*idx)]),
                  lambda a, *idx: np.asarray(a[key_fn(*idx)]) ** 2, shapes, dtypes,
                  make_inputs=with_indices(*makers), grad_order=grad_order,
                  rtol=F32_RTOL, **kw)


def write(name, key_fn, shapes, makers=(), set_=False, covers=("IncSubtensor",), **kw):
    """A case for sq(inc_subtensor(a[key], b)) (or set_subtensor) against NumPy."""
    fn = tj.set_subtensor if set_ else tj.inc_subtensor
    ref = np_set(key_fn) if set_ else np_inc(key_fn)
    return OpCase(name, covers, lambda a, b, *idx: sq(fn(a[key_fn(*idx)], b)), ref, shapes,
                  WRITE_DTYPES, make_inputs=with_indices(*makers), grad_order=2,
                  rtol=F32_RTOL, **kw)


ADV = ("AdvancedSubtensor",)
ADV_INC = ("AdvancedIncSubtensor",)

BASIC_READS = [
    read("subtensor_slices", lambda: np.s_[1:, ::-1], (((3, 4),), ((0, 4),), ((1, 5),))),
    read("subtensor_negative_step_bounds", lambda: np.s_[3:0:-2, -1:],
         (((5, 3),), ((2, 3),), ((0, 3),))),
    read("subtensor_empty_slices", lambda: np.s_[2:1, :0], (((3, 4),), ((5, 2),))),
    read("subtensor_int_newaxis_ellipsis", lambda: np.s_[-1, None, ..., 1],
         (((2, 3, 4),), ((1, 0, 2),))),
    read("subtensor_scalar_result", lambda: np.s_[1, -2], (((3, 4),), ((2, 2),))),
    read("subtensor_0d_input", lambda: np.s_[None, ...], (((),),)),
    read("subtensor_symbolic_bounds", lambda n, s: np.s_[n:, ::s],
         (((4, 3),), ((1, 2),), ((0, 3),)), makers=(scalar(1), scalar(-1))),
    read("subtensor_symbolic_int", lambda i, j: np.s_[i, :j],
         (((4, 3),), ((2, 5),)), makers=(scalar(-1), scalar(2, "int32"))),
    OpCase("subtensor_of_shape", ("Subtensor", "Shape"), lambda a: tj.shape(a)[-1],
           lambda a: np.int64(a.shape[-1]), (((3, 4),), ((0, 2, 5),)), grad_order=0),
]

BASIC_WRITES = [
    write("inc_subtensor_slices", lambda: np.s_[1:, ::-2],
          (((3, 4), (2, 2)), ((3, 4), (2,)), ((3, 4), ()), ((3, 4), (1, 2)),
           ((1, 4), (2,)))),
    write("inc_subtensor_symbolic_stop", lambda n: np.s_[:n],
          (((3, 4), (2, 4)), ((3, 4), (1, 4))), makers=(scalar(2),),
          grad_shapes=((3, 4), (2, 4))),
    write("set_subtensor_row", lambda: np.s_[1], (((3, 4), (4,)), ((3, 4), ()),),
          set_=True),
    write("set_subtensor_element", lambda: np.s_[0, -1], (((3, 4), ()), ((1, 1), ())),
          set_=True),
    write("set_subtensor_newaxis_step", lambda: np.s_[None, ::-2], (((5, 2), (1, 3, 2)),
          ((5, 2), (2,)), ((0, 2), (2,))), set_=True),
]

ADVANCED_READS = [
    read("advanced_rows", lambda i: i, (((3, 4),), ((3,),), ((0, 4),)),
         makers=(ints(),), covers=ADV),
    read("advanced_columns", lambda i: np.s_[:, i], (((3, 4),), ((2, 1),)),
         makers=(ints(axis=1),), covers=ADV),
    read("advanced_gather_pairs", lambda i, j: np.s_[i, j], (((3, 4),), ((5, 2),)),
         makers=(arange_of(), per_row()), covers=ADV),
    read("advanced_matrix_index", lambda i: i, (((3, 4),), ((4,),)),
         makers=(ints((2, 3)),), covers=ADV),
    read("advanced_nonadjacent_with_slice", lambda i, j: np.s_[i, :, j],
         (((2, 3, 4),), ((3, 1, 2),)), makers=(ints((4,)), ints((4,), axis=2)), covers=ADV),
    read("advanced_int_and_array_nonadjacent", lambda i: np.s_[0, :, i],
         (((2, 3, 4),),), makers=(ints(axis=2),), covers=ADV),
    read("advanced_int_and_array_adjacent", lambda i: np.s_[:, -1, i],
         (((2, 3, 4),),), makers=(ints(axis=2),), covers=ADV),
    read("advanced_newaxis_and_slice", lambda i: np.s_[None, i, 1:],
         (((3, 4),),), makers=(ints(),), covers=ADV),
    read("advanced_bool_mask_full", lambda m: m, (((3, 4),), ((2, 0),), ((5,),)),
         makers=(lambda rng, arrays: rng.random(arrays[0].shape) < 0.5,), covers=ADV),
    read("advanced_bool_mask_first_axis", lambda m: m, (((3, 4),), ((4, 2, 2),)),
         makers=(mask(1),), covers=ADV),
    read("advanced_bool_mask_second_axis", lambda m: np.s_[:, m], (((3, 4),),),
         makers=(mask(1, axis=1),), covers=ADV),
]

ADVANCED_WRITES = [
    write("advanced_inc_repeated_rows", lambda i: i,
          (((3, 4), (5, 4)), ((3, 4), (4,)), ((3, 4), ()), ((3, 4), (5, 1))),
          makers=(ints(),), covers=ADV_INC),
    write("advanced_inc_repeated_pairs", lambda i, j: np.s_[i, j],
          (((3, 4), (6,)), ((3, 4), ())), makers=(ints((6,)), ints((6,), axis=1)),
          covers=ADV_INC),
    write("advanced_inc_columns_slice", lambda i: np.s_[1:, i],
          (((3, 4), (2, 5)), ((3, 4), (5,))), makers=(ints(axis=1),), covers=ADV_INC),
    write("advanced_inc_bool_mask", lambda m: m, (((3, 4), (4,)), ((3, 4), ())),
          makers=(mask(1),), covers=ADV_INC),
    write("advanced_set_unique_rows", lambda i: i, (((4, 3), (3, 3)), ((4, 3), (3,))),
          makers=(ints((3,), unique=True),), set_=True, covers=ADV_INC),
    write("advanced_set_matrix_index", lambda i: i, (((5,), (2, 2)), ((5,), ())),
          makers=(ints((2, 2), unique=True),), set_=True, covers=ADV_INC),
]

CASES = BASIC_READS + BASIC_WRITES + ADVANCED_READS + ADVANCED_WRITES
