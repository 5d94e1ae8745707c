"""Every rewrite fires where it should, does not fire where it would be wrong, and the
optimized function agrees with the unoptimized one on both graphs."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.fg import FunctionGraph
from tensorjit.passes.pipeline import PHASES, rewrite_names, run_phase

RNG = np.random.default_rng(7)
M = RNG.uniform(0.2, 2.0, size=(3, 4))
V = RNG.uniform(0.2, 2.0, size=4)
S = RNG.normal(size=4)  # signed
Y = tj.constant(np.array([1, -1, 2]))  # class labels for the rows of M (-1: the last)


def vec():
    return tj.vector("x")


def mat():
    return tj.matrix("x")


# name: (fire builder, no-fire builder); a builder: x -> output, with x a vector or matrix
CASES = {
    "fold_constants": (lambda x: x + tj.exp(tj.constant(1.0)), lambda x: x + tj.exp(x)),
    "shape_of_static_to_constant": (
        lambda x: tj.cast(tj.tensor("float64", shape=(4,), name="s").shape, "float64") + x,
        lambda x: tj.cast(x.shape, "float64") + x),
    "remove_stop_gradient": (lambda x: tj.stop_gradient(x) * 2.0, lambda x: x * 2.0),
    "remove_useless_cast": (lambda x: tj.cast(tj.cast(tj.cast(x, "float32"), "float64"),
                                              "float32") + tj.constant(1.0, "float32"),
                            lambda x: tj.cast(tj.cast(x, "float32"), "float64")),
    "merge_dimshuffles": (lambda x: tj.exp(x.dimshuffle("x", 0).dimshuffle(1, 0)),
                          lambda x: tj.exp(x.dimshuffle("x", 0))),
    "lift_dimshuffle_through_elemwise": (
        lambda x: tj.exp(x).dimshuffle("x", 0),
        lambda x: tj.exp(x).dimshuffle("x", 0) + tj.exp(x).sum()),
    "drop_redundant_fill": (lambda x: tj.ones_like(x) * x, lambda x: tj.ones_like(x) * 2.0),
    "pow_half_to_sqrt": (lambda x: x ** 0.5, lambda x: x ** 0.25),
    "flatten_sums": (lambda x: x + 0.0 - (-x), lambda x: x + tj.exp(x)),
    "flatten_and_cancel_products": (lambda x: tj.exp(x) * x / tj.exp(x),
                                    lambda x: x * tj.exp(x)),
    "distribute_product_over_sum_to_cancel": (
        lambda x: tj.exp(x) * (x / tj.exp(x) + 1.0), lambda x: tj.exp(x) * (x + 1.0)),
    "factor_invariants_out_of_sum": (
        lambda x: tj.sum(x * tj.exp(x).sum(axis=1, keepdims=True), axis=1),
        lambda x: tj.sum(x * tj.exp(x), axis=1)),
    "expand_of_sum_to_keepdims": (lambda x: x.sum(axis=1).dimshuffle(0, "x") * 2.0,
                                  lambda x: x.sum(axis=1).dimshuffle("x", 0) * 2.0),
    "exp_over_sum_of_exp_to_softmax": (
        lambda x: tj.exp(x) / tj.sum(tj.exp(x), axis=1, keepdims=True),
        lambda x: tj.exp(x) / tj.sum(tj.exp(x * 2.0), axis=1, keepdims=True)),
    "log_of_softmax_to_log_softmax": (lambda x: tj.log(tj.softmax(x)),
                                      lambda x: tj.log(tj.softmax(x) + 1.0)),
    "log_of_sum_of_exp_to_logsumexp": (lambda x: tj.log(tj.sum(tj.exp(x), axis=1)),
                                       lambda x: tj.log(tj.sum(tj.exp(x) * x, axis=1))),
    "sum_of_targets_times_log_softmax_to_crossentropy": (
        lambda x: tj.sum(x * tj.log_softmax(x, axis=1), axis=1),
        lambda x: tj.sum(x * tj.log_softmax(x, axis=0), axis=1)),
    "indexed_log_softmax_to_crossentropy": (
        lambda x: tj.log(tj.softmax(x))[tj.arange(Y.shape[0]), Y],
        lambda x: tj.log(tj.softmax(x))[Y, tj.arange(Y.shape[0])]),  # labels pick rows
    "log_softmax_grad_of_indexed_to_crossentropy_grad": (
        lambda x: tj.grad(-tj.sum(tj.log(tj.softmax(x))[tj.arange(Y.shape[0]), Y]), x),
        # arange(rows) may broadcast against labels of another length: no per-row pick
        lambda x: tj.grad(-tj.sum(tj.log(tj.softmax(x))[tj.arange(x.shape[0]), Y]), x)),
    "log_of_exp_to_identity": (lambda x: tj.log(tj.exp(x)) * 2.0,
                               lambda x: tj.log(tj.exp(x) + 1e-3) * 2.0),
    "exp_of_log_to_identity": (lambda x: tj.exp(tj.log(x * x)),
                               lambda x: tj.exp(tj.log(x))),  # x may be negative: nan
    "log_of_sigmoid_to_softplus": (lambda x: tj.log(tj.sigmoid(x)),
                                   lambda x: tj.log(tj.sigmoid(x) + 1.0)),
    "log_of_one_minus_sigmoid_to_softplus": (lambda x: tj.log(1.0 - tj.sigmoid(x)),
                                             lambda x: tj.log(2.0 - tj.sigmoid(x))),
    "one_minus_sigmoid_to_sigmoid_of_neg": (lambda x: (1.0 - tj.sigmoid(x)) * x,
                                            lambda x: (1.0 - tj.tanh(x)) * x),
    "log_of_one_plus_exp_to_softplus": (lambda x: tj.log(1.0 + tj.exp(x)),
                                        lambda x: tj.log(2.0 + tj.exp(x))),
    "log1p_of_exp_to_softplus": (lambda x: tj.log1p(tj.exp(x)),
                                 lambda x: tj.log1p(tj.exp(x) * 2.0)),
    "log_of_exp_sum_to_logaddexp": (lambda x: tj.log(tj.exp(x) + tj.exp(x * 2.0)),
                                    lambda x: tj.log(tj.exp(x) - tj.exp(x * 2.0) + 9.0)),
    "log_of_one_plus_to_log1p": (lambda x: tj.log(1.0 + x), lambda x: tj.log(2.0 + x)),
    "exp_minus_one_to_expm1": (lambda x: tj.exp(x) - 1.0, lambda x: tj.exp(x) - 2.0),
    "exp_over_sum_of_exps_to_sigmoid": (lambda x: tj.exp(x) / (1.0 + tj.exp(x)) * x,
                                        lambda x: tj.exp(x) / (2.0 + tj.exp(x)) * x),
    "exp_times_sigmoid_of_neg_to_sigmoid": (lambda x: tj.exp(x) * tj.sigmoid(-x) * x,
                                            lambda x: tj.exp(x) * tj.sigmoid(x) * x),
    "factor_sigmoid_complement_out_of_sum": (
        lambda x: x * tj.sigmoid(x) - x * tj.sigmoid(x) * tj.sigmoid(x),
        lambda x: x * tj.sigmoid(x) - x * tj.sigmoid(x) * tj.tanh(x)),
    "sum_over_sum_of_exp_to_sum_of_softmax": (
        lambda x: tj.sum(x * tj.exp(x), axis=1, keepdims=True)
        / tj.sum(tj.exp(x), axis=1, keepdims=True) * x,
        lambda x: tj.sum(x * tj.exp(x), axis=0, keepdims=True)
        / tj.sum(tj.exp(x), axis=1, keepdims=True) * x),
    "dot_plus_to_gemm": (lambda x: tj.dot(x, x.T) * 2.0 + tj.exp(x[:, :3]),
                         # a (1, 3) product would be broadcast by the addend: no Gemm
                         lambda x: tj.dot(tj.sum(x, axis=0, keepdims=True), x.T)
                         + tj.exp(x[:, :3])),
    "gemm_absorb_transpose": (lambda x: tj.dot(x.T, x) * 2.0,
                              # a DimShuffle{x,0} row is no transpose
                              lambda x: tj.dot(x[:, 0][None, :], x) * 2.0),
    "split_sum_of_terms_to_factor": (
        lambda x: tj.sum(x * tj.sum(x, axis=1, keepdims=True) + tj.exp(x), axis=1),
        lambda x: tj.sum(x * x + tj.exp(x), axis=1)),
}
MATRIX_CASES = {"factor_invariants_out_of_sum", "expand_of_sum_to_keepdims",
                "exp_over_sum_of_exp_to_softmax", "log_of_sum_of_exp_to_logsumexp",
                "sum_of_targets_times_log_softmax_to_crossentropy",
                "sum_over_sum_of_exp_to_sum_of_softmax", "split_sum_of_terms_to_factor",
                "log_of_softmax_to_log_softmax", "dot_plus_to_gemm", "gemm_absorb_transpose",
                "indexed_log_softmax_to_crossentropy",
                "log_softmax_grad_of_indexed_to_crossentropy_grad"}
# 1 - sigmoid(x) is rewritten first when the graph is visited inputs-first; the log
# rewrite exists for graphs where that one is excluded.
EXCLUDE = {"log_of_one_minus_sigmoid_to_softplus": ("one_minus_sigmoid_to_sigmoid_of_neg",)}
SIGNED = {"exp_of_log_to_identity", "log_of_exp_to_identity"}


def _run(name, build, fires):
    x = mat() if name in MATRIX_CASES else vec()
    value = M if name in MATRIX_CASES else (S if name in SIGNED else V)
    s = tj.tensor("float64", shape=(4,), name="s")
    ins = [x, s] if name == "shape_of_static_to_constant" and fires else [x]
    args = [value, V][:len(ins)]
    y = build(x) if not (fires and name == "shape_of_static_to_constant") else \
        tj.cast(s.shape, "float64") + x
    f = tj.function(ins, y, exclude=EXCLUDE.get(name, ()))
    fired = name in [ev.rewrite for ev in f.rewrites]
    assert fired == fires, [ev.rewrite for ev in f.rewrites]
    want = tj.function(ins, y, optimizer=None)(*args)
    np.testing.assert_allclose(f(*args), want, rtol=1e-12, atol=1e-14, equal_nan=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rewrite_fires(name):
    _run(name, CASES[name][0], True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rewrite_does_not_fire_where_wrong(name):
    _run(name, CASES[name][1], False)


def test_every_rewrite_has_a_case():
    tested = set(CASES) | {"merge_equal_constants", "merge_duplicate_nodes",
                           "categorical_crossentropy_of_softmax_to_fused",
                           "binary_crossentropy_of_sigmoid_to_logits",
                           "distribute_product_over_sum_to_stabilize",
                           "fuse_elemwise",  # tests/codegen/test_fusion.py
                           # tests/passes/test_fuse_crossentropy.py
                           "fuse_crossentropy_with_grad",
                           "fuse_into_reduction"}  # tests/passes/test_fuse_reduce.py
    assert set(rewrite_names()) <= tested, set(rewrite_names()) - tested


@pytest.mark.parametrize("build", [
    lambda x, y: -(x * 0.25) - y * 0.25,  # looped: flatten_sums vs flatten_and_cancel_products
    lambda x, y: -(x * 0.25),
    lambda x, y: -x - y / 4.0,
    lambda x, y: 3.0 - x * 2.0 - tj.exp(y),
    lambda x, y: -(x * y) * 2.0 - (x - y),
])
def test_canonical_sum_and_product_forms_agree(build):
    """Canonicalizing twice changes nothing the second time (one form, no ping-pong)."""
    x, y = tj.vector("x"), tj.vector("y")
    out = build(x, y)
    fg = FunctionGraph([x, y], [out])
    canonicalize = next(p for p in PHASES if p.name == "canonicalize")
    run_phase(fg, canonicalize)  # raises RewriteLoopError if two rewrites undo each other
    assert run_phase(fg, canonicalize) == 0
    got = tj.function([x, y], out)(S, V)
    want = tj.function([x, y], out, optimizer=None)(S, V)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
