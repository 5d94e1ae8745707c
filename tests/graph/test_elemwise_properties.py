"""Random elementwise expression trees against NumPy (hypothesis), and the gradient
conventions of the elementwise ops that finite differences cannot check (ties,
kinks, stop_gradient) or that need extreme inputs (stable sigmoid/softplus)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorjit as tj
from tensorjit.graph.ops.scalar_math import Sigmoid, Softplus

# (tensorjit function, the same function written with NumPy directly)
UNARY = [
    (lambda a: -a, np.negative),
    (abs, np.abs),
    (tj.square, np.square),
    (tj.sign, np.sign),
    (tj.relu, lambda a: np.maximum(a, 0)),
    (tj.tanh, np.tanh),
    (tj.sin, np.sin),
    (tj.sigmoid, scipy.special.expit),
    (tj.softplus, lambda a: np.logaddexp(0, a)),
    (lambda a: tj.clip(a, -1, 1.5), lambda a: np.clip(a, -1, 1.5)),
    (lambda a: tj.exp(tj.tanh(a)), lambda a: np.exp(np.tanh(a))),
]
BINARY = [
    (lambda a, b: a + b, np.add),
    (lambda a, b: a - b, np.subtract),
    (lambda a, b: a * b, np.multiply),
    (tj.maximum, np.maximum),
    (tj.minimum, np.minimum),
    (lambda a, b: tj.where(a > b, a, b * 2), lambda a, b: np.where(a > b, a, b * 2)),
    (lambda a, b: tj.where(tj.logical_or(a < 0, b < 0), a, b),
     lambda a, b: np.where((a < 0) | (b < 0), a, b)),
]
SCALARS = [2, -1, 0.5, -1.5]
DTYPES = ["float64", "float32", "int32", "int64"]


@st.composite
def input_specs(draw):
    """1-3 inputs whose shapes broadcast together (size-1 axes, 0-d, size 0)."""
    out_shape = draw(st.lists(st.integers(0, 3), max_size=3))
    specs = []
    for _ in range(draw(st.integers(1, 3))):
        ndim = draw(st.integers(0, len(out_shape)))
        tail = out_shape[len(out_shape) - ndim:]
        shape = tuple(1 if draw(st.booleans()) else s for s in tail)
        specs.append((shape, draw(st.sampled_from(DTYPES))))
    return specs


@st.composite
def trees(draw, n_inputs, depth=3):
    """A nested tuple: ("in", k) | ("un", i, t) | ("bin", i, t, t | scalar, swap)."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return ("in", draw(st.integers(0, n_inputs - 1)))
    if draw(st.booleans()):
        return ("un", draw(st.integers(0, len(UNARY) - 1)), draw(trees(n_inputs, depth - 1)))
    left = draw(trees(n_inputs, depth - 1))
    right = draw(st.one_of(trees(n_inputs, depth - 1), st.sampled_from(SCALARS)))
    return ("bin", draw(st.integers(0, len(BINARY) - 1)), left, right, draw(st.booleans()))


def evaluate(tree, leaves, table_index):
    """Evaluate the tree with leaves (symbolic or arrays); table_index 0 = tj, 1 = NumPy."""
    kind = tree[0]
    if kind == "in":
        return leaves[tree[1]]
    if kind == "un":
        return UNARY[tree[1]][table_index](evaluate(tree[2], leaves, table_index))
    _, i, left, right, swap = tree
    a = evaluate(left, leaves, table_index)
    b = right if isinstance(right, (int, float)) else evaluate(right, leaves, table_index)
    if swap:
        a, b = b, a
    return BINARY[i][table_index](a, b)


def random_value(rng, shape, dtype):
    if dtype.startswith("int"):
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.uniform(-3, 3, size=shape).astype(dtype)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_elementwise_trees_match_numpy(data):
    specs = data.draw(input_specs())
    tree = data.draw(trees(len(specs)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    values = [random_value(rng, shape, dtype) for shape, dtype in specs]
    xs = [tj.tensor(dtype, tuple(1 if s == 1 else None for s in shape), name=f"x{k}")
          for k, (shape, dtype) in enumerate(specs)]
    out = evaluate(tree, xs, 0)
    with np.errstate(all="ignore"):
        want = np.asarray(evaluate(tree, values, 1))
    f = tj.function(xs, out, mode="py", optimizer=None)
    got = f(*values)
    assert got.dtype == want.dtype == np.dtype(out.dtype), (got.dtype, want.dtype, out.dtype)
    assert got.shape == want.shape and out.type.accepts_shape(got.shape)
    if got.dtype.kind == "f":
        # float32 intermediates (sigmoid's impl and scipy's expit may differ by an ulp)
        # can feed a float64 result, so the tolerance follows the narrowest input
        tol = 1e-4 if any(d == "float32" for _, d in specs) else 1e-9
        scale = 1 + np.max(np.abs(want[np.isfinite(want)]), initial=0)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


# -- gradient conventions -----------------------------------------------------------------

def grad_values(cost_fn, *values):
    xs = [tj.tensor("float64", (None,) * np.ndim(v)) for v in values]
    gs = tj.grad(cost_fn(*xs), xs, disconnected_inputs="ignore")
    return tj.function(xs, gs, mode="py", optimizer=None)(*values)


def rop_values(out_fn, value, tangent):
    x, t = tj.vector("x"), tj.vector("t")
    return tj.function([x, t], tj.Rop(out_fn(x), x, t), mode="py", optimizer=None)(
        value, tangent)


def test_maximum_and_minimum_split_ties_equally():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    ga, gb = grad_values(lambda x, y: tj.sum(tj.maximum(x, y)), a, b)
    np.testing.assert_array_equal(ga, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(gb, [0.5, 1.0, 0.0])
    ga, gb = grad_values(lambda x, y: tj.sum(tj.minimum(x, y)), a, b)
    np.testing.assert_array_equal(ga, [0.5, 1.0, 0.0])
    (g,) = grad_values(lambda x: tj.sum(tj.maximum(x, x)), a)
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0])


def test_kinks_have_the_documented_subgradient():
    x = np.array([-1.0, 0.0, 2.0])
    (g,) = grad_values(lambda v: tj.sum(abs(v)), x)
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    (g,) = grad_values(lambda v: tj.sum(tj.relu(v)), x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])
    # clip passes the gradient through on the closed interval [lo, hi]
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    (g,) = grad_values(lambda v: tj.sum(tj.clip(v, -1.0, 1.0)), x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_pow_gradients_are_finite_at_zero_base():
    a, b = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 3.0])
    ga, gb = grad_values(lambda x, y: tj.sum(x ** y), a, b)
    np.testing.assert_allclose(ga, [0.0, 0.0, 12.0])
    np.testing.assert_allclose(gb, [0.0, 0.0, 8.0 * np.log(2.0)])


@pytest.mark.parametrize("stop", [tj.stop_gradient, tj.consider_constant])
def test_stop_gradient_blocks_reverse_and_forward_mode(stop):
    x = np.array([1.0, -2.0, 3.0])
    # d/dx [stop(x) * x] = stop(x) = x: only the unstopped factor is differentiated
    (g,) = grad_values(lambda v: tj.sum(stop(v) * v), x)
    np.testing.assert_array_equal(g, x)
    np.testing.assert_array_equal(rop_values(lambda v: stop(v) * v, x, np.ones(3)), x)
    np.testing.assert_array_equal(rop_values(stop, x, np.ones(3)), np.zeros(3))
    (g,) = grad_values(lambda v: tj.sum(stop(v) * 3.0), x)
    np.testing.assert_array_equal(g, np.zeros(3))


def test_tanh_third_derivative_matches_closed_form():
    x = np.array([-1.5, -0.3, 0.0, 0.7, 2.0])
    v = tj.vector("v")
    d = tj.tanh(v)
    for _ in range(3):
        d = tj.grad(tj.sum(d), v)
    got = tj.function([v], d, mode="py", optimizer=None)(x)
    t = np.tanh(x)
    np.testing.assert_allclose(got, -2 * (1 - t**2) * (1 - 3 * t**2), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_and_softplus_impls_do_not_overflow(dtype):
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=dtype)
    # underflow to 0 in exp(-|x|) is the intended, exact-enough result
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        s = Sigmoid().impl(x)
        sp = Softplus().impl(x)
    assert s.dtype == sp.dtype == dtype
    np.testing.assert_allclose(s, scipy.special.expit(x.astype("float64")), rtol=1e-6)
    np.testing.assert_allclose(sp, np.logaddexp(0, x.astype("float64")), rtol=1e-6)
