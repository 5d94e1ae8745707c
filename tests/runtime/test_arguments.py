"""Argument checking of compiled functions: count, keywords, defaults, dtype, ndim,
static shape and runtime broadcasting. Every error names the input (name and position).
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj


def add_fn(**kwargs):
    x, y = tj.vector("x"), tj.vector("y")
    return tj.function([x, y], x + y, name="f", **kwargs)


# -- count, keywords and defaults


def test_too_few_arguments_names_the_missing_input():
    f = add_fn()
    with pytest.raises(TypeError, match=r"f\(\): missing input 1 'y'; takes 2 arguments, "
                                        r"got 1"):
        f([1.0])


def test_too_many_arguments():
    f = add_fn()
    with pytest.raises(TypeError, match=r"f\(\): takes 2 arguments, got 3"):
        f([1.0], [2.0], [3.0])


def test_keyword_arguments_by_name():
    f = add_fn()
    np.testing.assert_array_equal(f(y=[1.0, 2.0], x=[10.0, 20.0]), [11.0, 22.0])
    np.testing.assert_array_equal(f([10.0, 20.0], y=[1.0, 2.0]), [11.0, 22.0])


def test_unknown_keyword():
    with pytest.raises(TypeError, match=r"no input named 'z'.*\['x', 'y'\]"):
        add_fn()([1.0], z=[2.0])


def test_keyword_given_twice():
    with pytest.raises(TypeError, match=r"input 0 'x' given twice"):
        add_fn()([1.0], [2.0], x=[3.0])


def test_ambiguous_keyword():
    a, b = tj.vector("v"), tj.vector("v")
    f = tj.function([a, b], a + b)
    with pytest.raises(TypeError, match="several inputs are named 'v'"):
        f([1.0], v=[2.0])


def test_defaults_with_In():
    x, y = tj.vector("x"), tj.scalar("scale")
    f = tj.function([x, tj.In(y, value=2.0)], x * y)
    np.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
    np.testing.assert_array_equal(f([1.0, 2.0], 3.0), [3.0, 6.0])
    np.testing.assert_array_equal(f([1.0, 2.0], scale=-1.0), [-1.0, -2.0])


def test_In_keyword_name_and_checked_default():
    x, y = tj.vector("x"), tj.scalar()
    f = tj.function([x, tj.In(y, value=1.0, name="alpha")], x * y)
    np.testing.assert_array_equal(f([3.0], alpha=2.0), [6.0])
    with pytest.raises(TypeError, match=r"input 1 .*expected a 0-d array"):
        tj.function([x, tj.In(y, value=[1.0, 2.0])], x * y)


def test_In_rejects_non_input_variables():
    x = tj.vector("x")
    with pytest.raises(TypeError, match="inputs must be free variables"):
        tj.function([tj.In(x * 2.0, value=[1.0])], x)


def test_missing_input_in_graph():
    x, y = tj.vector("x"), tj.vector("y")
    with pytest.raises(ValueError, match="'y'.*not among the inputs"):
        tj.function([x], x + y)


# -- dtype


def test_float64_array_for_float32_input_is_an_error():
    x = tj.fmatrix("x")
    f = tj.function([x], x * 2.0, name="g")
    with pytest.raises(TypeError, match=r"g\(\): input 0 'x': expected dtype float32, got an "
                                        r"array of dtype float64.*allow_input_downcast"):
        f(np.ones((2, 2)))


def test_allow_input_downcast():
    x = tj.fmatrix("x")
    f = tj.function([x], x * 2.0, allow_input_downcast=True)
    out = f(np.full((2, 2), 0.1))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full((2, 2), np.float32(0.1)) * 2)


@pytest.mark.parametrize("value, dtype", [
    (np.ones(3, "float32"), "float64"),   # safe upcast
    (np.ones(3, "int32"), "float64"),
    (np.arange(3, dtype="int64"), "float32"),  # ints exactly representable
    ([1, 2, 3], "int8"),                  # Python ints that fit
    ([0.5, 1.5, 2.5], "float32"),         # Python floats are weak
    ((True, False, True), "float64"),
    ([1, 2, 3], "float32"),
])
def test_lossless_conversions_are_accepted(value, dtype):
    x = tj.tensor(dtype, shape=(None,), name="x")
    out = tj.function([x], x)(value)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, np.asarray(value).astype(dtype))


@pytest.mark.parametrize("value, dtype, match", [
    (np.ones(3, "float64"), "float32", "got an array of dtype float64"),
    (np.ones(3, "float64"), "int64", "got an array of dtype float64"),
    (np.ones(3, "int64"), "int32", "got an array of dtype int64"),
    ([1.5, 2.0], "int32", "list of Python numbers giving dtype float64"),
    ([300, 1], "int8", "list of Python numbers giving dtype int64"),
    (["a", "b"], "float64", "expected numbers of dtype float64"),
    ([[1.0], [2.0, 3.0]], "float64", "cannot convert list"),
])
def test_lossy_or_invalid_conversions_are_errors(value, dtype, match):
    x = tj.tensor(dtype, shape=(None,), name="x")
    f = tj.function([x], x, name="f")
    with pytest.raises(TypeError, match=rf"f\(\): input 0 'x'.*{match}"):
        f(value)


@pytest.mark.parametrize("value, dtype, match", [
    (1.5, "int32", r"the Python float 1.5"),
    (300, "int8", r"the Python int 300 does not fit dtype int8"),
    (2 ** 60, "float64", r"not exactly representable in float64"),
    (1, "bool", r"the Python int 1"),
])
def test_python_scalar_errors(value, dtype, match):
    x = tj.tensor(dtype, shape=(), name="s")
    with pytest.raises(TypeError, match=rf"input 0 's': .*{match}"):
        tj.function([x], x)(value)


def test_python_scalars_accepted():
    s, i = tj.fscalar("s"), tj.iscalar("i")
    f = tj.function([s, i], [s, i])
    a, b = f(0.25, 7)
    assert a.dtype == np.float32 and a == 0.25
    assert b.dtype == np.int32 and b == 7


def test_symbolic_argument_is_an_error():
    x = tj.vector("x")
    with pytest.raises(TypeError, match="got the symbolic variable"):
        tj.function([x], x)(x)


def test_non_native_byte_order_is_converted():
    x = tj.vector("x")
    out = tj.function([x], x * 2.0)(np.arange(3, dtype=">f8"))
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])


# -- ndim and static shape


def test_wrong_ndim():
    x, y = tj.matrix("x"), tj.vector("y")
    f = tj.function([x, y], x + y, name="f")
    with pytest.raises(TypeError, match=r"f\(\): input 1 'y': expected a 1-d array of type "
                                        r"float64\[\?,\], got a 2-d array of shape \(2, 2\)"):
        f(np.ones((2, 2)), np.ones((2, 2)))


def test_static_shape_entry():
    x = tj.tensor("float64", shape=(None, 3), name="x")
    f = tj.function([x], x.sum(), name="f")
    assert f(np.ones((5, 3))) == 15.0
    with pytest.raises(ValueError, match=r"f\(\): input 0 'x': expected shape \(\?, 3\), got "
                                         r"\(5, 4\) \(axis 1 must be 3\)"):
        f(np.ones((5, 4)))


# -- shapes that cannot broadcast at run time


def test_runtime_broadcast_mismatch_names_both_inputs():
    f = add_fn()
    with pytest.raises(ValueError, match=r"f\(\): input 1 'y' has shape \(4,\), but input 0 "
                                         r"'x' has shape \(3,\).*Elemwise\{add\}.*"
                                         r"test_arguments.py"):
        f(np.ones(3), np.ones(4))


def test_runtime_size_one_does_not_broadcast_unless_declared():
    x, y = tj.matrix("x"), tj.matrix("y")
    f = tj.function([x, y], x * y, name="f")
    with pytest.raises(ValueError, match=r"input 1 'y' has shape \(1, 3\).*static shape is 1"):
        f(np.ones((2, 3)), np.ones((1, 3)))
    r = tj.tensor("float64", shape=(1, None), name="r")
    g = tj.function([x, r], x * r)
    np.testing.assert_array_equal(g(np.ones((2, 3)), np.full((1, 3), 2.0)), np.full((2, 3), 2))


def test_broadcast_mismatch_through_transpose_and_a_constant():
    x, y = tj.matrix("x"), tj.matrix("y")
    f = tj.function([x, y], x.T + y, name="f")
    assert f(np.ones((2, 3)), np.ones((3, 2))).shape == (3, 2)
    with pytest.raises(ValueError, match=r"input 1 'y' has shape \(2, 3\), but input 0 'x' "
                                         r"has shape \(2, 3\): axis 1 of input 1 must equal "
                                         r"axis 0 of input 0"):
        f(np.ones((2, 3)), np.ones((2, 3)))
    v = tj.vector("v")
    g = tj.function([v], v + np.arange(3.0), name="g")
    with pytest.raises(ValueError, match=r"input 0 'v' has shape \(4,\); axis 0 must have "
                                         r"size 3"):
        g(np.ones(4))
