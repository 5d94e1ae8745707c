"""Shape, join and creation ops: static shape inference, -1 handling and error paths."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.basic import OPERATORS
from tensorjit.graph.ops.shape import static_int_values


def run(inputs, outputs, *args):
    return tj.function(inputs, outputs, mode="py", optimizer=None)(*args)


def shape_of(v):
    return v.type.shape


# -- static shape inference


@pytest.mark.parametrize("in_shape, target, want", [
    ((None, 4), (-1, 2), (None, 2)),
    ((6, 4), (-1, 2), (12, 2)),
    ((6, 4), (3, -1, 2), (3, 4, 2)),
    ((2, 3), (), None),
    ((1, 1), (), ()),
    ((None, 4), (4, None), (4, None)),
    ((0, None), (-1, 5), (0, 5)),
    ((None,), (2, 3), (2, 3)),
])
def test_reshape_static_shape(in_shape, target, want):
    x = tj.tensor("float64", in_shape)
    target = tuple(tj.iscalar() if t is None else t for t in target)
    if want is None:
        with pytest.raises(ValueError, match="cannot reshape"):
            tj.reshape(x, target)
        return
    assert shape_of(tj.reshape(x, target)) == want


def test_reshape_static_shape_from_symbolic_shapes():
    x = tj.tensor("float64", (None, 4))
    y = tj.tensor("float64", (3, None))
    assert shape_of(tj.reshape(x, tj.shape(y))) == (3, None)
    assert shape_of(tj.reshape(x, (tj.shape_i(y, 0), -1))) == (3, None)
    # entries computed from static lengths fold to constants
    assert shape_of(tj.reshape(x, (tj.shape_i(y, 0) * 2, 2))) == (6, 2)
    assert shape_of(tj.flatten(tj.tensor("float64", (2, 3, 4)), 2)) == (2, 12)
    assert shape_of(tj.flatten(x)) == (None,)


def test_reshape_gradient_keeps_input_static_shape():
    x = tj.tensor("float64", (None, 4), name="x")
    g = tj.grad(tj.sum(tj.reshape(x, (-1, 2)) ** 2), x)
    assert shape_of(g) == (None, 4)
    np.testing.assert_allclose(run([x], g, np.ones((3, 4))), 2 * np.ones((3, 4)))


def test_shape_ops_static_shapes():
    x = tj.tensor("float64", (None, 4), name="x")
    assert shape_of(x.T) == (4, None)
    assert shape_of(x.transpose(1, 0)) == (4, None)
    assert shape_of(tj.expand_dims(x, (0, -1))) == (1, None, 4, 1)
    assert shape_of(tj.squeeze(tj.tensor("float64", (None, 1, 3, 1)))) == (None, 3)
    assert shape_of(tj.broadcast_to(tj.tensor("float64", (1, None)), (3, 5))) == (3, 5)
    assert shape_of(tj.broadcast_to(x, (2, tj.iscalar(), 4))) == (2, None, 4)
    assert shape_of(tj.concatenate([x, tj.tensor("float64", (2, 4))])) == (None, 4)
    assert shape_of(tj.concatenate([tj.tensor("float64", (3, 4)),
                                    tj.tensor("float64", (2, None))])) == (5, 4)
    assert shape_of(tj.stack([x, x], axis=-1)) == (None, 4, 2)
    assert [shape_of(p) for p in tj.split(tj.tensor("float64", (7, 2)), [2, -1])] == \
        [(2, 2), (4, 2), (1, 2)]
    assert shape_of(tj.repeat(x, 3, axis=1)) == (None, 12)
    assert shape_of(tj.repeat(x, 0, axis=0)) == (0, 4)
    assert shape_of(tj.tile(x, (2, 1, 3))) == (2, None, 12)
    assert shape_of(tj.arange(2, 11, 3)) == (3,)
    assert shape_of(tj.arange(tj.shape_i(tj.tensor("float64", (5, None)), 0))) == (5,)
    assert shape_of(tj.zeros((3, tj.lscalar()))) == (3, None)
    assert shape_of(tj.eye(3, 5)) == (3, 5)
    assert shape_of(tj.one_hot(tj.imatrix(), 7)) == (None, None, 7)


def test_size_is_a_symbolic_int64_scalar():
    x = tj.tensor("float64", (None, 4), name="x")
    s = tj.size(x)
    assert s.dtype == "int64" and s.ndim == 0
    assert int(run([x], s, np.zeros((3, 4)))) == 12
    assert int(run([x], x.size, np.zeros((0, 4)))) == 0
    assert static_int_values(tj.size(tj.tensor("float64", (2, 3)))) == (6,)


def test_methods_dispatch_through_operators():
    x = tj.matrix("x")
    value = np.arange(6.0).reshape(2, 3)
    got = run([x], [x.reshape(3, 2), x.flatten(), x.T, x.repeat(2, axis=0),
                    x.dimshuffle(0, "x", 1).squeeze()], value)
    want = [value.reshape(3, 2), value.ravel(), value.T, np.repeat(value, 2, axis=0), value]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    for name in ("reshape", "flatten", "transpose", "squeeze", "repeat", "size"):
        assert name in OPERATORS


def test_dtype_promotion_of_concatenate_and_arange():
    assert tj.concatenate([tj.fvector(), tj.dvector()]).dtype == "float64"
    assert tj.concatenate([tj.ivector(), tj.fvector()]).dtype == "float64"
    assert tj.arange(5).dtype == "int64"
    assert tj.arange(0, 1, 0.25).dtype == "float64"
    assert tj.arange(tj.fscalar(), 3).dtype == "float32"
    assert tj.arange(tj.iscalar()).dtype == "int64"
    assert tj.full((2,), 1.5).dtype == "float64"
    assert tj.full((2,), 3, dtype="int8").dtype == "int8"


# -- run-time behaviour


def test_reshape_minus_one_at_run_time():
    x = tj.matrix("x")
    n = tj.lscalar("n")
    f = tj.function([x, n], tj.reshape(x, (n, -1)), mode="py")
    assert f(np.zeros((4, 3)), 2).shape == (2, 6)
    assert f(np.zeros((0, 3)), 2).shape == (2, 0)
    with pytest.raises(ValueError, match="at most one -1"):
        f(np.zeros((4, 3)), -1)
    with pytest.raises(ValueError, match=r"cannot reshape an array of shape \(4, 3\)"):
        f(np.zeros((4, 3)), 5)


def test_reshape_run_time_mismatch_names_shapes_and_line():
    x = tj.matrix("x")
    f = tj.function([x], tj.reshape(x, (5, -1)), mode="py")
    with pytest.raises(ValueError) as info:
        f(np.zeros((4, 3)))
    msg = str(info.value)
    assert "(4, 3)" in msg and "(5, -1)" in msg and "test_shape_ops.py" in msg


def test_squeeze_unknown_axis_is_checked_at_run_time():
    x = tj.matrix("x")
    y = tj.squeeze(x, 1)
    assert shape_of(y) == (None,)
    f = tj.function([x], y, mode="py")
    np.testing.assert_array_equal(f(np.ones((3, 1))), np.ones(3))
    with pytest.raises(ValueError, match="specify_shape"):
        f(np.ones((3, 2)))
    # axis=None keeps axes of unknown length (the output ndim must be static)
    assert tj.squeeze(x).ndim == 2


def test_broadcast_to_is_strict_about_unknown_axes():
    x = tj.vector("x")
    f = tj.function([x], tj.broadcast_to(x, (2, 3)), mode="py")
    np.testing.assert_array_equal(f(np.arange(3.0)), np.broadcast_to(np.arange(3.0), (2, 3)))
    with pytest.raises(ValueError, match="static shape says 1"):
        f(np.ones(1))


def test_broadcast_to_gradient_sums_back():
    x = tj.tensor("float64", (1, None), name="x")
    g = tj.grad(tj.sum(tj.broadcast_to(x, (4, 3)) * np.arange(12.0).reshape(4, 3)), x)
    np.testing.assert_allclose(run([x], g, np.zeros((1, 3))),
                               np.arange(12.0).reshape(4, 3).sum(0, keepdims=True))


def test_concatenate_gradient_splits():
    a, b = tj.matrix("a"), tj.matrix("b")
    w = np.arange(10.0).reshape(5, 2)
    ga, gb = tj.grad(tj.sum(tj.concatenate([a, b]) * w), [a, b])
    got_a, got_b = run([a, b], [ga, gb], np.zeros((2, 2)), np.zeros((3, 2)))
    np.testing.assert_array_equal(got_a, w[:2])
    np.testing.assert_array_equal(got_b, w[2:])


def test_one_hot_has_no_gradient_wrt_indices():
    i = tj.lvector("i")
    w = tj.vector("w")
    cost = tj.sum(tj.one_hot(i, 3) * w)
    gw, gi = tj.grad(cost, [w, i])
    got_w, got_i = run([w, i], [gw, gi], np.ones(3), np.array([0, 2, 2]))
    np.testing.assert_array_equal(got_w, [1, 0, 2])
    np.testing.assert_array_equal(got_i, [0, 0, 0])


# -- error messages


def test_bad_reshape_size_at_build_time():
    x = tj.tensor("float64", (6, 4), name="x")
    with pytest.raises(ValueError, match=r"cannot reshape \(6, 4\) \(24 elements\) into "
                                         r"\(5, -1\).*'x'"):
        tj.reshape(x, (5, -1))
    with pytest.raises(ValueError, match="at most one -1"):
        tj.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="negative size"):
        tj.reshape(x, (-2, 12))
    with pytest.raises(TypeError, match="shape entry 1 must be an int"):
        tj.reshape(x, (2, 1.5))
    with pytest.raises(TypeError, match="shape entry 0 .* 'f'"):
        tj.reshape(x, (tj.fscalar("f"), 2))


@pytest.mark.parametrize("call, match", [
    (lambda x: tj.transpose(x, (0, 0)), "not a permutation"),
    (lambda x: tj.expand_dims(x, 3), "out of range"),
    (lambda x: tj.squeeze(x, 0), "its length is 2"),
    (lambda x: tj.squeeze(x, 5), "out of range"),
    (lambda x: tj.concatenate([x], axis=2), "out of range"),
    (lambda x: tj.split(x, 3, axis=0), "does not divide"),
    (lambda x: tj.repeat(x, 2, axis=-3), "out of range"),
    (lambda x: tj.flatten(x, 3), "ndim must be"),
    (lambda x: tj.broadcast_to(x, (4, 3)), r"axis 0: 2 vs 4"),
    (lambda x: tj.broadcast_to(x, (3,)), "to 1 dimensions"),
])
def test_bad_axis_and_shape_errors_name_the_input(call, match):
    x = tj.tensor("float64", (2, None), name="x")
    with pytest.raises(ValueError, match=match):
        call(x)


def test_concatenate_of_mismatched_shapes():
    a = tj.tensor("float64", (2, 3), name="a")
    b = tj.tensor("float64", (2, 4), name="b")
    with pytest.raises(ValueError, match=r"differ on axis 1.*'a'.*'b'"):
        tj.concatenate([a, b], axis=0)
    with pytest.raises(TypeError, match="input 1 is .*expected a 2-d"):
        tj.concatenate([a, tj.vector("v")])
    with pytest.raises(ValueError, match="zero-dimensional"):
        tj.concatenate([tj.scalar(), tj.scalar()])
    m, n = tj.matrix("m"), tj.matrix("n")
    f = tj.function([m, n], tj.concatenate([m, n]), mode="py")
    with pytest.raises(ValueError, match=r"input 1 has shape \(2, 4\) but input 0 has"):
        f(np.zeros((2, 3)), np.zeros((2, 4)))


@pytest.mark.parametrize("call", [
    lambda: tj.zeros((2, -1)),
    lambda: tj.ones(-3),
    lambda: tj.full((-1,), 2.0),
    lambda: tj.eye(-1),
    lambda: tj.one_hot(tj.ivector(), -2),
])
def test_negative_sizes_at_build_time(call):
    with pytest.raises(ValueError, match="negative|>= 0"):
        call()


def test_negative_sizes_and_bad_values_at_run_time():
    n = tj.lscalar("n")
    for out, match in [(tj.zeros((n, 2)), "negative size"), (tj.eye(n), "negative"),
                       (tj.arange(0, 5, n), "step must not be 0"),
                       (tj.one_hot(tj.constant([0, 3]), n), "out of range")]:
        f = tj.function([n], out, mode="py")
        bad = 0 if "step" in match else (3 if "range" in match else -1)
        with pytest.raises(ValueError, match=match):
            f(bad)


def test_split_error_paths():
    x = tj.matrix("x")
    f = tj.function([x], tj.split(x, 2, axis=1), mode="py")
    assert [p.shape for p in f(np.zeros((1, 4)))] == [(1, 2), (1, 2)]
    with pytest.raises(ValueError, match="does not divide into 2 equal sections"):
        f(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=">= 1"):
        tj.split(x, 0)


def test_shape_arguments_are_checked():
    with pytest.raises(TypeError, match="static length"):
        tj.zeros(tj.lvector("s"))
    with pytest.raises(TypeError, match="shape entry 0"):
        tj.zeros((True, 2))
    with pytest.raises(TypeError, match="repeats must be an int"):
        tj.repeat(tj.vector(), 1.5)
    with pytest.raises(TypeError, match="must be 0-d"):
        tj.arange(tj.vector("v"))


# -- x.shape[i] (indexing a shape vector is the indexing module's Subtensor)


def _has_subtensor() -> bool:
    return "getitem" in OPERATORS


@pytest.mark.skipif(not _has_subtensor(), reason="needs Subtensor (x.shape[i]) from "
                    "tensorjit/graph/ops/indexing.py, not landed yet")
def test_arange_of_shape_entry():
    y = tj.ivector("y")
    x = tj.tensor("float64", (5, None), name="x")
    r = tj.arange(y.shape[0])
    np.testing.assert_array_equal(run([y], r, np.array([4, 2, 7], dtype="int32")),
                                  [0, 1, 2])
    assert shape_of(tj.arange(x.shape[0])) == (5,)
    assert shape_of(tj.zeros((x.shape[0], x.shape[1]))) == (5, None)
    assert shape_of(tj.reshape(x, (x.shape[1], x.shape[0]))) == (None, 5)
