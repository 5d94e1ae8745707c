"""Op cases for the elementwise library (scalar_arith, scalar_math, scalar_logic).

References are independent of the ops' ``impl``: other NumPy/SciPy/libm routines or a
different formula (e.g. scipy.special.expit for sigmoid, np.logaddexp for softplus,
math.erf for erf, exp(b log a) for pow, fmod-based remainder for mod).
"""

from __future__ import annotations

import math
import operator

import numpy as np
import scipy.special
from opcases import OpCase, random_array

import tensorjit as tj

UNARY_SHAPES = (((3, 4),), ((),), ((0, 3),), ((2, 1, 3),))
BINARY_SHAPES = (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (1, 4, 1)), ((), (5,)),
                 ((0, 3), (3,)), ((), ()))
TERNARY_SHAPES = (((3, 4), (3, 4), (3, 4)), ((3, 4), (), (4,)), ((2, 1, 3), (1, 4, 1), (3,)),
                  ((), (), ()), ((0, 3), (3,), ()))
# gradients through broadcasting: sum_to must reduce the broadcast axes
BINARY_GRAD_SHAPES = ((2, 1, 3), (4, 1))
TERNARY_GRAD_SHAPES = ((2, 1, 3), (4, 1), (3,))
FLOATS = ("float64", "float32")


def per_input(*domains, away_from_zero=()):
    """make_inputs drawing input k from domains[k]; inputs listed in away_from_zero get
    a random sign on values in their (positive) domain."""
    def make(rng, shapes, dtypes):
        out = []
        for k, (s, d, dom) in enumerate(zip(shapes, dtypes, domains)):
            v = random_array(rng, s, d, dom)
            if k in away_from_zero:
                v = (v * np.where(rng.random(s) < 0.5, -1, 1)).astype(d)
            out.append(v)
        return out
    return make


def with_specials(rng, shapes, dtypes):
    """Random values with some nan, +inf and -inf planted (floats only)."""
    out = []
    for s, d in zip(shapes, dtypes):
        v = random_array(rng, s, d)
        if v.dtype.kind == "f" and v.size:
            flat = v.reshape(-1)
            picks = rng.integers(0, 4, size=flat.size)
            flat[picks == 1] = np.nan
            flat[picks == 2] = np.inf
            flat[picks == 3] = -np.inf
        out.append(v)
    return out


def vectorized(fn):
    """Apply a Python scalar function elementwise (float64 result)."""
    def ref(*arrays):
        return np.vectorize(lambda *xs: fn(*map(float, xs)), otypes=[np.float64])(*arrays)
    return ref


def ref_mod(a, b):
    """Remainder with the sign of b, from C fmod (sign of a) plus a correction."""
    r = np.fmod(a, b)
    fix = (r != 0) & ((r < 0) != (b < 0))
    return np.where(fix, r + b, r)


def ref_int_pow(a, b):
    """Integer power with Python integers (exact), in a's dtype."""
    out = np.vectorize(lambda x, y: int(x) ** int(y), otypes=[object])(a, b)
    return out.astype(np.result_type(a, b))


# name, class, function, reference, domain, derivative order, also int32?
UNARY_FLOAT = [
    ("exp", "Exp", tj.exp, np.exp, (-2, 2), 2, True),
    ("exp2", "Exp2", tj.exp2, lambda a: np.power(2.0, a), (-2, 2), 2, True),
    ("log", "Log", tj.log, np.log, (0.1, 3), 2, True),
    ("log2", "Log2", tj.log2, lambda a: np.log(a) / np.log(2.0), (0.1, 3), 2, True),
    ("log10", "Log10", tj.log10, lambda a: np.log(a) / np.log(10.0), (0.1, 3), 2, False),
    ("log1p", "Log1p", tj.log1p, vectorized(math.log1p), (-0.5, 2), 2, False),
    ("expm1", "Expm1", tj.expm1, vectorized(math.expm1), (-2, 2), 2, False),
    ("sqrt", "Sqrt", tj.sqrt, lambda a: np.power(a, 0.5), (0.1, 3), 2, True),
    ("sin", "Sin", tj.sin, np.sin, (-3, 3), 2, True),
    ("cos", "Cos", tj.cos, np.cos, (-3, 3), 2, False),
    ("tan", "Tan", tj.tan, np.tan, (-1.2, 1.2), 2, False),
    ("tanh", "Tanh", tj.tanh, np.tanh, (-2, 2), 2, True),
    ("arcsin", "Arcsin", tj.arcsin, np.arcsin, (-0.9, 0.9), 2, False),
    ("arccos", "Arccos", tj.arccos, np.arccos, (-0.9, 0.9), 2, False),
    ("arctan", "Arctan", tj.arctan, np.arctan, (-3, 3), 2, False),
    ("sinh", "Sinh", tj.sinh, np.sinh, (-2, 2), 2, False),
    ("cosh", "Cosh", tj.cosh, np.cosh, (-2, 2), 2, False),
    ("sigmoid", "Sigmoid", tj.sigmoid, scipy.special.expit, (-6, 6), 2, True),
    ("softplus", "Softplus", tj.softplus, lambda a: np.logaddexp(0, a), (-6, 6), 2, True),
    ("erf", "Erf", tj.erf, vectorized(math.erf), (-2, 2), 2, True),
]

CASES = [
    OpCase(name, (cls, "Elemwise"), fn, ref, UNARY_SHAPES,
           FLOATS + (("int32",) if ints else ()), domain=dom, grad_order=order)
    for name, cls, fn, ref, dom, order, ints in UNARY_FLOAT
]

CASES += [
    # the third derivative of tanh (2 tanh (3 tanh^2 - 1) ... ) through the t = tanh path
    OpCase("tanh_order3", ("Tanh",), tj.tanh, np.tanh, (((5,),),), ("float64",),
           grad_order=3),
    # the stable impls must hold in both tails, in both float dtypes
    OpCase("sigmoid_tails", ("Sigmoid",), tj.sigmoid, scipy.special.expit, (((50,),),),
           FLOATS, domain=(-1000, 1000), grad_order=0),
    OpCase("softplus_tails", ("Softplus",), tj.softplus, lambda a: np.logaddexp(0, a),
           (((50,),),), FLOATS, domain=(-1000, 1000), grad_order=0),
    OpCase("reciprocal", ("Reciprocal",), tj.reciprocal, lambda a: 1.0 / a, UNARY_SHAPES,
           FLOATS + ("int32",), make_inputs=per_input((0.5, 2), away_from_zero=(0,)),
           grad_order=2),
    OpCase("square", ("Square",), tj.square, lambda a: a * a, UNARY_SHAPES,
           FLOATS + ("int32", "int8"), grad_order=2),
    OpCase("abs", ("Abs",), abs, lambda a: a if a.dtype == bool else np.where(a < 0, -a, a),
           UNARY_SHAPES,
           FLOATS + ("int32", "int8", "bool")),
    OpCase("sign", ("Sign",), tj.sign, lambda a: (a > 0).astype(a.dtype) - (a < 0),
           UNARY_SHAPES, FLOATS + ("int32", "int64")),
    OpCase("relu", ("Relu",), tj.relu, lambda a: np.where(a > 0, a, 0).astype(a.dtype),
           UNARY_SHAPES, FLOATS + ("int32",)),
    OpCase("floor_div", ("FloorDiv",), operator.floordiv,
           lambda a, b: np.floor(a / b).astype(np.result_type(a, b)), BINARY_SHAPES,
           FLOATS + ("int32", "int64"), grad_shapes=BINARY_GRAD_SHAPES,
           make_inputs=per_input((-5, 5), (0.5, 3), away_from_zero=(1,))),
    OpCase("mod", ("Mod",), operator.mod, ref_mod, BINARY_SHAPES,
           FLOATS + ("int32", "int64"), grad_shapes=BINARY_GRAD_SHAPES,
           make_inputs=per_input((-5, 5), (0.5, 3), away_from_zero=(1,))),
    OpCase("pow", ("Pow",), operator.pow,
           lambda a, b: np.exp(b.astype("float64") * np.log(a.astype("float64"))),
           BINARY_SHAPES, FLOATS, grad_shapes=BINARY_GRAD_SHAPES,
           make_inputs=per_input((0.5, 2), (-2, 2)), grad_order=2,
           rtol={"float32": 1e-5, "float64": 1e-12}),
    OpCase("pow_int", ("Pow",), operator.pow, ref_int_pow, BINARY_SHAPES,
           ("int32", "int64", ("int8", "int64")), make_inputs=per_input((-3, 3), (0, 3)),
           grad_order=0),
    # negative and zero bases with a constant integer exponent: d/da = 3 a^2, also at 0
    OpCase("pow_const_exponent", ("Pow",), lambda a: a ** 3, lambda a: a * a * a,
           UNARY_SHAPES, FLOATS, grad_order=2,
           make_inputs=lambda rng, s, d: [np.where(rng.random(s[0]) < 0.3, 0,
                                                   random_array(rng, s[0], d[0]))
                                          .astype(d[0])]),
    OpCase("maximum", ("Maximum",), tj.maximum, lambda a, b: np.where(a > b, a, b),
           BINARY_SHAPES, FLOATS + ("int32", "int8", ("int32", "float32")),
           grad_shapes=BINARY_GRAD_SHAPES),
    OpCase("minimum", ("Minimum",), tj.minimum, lambda a, b: np.where(a < b, a, b),
           BINARY_SHAPES, FLOATS + ("int32", ("float32", "float64")),
           grad_shapes=BINARY_GRAD_SHAPES),
    OpCase("clip", ("Clip",), tj.clip, np.clip, TERNARY_SHAPES, FLOATS + ("int32",),
           grad_shapes=TERNARY_GRAD_SHAPES,
           make_inputs=per_input((-3, 3), (-1.5, -0.2), (0.2, 1.5))),
    # lo > hi: every element is hi (np.clip's rule); the gradient goes to hi only
    OpCase("clip_empty_interval", ("Clip",), lambda x, lo, hi: tj.clip(x, hi, lo),
           lambda x, lo, hi: np.clip(x, hi, lo), TERNARY_SHAPES, FLOATS,
           grad_shapes=TERNARY_GRAD_SHAPES,
           make_inputs=per_input((-3, 3), (-1.5, -0.2), (0.2, 1.5))),
    OpCase("clip_method_one_bound", ("Maximum", "Minimum"),
           lambda x, hi: x.clip(-1.0, None) + x.clip(None, hi),
           lambda x, hi: np.clip(x, -1.0, None) + np.clip(x, None, hi),
           (((3, 4), (4,)), ((), ())), FLOATS),
    OpCase("where", ("Where",), tj.where,
           lambda c, a, b: np.select([c.astype(bool)], [a], b), TERNARY_SHAPES,
           (("bool", "float64", "float64"), ("bool", "float32", "float32"),
            ("bool", "int32", "float32"), ("int32", "int8", "int8")), grad_order=0),
    OpCase("where_grad", ("Where",), lambda c, a, b: tj.where(c > 0, a * b, b),
           lambda c, a, b: np.select([c > 0], [a * b], b), TERNARY_SHAPES, FLOATS,
           grad_shapes=TERNARY_GRAD_SHAPES, grad_order=2),
    # d/dx (stop_gradient(x) * x) = x, unlike finite differences: see the properties test
    OpCase("stop_gradient", ("StopGradient",), lambda a: tj.stop_gradient(a) * a,
           lambda a: a * a, UNARY_SHAPES, FLOATS + ("int32",), grad_order=0),
    OpCase("isnan", ("IsNan",), tj.isnan, lambda a: np.not_equal(a, a), UNARY_SHAPES,
           FLOATS + ("int32",), make_inputs=with_specials, grad_order=0),
    OpCase("isinf", ("IsInf",), tj.isinf, lambda a: np.abs(a.astype("float64")) == np.inf,
           UNARY_SHAPES, FLOATS + ("int32",), make_inputs=with_specials, grad_order=0),
]



def _py(x):
    """A NumPy scalar as the Python number of the same value."""
    return np.asarray(x).item()


COMPARE_DTYPES = FLOATS + ("int32", ("int32", "float64"), ("int8", "int64"))
for _name, _cls, _pyop in [("eq", "Eq", operator.eq), ("neq", "Neq", operator.ne),
                           ("lt", "Lt", operator.lt), ("le", "Le", operator.le),
                           ("gt", "Gt", operator.gt), ("ge", "Ge", operator.ge)]:
    CASES.append(OpCase(
        _name, (_cls,), getattr(tj, _name),
        # Python scalars compare exactly across dtypes, independent of NumPy's casts
        np.vectorize(lambda a, b, _op=_pyop: _op(_py(a), _py(b)), otypes=[bool]),
        BINARY_SHAPES, COMPARE_DTYPES + (("bool",) if _cls in ("Eq", "Neq") else ()),
        grad_order=0))

for _name, _cls, _ref in [("logical_and", "LogicalAnd", lambda a, b: a & b),
                          ("logical_or", "LogicalOr", lambda a, b: a | b),
                          ("logical_xor", "LogicalXor", lambda a, b: a != b)]:
    CASES.append(OpCase(_name, (_cls,), getattr(tj, _name), _ref, BINARY_SHAPES, ("bool",),
                        grad_order=0))
CASES.append(OpCase("logical_not", ("LogicalNot",), lambda a: ~a, lambda a: a == 0,
                    UNARY_SHAPES, ("bool",), grad_order=0))
