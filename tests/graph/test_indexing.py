"""Indexing beyond the op-case table: errors, static shapes, op identity, accumulation of
repeated indices in gradients, and the issue's cross-entropy example."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.ops.indexing import (
    AdvancedIncSubtensor,
    AdvancedSubtensor,
    IncSubtensor,
    Subtensor,
)


def run(inputs, outputs, *args):
    return tj.function(inputs, outputs, mode="py", optimizer=None)(*args)


# --------------------------------------------------------------------------------------
# Errors


def test_out_of_range_index_array_names_the_input_value_and_axis_size():
    x = tj.matrix("x")
    idx = tj.lvector("idx")
    f = tj.function([x, idx], x[:, idx], mode="py")
    with pytest.raises(IndexError) as err:
        f(np.zeros((2, 3)), [0, 7, 1])
    msg = str(err.value)
    assert "'idx'" in msg and "value 7" in msg and "axis 1 of size 3" in msg


def test_out_of_range_negative_index_array_is_an_error_not_garbage():
    x = tj.vector("x")
    idx = tj.ivector("idx")
    with pytest.raises(IndexError, match=r"'idx'.*value -5.*size 4"):
        run([x, idx], x[idx], np.arange(4.0), np.array([-1, -5], dtype="int32"))


def test_out_of_range_symbolic_scalar_names_axis_index_and_size():
    x = tj.matrix("x")
    n = tj.lscalar("n")
    with pytest.raises(IndexError, match=r"index 3 .*'n'.*axis 1 of size 3"):
        run([x, n], x[0, n], np.zeros((2, 3)), 3)


def test_out_of_range_gather_pairs_names_the_second_index():
    p = tj.matrix("p")
    y = tj.ivector("y")
    loss = tj.log(p)[tj.arange(y.shape[0]), y]
    with pytest.raises(IndexError, match=r"'y'.*value 4.*axis 1 of size 4"):
        run([p, y], loss, np.ones((2, 4)), np.array([0, 4], dtype="int32"))


def test_out_of_range_known_at_build_time():
    x = tj.tensor("float64", (3, 4), name="x")
    with pytest.raises(IndexError, match="index 4 is out of range for axis 1 of size 4"):
        x[0, 4]
    with pytest.raises(IndexError, match=r"value -4, out of range for axis 0 of size 3"):
        x[np.array([0, -4])]


def test_too_many_indices():
    x = tj.matrix("x")
    with pytest.raises(IndexError, match=r"too many indices.*'x'.*2-dimensional.*3"):
        x[0, 1, 2]
    with pytest.raises(IndexError, match="too many indices"):
        x[:, :, None, 0]
    with pytest.raises(IndexError, match="too many indices"):
        x[tj.tensor("bool", (None, None)), 0]


@pytest.mark.parametrize("make_index", [
    lambda: tj.fvector("fi"),
    lambda: np.array([0.0, 1.0]),
    lambda: 1.0,
    lambda: tj.dscalar("fs"),
])
def test_float_index_is_a_type_error(make_index):
    x = tj.matrix("x")
    with pytest.raises(TypeError, match="getitem"):
        x[make_index()]


def test_float_slice_bound_is_a_type_error():
    x = tj.vector("x")
    with pytest.raises(TypeError, match="slice stop"):
        x[:tj.dscalar("s")]
    with pytest.raises(TypeError, match="slice start"):
        x[0.5:]


def test_other_bad_keys():
    x = tj.matrix("x")
    with pytest.raises(NotImplementedError, match="scalar boolean"):
        x[True]
    with pytest.raises(NotImplementedError, match="0-d boolean"):
        x[tj.tensor("bool", ())]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]
    with pytest.raises(TypeError, match="unsupported type str"):
        x["a"]
    with pytest.raises(TypeError, match="ragged|mixes symbolic"):
        x[[tj.lscalar(), 1]]


def test_symbolic_zero_step_fails_at_run_time():
    x = tj.vector("x")
    s = tj.lscalar("s")
    with pytest.raises(ValueError, match="step cannot be zero"):
        run([x, s], x[::s], np.arange(3.0), 0)


def test_index_arrays_that_do_not_broadcast():
    x = tj.tensor("float64", (3, 4))
    with pytest.raises(IndexError, match="could not be broadcast"):
        x[np.array([0, 1]), np.array([0, 1, 2])]
    i, j = tj.lvector("i"), tj.lvector("j")
    with pytest.raises(IndexError, match=r"could not be broadcast"):
        y = tj.matrix("y")
        run([y, i, j], y[i, j], np.zeros((3, 4)), [0, 1], [0, 1, 2])


def test_boolean_mask_shape_mismatch():
    x = tj.tensor("float64", (3, 4), name="x")
    with pytest.raises(IndexError, match=r"shape \(3, 5\).*does not match"):
        x[tj.tensor("bool", (3, 5), name="m")]
    y = tj.matrix("y")
    m = tj.tensor("bool", (None,), name="m")
    with pytest.raises(IndexError, match=r"'m'.*does not match axes 0..0"):
        run([y, m], y[m], np.zeros((3, 4)), np.ones(2, dtype=bool))


def test_inc_subtensor_of_a_non_indexed_variable():
    x = tj.matrix("x")
    with pytest.raises(TypeError, match=r"inc_subtensor\(\).*indexed variable"):
        tj.inc_subtensor(x, 1.0)
    with pytest.raises(TypeError, match=r"set_subtensor\(\).*indexed variable"):
        tj.set_subtensor(x * 2, 1.0)


def test_inc_subtensor_value_shape_and_dtype_errors():
    x = tj.tensor("float64", (3, 4), name="x")
    with pytest.raises(ValueError, match="cannot broadcast"):
        tj.inc_subtensor(x[:, 1:], tj.tensor("float64", (2, 2)))
    with pytest.raises(ValueError, match="is 3-d"):
        tj.inc_subtensor(x[0], tj.tensor3())
    with pytest.raises(TypeError, match="cannot be cast"):
        tj.inc_subtensor(tj.lvector("iv")[0], tj.dscalar("d"))
    with pytest.raises(TypeError, match="cannot write"):
        tj.set_subtensor(tj.lvector("iv")[0], 1.5)


def test_inc_subtensor_value_broadcasts_only_where_static_shape_says_1():
    x = tj.matrix("x")
    v = tj.matrix("v")
    f = tj.function([x, v], tj.inc_subtensor(x[:2], v), mode="py")
    with pytest.raises(ValueError, match=r"value has shape \(1, 3\).*static shape says 1"):
        f(np.zeros((3, 3)), np.ones((1, 3)))
    row = tj.row("r")
    got = run([x, row], tj.inc_subtensor(x[:2], row), np.zeros((3, 3)), np.ones((1, 3)))
    np.testing.assert_array_equal(got, [[1, 1, 1], [1, 1, 1], [0, 0, 0]])


# --------------------------------------------------------------------------------------
# Static shapes and op structure


N = tj.lscalar("n")
STATIC = [
    ((5, 4), np.s_[1:], (4, 4)),
    ((5, 4), np.s_[::-1], (5, 4)),
    ((5, 4), np.s_[3:0:-2], (2, 4)),
    ((5, 4), np.s_[-1], (4,)),
    ((5, 4), np.s_[None, ..., 0], (1, 5)),
    ((5, 4), np.s_[1, 2], ()),
    ((5, 4), np.s_[:N], (None, 4)),
    ((5, 4), np.s_[N], (4,)),
    ((None, 4), np.s_[:0], (0, 4)),
    ((None, 4), np.s_[2:1, 1:3], (0, 2)),
    ((None,), np.s_[::-1], (None,)),
    ((None,), np.s_[1:], (None,)),
    ((5, 4), np.s_[[0, 1, 1]], (3, 4)),
    ((5, 4), np.s_[:, [0, 1]], (5, 2)),
    ((5, 4), np.s_[[[0], [1]], [0, 1, 2]], (2, 3)),
    ((2, 3, 4), np.s_[0, :, [1, 2]], (2, 3)),
    ((2, 3, 4), np.s_[:, 0, [1, 2]], (2, 2)),
    ((2, 3, 4), np.s_[None, [1], 1:], (1, 1, 2, 4)),
    ((5,), np.s_[np.array([True, False, True, True, False])], (3,)),
    ((5, 2), np.s_[tj.tensor("bool", (5,))], (None, 2)),
    ((5, 2), np.s_[tj.lvector()], (None, 2)),
    ((5, 2), np.s_[tj.tensor("int32", (7, 1)), :1], (7, 1, 1)),
]


@pytest.mark.parametrize("shape, key, expected", STATIC, ids=[str(s[2]) for s in STATIC])
def test_static_output_shape(shape, key, expected):
    x = tj.tensor("float64", shape)
    assert x[key].type.shape == expected
    parts = [p for k in (key if isinstance(key, tuple) else (key,))
             for p in ((k.start, k.stop, k.step) if isinstance(k, slice) else (k,))]
    if None not in shape and not any(isinstance(p, tj.Variable) for p in parts):
        assert np.empty(shape)[key].shape == expected  # the table itself is NumPy's


def test_shape_entry_is_an_int64_scalar_usable_as_a_bound():
    x = tj.matrix("x")
    y = tj.vector("y")
    n = y.shape[0]
    assert isinstance(n.owner.op, Subtensor) and n.type == tj.TensorType("int64", ())
    got = run([x, y], x[:n, -n:], np.arange(12.0).reshape(3, 4), np.zeros(2))
    np.testing.assert_array_equal(got, np.arange(12.0).reshape(3, 4)[:2, -2:])


def test_equal_keys_give_equal_hashable_ops():
    x = tj.tensor3("x")
    assert x[1, :, :].owner.op == x[1].owner.op == x[1, ...].owner.op
    assert hash(x[1:].owner.op) == hash(x[1:].owner.op)
    assert x[1:].owner.op != x[:1].owner.op
    assert isinstance(x[[0, 1]].owner.op, AdvancedSubtensor)
    assert str(x[1:, ::-1].owner.op) == "Subtensor{[1:, ::-1]}"


def test_index_variants_are_folded_to_constants():
    x = tj.vector("x")
    for key in (np.int64(1), np.array(1), tj.constant(1)):
        assert x[key].owner.op.idx_list == (("int", 1),)
        assert len(x[key].owner.inputs) == 1
    assert x[:np.int32(2)].owner.op.idx_list == (("slice", None, 2, None),)


def test_op_structure_is_validated():
    with pytest.raises(ValueError, match="malformed"):
        Subtensor((("int", None),))
    with pytest.raises(ValueError, match="Advanced"):
        Subtensor((("array",),))
    with pytest.raises(ValueError, match="basic"):
        AdvancedSubtensor((("int", 0),))
    with pytest.raises(TypeError, match="expects 1 index inputs, got 0"):
        Subtensor((("int", "?"),))(tj.vector())


def test_shape_value_inputs_are_bounds_and_masks_only():
    x = tj.tensor3("x")
    n, i = tj.lscalar("n"), tj.lscalar("i")
    idx, mask = tj.lvector("idx"), tj.tensor("bool", (None,), name="mask")
    out = x[i, :n, idx]
    assert out.owner.op.shape_value_inputs == (2,)  # n; not the int scalar nor the array
    assert x[mask, idx].owner.op.shape_value_inputs == (1,)
    assert tj.inc_subtensor(x[:n], 1.0).owner.op.shape_value_inputs == ()
    # an integer array's shape suffices; its values are not needed
    node = x[idx, 1:].owner
    assert node.op.infer_shape(node, [(4, 5, 6), (7,)], [None, None]) == [(7, 4, 6)]
    with pytest.raises(ValueError, match="depends on the values"):
        node = x[:n].owner
        node.op.infer_shape(node, [(4, 5, 6), ()], [None, None])


def test_mask_and_array_entries_are_distinct():
    x = tj.matrix("x")
    assert x[tj.tensor("bool", (None, None))].owner.op.idx_list == (("mask",),)
    assert x[[True, False]].owner.op.idx_list == (("mask",),)
    assert x[[1, 0]].owner.op.idx_list == (("array",),)
    with pytest.raises(TypeError, match="must be a boolean array"):
        AdvancedSubtensor((("mask",),))(x, tj.lvector())
    with pytest.raises(TypeError, match="must be an integer array"):
        AdvancedSubtensor((("array",),))(x, tj.tensor("bool", (None,)))


def test_copy_on_read_and_write():
    x = tj.vector("x")
    value = np.arange(4.0)
    got = run([x], [x[()], tj.set_subtensor(x[1:], 0.0)], value)
    np.testing.assert_array_equal(got[0], value)
    np.testing.assert_array_equal(got[1], [0, 0, 0, 0])
    np.testing.assert_array_equal(value, np.arange(4.0))  # input untouched


def test_boolean_mask_of_a_comparison():
    x = tj.matrix("x")
    value = np.array([[1.0, -2.0], [-3.0, 4.0]])
    np.testing.assert_array_equal(run([x], x[x > 0], value), [1.0, 4.0])
    np.testing.assert_array_equal(run([x], tj.set_subtensor(x[x < 0], 0.0), value),
                                  [[1.0, 0.0], [0.0, 4.0]])


# --------------------------------------------------------------------------------------
# Gradients


def test_repeated_indices_accumulate_in_the_gradient():
    x = tj.matrix("x")
    idx = tj.lvector("idx")
    w = tj.vector("w")
    cost = tj.sum(x[idx] * w)
    g = tj.grad(cost, x)
    assert isinstance(g.owner.op, AdvancedIncSubtensor)
    got = run([x, idx, w], g, np.zeros((3, 2)), [2, 0, 2, 2, -1], [1.0, 10.0])
    want = np.zeros((3, 2))
    np.add.at(want, [2, 0, 2, 2, -1], [1.0, 10.0])
    np.testing.assert_array_equal(got, want)
    assert want[2, 1] == 40.0


def test_repeated_indices_accumulate_in_inc_subtensor():
    x = tj.vector("x")
    i = tj.ivector("i")
    got = run([x, i], tj.inc_subtensor(x[i], 1.0), np.zeros(3),
              np.array([0, 0, -1, 2, 0], dtype="int32"))
    np.testing.assert_array_equal(got, [3, 0, 2])


def test_gradient_of_basic_indexing_is_an_inc_subtensor():
    x = tj.matrix("x")
    g = tj.grad(tj.sum(x[1:, ::-1] * 3.0), x)
    assert isinstance(g.owner.op, IncSubtensor)
    np.testing.assert_array_equal(run([x], g, np.zeros((3, 2))),
                                  [[0, 0], [3, 3], [3, 3]])


def test_no_gradient_flows_to_integer_indices():
    x = tj.vector("x")
    n = tj.lscalar("n")
    idx = tj.lvector("idx")
    for out, i in ((x[:n], n), (x[idx], idx)):
        node = out.owner
        grads = node.op.L_op(node.inputs, node.outputs, [tj.ones_like(out)])
        assert grads[0] is not None and grads[1:] == [None]
    inc = tj.inc_subtensor(x[idx], 1.0).owner
    grads = inc.op.L_op(inc.inputs, inc.outputs, [tj.ones_like(x)])
    assert grads[2] is None


def test_set_subtensor_gradient_blocks_the_overwritten_entries():
    x = tj.vector("x")
    v = tj.vector("v")
    out = tj.set_subtensor(x[::2], v)
    gx, gv = tj.grad(tj.sum(out * np.arange(1.0, 6.0)), [x, v])
    got_x, got_v = run([x, v], [gx, gv], np.zeros(5), np.zeros(3))
    np.testing.assert_array_equal(got_x, [0, 2, 0, 4, 0])
    np.testing.assert_array_equal(got_v, [1, 3, 5])


def test_rop_of_advanced_indexing():
    x = tj.matrix("x")
    t = tj.matrix("t")
    idx = np.array([1, 1, 0])
    jvp = tj.Rop(x[idx, ::-1], x, t)
    tv = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(run([x, t], jvp, np.zeros((3, 2)), tv), tv[idx, ::-1])


def test_issue_example_cross_entropy_with_arange_and_targets():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((6, 4))
    yv = np.array([0, 3, 1, 1, 2, 3], dtype="int32")
    x = tj.matrix("x")
    y = tj.ivector("y")
    W = tj.shared(rng.standard_normal((4, 3 + 1)), name="W")
    p = tj.softmax(x @ W)
    loss = -tj.mean(tj.log(p)[tj.arange(y.shape[0]), y])
    gW = tj.grad(loss, W)
    got_loss, got_g = run([x, y], [loss, gW], xv, yv)

    z = xv @ W.get_value()
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    want = -np.mean(np.log(prob[np.arange(6), yv]))
    onehot = np.eye(4)[yv]
    np.testing.assert_allclose(got_loss, want, rtol=1e-12)
    np.testing.assert_allclose(got_g, xv.T @ (prob - onehot) / 6, rtol=1e-10, atol=1e-14)


def test_gather_pairs_second_order():
    rows = np.arange(3)
    cols = np.array([2, 0, 2])
    tj.verify_grad(lambda a: tj.log(a)[rows, cols] * a[rows, cols],
                   [np.random.default_rng(1).uniform(0.5, 2.0, (3, 3))], order=2)
