"""The API of grad(), Lop() and Rop(): options, structure, errors, and path summing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.grad import DisconnectedInputError
from tensorjit.graph.ops.elemwise import Elemwise

X = np.array([0.5, -1.0, 2.0])


def run(inputs, outputs, *values):
    return tj.function(inputs, outputs)(*values)


def test_grad_keeps_the_structure_of_wrt():
    x, y = tj.vector("x"), tj.vector("y")
    cost = tj.sum(x * y)
    assert isinstance(tj.grad(cost, x), tj.Variable)
    gs = tj.grad(cost, [x, y])
    assert isinstance(gs, list) and len(gs) == 2
    gx, gy = run([x, y], gs, X, 2 * X)
    np.testing.assert_allclose(gx, 2 * X)
    np.testing.assert_allclose(gy, X)


def test_consider_constant_stops_the_gradient_through_a_variable():
    x = tj.vector("x")
    y = x * 2.0
    cost = tj.sum(x * y)  # = 2 sum(x^2): full gradient 4x; with y constant: y = 2x
    np.testing.assert_allclose(run([x], tj.grad(cost, x), X), 4 * X)
    np.testing.assert_allclose(run([x], tj.grad(cost, x, consider_constant=[y]), X), 2 * X)


def test_stop_gradient_matches_consider_constant():
    x = tj.vector("x")
    cost = tj.sum(x * tj.stop_gradient(x * 2.0))
    np.testing.assert_allclose(run([x], tj.grad(cost, x), X), 2 * X)


def test_disconnected_input_raises_by_default_naming_the_variable():
    x, z = tj.vector("x"), tj.vector("unused_z")
    with pytest.raises(DisconnectedInputError, match="unused_z"):
        tj.grad(tj.sum(x * x), [x, z])


def test_disconnected_input_warn_gives_zeros_and_a_warning():
    x, z = tj.vector("x"), tj.vector("unused_z")
    with pytest.warns(UserWarning, match="unused_z"):
        gx, gz = tj.grad(tj.sum(x * x), [x, z], disconnected_inputs="warn")
    _, gz_val = run([x, z], [gx, gz], X, np.ones(4))
    np.testing.assert_array_equal(gz_val, np.zeros(4))


def test_disconnected_input_ignore_is_silent():
    x, z = tj.vector("x"), tj.vector("unused_z")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gz = tj.grad(tj.sum(x * x), z, disconnected_inputs="ignore")
    np.testing.assert_array_equal(run([x, z], gz, X, np.ones(2)), np.zeros(2))


def test_return_disconnected_none_gives_none():
    x, z = tj.vector("x"), tj.vector("z")
    gx, gz = tj.grad(tj.sum(x * x), [x, z], disconnected_inputs="ignore",
                     return_disconnected="none")
    assert gz is None and gx is not None


def test_bad_option_values_are_rejected():
    x = tj.vector("x")
    with pytest.raises(ValueError, match="disconnected_inputs"):
        tj.grad(tj.sum(x), x, disconnected_inputs="silent")
    with pytest.raises(ValueError, match="return_disconnected"):
        tj.grad(tj.sum(x), x, return_disconnected="nan")
    with pytest.raises(ValueError, match="cost or known_grads"):
        tj.grad(None, x)


def test_known_grads_seed_the_backward_pass():
    x = tj.vector("x")
    y = x * x
    g_y = tj.vector("g_y")
    gx = tj.grad(None, x, known_grads={y: g_y})
    gv = np.array([1.0, 10.0, 100.0])
    np.testing.assert_allclose(run([x, g_y], gx, X, gv), 2 * X * gv)
    # known grads add to the cost's own gradient
    gx2 = tj.grad(tj.sum(y), x, known_grads={y: g_y})
    np.testing.assert_allclose(run([x, g_y], gx2, X, gv), 2 * X * (gv + 1))


def test_known_grads_of_the_wrong_ndim_is_an_error():
    x = tj.vector("x")
    with pytest.raises(ValueError, match="known_grads"):
        tj.grad(None, x, known_grads={x * 2.0: tj.matrix("g")})


def test_integer_wrt_gets_a_zero_gradient():
    i, x = tj.ivector("i"), tj.vector("x")
    cost = tj.sum(tj.cast(i, "float64") * x)
    gi = tj.grad(cost, i)
    assert gi.type.is_float and gi.ndim == 1
    got = run([i, x], gi, np.array([1, 2, 3], dtype="int32"), X)
    np.testing.assert_array_equal(got, np.zeros(3))


def test_non_scalar_cost_is_an_error():
    x = tj.vector("x")
    with pytest.raises(TypeError, match="scalar"):
        tj.grad(x * 2.0, x)
    with pytest.raises(TypeError, match="floating point"):
        tj.grad(tj.sum(tj.ivector("i")), x)


def test_multiple_paths_are_summed():
    x = tj.vector("x")
    y = tj.exp(x)
    cost = tj.sum(y * y + y * 3.0 + x)  # d/dx = 2 e^{2x} + 3 e^x + 1
    want = 2 * np.exp(2 * X) + 3 * np.exp(X) + 1
    np.testing.assert_allclose(run([x], tj.grad(cost, x), X), want, rtol=1e-12)


def test_each_node_gradient_rule_runs_once(monkeypatch):
    # a diamond: y feeds z twice and w; the walk must call each node's L_op once
    calls: dict[int, int] = {}
    original = Elemwise.L_op

    def counting(self, inputs, outputs, output_grads):
        calls[id(outputs[0])] = calls.get(id(outputs[0]), 0) + 1
        return original(self, inputs, outputs, output_grads)

    monkeypatch.setattr(Elemwise, "L_op", counting)
    x = tj.vector("x")
    y = x * x
    z = y + y
    w = z * y
    gx = tj.grad(tj.sum(w), x)
    assert calls and set(calls.values()) == {1}, calls
    assert len(calls) == 3  # y, z and w
    np.testing.assert_allclose(run([x], gx, X), 8 * X**3)  # w = 2 x^4


def test_grad_of_grad():
    x = tj.vector("x")
    g = tj.grad(tj.sum(x**3), x)
    h = tj.grad(tj.sum(g), x)
    np.testing.assert_allclose(run([x], h, X), 6 * X)


def test_lop_is_a_vector_jacobian_product():
    x, u = tj.vector("x"), tj.vector("u")
    out = tj.tanh(x) * 2.0
    vjp = tj.Lop(out, x, u)
    uv = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(run([x, u], vjp, X, uv), uv * 2 * (1 - np.tanh(X) ** 2))


def test_lop_and_rop_argument_errors():
    x, y = tj.vector("x"), tj.vector("y")
    with pytest.raises(ValueError, match="2 outputs but 1 eval points"):
        tj.Lop([x * 2.0, x * 3.0], x, [y])
    with pytest.raises(ValueError, match="2 wrt but 1 eval points"):
        tj.Rop(x * y, [x, y], [x])
    with pytest.raises(ValueError, match="ndim"):
        tj.Rop(x * 2.0, x, tj.matrix("m"))


def test_rop_of_a_variable_not_depending_on_wrt_is_zero():
    x, y, v = tj.vector("x"), tj.vector("y"), tj.vector("v")
    jvp = tj.Rop(y * 2.0, x, v)
    np.testing.assert_array_equal(run([x, y, v], jvp, X, X, X), np.zeros(3))
