"""The rewrite engine and the pipeline: fixed point, loop cap, records, exclude, types."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.fg import FunctionGraph
from tensorjit.graph.ops.elemwise import Elemwise, Neg
from tensorjit.passes import pipeline
from tensorjit.passes.pipeline import Phase, optimize, rewrite_names, run_phase
from tensorjit.passes.rewriter import RewriteLoopError, local_rewrite


def test_replace_refuses_a_different_dtype():
    x = tj.vector("x")
    fg = FunctionGraph([x], [tj.exp(x)])
    with pytest.raises(TypeError, match="rewrite bad_rewrite tried to replace"):
        fg.replace(fg.outputs[0], tj.cast(fg.inputs[0], "float32"), reason="bad_rewrite")


def test_replace_refuses_a_conflicting_static_shape():
    x = tj.tensor("float64", shape=(3,), name="x")
    fg = FunctionGraph([x], [tj.exp(x)])
    other = tj.tensor("float64", shape=(4,), name="y")
    with pytest.raises(TypeError, match="static dimension"):
        fg.replace(fg.outputs[0], other, reason="bad_rewrite")


def test_every_replacement_is_recorded_with_name_and_phase():
    x = tj.vector("x")
    f = tj.function([x], -(-x) * 1.0)  # noqa: B002
    names = [(ev.phase, ev.rewrite) for ev in f.rewrites]
    assert names and all(phase in ("merge", "canonicalize") for phase, _ in names)
    assert f.fgraph.outputs[0] is f.fgraph.inputs[0]
    np.testing.assert_array_equal(f(np.array([1.0, -2.0])), [1.0, -2.0])


def test_replacement_nodes_inherit_source_line_and_grad_tag():
    x = tj.vector("x")
    cost = tj.log(tj.sigmoid(x)).sum()  # this line is the source line
    g = tj.grad(cost, x)
    f = tj.function([x], [cost, g])
    stable = [n for n in f.fgraph.apply_nodes if "softplus" in str(n.op)]
    assert stable and all(n.source_line and "test_engine.py" in n.source_line
                          for n in stable)
    grad_nodes = [n for n in f.fgraph.toposort() if n.tag.get("created_by") == "grad"]
    assert grad_nodes, "rewritten gradient nodes keep created_by=grad"


def test_exclude_takes_the_printed_names():
    x = tj.vector("x")
    y = tj.log(1 + tj.exp(x))
    f = tj.function([x], y)
    assert "log_of_one_plus_exp_to_softplus" in [ev.rewrite for ev in f.rewrites]
    g = tj.function([x], y, exclude=("log_of_one_plus_exp_to_softplus",))
    assert "log_of_one_plus_exp_to_softplus" not in [ev.rewrite for ev in g.rewrites]
    assert {ev.rewrite for ev in f.rewrites} <= set(rewrite_names())


def test_unknown_exclude_name_lists_the_valid_ones():
    x = tj.vector("x")
    with pytest.raises(ValueError, match="unknown rewrite name.*valid names are:.*"
                                         "log_of_softmax_to_log_softmax"):
        tj.function([x], tj.exp(x), exclude=("no_such_rewrite",))


def test_unknown_optimizer_is_an_error():
    x = tj.vector("x")
    with pytest.raises(ValueError, match="unknown optimizer 'fastest'"):
        tj.function([x], tj.exp(x), optimizer="fastest")


def test_optimizer_none_and_stabilize_only():
    x = tj.vector("x")
    y = tj.log(1 + tj.exp(x)) ** 2
    assert tj.function([x], y, optimizer=None).rewrites == []
    f = tj.function([x], y, optimizer="stabilize_only")
    phases = {ev.phase for ev in f.rewrites}
    assert "stabilize" in phases and "specialize" not in phases
    np.testing.assert_allclose(f(np.array([1000.0, -1000.0])), [1e6, 0.0])


def _ping_pong():
    @local_rewrite(scalar=(Neg,))
    def neg_to_mul_minus_one(fg, node):
        return [node.inputs[0] * -1.0]

    @local_rewrite(scalar=(tj.graph.ops.elemwise.Mul,))
    def mul_minus_one_to_neg(fg, node):
        return [Elemwise(Neg())(node.inputs[0])]

    return Phase("loop", (neg_to_mul_minus_one, mul_minus_one_to_neg))


def test_iteration_cap_names_the_rewrites_that_kept_firing():
    x = tj.vector("x")
    fg = FunctionGraph([x], [-x])
    with pytest.raises(RewriteLoopError) as info:
        run_phase(fg, _ping_pong(), max_steps=50)
    message = str(info.value)
    assert "neg_to_mul_minus_one" in message and "mul_minus_one_to_neg" in message
    assert "'loop'" in message


def test_worklist_reaches_a_fixed_point_without_rescanning():
    # a long chain: each node is visited a bounded number of times
    x = tj.vector("x")
    y = x
    for _ in range(200):
        y = -(-(y * 1.0))  # noqa: B002
    fg = FunctionGraph([x], [tj.exp(y)])
    calls = []

    @local_rewrite(object)
    def count_visits(fg_, node):
        calls.append(node)

    phase = Phase("count", (count_visits,) + pipeline.PHASES[1].rewrites)
    run_phase(fg, phase)
    assert len(fg.apply_nodes) == 1
    assert len(calls) < 10 * 600


def test_merge_phase_merges_duplicates_and_equal_constants():
    x = tj.vector("x")
    a = tj.exp(x) + 2.0
    b = tj.exp(x) + 2.0
    fg = FunctionGraph([x], [a * b])
    events = optimize(fg, exclude=("flatten_and_cancel_products",))
    kinds = {ev.rewrite for ev in events}
    assert {"merge_equal_constants", "merge_duplicate_nodes"} <= kinds
    exps = [n for n in fg.apply_nodes if "exp" in str(n.op)]
    assert len(exps) == 1


def test_verify_runs_after_every_phase(monkeypatch):
    seen = []
    monkeypatch.setattr(pipeline, "verify_graph",
                        lambda fg, types, phase: seen.append(phase))
    x = tj.vector("x")
    tj.function([x], tj.exp(x))
    assert seen == ["merge", "canonicalize", "stabilize", "specialize", "fuse"]
