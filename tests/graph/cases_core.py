"""Op cases for the ops the core defines: arithmetic basics, cast, fill, sum, dimshuffle."""

import numpy as np

import tensorjit as tj
from opcases import OpCase

BINARY_SHAPES = (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (1, 4, 1)), ((), (5,)),
                 ((0, 3), (3,)), ((), ()))

CASES = [
    OpCase("add", ("Add", "Elemwise"), lambda a, b: a + b, np.add, BINARY_SHAPES),
    OpCase("sub", ("Sub",), lambda a, b: a - b, np.subtract, BINARY_SHAPES),
    OpCase("mul", ("Mul",), lambda a, b: a * b, np.multiply, BINARY_SHAPES, grad_order=2),
    OpCase("true_div", ("TrueDiv",), lambda a, b: a / b, np.true_divide, BINARY_SHAPES,
           domain=(0.5, 2.0), grad_order=2),
    OpCase("neg", ("Neg",), lambda a: -a, np.negative, (((3, 4),), ((),), ((0,),))),
    OpCase("cast", ("Cast",), lambda a: tj.cast(a, "float32") * 1.0,
           lambda a: a.astype("float32"), (((3, 4),),),
           # the float32 round trip limits what finite differences can resolve
           grad_rtol=5e-3),
    OpCase("fill", ("Second",), lambda a, b: tj.ones_like(a) * b,
           lambda a, b: np.ones_like(a) * b, (((3, 4), ()),)),
    OpCase("sum_all", ("Sum",), lambda a: tj.sum(a), np.sum,
           (((3, 4),), ((),), ((0, 3),)), rtol={"float32": 1e-5, "float64": 1e-12}),
    OpCase("sum_axis_keepdims", ("Sum",), lambda a: tj.sum(a, axis=(0, 2), keepdims=True),
           lambda a: np.sum(a, axis=(0, 2), keepdims=True), (((2, 3, 4),),),
           rtol={"float32": 1e-5, "float64": 1e-12}),
    OpCase("dimshuffle", ("DimShuffle",), lambda a: tj.dimshuffle(a, (1, "x", 0)) * 1.0,
           lambda a: a.T[:, None, :], (((3, 4),), ((0, 2),))),
    OpCase("shape", ("Shape",), lambda a: tj.shape(a),
           lambda a: np.array(a.shape, dtype="int64"), (((3, 4),), ((),)), grad_order=0),
]
