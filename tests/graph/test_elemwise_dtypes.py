"""Dtype promotion of the elementwise ops (NumPy rules, weak Python scalars), their
dtype errors, operator dispatch, and the strict runtime broadcasting error."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import tensorjit as tj


def run(inputs, output, *values):
    return tj.function(inputs, output, mode="py", optimizer=None)(*values)


# -- promotion with weak Python scalars -------------------------------------------------

@pytest.mark.parametrize("build, dtype", [
    (lambda f, i, b: f * 2.0, "float32"),          # a Python float does not widen float32
    (lambda f, i, b: f + 3, "float32"),
    (lambda f, i, b: i * 2.5, "float64"),          # int tensor * Python float -> float64
    (lambda f, i, b: i + 2, "int32"),              # a Python int keeps the tensor's width
    (lambda f, i, b: b + 100, "int8"),
    (lambda f, i, b: 2 ** i, "int32"),
    (lambda f, i, b: i ** 2.5, "float64"),
    (lambda f, i, b: i // 2, "int32"),
    (lambda f, i, b: i % 3, "int32"),
    (lambda f, i, b: f % 3, "float32"),
    (lambda f, i, b: abs(i), "int32"),
    (lambda f, i, b: tj.sign(b), "int8"),
    (lambda f, i, b: tj.square(i), "int32"),
    (lambda f, i, b: tj.maximum(i, 0), "int32"),
    (lambda f, i, b: tj.maximum(i, 0.5), "float64"),
    (lambda f, i, b: tj.maximum(b, f), "float32"),
    (lambda f, i, b: tj.minimum(i, f), "float64"),  # int32 with float32 -> float64
    (lambda f, i, b: tj.clip(i, 0, 5), "int32"),
    (lambda f, i, b: tj.clip(f, 0, 1), "float32"),
    (lambda f, i, b: tj.relu(b), "int8"),
    (lambda f, i, b: tj.reciprocal(i), "float64"),
    (lambda f, i, b: tj.exp(i), "float64"),
    (lambda f, i, b: tj.exp(f), "float32"),
    (lambda f, i, b: tj.exp(b), "float32"),         # NumPy says float16, which we lack
    (lambda f, i, b: tj.sigmoid(i * 2), "float64"),
    (lambda f, i, b: tj.stop_gradient(b), "int8"),
])
def test_static_and_runtime_dtypes_follow_numpy(build, dtype):
    f, i, b = tj.fvector("f"), tj.ivector("i"), tj.bvector("b")
    out = build(f, i, b)
    assert out.dtype == dtype
    got = run([f, i, b], out, np.arange(3, dtype="float32"), np.arange(3, dtype="int32"),
              np.arange(3, dtype="int8"))
    assert got.dtype == dtype


def test_weak_python_int_that_does_not_fit_raises_overflow_error():
    b = tj.bvector("b")
    with pytest.raises(OverflowError, match=r"1000.*int8"):
        b + 1000
    with pytest.raises(OverflowError, match=r"maximum\(\).*300"):
        tj.maximum(b, 300)


@pytest.mark.parametrize("fn, py", [
    (tj.eq, operator.eq), (tj.neq, operator.ne), (tj.lt, operator.lt), (tj.le, operator.le),
    (tj.gt, operator.gt), (tj.ge, operator.ge), (operator.lt, operator.lt),
    (operator.le, operator.le), (operator.gt, operator.gt), (operator.ge, operator.ge)])
def test_comparisons_return_bool_and_promote_before_comparing(fn, py):
    i = tj.ivector("i")
    out = fn(i, 2.5)                        # compared in float64, not after truncating 2.5
    assert out.dtype == "bool"
    got = run([i], out, np.array([1, 2, 3], dtype="int32"))
    np.testing.assert_array_equal(got, [py(v, 2.5) for v in (1, 2, 3)])


def test_where_casts_condition_and_promotes_branches_together():
    c, f, d, i = tj.vector("c"), tj.fvector("f"), tj.dvector("d"), tj.ivector("i")
    assert tj.where(c, f, d).dtype == "float64"
    assert tj.where(c > 0, f, 0).dtype == "float32"
    assert tj.where(c > 0, i, 2.5).dtype == "float64"
    assert tj.where(c > 0, i, 2).dtype == "int32"
    assert tj.switch is tj.where
    out = tj.where(c, i, f)   # float cond: non-zero is true
    got = run([c, i, f], out, np.array([0.0, -2.0]), np.array([1, 2], dtype="int32"),
              np.array([7, 8], dtype="float32"))
    assert got.dtype == "float64"
    np.testing.assert_array_equal(got, [7.0, 2.0])


def test_predicates_accept_integers_and_return_bool():
    i = tj.ivector("i")
    assert tj.isnan(i).dtype == "bool" and tj.isinf(i).dtype == "bool"
    np.testing.assert_array_equal(run([i], tj.isnan(i), np.array([1], "int32")), [False])


def test_python_operators_dispatch_to_the_elementwise_ops():
    x, y = tj.vector("x"), tj.vector("y")
    p, q = tj.tensor("bool", (None,), "p"), tj.tensor("bool", (None,), "q")
    pairs = {x // y: "floor_div", x % y: "mod", x ** y: "pow", 2 ** x: "pow",
             abs(x): "abs", x < y: "lt", x <= y: "le", x > y: "gt", x >= y: "ge",
             p & q: "logical_and", p | q: "logical_or", p ^ q: "logical_xor",
             ~p: "logical_not", True & p: "logical_and", x.clip(0, 1): "clip"}
    for out, fname in pairs.items():
        assert out.owner.op.scalar_op.fname == fname


# -- dtype errors -----------------------------------------------------------------------

@pytest.mark.parametrize("fn", [tj.logical_and, tj.logical_or, tj.logical_xor,
                                operator.and_, operator.or_, operator.xor])
def test_logical_ops_reject_non_bool_inputs_by_position(fn):
    p, x = tj.tensor("bool", (None,), "p"), tj.fvector("x")
    with pytest.raises(TypeError) as err:
        fn(p, x)
    msg = str(err.value)
    assert "input 1 has dtype float32; expected bool" in msg
    assert "'x'" in msg and "x != 0" in msg and "test_elemwise_dtypes.py" in msg


def test_logical_not_rejects_integers_instead_of_inverting_bits():
    with pytest.raises(TypeError, match=r"logical_not\(\): input 0 has dtype int32"):
        ~tj.ivector("i")


@pytest.mark.parametrize("fn, name", [(tj.sign, "sign"), (tj.square, "square"),
                                      (tj.relu, "relu")])
def test_bool_arithmetic_is_rejected(fn, name):
    with pytest.raises(TypeError, match=rf"{name}\(\): input 0 has dtype bool; expected "):
        fn(tj.tensor("bool", (3,), "p"))


def test_float_op_node_rejects_integer_input_with_position_and_line():
    from tensorjit.graph.ops.elemwise import Elemwise
    from tensorjit.graph.ops.scalar_math import Exp
    i = tj.ivector("i")
    with pytest.raises(TypeError, match=r"exp\(\): input 0 has dtype int32; expected "
                                        r"float32 or float64 \(graph built at "
                                        r"test_elemwise_dtypes.py:\d+\)"):
        Elemwise(Exp())(i)


def test_where_node_requires_bool_condition_and_equal_branches():
    from tensorjit.graph.ops.elemwise import Elemwise
    from tensorjit.graph.ops.scalar_logic import Where
    x, f = tj.vector("x"), tj.fvector("f")
    with pytest.raises(TypeError, match=r"where\(\): input 0 \(the condition\) has dtype "
                                        r"float64; expected bool"):
        Elemwise(Where())(x, x, x)
    with pytest.raises(TypeError, match=r"branches must share one dtype, got float64 and "
                                        r"float32"):
        Elemwise(Where())(x > 0, x, f)


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match=r"clip\(\): give at least one of lo and hi"):
        tj.clip(tj.vector("x"))


def test_integer_power_with_negative_exponent_fails_at_run_time_naming_the_op():
    i = tj.ivector("i")
    f = tj.function([i], i ** -1, mode="py", optimizer=None)
    with pytest.raises(ValueError, match=r"Elemwise\{pow\}.*negative integer powers"):
        f(np.array([2], dtype="int32"))


# -- strict broadcasting ----------------------------------------------------------------

def test_static_broadcast_error_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"maximum\(\): shapes \(3,\) and \(4,\) cannot "
                                         r"broadcast"):
        tj.maximum(tj.vector("a", shape=(3,)), tj.vector("b", shape=(4,)))


def test_runtime_broadcast_of_undeclared_size_one_axis_is_an_error():
    x, y = tj.matrix("x"), tj.matrix("y")
    f = tj.function([x, y], tj.maximum(x, y), mode="py", optimizer=None)
    with pytest.raises(ValueError) as err:
        f(np.ones((3, 4)), np.ones((1, 4)))
    # caught by the call's argument check or by the op itself: either names the op,
    # both shapes, the rule, and the line that built the node
    msg = str(err.value)
    assert "maximum" in msg and "(3, 4)" in msg and "(1, 4)" in msg
    assert "static shape" in msg and "test_elemwise_dtypes.py" in msg


@pytest.mark.parametrize("shapes, axis, hint", [
    (((3, 4), (1, 4)), 0, True),     # a size-1 axis the static type does not declare
    (((3, 4), (3, 5)), 1, False),    # two different sizes
])
def test_elemwise_perform_rejects_shapes_its_static_types_do_not_allow(shapes, axis, hint):
    x, y = tj.matrix("x"), tj.matrix("y")
    node = tj.maximum(x, y).owner
    with pytest.raises(ValueError) as err:
        node.op.perform(node, [np.ones(s) for s in shapes])
    msg = str(err.value)
    assert msg.startswith(f"maximum(): shapes {shapes[0]} and {shapes[1]} do not broadcast "
                          f"on axis {axis}")
    assert ("static shape says 1" in msg) == hint


def test_runtime_broadcast_of_mismatched_sizes_is_an_error():
    x, y, z = tj.vector("x"), tj.vector("y"), tj.vector("z")
    f = tj.function([x, y, z], tj.clip(x, y, z), mode="py", optimizer=None)
    with pytest.raises(ValueError) as err:
        f(np.ones(3), np.zeros(3), np.ones(2))
    msg = str(err.value)
    assert "clip" in msg and "(3,)" in msg and "(2,)" in msg


def test_declared_size_one_axis_broadcasts_at_run_time():
    x, r = tj.matrix("x"), tj.row("r")
    got = run([x, r], tj.where(x > r, x, r), np.arange(6.0).reshape(2, 3),
              np.array([[1.0, 5.0, 2.0]]))
    np.testing.assert_array_equal(got, [[1, 5, 2], [3, 5, 5]])
