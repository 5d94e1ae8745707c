"""Higher-order differentiation: hessian, jacobian, Hessian-vector products, Rop, and
derivatives of derivatives, against closed forms and finite differences."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.basic import toposort
from tensorjit.graph.derivatives import NoBatchRuleError

RNG = np.random.default_rng(1234)


def fvec(n, name):
    return tj.tensor("float64", (n,), name=name)


def fmat(m, n, name):
    return tj.tensor("float64", (m, n), name=name)


def fd_jacobian(f, x, eps=1e-6):
    """Central differences: J[i..., j...] = d f(x)[i...] / d x[j...]."""
    y0 = np.asarray(f(x))
    jac = np.zeros(y0.shape + x.shape)
    for j in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[j] = eps
        jac[(...,) + j] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps)
    return jac


# --------------------------------------------------------------------------------------
# hessian


@pytest.mark.parametrize("vectorize", [True, None])
def test_hessian_of_quadratic_form_is_a_plus_a_transpose(vectorize):
    x, A = fvec(4, "x"), fmat(4, 4, "A")
    H = tj.hessian(x @ A @ x, x, vectorize=vectorize)
    assert H.type.shape == (4, 4)
    a = RNG.standard_normal((4, 4))
    got = tj.function([x, A], H)(RNG.standard_normal(4), a)
    np.testing.assert_allclose(got, a + a.T, rtol=1e-12, atol=1e-12)


def test_hessian_of_quadratic_form_by_the_loop_fallback():
    x, A = fvec(3, "x"), fmat(3, 3, "A")
    H = tj.hessian(x @ A @ x, x, vectorize=False)
    a = RNG.standard_normal((3, 3))
    got = tj.function([x, A], H)(RNG.standard_normal(3), a)
    np.testing.assert_allclose(got, a + a.T, rtol=1e-12, atol=1e-12)


def test_hessian_wrt_a_matrix_matches_finite_differences_of_the_gradient():
    W = fmat(3, 2, "W")
    X = RNG.standard_normal((5, 3))
    cost = tj.sum(tj.tanh(tj.constant(X) @ W) ** 2)
    H = tj.hessian(cost, W)
    assert H.type.shape == (3, 2, 3, 2)
    w = RNG.standard_normal((3, 2))
    g = tj.function([W], tj.grad(cost, W))
    np.testing.assert_allclose(tj.function([W], H)(w), fd_jacobian(g, w), rtol=1e-6,
                               atol=1e-7)


def test_hessian_of_a_linear_cost_is_zero():
    x = fvec(3, "x")
    H = tj.hessian(tj.sum(x * 2.0), x)
    np.testing.assert_array_equal(tj.function([x], H)(np.ones(3)), np.zeros((3, 3)))


def test_hessian_list_gives_one_block_per_wrt():
    x, y = fvec(2, "x"), fvec(3, "y")
    cost = tj.sum(x * x) * tj.sum(y * y * y)
    hx, hy = tj.hessian(cost, [x, y])
    xv, yv = RNG.standard_normal(2), RNG.standard_normal(3)
    got_x, got_y = tj.function([x, y], [hx, hy])(xv, yv)
    np.testing.assert_allclose(got_x, 2 * np.sum(yv ** 3) * np.eye(2), rtol=1e-12)
    np.testing.assert_allclose(got_y, np.sum(xv ** 2) * np.diag(6 * yv), rtol=1e-12)


# --------------------------------------------------------------------------------------
# Hessian-vector products on an MLP loss


def _mlp_loss(W1, b1, W2):
    X = RNG.standard_normal((6, 3))
    y = np.array([0, 2, 1, 1, 0, 2], dtype="int32")
    h = tj.tanh(tj.constant(X) @ W1 + b1)
    return tj.mean(tj.softmax_cross_entropy_with_integer_labels(h @ W2, tj.constant(y)))


@pytest.mark.parametrize("method", ["fwd_over_rev", "rev_over_rev"])
def test_hessian_vector_product_equals_hessian_times_v_for_an_mlp(method):
    W1, b1, W2 = fmat(3, 4, "W1"), fvec(4, "b1"), fmat(4, 3, "W2")
    loss = _mlp_loss(W1, b1, W2)
    params = [W1, b1, W2]
    vs = [tj.tensor("float64", p.type.shape, name=f"v_{p.name}") for p in params]
    hvp = tj.hessian_vector_product(loss, params, vs, method=method)
    # the full block Hessian, block (i, j) = d grad_i / d param_j
    blocks = [[tj.jacobian(tj.grad(loss, pi), pj) for pj in params] for pi in params]
    values = [RNG.standard_normal(p.type.shape) for p in params]
    vvals = [RNG.standard_normal(p.type.shape) for p in params]
    f = tj.function(params + vs, hvp + [b for row in blocks for b in row])
    out = f(*values, *vvals)
    got, flat = out[:3], out[3:]
    for i, p in enumerate(params):
        want = sum(np.tensordot(flat[3 * i + j], vvals[j], axes=vvals[j].ndim)
                   for j in range(3))
        assert got[i].shape == p.type.shape
        np.testing.assert_allclose(got[i], want, rtol=1e-9, atol=1e-12)
    # and the Hessian itself against finite differences of the gradient (W2 block)
    g = tj.function(params, tj.grad(loss, W2))
    fd = fd_jacobian(lambda w2: g(values[0], values[1], w2), values[2])
    np.testing.assert_allclose(flat[8], fd, rtol=1e-6, atol=1e-8)


def test_hessian_vector_product_methods_agree_with_single_wrt():
    W1, b1, W2 = fmat(3, 4, "W1"), fvec(4, "b1"), fmat(4, 3, "W2")
    loss = _mlp_loss(W1, b1, W2)
    v = fmat(3, 4, "v")
    fwd = tj.hessian_vector_product(loss, W1, v)
    rev = tj.hessian_vector_product(loss, W1, v, method="rev_over_rev")
    H = tj.hessian(loss, W1)
    vals = [RNG.standard_normal(s) for s in ((3, 4), (4,), (4, 3), (3, 4))]
    a, b, h = tj.function([W1, b1, W2, v], [fwd, rev, H])(*vals)
    want = np.tensordot(h, vals[3], axes=2)
    np.testing.assert_allclose(a, want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(b, want, rtol=1e-10, atol=1e-13)


def test_hessian_vector_product_argument_errors():
    x = fvec(3, "x")
    with pytest.raises(ValueError, match="method"):
        tj.hessian_vector_product(tj.sum(x * x), x, x, method="fwd_over_fwd")
    with pytest.raises(ValueError, match="1 wrt but 2 vectors"):
        tj.hessian_vector_product(tj.sum(x * x), [x], [x, x])
    with pytest.raises(ValueError, match="ndim"):
        tj.hessian_vector_product(tj.sum(x * x), x, fmat(3, 1, "m"))


# --------------------------------------------------------------------------------------
# Rop and higher derivatives


def test_rop_equals_a_finite_difference_jvp():
    x, A = fmat(2, 3, "x"), fmat(3, 4, "A")
    out = tj.softmax(tj.tanh(x @ A) * 3.0)
    v = fmat(2, 3, "v")
    jvp = tj.Rop(out, x, v)
    a, xv, vv = (RNG.standard_normal(s) for s in ((3, 4), (2, 3), (2, 3)))
    got = tj.function([x, A, v], jvp)(xv, a, vv)
    f = tj.function([x, A], out)
    eps = 1e-6
    want = (f(xv + eps * vv, a) - f(xv - eps * vv, a)) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


TANH_POINTS = [-2.5, -1.0, -0.3, 0.0, 0.4, 1.1, 3.0]


def test_third_derivative_of_tanh_matches_the_closed_form():
    # t = tanh x: t' = 1 - t^2, t'' = -2 t (1 - t^2), t''' = -2 (1 - t^2) (1 - 3 t^2)
    x = tj.dscalar("x")
    d1 = tj.grad(tj.tanh(x), x)
    d2 = tj.grad(d1, x)
    d3 = tj.grad(d2, x)
    f = tj.function([x], [d1, d2, d3])
    for p in TANH_POINTS:
        t = np.tanh(p)
        got = f(p)
        want = [1 - t**2, -2 * t * (1 - t**2), -2 * (1 - t**2) * (1 - 3 * t**2)]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        # and an independent high-precision numeric derivative
        mp3 = float(mpmath.diff(mpmath.tanh, mpmath.mpf(p), 3))
        np.testing.assert_allclose(got[2], mp3, rtol=1e-12, atol=1e-14)


def test_third_derivative_of_tanh_elementwise_and_by_forward_mode():
    x = fvec(len(TANH_POINTS), "x")
    d1 = tj.grad(tj.sum(tj.tanh(x)), x)
    d2 = tj.grad(tj.sum(d1), x)
    rev3 = tj.grad(tj.sum(d2), x)
    fwd3 = tj.Rop(d2, x, tj.ones_like(x))  # forward over reverse over reverse
    t = np.tanh(np.array(TANH_POINTS))
    want = -2 * (1 - t**2) * (1 - 3 * t**2)
    got_rev, got_fwd = tj.function([x], [rev3, fwd3])(np.array(TANH_POINTS))
    np.testing.assert_allclose(got_rev, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_fwd, want, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------------------
# jacobian


def test_jacobian_of_an_elementwise_function():
    x = fvec(5, "x")
    J = tj.jacobian(tj.exp(x) * tj.sin(x), x)
    xv = RNG.standard_normal(5)
    got = tj.function([x], J)(xv)
    np.testing.assert_allclose(got, np.diag(np.exp(xv) * (np.sin(xv) + np.cos(xv))),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, fd_jacobian(lambda v: np.exp(v) * np.sin(v), xv),
                               rtol=1e-7, atol=1e-9)


def test_jacobian_of_a_matrix_vector_function():
    x, A = fvec(3, "x"), fmat(4, 3, "A")
    J = tj.jacobian(A @ tj.tanh(x), x)
    assert J.type.shape == (4, 3)
    a, xv = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    got = tj.function([x, A], J)(xv, a)
    np.testing.assert_allclose(got, fd_jacobian(lambda v: a @ np.tanh(v), xv), rtol=1e-7,
                               atol=1e-9)


def test_jacobian_of_a_matrix_wrt_several_inputs():
    x, W = fvec(3, "x"), fmat(3, 2, "W")
    out = tj.softmax(tj.dimshuffle(x, (0, "x")) * W, axis=0)  # shape (3, 2)
    jx, jw = tj.jacobian(out, [x, W])
    assert jx.type.shape == (3, 2, 3) and jw.type.shape == (3, 2, 3, 2)
    xv, wv = RNG.standard_normal(3), RNG.standard_normal((3, 2))
    got_x, got_w = tj.function([x, W], [jx, jw])(xv, wv)
    f = tj.function([x, W], out)
    np.testing.assert_allclose(got_x, fd_jacobian(lambda v: f(v, wv), xv), rtol=1e-7,
                               atol=1e-9)
    np.testing.assert_allclose(got_w, fd_jacobian(lambda v: f(xv, v), wv), rtol=1e-7,
                               atol=1e-9)


def test_jacobian_of_a_scalar_is_the_gradient():
    x = fvec(3, "x")
    J = tj.jacobian(tj.sum(x * x), x)
    np.testing.assert_allclose(tj.function([x], J)(np.arange(3.0)), 2 * np.arange(3.0))


def _count_nodes(v):
    return len(toposort([v]))


def test_vectorized_jacobian_graph_does_not_grow_with_the_number_of_rows():
    sizes = []
    for n in (3, 30):
        x = fvec(n, "x")
        sizes.append(_count_nodes(tj.jacobian(tj.softmax(tj.tanh(x)), x, vectorize=True)))
    assert sizes[0] == sizes[1]
    x = fvec(3, "x")
    looped = _count_nodes(tj.jacobian(tj.softmax(tj.tanh(x)), x, vectorize=False))
    assert looped > sizes[0]


def test_jacobian_falls_back_to_the_loop_for_ops_without_a_batch_rule():
    x = fvec(6, "x")
    out = tj.reshape(x * x, (2, 3))
    with pytest.raises(NoBatchRuleError, match="batch rule"):
        tj.jacobian(out, x, vectorize=True)
    J = tj.jacobian(out, x)
    xv = RNG.standard_normal(6)
    want = np.diag(2 * xv).reshape(2, 3, 6)
    np.testing.assert_allclose(tj.function([x], J)(xv), want, rtol=1e-12)


def test_jacobian_needs_a_static_shape_and_a_float_expression():
    x = tj.vector("x")
    with pytest.raises(ValueError, match="static shape"):
        tj.jacobian(x * 2.0, x)
    i = tj.tensor("int64", (3,), name="i")
    with pytest.raises(TypeError, match="floating point"):
        tj.jacobian(i * 2, i)


LABELS = np.array([0, 1, 3])
VECTORIZED_EXPRS = {
    "max": lambda x: tj.max(x * x, axis=1),
    "mean": lambda x: tj.mean(x * x, axis=0),
    "logsumexp": lambda x: tj.logsumexp(x * x, axis=1),
    "log_softmax": lambda x: tj.log_softmax(tj.tanh(x), axis=0),
    "sigmoid_bce": lambda x: tj.sigmoid_binary_crossentropy(x, 0.3),
    "ce_grad": lambda x: tj.grad(tj.sum(tj.softmax_cross_entropy_with_integer_labels(
        tj.tanh(x), tj.constant(LABELS))), x),
}


@pytest.mark.parametrize("name", sorted(VECTORIZED_EXPRS))
def test_vectorized_and_looped_jacobians_agree(name):
    x = fmat(3, 4, "x")
    expr = VECTORIZED_EXPRS[name](x)
    fast = tj.jacobian(expr, x, vectorize=True)
    slow = tj.jacobian(expr, x, vectorize=False)
    xv = RNG.standard_normal((3, 4))
    a, b = tj.function([x], [fast, slow])(xv)
    assert a.shape == expr.type.shape + (3, 4)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    f = tj.function([x], expr)
    np.testing.assert_allclose(a, fd_jacobian(f, xv), rtol=1e-6, atol=1e-7)
