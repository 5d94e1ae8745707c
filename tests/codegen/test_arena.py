"""The arena planner: values alive at the same time never share bytes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorjit as tj
from tensorjit.runtime.native import assign_offsets


def random_graph(choices):
    x = tj.fvector("x")
    pool = [x]
    for a, b, kind in choices:
        u, v = pool[a % len(pool)], pool[b % len(pool)]
        pool.append([u + v, u * v, tj.tanh(u) - v][kind % 3])
    return x, pool[-3:]


def live_ranges(order, sizes):
    first, last = {}, {}
    for i, node in enumerate(order):
        for v in node.outputs:
            if v in sizes:
                first.setdefault(v, i)
                last.setdefault(v, i)
        for v in node.inputs:
            if v in sizes:
                last[v] = max(last.get(v, i), i)
    return first, last


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 2)),
                min_size=1, max_size=25))
def test_live_values_never_overlap(choices):
    x, outs = random_graph(choices)
    fg = tj.FunctionGraph([x], outs)
    order = fg.toposort()
    sizes = {o: 64 * (1 + k % 3) for k, n in enumerate(order) for o in n.outputs
             if o not in fg.outputs}
    offsets, total = assign_offsets(order, sizes)
    first, last = live_ranges(order, sizes)
    vs = list(sizes)
    for i, a in enumerate(vs):
        assert offsets[a] + sizes[a] <= total
        for b in vs[i + 1:]:
            # a node's output is live together with that node's inputs
            overlap_time = first[a] <= last[b] and first[b] <= last[a]
            overlap_bytes = offsets[a] < offsets[b] + sizes[b] and \
                offsets[b] < offsets[a] + sizes[a]
            assert not (overlap_time and overlap_bytes), (a, b)


def test_chain_reuses_memory_and_matches_reference():
    x = tj.fvector("x")
    e = x
    for _ in range(12):
        e = tj.tanh(e * 0.5) - 1.0 + e * (e + 0.25)
    f = tj.function([x], e, mode="llvm", optimizer=None)
    g = tj.function([x], e, mode="py", optimizer=None)
    a = (np.random.default_rng(0).random(1000) * 0.1).astype("float32")
    np.testing.assert_allclose(f(a), g(a), rtol=1e-5)
    plan = next(iter(f.program.plans.values()))
    assert plan.arena.nbytes < 0.2 * sum(v.nbytes for v in plan.views.values())
