"""Shared variables: get_value/set_value with borrow semantics and type checks."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj


def test_shared_copies_its_initial_value():
    v = np.ones(3)
    w = tj.shared(v, name="w")
    v[0] = 5.0
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    assert w.type == tj.TensorType("float64", (None,))


def test_get_value_borrow():
    w = tj.shared(np.ones(3), name="w")
    w.get_value()[0] = 5.0  # a copy
    assert w.get_value()[0] == 1.0
    w.get_value(borrow=True)[0] = 5.0  # the storage itself
    assert w.get_value()[0] == 5.0


def test_set_value_borrow():
    w = tj.shared(np.ones(3), name="w")
    v = np.zeros(3)
    w.set_value(v)
    v[0] = 9.0
    assert w.get_value()[0] == 0.0
    w.set_value(v, borrow=True)
    v[1] = 9.0
    assert w.get_value()[1] == 9.0


def test_set_value_checks_dtype_and_ndim():
    w = tj.shared(np.ones(3, "float32"), name="w")
    with pytest.raises(TypeError, match=r"set_value\(\): shared variable 'w' has dtype "
                                        r"float32, got an array of dtype float64"):
        w.set_value(np.ones(3))
    with pytest.raises(ValueError, match=r"'w' expects a 1-d array, got 2-d"):
        w.set_value(np.ones((3, 1), "float32"))
    w.set_value([1, 2, 3, 4])  # lossless, and resizing is allowed by the type (?,)
    assert w.get_value().dtype == np.float32 and w.get_value().shape == (4,)
    i = tj.shared(np.zeros(2, "int32"), name="i")
    with pytest.raises(TypeError, match="has dtype int32"):
        i.set_value(np.ones(2))


def test_set_value_respects_static_shape():
    w = tj.shared(np.zeros(3), name="w", shape=(3,))
    with pytest.raises(ValueError, match=r"static shape \(3,\)"):
        w.set_value(np.zeros(4))


def test_functions_see_set_value():
    w = tj.shared(np.ones(2), name="w")
    f = tj.function([], w.sum())
    assert f() == 2.0
    w.set_value(np.full(2, 3.0))
    assert f() == 6.0


def test_set_value_rejects_integers_that_would_wrap():
    i = tj.shared(np.zeros(2, "int8"), name="i")
    i.set_value(np.array([1, -5]))  # int64 data that fits int8
    assert i.get_value().dtype == np.int8
    with pytest.raises(TypeError, match="has dtype int8"):
        i.set_value(np.array([300, 1]))
    np.testing.assert_array_equal(i.get_value(), [1, -5])
