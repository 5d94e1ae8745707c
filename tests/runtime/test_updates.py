"""Updates of shared variables: computed from the values before the call, applied all
together, and not at all when the call raises."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj


def test_update_applies_and_returns_old_value_output():
    w = tj.shared(np.array([1.0, 2.0]), name="w")
    f = tj.function([], w * 1.0, updates=[(w, w + 1.0)])
    np.testing.assert_array_equal(f(), [1.0, 2.0])  # outputs see the value before
    np.testing.assert_array_equal(w.get_value(), [2.0, 3.0])


def test_updates_as_dict():
    w = tj.shared(0.0, name="w")
    f = tj.function([], [], updates={w: w + 2.0})
    assert f() == []
    assert w.get_value() == 2.0


def test_swap_through_updates_uses_values_before_the_call():
    a = tj.shared(np.array([1.0, 2.0]), name="a")
    b = tj.shared(np.array([3.0, 4.0]), name="b")
    swap = tj.function([], [], updates=[(a, b), (b, a)])
    swap()
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    # no aliasing after the swap: changing one in place leaves the other alone
    a.get_value(borrow=True)[0] = 100.0
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    swap()
    np.testing.assert_array_equal(b.get_value(), [100.0, 4.0])


def test_update_copying_another_shared_does_not_alias_it():
    a = tj.shared(np.array([1.0, 2.0]), name="a")
    b = tj.shared(np.array([0.0, 0.0]), name="b")
    tj.function([], [], updates=[(b, a)])()
    b.get_value(borrow=True)[0] = 7.0
    np.testing.assert_array_equal(a.get_value(), [1.0, 2.0])


def test_update_is_atomic_when_an_update_fails_at_run_time():
    x = tj.vector("x")
    a = tj.shared(np.zeros(2), name="a")
    b = tj.shared(np.zeros(3), name="b")
    c = tj.shared(np.zeros(2), name="c")
    # a's update is fine; b + c only fails at run time (shared shapes are not static)
    f = tj.function([x], a.sum(), updates=[(a, a + x), (b, b + c)], name="step")
    with pytest.raises(ValueError, match=r"step\(\): Elemwise\{add\} \(node created at "
                                         r"test_updates.py:\d+\) failed"):
        f(np.ones(2))
    for v in (a, b, c):
        np.testing.assert_array_equal(v.get_value(), np.zeros(v.get_value().shape))


def test_update_of_the_wrong_shape_changes_nothing():
    x = tj.vector("x")
    a = tj.shared(np.zeros(2), name="a")
    w = tj.shared(np.zeros(3), name="w")
    f = tj.function([x], [], updates=[(a, a + 1.0), (w, x * 2.0)], name="step")
    f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match=r"step\(\): the update of shared variable 'w' "
                                         r"computed an array of shape \(4,\), but 'w' has "
                                         r"shape \(3,\).*no shared variable was changed"):
        f(np.ones(4))
    np.testing.assert_array_equal(a.get_value(), [1.0, 1.0])
    np.testing.assert_array_equal(w.get_value(), [2.0, 2.0, 2.0])


def test_update_static_type_is_checked_when_compiling():
    w = tj.shared(np.zeros((2, 2)), name="w")
    v = tj.vector("v")
    with pytest.raises(TypeError, match=r"update of shared variable 'w'.* is 1-d"):
        tj.function([v], [], updates=[(w, v)])
    fixed = tj.shared(np.zeros(3), name="fixed", shape=(3,))
    with pytest.raises(ValueError, match=r"static shape \(4,\); expected \(3,\)"):
        tj.function([], [], updates=[(fixed, tj.constant(np.zeros(4)))])


def test_update_dtype_rules():
    w = tj.shared(np.zeros(2, "float32"), name="w")
    d = tj.vector("d")  # float64
    with pytest.raises(TypeError, match=r"has dtype float64; expected float32.*astype"):
        tj.function([d], [], updates=[(w, w + d)])
    i = tj.ivector("i")
    acc = tj.shared(np.zeros(2), name="acc")  # float64 accepts an int32 update
    tj.function([i], [], updates=[(acc, i)])(np.array([1, 2], "int32"))
    assert acc.get_value().dtype == np.float64
    np.testing.assert_array_equal(acc.get_value(), [1.0, 2.0])


def test_update_errors_for_bad_targets():
    x = tj.vector("x")
    w = tj.shared(np.zeros(2), name="w")
    with pytest.raises(TypeError, match="not a shared variable"):
        tj.function([x], [], updates=[(x, x + 1.0)])
    with pytest.raises(ValueError, match="updated twice"):
        tj.function([], [], updates=[(w, w + 1.0), (w, w - 1.0)])
    with pytest.raises(TypeError, match="pairs"):
        tj.function([], [], updates=[w])
