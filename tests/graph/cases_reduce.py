"""Op cases for the reductions: sum, mean, prod, max, min, argmax, argmin, all, any,
var and std (mean/var/std are composites, so they cover the ops they are built from)."""

import warnings

import numpy as np

import tensorjit as tj
from opcases import OpCase, random_array

ANY_2D = (((3, 4),), ((1, 5),), ((0, 3),))
ANY_ND = (((3, 4),), ((),), ((0, 3),), ((2, 3, 4),), ((5,),))
INTS = ("int32", "int64")
# sums of a few values: float32 pairwise vs naive summation differ in the last bits
SUM_RTOL = {"float32": 1e-5, "float64": 1e-12}


def quiet(fn):
    """fn with NumPy's empty-slice and dof warnings silenced (the values are compared)."""
    def call(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args)
    return call


def distinct(rng, shapes, dtypes):
    """Inputs without ties (max/min/argmax gradients are only defined without them)."""
    out = []
    for shape, dtype in zip(shapes, dtypes):
        n = int(np.prod(shape, dtype=np.int64))
        values = rng.permutation(n).reshape(shape) - n // 2
        scale = 0.25 if np.dtype(dtype).kind == "f" else 1
        out.append(np.asarray(values * scale, dtype=dtype))
    return out


def with_zeros(rng, shapes, dtypes):
    """A (3, 4)-like input whose row 0 has one zero, row 1 two zeros, row 2 none."""
    (shape,), (dtype,) = shapes, dtypes
    x = random_array(rng, shape, dtype, (0.5, 1.5))
    x *= np.where(rng.random(shape) < 0.5, -1, 1).astype(dtype)
    if x.ndim == 2 and x.shape[0] >= 3 and x.shape[1] >= 3:
        x[0, 1] = 0
        x[1, 0] = x[1, 2] = 0
    return [x]


def one_zero(rng, shapes, dtypes):
    """Inputs with exactly one zero (the gradient there is the product of the others)."""
    out = []
    for shape, dtype in zip(shapes, dtypes):
        x = random_array(rng, shape, dtype, (0.5, 1.5))
        x.flat[x.size // 2] = 0
        out.append(x)
    return out


def sparse_truth(rng, shapes, dtypes):
    """Values with many zeros, so all/any are neither always true nor always false."""
    return [(rng.integers(0, 3, size=s) * (rng.random(s) < 0.7)).astype(d)
            for s, d in zip(shapes, dtypes)]


SUM_CASES = [
    OpCase("sum_negative_axis", ("Sum",), lambda a: tj.sum(a, axis=-1),
           lambda a: np.sum(a, axis=-1), ANY_2D + (((2, 3, 4),),), rtol=SUM_RTOL,
           grad_order=2),
    OpCase("sum_tuple_axes", ("Sum",), lambda a: tj.sum(a, axis=(0, -1)),
           lambda a: np.sum(a, axis=(0, -1)), (((2, 3, 4),), ((0, 3, 2),), ((2, 0, 3),)),
           rtol=SUM_RTOL),
    OpCase("sum_ints", ("Sum",), lambda a: tj.sum(a, axis=0),
           lambda a: np.sum(a, axis=0, dtype="int64"), ANY_2D,
           dtypes=INTS + ("bool", "uint8"), domain=(-5, 5), grad_order=0),
    OpCase("sum_method_keepdims", ("Sum",), lambda a: a.sum(axis=1, keepdims=True),
           lambda a: np.sum(a, axis=1, keepdims=True), ANY_2D, rtol=SUM_RTOL),
]

MEAN_CASES = [
    OpCase("mean_all", ("Sum", "AxesSize"), lambda a: tj.mean(a), quiet(np.mean),
           ANY_ND, rtol=SUM_RTOL, grad_order=2),
    OpCase("mean_axis_keepdims", ("Sum", "AxesSize"),
           lambda a: tj.mean(a, axis=(0, 2), keepdims=True),
           quiet(lambda a: np.mean(a, axis=(0, 2), keepdims=True)),
           (((2, 3, 4),), ((2, 1, 0),)), rtol=SUM_RTOL),
    OpCase("mean_static_shape", ("Sum",), lambda a: a.mean(axis=-1),
           lambda a: np.mean(a, axis=-1), (((3, 4),),), static="exact", rtol=SUM_RTOL),
    # NumPy: the mean of integers (and bools) is float64
    OpCase("mean_ints", ("Sum", "AxesSize"), lambda a: tj.mean(a, axis=1),
           quiet(lambda a: np.mean(a, axis=1)), (((3, 4),), ((2, 0),)),
           dtypes=INTS + ("bool", "int8"), domain=(-100, 100), grad_order=0),
]

VAR_CASES = [
    OpCase("var_all", ("Sum", "AxesSize"), lambda a: tj.var(a), np.var,
           (((3, 4),), ((),), ((7,),)), grad_order=2,
           rtol={"float32": 1e-4, "float64": 1e-10}),
    OpCase("var_axis_ddof1", ("Sum", "AxesSize"), lambda a: tj.var(a, axis=0, ddof=1),
           quiet(lambda a: np.var(a, axis=0, ddof=1)), (((5, 3),), ((1, 3),), ((0, 2),)),
           grad_order=2, rtol={"float32": 1e-4, "float64": 1e-10}),
    OpCase("var_static_keepdims", ("Sum",),
           lambda a: a.var(axis=(1, 2), keepdims=True, ddof=2),
           lambda a: np.var(a, axis=(1, 2), keepdims=True, ddof=2), (((2, 3, 4),),),
           static="exact", rtol={"float32": 1e-4, "float64": 1e-10}),
    OpCase("var_ints", ("Sum", "AxesSize"), lambda a: tj.var(a, axis=-1),
           lambda a: np.var(a, axis=-1), (((3, 4),),), dtypes=INTS, domain=(-50, 50),
           grad_order=0),
    OpCase("std_axis", ("Sum", "AxesSize", "Sqrt"), lambda a: tj.std(a, axis=1),
           lambda a: np.std(a, axis=1), (((3, 4),), ((2, 5),)), grad_order=2,
           rtol={"float32": 1e-4, "float64": 1e-10}),
    OpCase("std_ddof_keepdims", ("Sum", "AxesSize", "Sqrt"),
           lambda a: a.std(axis=0, keepdims=True, ddof=1),
           lambda a: np.std(a, axis=0, keepdims=True, ddof=1), (((4, 3),), ((2, 2, 3),)),
           rtol={"float32": 1e-4, "float64": 1e-10}),
    OpCase("std_ints", ("Sum", "AxesSize", "Sqrt"), lambda a: tj.std(a),
           np.std, (((3, 4),),), dtypes=INTS, domain=(-50, 50), grad_order=0),
]

PROD_CASES = [
    OpCase("prod_all", ("Prod",), lambda a: tj.prod(a), np.prod,
           (((3, 4),), ((),), ((0, 3),)), domain=(0.5, 1.5), grad_order=2,
           rtol={"float32": 1e-5, "float64": 1e-12}),
    OpCase("prod_axis", ("Prod",), lambda a: tj.prod(a, axis=(0, -1), keepdims=True),
           lambda a: np.prod(a, axis=(0, -1), keepdims=True),
           (((2, 3, 4),), ((0, 2, 3),)), domain=(-1.5, 1.5), grad_order=2,
           rtol={"float32": 1e-5, "float64": 1e-12}),
    # exact zeros: one zero in row 0, two in row 1; the gradient must not be prod/x
    OpCase("prod_with_zeros", ("Prod",), lambda a: tj.prod(a, axis=1),
           lambda a: np.prod(a, axis=1), (((3, 4),), ((4, 3),)), make_inputs=with_zeros,
           grad_order=2, rtol={"float32": 1e-5, "float64": 1e-12}),
    OpCase("prod_with_one_zero", ("Prod",), lambda a: a.prod(), np.prod,
           (((2, 3),), ((5,),)), make_inputs=one_zero,
           grad_order=2, rtol={"float32": 1e-5, "float64": 1e-12}),
    OpCase("prod_ints", ("Prod",), lambda a: tj.prod(a, axis=0),
           lambda a: np.prod(a, axis=0, dtype="int64"), ANY_2D, dtypes=INTS + ("bool",),
           domain=(-3, 3), grad_order=0),
]

EXTREMUM_CASES = [
    OpCase("max_all", ("Max",), lambda a: tj.max(a), np.max,
           (((3, 4),), ((),), ((5,),)), make_inputs=distinct, grad_order=2),
    OpCase("max_axis", ("Max",), lambda a: tj.max(a, axis=-1, keepdims=True),
           lambda a: np.max(a, axis=-1, keepdims=True), ANY_2D[:2] + (((0, 3),),),
           make_inputs=distinct, grad_order=2),
    OpCase("max_tuple_axes", ("Max",), lambda a: a.max(axis=(0, 2)),
           lambda a: np.max(a, axis=(0, 2)), (((2, 3, 4),), ((2, 0, 3),)),
           make_inputs=distinct),
    OpCase("max_ints", ("Max",), lambda a: tj.max(a, axis=0),
           lambda a: np.max(a, axis=0), ANY_2D[:2], dtypes=INTS + ("bool", "uint8"),
           domain=(-5, 5), grad_order=0),
    OpCase("min_all", ("Min",), lambda a: tj.min(a), np.min,
           (((3, 4),), ((),), ((5,),)), make_inputs=distinct, grad_order=2),
    OpCase("min_axis", ("Min",), lambda a: a.min(axis=0, keepdims=False),
           lambda a: np.min(a, axis=0), ANY_2D[:2] + (((3, 0),),), make_inputs=distinct),
    OpCase("min_ints", ("Min",), lambda a: tj.min(a, axis=(0, 1)),
           lambda a: np.min(a, axis=(0, 1)), ANY_2D[:2], dtypes=INTS + ("int8",),
           domain=(-5, 5), grad_order=0),
]

ARG_CASES = [
    OpCase("argmax_flat", ("Argmax",), lambda a: tj.argmax(a), np.argmax,
           (((3, 4),), ((),), ((5,),)), dtypes=("float64", "float32", "int32"),
           make_inputs=distinct, grad_order=0),
    OpCase("argmax_axis", ("Argmax",), lambda a: a.argmax(axis=-1),
           lambda a: np.argmax(a, axis=-1), ANY_2D[:2] + (((0, 3),), ((2, 3, 4),)),
           make_inputs=distinct, grad_order=0),
    OpCase("argmax_keepdims", ("Argmax",), lambda a: tj.argmax(a, axis=0, keepdims=True),
           lambda a: np.argmax(a, axis=0, keepdims=True), ANY_2D[:2],
           make_inputs=distinct, grad_order=0),
    OpCase("argmax_flat_keepdims", ("Argmax",),
           lambda a: tj.argmax(a, axis=None, keepdims=True),
           lambda a: np.argmax(a, axis=None, keepdims=True), (((3, 4),),),
           make_inputs=distinct, grad_order=0),
    # ties: the first occurrence, as NumPy
    OpCase("argmax_ties", ("Argmax",), lambda a: tj.argmax(a, axis=1),
           lambda a: np.argmax(a, axis=1), (((4, 6),),), dtypes=INTS + ("bool",),
           domain=(0, 2), grad_order=0),
    OpCase("argmin_flat", ("Argmin",), lambda a: a.argmin(), np.argmin,
           (((3, 4),), ((),)), make_inputs=distinct, grad_order=0),
    OpCase("argmin_axis", ("Argmin",), lambda a: tj.argmin(a, axis=0, keepdims=True),
           lambda a: np.argmin(a, axis=0, keepdims=True), (((3, 4),), ((3, 0),)),
           dtypes=("float64", "float32", "int64"), make_inputs=distinct, grad_order=0),
]

TRUTH_CASES = [
    OpCase("all_axis", ("All",), lambda a: tj.all(a, axis=1),
           lambda a: np.all(a, axis=1), (((6, 3),), ((2, 0),), ((0, 3),)),
           dtypes=("bool", "int32", "float64", "float32"), make_inputs=sparse_truth,
           grad_order=0),
    OpCase("all_flat_keepdims", ("All",), lambda a: a.all(keepdims=True),
           lambda a: np.all(a, keepdims=True), (((2, 3),), ((),), ((0,),)),
           dtypes=("bool", "int8"), make_inputs=sparse_truth, grad_order=0),
    OpCase("any_axis", ("Any",), lambda a: tj.any(a, axis=(0, -1)),
           lambda a: np.any(a, axis=(0, -1)), (((3, 4, 2),), ((3, 0, 2),)),
           dtypes=("bool", "int64", "float64"), make_inputs=sparse_truth, grad_order=0),
    OpCase("any_flat", ("Any",), lambda a: a.any(), np.any, (((6, 4),), ((),), ((0, 2),)),
           dtypes=("bool", "float32"), make_inputs=sparse_truth, grad_order=0),
]

CASES = SUM_CASES + MEAN_CASES + VAR_CASES + PROD_CASES + EXTREMUM_CASES + ARG_CASES \
    + TRUTH_CASES
