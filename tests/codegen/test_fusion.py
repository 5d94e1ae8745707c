"""The fuse phase: which elementwise nodes become one Elemwise(Composite) kernel, and
that fused kernels compute what the unfused reference evaluator computes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorjit as tj
from tensorjit.graph.ops.composite import Composite
from tensorjit.graph.ops.elemwise import Elemwise
from tensorjit.passes.fuse import FUSE_ELEMWISE

TOL = {"float32": {"rtol": 2e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-14}}


def workload(x):
    return tj.exp(-x * x / 2) * tj.sin(3 * x) + tj.log1p(abs(x)) * tj.tanh(x)


def elemwise_nodes(f):
    return [n for n in f.fgraph.apply_nodes if isinstance(n.op, Elemwise)]


def composites(f):
    return [n for n in elemwise_nodes(f) if isinstance(n.op.scalar_op, Composite)]


def reference(inputs, outputs, *args):
    """The unfused graph on the reference evaluator."""
    return tj.function(inputs, outputs, mode="py", optimizer=None)(*args)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_workload_becomes_one_kernel(dtype):
    x = tj.tensor(dtype, (None,), name="x")
    y = workload(x)
    f = tj.function([x], y, mode="llvm")
    (node,) = f.fgraph.apply_nodes
    assert isinstance(node.op.scalar_op, Composite)
    assert node.inputs == list(f.fgraph.inputs)  # constants became literals
    text = str(node.op)
    for piece in ("composite{", "exp(", "sin(", "log1p(abs(i0))", "tanh(i0)"):
        assert piece in text
    assert FUSE_ELEMWISE in [e.rewrite for e in f.rewrites]
    assert f.fallbacks == []
    v = np.random.default_rng(0).uniform(-4, 4, 1001).astype(dtype)
    v[:4] = [0.0, -0.0, np.inf, np.nan]
    np.testing.assert_allclose(f(v), reference([x], y, v), equal_nan=True, **TOL[dtype])


def test_fused_expression_is_printed():
    x = tj.dvector("x")
    f = tj.function([x], tj.exp(x) * tj.sin(x) + 1.0, mode="llvm")
    assert tj.pprint(f.fgraph.outputs[0]) == "fused(exp(x) * sin(x) + 1)"
    assert "composite{" in tj.debugprint(f, file="str")


def test_value_used_twice_inside_the_group_is_computed_once():
    x = tj.dvector("x")
    e = tj.exp(x)
    y = e * e + tj.sin(e)
    f = tj.function([x], y, mode="llvm")
    (node,) = f.fgraph.apply_nodes
    inner = [type(op).__name__ for op in node.op.scalar_op.scalar_ops()]
    assert inner.count("Exp") == 1
    v = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(f(v), np.exp(2 * v) + np.sin(np.exp(v)), rtol=1e-14)


def test_value_with_outside_clients_stays_an_output_of_its_group():
    x = tj.dmatrix("x")
    e = tj.exp(tj.tanh(x))  # read by an elementwise chain, a reduction, the caller
    y = tj.sin(e) + 1.0
    s = e.sum(axis=1)
    f = tj.function([x], [y, s, e], mode="llvm")
    groups = composites(f)
    assert len(groups) == 2  # exp(tanh) computed once, then sin(e) + 1 reading it
    (second,) = [g for g in groups if "sin" in str(g.op)]
    assert second.inputs[0] is f.fgraph.outputs[2]
    v = np.random.default_rng(1).standard_normal((3, 5))
    for got, want in zip(f(v), reference([x], [y, s, e], v)):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    assert f.fallbacks == []


def test_no_fusion_across_different_broadcast_shapes():
    x = tj.dmatrix("x")
    c = tj.tensor("float64", (None, 1), name="c")
    t = tj.exp(c) * 3.0  # (n, 1): must not be recomputed for every column
    y = x * t + tj.sin(x)
    f = tj.function([x, c], y, mode="llvm")
    shapes = {n.outputs[0].type.shape for n in composites(f)}
    assert shapes == {(None, None), (None, 1)}
    rng = np.random.default_rng(2)
    xv, cv = rng.standard_normal((4, 6)), rng.standard_normal((4, 1))
    np.testing.assert_allclose(f(xv, cv), reference([x, c], y, xv, cv), rtol=1e-13)


def test_no_fusion_across_non_elementwise_ops():
    x = tj.dmatrix("x")
    y = tj.exp(tj.sin(x).sum(axis=0) * 2.0) + 1.0
    f = tj.function([x], y, mode="llvm")
    ops = {type(n.op).__name__ for n in f.fgraph.apply_nodes}
    assert "Elemwise" in ops and len(ops) > 1
    v = np.random.default_rng(3).standard_normal((3, 4))
    np.testing.assert_allclose(f(v), reference([x], y, v), rtol=1e-13)


def test_fusion_can_be_excluded():
    x = tj.dvector("x")
    y = workload(x)
    f = tj.function([x], y, mode="llvm", exclude=(FUSE_ELEMWISE,))
    assert composites(f) == [] and len(elemwise_nodes(f)) > 1
    v = np.linspace(-3, 3, 11)
    np.testing.assert_allclose(f(v), reference([x], y, v), rtol=1e-13)


def test_gradient_graph_fuses_and_matches():
    x = tj.dvector("x")
    cost = workload(x).sum()
    g = tj.grad(cost, x)
    f = tj.function([x], [cost, g], mode="llvm")
    assert f.fallbacks == []
    assert len(composites(f)) >= 1
    v = np.random.default_rng(4).uniform(-3, 3, 50)
    for got, want in zip(f(v), reference([x], [cost, g], v)):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_mixed_dtype_and_bool_groups():
    x, n = tj.fvector("x"), tj.ivector("n")
    y = tj.where((x > 0) & (n % 2 == 0), x * tj.cast(n, "float32"), -x)
    f = tj.function([x, n], y, mode="llvm")
    assert len(f.fgraph.apply_nodes) == 1 and f.fallbacks == []
    rng = np.random.default_rng(5)
    xv, nv = rng.standard_normal(33).astype("float32"), rng.integers(-5, 5, 33, dtype="int32")
    np.testing.assert_array_equal(f(xv, nv), reference([x, n], y, xv, nv))


# --------------------------------------------------------------------------------------
# Random fused graphs: llvm (optimized, fused) vs the unfused reference evaluator

UNARY = {"tanh": tj.tanh, "sin": tj.sin, "sigmoid": tj.sigmoid, "abs": abs,
         "neg": lambda a: -a, "exp_tanh": lambda a: tj.exp(tj.tanh(a)),
         "log1p_abs": lambda a: tj.log1p(abs(a)), "relu": tj.relu, "square_sin":
         lambda a: tj.square(tj.sin(a)), "sqrt_abs": lambda a: tj.sqrt(abs(a))}
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "max": tj.maximum, "min": tj.minimum, "where": lambda a, b: tj.where(a > b, a, b),
          "scaled": lambda a, b: a * 0.5 + b * 2.0}
SHAPES = [(3, 4), (4,), (3, 1), (), (1, 4)]


@st.composite
def random_graphs(draw):
    n_inputs = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(n_inputs)]
    steps = []
    for k in range(draw(st.integers(1, 8))):
        available = n_inputs + k
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))),
                          draw(st.integers(0, available - 1))))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))),
                          draw(st.integers(0, available - 1)),
                          draw(st.integers(0, available - 1))))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    n_outputs = draw(st.integers(1, 2))
    return shapes, steps, dtype, n_outputs


def build_random(shapes, steps, dtype, n_outputs):
    xs = [tj.tensor(dtype, tuple(1 if s == 1 else None for s in shape), name=f"x{k}")
          for k, shape in enumerate(shapes)]
    values = list(xs)
    for step in steps:
        if step[0] == "u":
            values.append(UNARY[step[1]](values[step[2]]))
        else:
            values.append(BINARY[step[1]](values[step[2]], values[step[3]]))
    return xs, values[-n_outputs:]


@settings(max_examples=30, deadline=None)
@given(random_graphs(), st.integers(0, 2 ** 16))
def test_random_fused_graphs_match_reference(graph, seed):
    shapes, steps, dtype, n_outputs = graph
    xs, outs = build_random(shapes, steps, dtype, n_outputs)
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal(s).astype(dtype) for s in shapes]
    f = tj.function(xs, outs, mode="llvm")
    assert f.fallbacks == []
    for got, want in zip(f(*args), reference(xs, outs, *args)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, equal_nan=True, **TOL[dtype])
