"""A call that fails raises the same error, with the same message, in every mode.

Native kernels detect the problem; the message is the reference evaluator's (op,
inputs' shapes, the user's line and what exactly is wrong)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj

M, V = tj.matrix, tj.vector

CASES = {
    "dot": (lambda a, b: tj.dot(a, b), [M("a"), M("b")], [(2, 3), (4, 5)]),
    "matvec": (lambda a, b: tj.dot(a, b), [M("a"), V("b")], [(2, 3), (4,)]),
    "gemm": (lambda a, b, c: tj.dot(a, b) + c, [M("a"), M("b"), M("c")],
             [(2, 3), (3, 5), (3, 5)]),
    "join": (lambda a, b: tj.concatenate([a, b], axis=0), [M("a"), M("b")], [(2, 3), (2, 4)]),
    "reshape": (lambda a: a.reshape((4, 2)), [M("a")], [(2, 3)]),
    "categorical_ce": (tj.categorical_crossentropy, [M("p"), M("t")], [(2, 3), (2, 2)]),
    "softmax_ce": (tj.softmax_cross_entropy, [M("x"), M("t")], [(2, 3), (2, 2)]),
    "inc_subtensor": (lambda a, b: tj.inc_subtensor(a[0:2], b), [M("a"), M("b")],
                      [(4, 3), (3, 3)]),
    "specify_shape": (lambda a: tj.specify_shape(a, (2, 2)), [M("a")], [(2, 3)]),
    "batched_matmul": (tj.matmul, [tj.tensor3("a"), tj.tensor3("b")], [(2, 2, 3), (3, 3, 2)]),
    "max_of_empty": (lambda a: tj.max(a, axis=1), [M("a")], [(3, 0)]),
}

INT_CASES = {
    "label_out_of_range": (tj.softmax_cross_entropy_with_integer_labels,
                           [M("x"), tj.lvector("y")], [np.zeros((2, 3)), np.array([0, 3])]),
    "labels_shape": (tj.softmax_cross_entropy_with_integer_labels,
                     [M("x"), tj.lvector("y")], [np.zeros((2, 3)), np.array([0, 1, 2])]),
    "index_out_of_range": (lambda a, i: a[i], [M("a"), tj.lvector("i")],
                           [np.ones((4, 3)), np.array([5])]),
    "negative_integer_power": (lambda a, b: a ** b, [tj.lvector("a"), tj.lvector("b")],
                               [np.array([2]), np.array([-1])]),
    "negative_alloc": (lambda n: tj.zeros((n, 2)) + 1, [tj.lscalar("n")], [np.array(-3)]),
}


def _error(mode: str, build, inputs, values) -> BaseException:
    f = tj.function(inputs, build(*inputs), mode=mode, name="f")
    with pytest.raises(Exception) as info:
        f(*values)
    return info.value


def _check_same(build, inputs, values) -> None:
    ref = _error("py", build, inputs, values)
    native = _error("llvm", build, inputs, values)
    assert type(native) is type(ref)
    assert str(native) == str(ref)
    assert str(native).startswith("f(): ")
    assert native.native_error is not None  # the kernel or its plan caught it first


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_errors_are_the_same_in_both_modes(name):
    build, inputs, shapes = CASES[name]
    _check_same(build, inputs, [np.full(s, 0.25) for s in shapes])


@pytest.mark.parametrize("name", sorted(INT_CASES))
def test_value_errors_are_the_same_in_both_modes(name):
    build, inputs, values = INT_CASES[name]
    _check_same(build, inputs, values)


def test_a_failed_native_call_changes_no_shared_state():
    a = tj.shared(np.zeros(2), name="a")
    i = tj.lvector("i")
    f = tj.function([i], a[i], updates={a: a + 1}, mode="llvm")
    with pytest.raises(IndexError):
        f(np.array([7]))
    np.testing.assert_array_equal(a.get_value(), np.zeros(2))
    np.testing.assert_array_equal(f(np.array([1])), [0.0])
    np.testing.assert_array_equal(a.get_value(), np.ones(2))
