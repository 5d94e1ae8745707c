"""The fuse_into_reduction rewrite: where an elementwise producer joins the reduction
that consumes it (one FusedReduce node), where it must not, and that the numbers agree
with the unfused reference evaluator."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.ops.composite import Composite
from tensorjit.graph.ops.elemwise import Elemwise
from tensorjit.graph.ops.fused_reduce import FusedReduce
from tensorjit.graph.ops.reduce import AxesSize, Max, Sum
from tensorjit.passes.fuse import FUSE_INTO_REDUCTION
from tensorjit.passes.pipeline import rewrite_names

RNG = np.random.default_rng(0)


def ops(f, cls):
    return [n for n in f.fgraph.apply_nodes if isinstance(n.op, cls)]


def fired(f) -> bool:
    return FUSE_INTO_REDUCTION in [e.rewrite for e in f.rewrites]


def check_values(inputs, outputs, *args, rtol=1e-12):
    f = tj.function(inputs, outputs, mode="llvm")
    want = tj.function(inputs, outputs, mode="py", optimizer=None)(*args)
    got = f(*args)
    for g, w in zip(got if isinstance(got, list) else [got],
                    want if isinstance(want, list) else [want]):
        np.testing.assert_allclose(g, w, rtol=rtol, equal_nan=True)
    return f


def test_the_rewrite_is_named_and_excludable():
    assert FUSE_INTO_REDUCTION in rewrite_names()
    x = tj.dmatrix("x")
    f = tj.function([x], tj.sum(x * x, axis=1), mode="llvm", exclude=[FUSE_INTO_REDUCTION])
    assert not fired(f) and not ops(f, FusedReduce) and len(ops(f, Sum)) == 1


def test_sum_of_squares_is_one_node():
    x = tj.dmatrix("x")
    f = check_values([x], tj.sum(x * x, axis=1), RNG.standard_normal((4, 7)))
    (node,) = f.fgraph.apply_nodes
    assert isinstance(node.op, FusedReduce) and node.op.reduce_op == Sum((1,))
    assert node.inputs == [f.fgraph.inputs[0]] * 2 and fired(f)


def test_softmax_denominator_reads_the_row_max_column():
    x = tj.dmatrix("x")
    y = tj.sum(tj.exp(x - tj.max(x, axis=1, keepdims=True)), axis=1)
    f = check_values([x], y, RNG.standard_normal((5, 6)))
    (node,) = ops(f, FusedReduce)
    assert isinstance(node.op.scalar_op, Composite)
    m = node.inputs[1]
    assert isinstance(m.owner.op, Max) and m.type.shape == (None, 1)  # read, not stored


def test_mean_reads_its_element_count_from_the_inputs():
    """mean's AxesSize of the product only reads its shape: it must not block fusion."""
    p, t = tj.dmatrix("p"), tj.dmatrix("t")
    y = tj.mean(tj.log(p) * t)
    f = check_values([p, t], y, RNG.uniform(0.1, 2, (3, 4)), RNG.standard_normal((3, 4)))
    assert len(ops(f, FusedReduce)) == 1
    (size,) = ops(f, AxesSize)
    assert size.inputs[0] in f.fgraph.inputs
    assert not [n for n in ops(f, Elemwise) if n.outputs[0].type.shape == (None, None)]


def test_mean_count_over_broadcast_inputs():
    c = tj.tensor("float64", (None, 1), name="c")
    r = tj.tensor("float64", (1, None), name="r")
    f = check_values([c, r], tj.mean(c * r), RNG.standard_normal((3, 1)),
                     RNG.standard_normal((1, 5)))
    assert len(ops(f, FusedReduce)) == 1
    assert {n.inputs[0] for n in ops(f, AxesSize)} == set(f.fgraph.inputs)


def test_max_abs_difference():
    x, y = tj.fmatrix("x"), tj.fmatrix("y")
    a, b = RNG.standard_normal((3, 5), "float32"), RNG.standard_normal((3, 5), "float32")
    f = check_values([x, y], tj.max(abs(x - y)), a, b, rtol=0)
    (node,) = f.fgraph.apply_nodes
    assert isinstance(node.op, FusedReduce) and node.op.reduce_op.fname == "max"


@pytest.mark.parametrize("reduction", [tj.prod, tj.min, tj.any, tj.all])
def test_other_reductions_fuse(reduction):
    x = tj.dmatrix("x")
    f = check_values([x], reduction(tj.sin(x) * 2.0 > 0.3 if reduction in (tj.any, tj.all)
                                    else tj.cos(x) + 1.0, axis=0),
                     RNG.standard_normal((4, 3)))
    assert len(ops(f, FusedReduce)) == 1 and fired(f)


def test_no_fusion_when_the_elementwise_result_has_another_client():
    x = tj.dmatrix("x")
    e = tj.exp(tj.tanh(x))
    f = check_values([x], [tj.sum(e, axis=1), tj.max(e + 1.0, axis=0)],
                     RNG.standard_normal((3, 4)))
    assert len(ops(f, Sum)) == 1 and ops(f, Sum)[0].inputs[0].owner is not None
    assert len(ops(f, FusedReduce)) == 1  # max(e + 1) is fused, reading e from memory


def test_no_fusion_when_the_elementwise_result_is_a_graph_output():
    x = tj.dmatrix("x")
    e = tj.exp(x) * 2.0
    f = check_values([x], [e, tj.sum(e, axis=1)], RNG.standard_normal((3, 4)))
    assert not fired(f) and not ops(f, FusedReduce)


def test_no_fusion_into_argmax_or_of_non_elementwise_input():
    x = tj.dmatrix("x")
    f = check_values([x], [tj.argmax(x * x, axis=1), tj.sum(tj.dot(x, x.T), axis=0)],
                     RNG.standard_normal((3, 3)))
    assert not fired(f)


def test_a_broadcast_producer_is_not_absorbed_and_recomputed():
    """exp(c) of a column stays its own (n, 1) node: fusing it into the row loop would
    compute the exp once per element instead of once per row."""
    x = tj.dmatrix("x")
    c = tj.tensor("float64", (None, 1), name="c")
    f = check_values([x, c], tj.sum(tj.tanh(x * tj.exp(c)), axis=1),
                     RNG.standard_normal((4, 6)), RNG.standard_normal((4, 1)))
    (node,) = ops(f, FusedReduce)
    assert node.op.scalar_op.expression() == "tanh(i0*i1)"
    (col,) = [v for v in node.inputs if v.type.shape == (None, 1)]
    assert type(col.owner.op.scalar_op).__name__ == "Exp"


def test_gradient_graph_fuses_and_matches():
    x = tj.dmatrix("x")
    w = tj.dvector("w")
    cost = tj.sum(tj.square(tj.tanh(x * w)))
    g = tj.grad(cost, w)  # the gradient wrt w is a sum over axis 0 of an expression
    f = check_values([x, w], [cost, g], RNG.standard_normal((5, 3)),
                     RNG.standard_normal(3), rtol=1e-11)
    assert f.fallbacks == [] and len(ops(f, FusedReduce)) >= 1


def test_fused_node_keeps_the_users_line():
    x = tj.dmatrix("x")
    y = tj.sum(x * x, axis=1)
    f = tj.function([x], y, mode="llvm")
    (node,) = f.fgraph.apply_nodes
    assert node.source_line and "test_fuse_reduce.py" in node.source_line
