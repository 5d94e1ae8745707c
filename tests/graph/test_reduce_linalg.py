"""Reductions and linear algebra beyond the op-case table: error messages at build and
run time, static shape and dtype inference, and the gradient conventions (ties of
max/min, zeros of prod, Hessian-vector products through matrix products)."""

import warnings

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.ops.linalg import BatchedMatmul, Dot


def run(inputs, output, *values):
    return tj.function(inputs, output, mode="py")(*values)


# --------------------------------------------------------------------------------------
# reductions: errors


@pytest.mark.parametrize("fname", ["sum", "mean", "prod", "max", "min", "all", "any",
                                   "var", "std"])
def test_axis_out_of_range_names_function_and_input(fname):
    x = tj.matrix("x")
    with pytest.raises(ValueError, match=rf"{fname}\(\): axis 2 is out of range for a "
                                         rf"2-d input .*'x'"):
        getattr(tj, fname)(x, axis=2)
    with pytest.raises(ValueError, match=rf"{fname}\(\): axis -3 is out of range"):
        getattr(x, fname)(axis=(0, -3))


def test_repeated_and_non_integer_axes():
    x = tj.tensor3("x")
    with pytest.raises(ValueError, match=r"sum\(\): repeated axis in \(1, -2\)"):
        tj.sum(x, axis=(1, -2))
    with pytest.raises(TypeError, match=r"max\(\): axis must be an int, a tuple of ints "
                                        r"or None, got 1.5"):
        tj.max(x, axis=1.5)
    with pytest.raises(TypeError, match=r"mean\(\): axis must be .* got 'a'"):
        tj.mean(x, axis="a")
    with pytest.raises(TypeError, match=r"prod\(\): axis must be .*got True"):
        tj.prod(x, axis=True)


def test_argmax_takes_one_axis_or_none():
    x = tj.matrix("x")
    with pytest.raises(TypeError, match=r"argmax\(\): axis must be an int or None, got "
                                        r"\(0, 1\).*'x'"):
        tj.argmax(x, axis=(0, 1))
    with pytest.raises(ValueError, match=r"argmin\(\): axis 5 is out of range"):
        tj.argmin(x, axis=5)


def test_var_rejects_non_numeric_ddof():
    with pytest.raises(TypeError, match=r"var\(\): ddof must be a number, got 'one'"):
        tj.var(tj.vector("v"), ddof="one")


@pytest.mark.parametrize("fname", ["max", "min"])
def test_extremum_of_empty_axis_raises_at_run_time(fname):
    x = tj.matrix("x")
    f = tj.function([x], getattr(tj, fname)(x, axis=0), mode="py")
    with pytest.raises(ValueError, match=r"created at test_reduce_linalg.py:\d+.*"
                                         rf"{fname}\(\): cannot reduce over an empty axis: "
                                         r"the input has shape \(0, 3\) with length 0 on "
                                         r"axis 0"):
        f(np.zeros((0, 3)))
    # the other axis is not empty: NumPy gives an empty result, so do we
    g = tj.function([x], getattr(tj, fname)(x, axis=1), mode="py")
    assert g(np.zeros((0, 3))).shape == (0,)


@pytest.mark.parametrize("fname", ["argmax", "argmin"])
def test_arg_extremum_of_empty_raises_at_run_time(fname):
    x = tj.matrix("x")
    with pytest.raises(ValueError, match=rf"{fname}\(\): the input of shape \(2, 0\) is "
                                         r"empty"):
        run([x], getattr(tj, fname)(x), np.zeros((2, 0)))
    with pytest.raises(ValueError, match=rf"{fname}\(\): the axis 1 of shape"):
        run([x], getattr(tj, fname)(x, axis=1), np.zeros((2, 0)))


def test_empty_reductions_follow_numpy():
    x = tj.matrix("x")
    empty = np.zeros((0, 3))
    assert run([x], tj.sum(x), empty) == 0
    assert run([x], tj.prod(x), empty) == 1
    assert bool(run([x], tj.all(x), empty)) is True
    assert bool(run([x], tj.any(x), empty)) is False
    np.testing.assert_array_equal(run([x], tj.sum(x, axis=0), empty), np.zeros(3))
    with np.errstate(all="ignore"):
        assert np.isnan(run([x], tj.mean(x), empty))


# --------------------------------------------------------------------------------------
# reductions: static shapes and dtypes


def test_reduction_static_shapes():
    x = tj.tensor("float32", (2, None, 4), name="x")
    assert tj.sum(x, axis=1).type.shape == (2, 4)
    assert tj.max(x, axis=(0, -1), keepdims=True).type.shape == (1, None, 1)
    assert tj.mean(x).type.shape == ()
    assert tj.var(x, axis=-1, keepdims=True).type.shape == (2, None, 1)
    assert tj.argmax(x, axis=2).type.shape == (2, None)
    assert tj.argmax(x, keepdims=True).type.shape == (1, 1, 1)
    assert tj.any(x, axis=0).type.shape == (None, 4)


@pytest.mark.parametrize("dtype, sum_dt, mean_dt", [
    ("float32", "float32", "float32"), ("float64", "float64", "float64"),
    ("int32", "int64", "float64"), ("int8", "int64", "float64"), ("bool", "int64", "float64"),
    ("uint8", "int64", "float64")])
def test_reduction_dtypes(dtype, sum_dt, mean_dt):
    x = tj.tensor(dtype, (None, 3))
    assert tj.sum(x).dtype == sum_dt
    assert tj.prod(x).dtype == sum_dt
    assert tj.mean(x).dtype == mean_dt
    assert tj.var(x).dtype == mean_dt
    assert tj.std(x).dtype == mean_dt
    assert tj.max(x).dtype == dtype
    assert tj.argmin(x).dtype == "int64"
    assert tj.all(x).dtype == "bool"


def test_mean_of_ints_is_float64_without_overflow():
    x = tj.bvector("x")
    value = np.full(10, 100, dtype="int8")  # an int8 sum would overflow
    got = run([x], tj.mean(x), value)
    assert got.dtype == np.float64 and got == 100.0


def test_var_ddof_matches_numpy_with_unknown_and_known_lengths():
    value = np.random.default_rng(0).standard_normal((4, 3))
    for x in (tj.matrix("x"), tj.tensor("float64", (4, 3), name="x")):
        for ddof in (0, 1, 2.5, 4):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # NumPy: ddof >= N
                got = run([x], tj.var(x, axis=0, ddof=ddof), value)
                want = np.var(value, axis=0, ddof=ddof)
            np.testing.assert_allclose(got, want, rtol=1e-12)


# --------------------------------------------------------------------------------------
# reductions: gradient conventions


def test_max_gradient_is_shared_equally_among_ties():
    x = tj.vector("x")
    value = np.array([1.0, 3.0, -2.0, 3.0])
    g = run([x], tj.grad(tj.max(x), x), value)
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.0, 0.5])
    # forward mode uses the same weights: it is the transpose of the reverse rule
    v = tj.vector("v")
    jvp = run([x, v], tj.Rop(tj.max(x), x, v), value, np.array([1.0, 2.0, 4.0, 8.0]))
    assert jvp == pytest.approx(0.5 * 2.0 + 0.5 * 8.0)
    gmin = run([x], tj.grad(tj.min(x * x), x), np.array([1.0, -1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(gmin, [1.0, -1.0, 0.0, 0.0])


def test_max_gradient_along_an_axis():
    x = tj.matrix("x")
    value = np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 2.0]])
    g = run([x], tj.grad(tj.sum(tj.max(x, axis=1) * np.array([1.0, 10.0])), x), value)
    np.testing.assert_array_equal(g, [[0.0, 0.5, 0.5], [10.0, 0.0, 0.0]])


def _prod_hessian(value):
    """The Hessian of prod(x) by definition: H[i, j] = prod of the others (i != j)."""
    n = value.size
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                h[i, j] = np.prod(np.delete(value, [i, j]))
    return h


@pytest.mark.parametrize("value", [
    np.array([2.0, 0.0, 3.0, -1.5]),        # one zero
    np.array([2.0, 0.0, 3.0, 0.0]),         # two zeros
    np.array([0.0, 0.0, 3.0, 0.0, 1.5]),    # three zeros
    np.array([0.0]),
    np.array([0.5, 2.0, -3.0]),             # none
])
def test_prod_gradient_and_hessian_with_zeros(value):
    x = tj.tensor("float64", value.shape, name="x")  # hessian() needs the static shape
    g = tj.grad(tj.prod(x), x)
    want_g = np.array([np.prod(np.delete(value, i)) for i in range(value.size)])
    np.testing.assert_allclose(run([x], g, value), want_g, rtol=1e-12)
    h = tj.hessian(tj.prod(x), x)
    np.testing.assert_allclose(run([x], h, value), _prod_hessian(value), rtol=1e-12)


# --------------------------------------------------------------------------------------
# linear algebra: build-time errors and static shapes


def test_matmul_inner_mismatch_at_build_time_names_both_shapes():
    a = tj.tensor("float64", (3, 4), name="a")
    b = tj.tensor("float64", (5, 2), name="b")
    with pytest.raises(ValueError, match=r"matmul\(\): inner dimensions do not match: "
                                         r"input 0 has shape \(3, 4\) \(length 4 on axis 1\)"
                                         r" and input 1 has shape \(5, 2\) \(length 5 on "
                                         r"axis 0\).*test_reduce_linalg.py"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul\(\): inner dimensions .*\(3, 4\).*\(5,\)"):
        tj.matmul(a, tj.tensor("float64", (5,)))
    with pytest.raises(ValueError, match=r"matmul\(\): inner .*\(2, 3, 4\).*\(2, 3, 5\)"):
        tj.tensor("float64", (2, 3, 4)) @ tj.tensor("float64", (2, 3, 5))
    with pytest.raises(ValueError, match=r"matmul\(\): inner .*\(3, 4\).*\(5, 2\)"):
        tj.dot(a, b)
    with pytest.raises(ValueError, match=r"tensordot\(\): inner .*\(3, 4\).*\(5, 2\)"):
        tj.tensordot(a, b, axes=([1], [0]))


def test_matmul_batch_axes_that_cannot_broadcast():
    a = tj.tensor("float64", (2, 3, 4))
    b = tj.tensor("float64", (5, 4, 2))
    with pytest.raises(ValueError, match=r"matmul\(\) batch axes: shapes \(2,\) and \(5,\) "
                                         r"cannot broadcast"):
        a @ b


def test_matmul_rejects_scalars_and_dot_scales():
    x = tj.matrix("x")
    with pytest.raises(ValueError, match=r"matmul\(\): input 1 is 0-d"):
        tj.matmul(x, tj.scalar("s"))
    assert tj.dot(x, 2.0).type.shape == (None, None)


def test_tensordot_axes_errors():
    a, b = tj.tensor3("a"), tj.matrix("b")
    with pytest.raises(ValueError, match=r"tensordot\(\): axes=3 needs 0 <= axes <= 2"):
        tj.tensordot(a, b, 3)
    with pytest.raises(ValueError, match=r"tensordot\(\): 2 axes given for input 0 but 1"):
        tj.tensordot(a, b, ([0, 1], [0]))
    with pytest.raises(ValueError, match=r"tensordot\(\): axis 2 is out of range for "
                                         r"input 1"):
        tj.tensordot(a, b, ([0], [2]))
    with pytest.raises(ValueError, match=r"tensordot\(\): repeated axis"):
        tj.tensordot(a, b, ([0, 0], [0, 1]))
    with pytest.raises(TypeError, match=r"tensordot\(\): axes must be an int or a pair"):
        tj.tensordot(a, b, "ij")


def test_dot_op_level_checks():
    with pytest.raises(TypeError, match=r"Dot: input 1 must be 2-d"):
        Dot()(tj.matrix("a"), tj.vector("b"))
    with pytest.raises(TypeError, match=r"Dot: inputs must share one dtype, got float64 "
                                        r"and float32"):
        Dot()(tj.matrix("a"), tj.fmatrix("b"))
    with pytest.raises(TypeError, match=r"BatchedMatmul: inputs must have the same ndim"):
        BatchedMatmul()(tj.tensor3("a"), tj.matrix("b"))


@pytest.mark.parametrize("sa, sb, want", [
    ((3, None), (None, 5), (3, 5)),
    ((None, 4), (4, None), (None, None)),
    ((None,), (None,), ()),
    ((3, None), (None,), (3,)),
    ((None,), (None, 7), (7,)),
    ((1, 3, None), (7, None, 2), (7, 3, 2)),
    ((None, 3, 4), (4, 5), (None, 3, 5)),
    ((3, 4), (2, 4, 5), (2, 3, 5)),
    ((4,), (2, 4, 5), (2, 5)),
    ((2, 3, 4), (4,), (2, 3)),
    ((6, 1, 3, 4), (5, 4, 2), (6, 5, 3, 2)),
])
def test_matmul_static_shape_inference(sa, sb, want):
    out = tj.tensor("float64", sa) @ tj.tensor("float64", sb)
    assert out.type.shape == want


def test_tensordot_and_outer_static_shapes():
    a = tj.tensor("float32", (2, 3, None))
    b = tj.tensor("float32", (None, 4, 5))
    assert tj.tensordot(a, b, ([1, 2], [0, 1])).type.shape == (2, 5)
    assert tj.tensordot(a, b, 0).type.shape == (2, 3, None, None, 4, 5)
    assert tj.tensordot(a, b, ([0], [0])).type.shape == (3, None, 4, 5)
    assert tj.outer(tj.tensor("float64", (3,)), tj.tensor("int32", (None,))).type == \
        tj.TensorType("float64", (3, None))
    assert tj.dot(tj.tensor("float64", (2, 3, 4)), tj.tensor("float64", (5, 4, 6))) \
        .type.shape == (2, 3, 5, 6)


@pytest.mark.parametrize("da, db, want", [
    ("int32", "int32", "int32"), ("int32", "float64", "float64"),
    ("int32", "float32", "float64"), ("int8", "float32", "float32"),
    ("float32", "float32", "float32"), ("float32", "float64", "float64"),
    ("bool", "bool", "bool")])
def test_matmul_promotes_like_numpy(da, db, want):
    assert (tj.tensor(da, (2, 3)) @ tj.tensor(db, (3,))).dtype == want
    assert want == np.matmul(np.ones((2, 3), da), np.ones(3, db)).dtype.name


# --------------------------------------------------------------------------------------
# linear algebra: run-time errors


def test_matmul_inner_mismatch_at_run_time():
    a = tj.tensor("float64", (3, None), name="a")
    b = tj.tensor("float64", (None, 5), name="b")
    f = tj.function([a, b], a @ b, mode="py")
    with pytest.raises(ValueError, match=r"Dot.*dot\(\): inner dimensions do not match at "
                                         r"run time: input 0 has shape \(3, 4\) \(length 4 "
                                         r"on axis 1\) and input 1 has shape \(6, 5\)"):
        f(np.ones((3, 4)), np.ones((6, 5)))
    assert f(np.ones((3, 6)), np.ones((6, 5))).shape == (3, 5)


def test_batched_matmul_mismatch_at_run_time():
    a, b = tj.tensor3("a"), tj.tensor3("b")
    f = tj.function([a, b], a @ b, mode="py")
    with pytest.raises(ValueError, match=r"matmul\(\): inner dimensions do not match at run "
                                         r"time.*\(2, 3, 4\).*\(2, 5, 1\)"):
        f(np.ones((2, 3, 4)), np.ones((2, 5, 1)))
    # an unknown batch axis does not broadcast at run time (the strict rule)
    with pytest.raises(ValueError, match=r"matmul\(\): batch axis 0 has length 2 in input 0"
                                         r".*broadcasts only where the static shape says 1"):
        f(np.ones((2, 3, 4)), np.ones((1, 4, 5)))


# --------------------------------------------------------------------------------------
# linear algebra: gradients through networks


def test_hessian_vector_product_through_an_mlp():
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    w1v, w2v = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    v1, v2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    w1, w2 = tj.matrix("w1"), tj.matrix("w2")
    t1, t2 = tj.matrix("t1"), tj.matrix("t2")

    def loss(a, b):
        return tj.mean((tj.tanh(xv @ a) @ b - yv) ** 2)

    g1, g2 = tj.grad(loss(w1, w2), [w1, w2])
    hv = tj.Rop([g1, g2], [w1, w2], [t1, t2])  # forward-over-reverse
    got = tj.function([w1, w2, t1, t2], hv, mode="py")(w1v, w2v, v1, v2)
    grad_f = tj.function([w1, w2], [g1, g2], mode="py")
    eps = 1e-5
    plus = grad_f(w1v + eps * v1, w2v + eps * v2)
    minus = grad_f(w1v - eps * v1, w2v - eps * v2)
    for h, p, m in zip(got, plus, minus):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=1e-6, atol=1e-9)


def test_hessian_of_quadratic_form_via_dot():
    a_val = np.array([[2.0, 1.0, 0.0], [3.0, 4.0, 1.0], [0.0, -1.0, 5.0]])
    x = tj.tensor("float64", (3,), name="x")
    h = tj.hessian(tj.dot(x, tj.dot(a_val, x)), x)
    np.testing.assert_allclose(run([x], h, np.ones(3)), a_val + a_val.T, rtol=1e-12)


def test_batched_matmul_gradient_sums_over_broadcast_batch():
    a, b = tj.tensor3("a"), tj.matrix("b")
    av = np.random.default_rng(1).standard_normal((4, 2, 3))
    gb = run([a, b], tj.grad(tj.sum(a @ b), b), av, np.ones((3, 5)))
    np.testing.assert_allclose(gb, np.repeat(av.sum(axis=(0, 1))[:, None], 5, axis=1),
                               rtol=1e-12)


def test_integer_matmul_has_no_gradient_but_float_side_does():
    i, x = tj.imatrix("i"), tj.matrix("x")
    g = tj.grad(tj.sum(i @ x), x)
    iv = np.array([[1, 2], [3, 4]], dtype="int32")
    np.testing.assert_allclose(run([i, x], g, iv, np.zeros((2, 3))),
                               np.repeat(iv.sum(axis=0)[:, None], 3, axis=1))


def test_tensordot_run_time_length_checks():
    known = tj.tensor("float64", (2, 3, 4), name="a")
    a, b = tj.tensor3("a"), tj.tensor3("b")
    value_a, bad_b = np.ones((2, 3, 4)), np.ones((4, 3, 5))  # same product, other axes
    # a length known on one side is asserted on the other
    with pytest.raises(ValueError, match=r"SpecifyShape.*created at test_reduce_linalg.py"):
        run([known, b], tj.tensordot(known, b), value_a, bad_b)
    # unknown on both sides: the broadcast product checks each contracted axis
    with pytest.raises(ValueError, match=r"\(4, 3, 5\)"):
        run([a, b], tj.tensordot(a, b), value_a, bad_b)
    # one contracted axis: Dot checks it
    with pytest.raises(ValueError, match=r"dot\(\): inner dimensions do not match at run "
                                         r"time"):
        run([a, b], tj.tensordot(a, b, ([1], [0])), value_a, bad_b)


def _op_names(v):
    from tensorjit.graph.basic import toposort
    return {type(node.op).__name__ for node in toposort([v])}


def test_products_lower_to_the_blas_shaped_ops():
    m, v = tj.matrix("m"), tj.vector("v")
    assert _op_names(m @ v) == {"Dot", "DimShuffle"}
    assert _op_names(v @ v) == {"Dot", "DimShuffle"}
    assert _op_names(tj.tensor3("t") @ m) == {"BatchedMatmul", "DimShuffle"}
    a = tj.tensor("float64", (2, 3, 4))
    b = tj.tensor("float64", (3, 4, 5))
    assert _op_names(tj.tensordot(a, b)) == {"Dot", "Reshape"}
    assert "Dot" in _op_names(tj.dot(tj.tensor3("a"), tj.tensor3("b")))
    assert _op_names(tj.outer(v, v)) == {"Elemwise", "DimShuffle"}


def test_outer_flattens_nd_inputs_as_numpy():
    a, b = tj.matrix("a"), tj.vector("b")
    av, bv = np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0])
    np.testing.assert_array_equal(run([a, b], tj.outer(a, b), av, bv), np.outer(av, bv))
