"""pprint: one-line algebra for indexing, reshape, the softmax family and fused ops."""

from __future__ import annotations

import numpy as np

import tensorjit as tj
from tensorjit.graph.ops.composite import composite_from_graph
from tensorjit.graph.ops.elemwise import Elemwise
from tensorjit.printing.pprint import pprint, pprint_limited, pprint_short


def test_cross_entropy_expression_reads_like_numpy():
    x, y = tj.matrix("x"), tj.ivector("y")
    W, b = tj.matrix("W"), tj.vector("b")
    nll = tj.log_softmax(x @ W + b)[tj.arange(y.shape[0]), y]
    assert pprint(nll) == "log_softmax(x @ W + b)[arange(shape(y)[0]), y]"


def test_basic_slices_ints_newaxis_and_symbolic_bounds():
    x = tj.matrix("x")
    i = tj.iscalar("i")
    assert pprint(x[1:3, ::2]) == "x[1:3, ::2]"
    assert pprint(x[0]) == "x[0]"
    assert pprint(x[i, :i]) == "x[i, :i]"
    assert pprint(x[None, -1]) == "x[None, -1]"
    assert pprint((x + 1.0)[0]) == "(x + 1)[0]"


def test_advanced_indexing_and_masks():
    x, idx = tj.matrix("x"), tj.ivector("idx")
    assert pprint(x[idx]) == "x[idx]"
    assert pprint(x[:, idx]) == "x[:, idx]"
    assert pprint(x[x > 0.0]) == "x[x > 0]"


def test_inc_and_set_subtensor():
    x, v, idx = tj.matrix("x"), tj.vector("v"), tj.ivector("idx")
    assert pprint(tj.inc_subtensor(x[0], v)) == "inc_subtensor(x[0], v)"
    assert pprint(tj.set_subtensor(x[idx, 1:], 0.0)) == "set_subtensor(x[idx, 1:], 0)"


def test_reshape_and_dimshuffle():
    x, n = tj.matrix("x"), tj.lscalar("n")
    assert pprint(x.reshape((2, -1))) == "x.reshape((2, -1))"
    assert pprint(x.reshape((n,))) == "x.reshape((n,))"
    assert pprint(x.dimshuffle("x", 0, 1)) == "x.dimshuffle('x', 0, 1)"


def test_softmax_family_writes_only_non_default_axes():
    x = tj.matrix("x")
    assert pprint(tj.softmax(x)) == "softmax(x)"
    assert pprint(tj.softmax(x, axis=0)) == "softmax(x, axis=0)"
    assert pprint(tj.log_softmax(x)) == "log_softmax(x)"
    assert pprint(tj.logsumexp(x)) == "logsumexp(x)"
    assert pprint(tj.logsumexp(x, axis=1, keepdims=True)) == \
        "logsumexp(x, axis=1, keepdims=True)"


def test_arange_short_forms():
    n = tj.lscalar("n")
    assert pprint(tj.arange(n)) == "arange(n)"
    assert pprint(tj.arange(2, n)) == "arange(2, n)"
    assert pprint(tj.arange(0, n, 2)) == "arange(0, n, 2)"


def test_fused_composite_is_written_with_its_inputs_substituted():
    a, b = tj.vector("a"), tj.vector("b")
    comp = composite_from_graph([a, b], tj.exp(-(a * a) / 2.0) * tj.sin(3.0 * b))
    x, y = tj.vector("x"), tj.vector("y")
    out = Elemwise(comp)(x + 1.0, y)
    assert pprint(out) == "fused(exp(-((x + 1) * (x + 1)) / 2) * sin(3 * y))"


def test_depth_limit_and_short_form_elide_deep_subexpressions():
    x = tj.vector("x")
    e = x
    for _ in range(30):
        e = tj.exp(e) + 1.0
    assert pprint_limited(e, 2) == "exp(…) + 1"
    short = pprint_short(e, 40)
    assert len(short) <= 40 and "…" in short
    assert pprint_short(tj.exp(x), 40) == "exp(x)"


def test_compiled_function_prints_every_output():
    x = tj.vector("x")
    f = tj.function([x], [x * 2.0, tj.sum(x)], optimizer=None)
    assert pprint(f) == "x * 2; sum(x, axis=0)"
    assert np.allclose(f(np.ones(2))[0], 2.0)
