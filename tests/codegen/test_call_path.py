"""The steady-state call: the last plan is tried first and the native array call
checks that the arrays fit it (shapes, C-contiguity); anything else takes the slow
path. Every switch must give the right answer."""

from __future__ import annotations

import numpy as np

import tensorjit as tj
from tensorjit.runtime.native import _array_layout_ok


def test_the_array_layout_probe_passes_here():
    assert _array_layout_ok()  # else every call takes the slow path, silently slower


def test_alternating_shapes_and_layouts_give_right_answers():
    x = tj.matrix("x")
    f = tj.function([x], [x * 2.0, x.sum(axis=0)])
    assert f.program.fast_call is not None
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4)), rng.random((5, 2))
    strided = rng.random((4, 6))[:, ::2]         # not C-contiguous
    fortran = np.asfortranarray(rng.random((3, 4)))
    for v in [a, b, a, strided, fortran, b, a, np.empty((0, 4)), a]:
        got = f(v)
        np.testing.assert_allclose(got[0], v * 2.0)
        np.testing.assert_allclose(got[1], v.sum(axis=0))


def test_a_shared_variable_changing_shape_is_noticed():
    w = tj.shared(np.ones(3), name="w")
    x = tj.vector("x")
    f = tj.function([x], (x * w).sum())
    assert f(np.arange(3.0)) == 3.0
    w.set_value(np.ones(5) * 2)
    assert f(np.arange(5.0)) == 20.0
    w.set_value(np.ones(3))
    assert f(np.arange(3.0)) == 3.0


def test_unused_inputs_are_skipped():
    x, y = tj.vector("x"), tj.vector("y")
    f = tj.function([x, y], y + 1.0)
    for n in (2, 3, 2):
        np.testing.assert_array_equal(f(np.zeros(7), np.arange(float(n))),
                                      np.arange(float(n)) + 1)


def test_values_of_shapes_only_are_computed_once_per_plan():
    """A mean's element count, its gradient's fill and a zeros base depend on shapes
    only: the plan computes them (no kernel per call), again for each new shape."""
    x = tj.vector("x")
    loss = tj.mean(tj.exp(x[:2]))
    f = tj.function([x], [loss, tj.grad(loss, x)], mode="llvm")
    planned = {str(n.op) for n in f.program.plan_nodes}
    assert {"AxesSize{axis=(0,)}", "Elemwise{cast{float64}}", "Elemwise{fill}"} <= planned
    kernels = {str(n.op) for n in f.program.nodes if n not in f.program.plan_nodes}
    assert not planned & kernels
    for values in ([0.5, 1.0, 2.0], [1.0, -1.0, 3.0, 4.0, 5.0], [0.0, 0.0], [2.0, 0.5, 1.0]):
        a = np.array(values)
        got_loss, got_grad = f(a)
        want = np.exp(a[:2])
        np.testing.assert_allclose(got_loss, want.mean(), rtol=1e-12)
        np.testing.assert_allclose(got_grad, np.r_[want / len(want), np.zeros(len(a) - 2)],
                                   rtol=1e-12)


def test_one_value_output_twice_next_to_a_plan_time_output():
    """The Python path (a plan-time output: fill(y, 0)) with exp(x) given twice: each
    output gets the value, as separate arrays (before, the first came back unwritten:
    a second buffer had taken the pointer the kernel writes to)."""
    x, y = tj.matrix("x"), tj.matrix("y")
    outs = [tj.exp(x), tj.exp(x), tj.zeros_like(y) + 0.0 * y]
    f = tj.function([x, y], outs, mode="llvm")
    xs, ys = np.random.default_rng(0).uniform(-2, 2, size=(2, 3, 4))
    for _ in range(3):
        got = f(xs, ys)
        np.testing.assert_allclose(got[0], np.exp(xs), rtol=1e-12)
        np.testing.assert_allclose(got[1], np.exp(xs), rtol=1e-12)
        np.testing.assert_array_equal(got[2], np.zeros((3, 4)))
        assert not np.shares_memory(got[0], got[1])
