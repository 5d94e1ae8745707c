"""Property: on random elementwise + reduction graphs, the fully optimized function
equals the unoptimized reference evaluator on random moderate inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tensorjit as tj

UNARY = [tj.exp, tj.tanh, tj.sigmoid, lambda a: -a, lambda a: a * a,
         lambda a: tj.log(1 + a * a), lambda a: tj.softplus(a), lambda a: a ** 2,
         lambda a: tj.log(tj.exp(a)), lambda a: 1 - tj.sigmoid(a)]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
          lambda a, b: a / (1.5 + b * b), lambda a, b: tj.maximum(a, b),
          lambda a, b: a * 0.5 - b / 4.0]
REDUCE = [lambda a: a.sum(axis=1, keepdims=True), lambda a: a.max(axis=0, keepdims=True),
          lambda a: a.mean(axis=1, keepdims=True), lambda a: tj.softmax(a, axis=1),
          lambda a: tj.log(tj.sum(tj.exp(a), axis=1, keepdims=True))]

step = st.tuples(st.sampled_from(["unary", "binary", "reduce"]),
                 st.integers(0, 100), st.integers(0, 100), st.integers(0, 100))


def build(x, y, steps):
    pool = [x, y]
    for kind, i, j, k in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        if kind == "unary":
            pool.append(UNARY[k % len(UNARY)](a))
        elif kind == "binary":
            pool.append(BINARY[k % len(BINARY)](a, b))
        else:
            pool.append(REDUCE[k % len(REDUCE)](a))
    out = pool[-1]
    return out + x * 0.0 if out.ndim == 2 else out


@settings(max_examples=30, deadline=None)
# flatten_sums wrote -(e * 0.25) - t * 0.25, flatten_and_cancel_products e * -0.25 - ...
@example(steps=[("binary", 67, 0, 53), ("unary", 62, 0, 0), ("unary", 0, 0, 0),
                ("binary", 3, 77, 56), ("unary", 33, 0, 0), ("unary", 0, 0, 0),
                ("binary", 3, 77, 0)], seed=0, with_grad=True)
@given(steps=st.lists(step, min_size=1, max_size=7), seed=st.integers(0, 2**16),
       with_grad=st.booleans())
def test_optimized_equals_unoptimized(steps, seed, with_grad):
    x, y = tj.matrix("x"), tj.matrix("y")
    out = build(x, y, steps)
    outs = [out]
    if with_grad:
        outs += tj.grad(out.sum(), [x, y], disconnected_inputs="ignore")
    rng = np.random.default_rng(seed)
    xs, ys = rng.uniform(-2, 2, size=(2, 3, 4))
    want = tj.function([x, y], outs, optimizer=None)(xs, ys)
    got = tj.function([x, y], outs)(xs, ys)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True)
