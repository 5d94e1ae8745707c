"""Every op case: reference evaluator vs independent reference, shape inference,
static types, and derivatives (reverse and forward) against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.basic import OP_REGISTRY
from tensorjit.graph.ops.elemwise import SCALAR_OP_REGISTRY

from opcases import all_cases, static_shape

CASES = all_cases()
TRIALS = [(c, s, d) for c in CASES for s in c.shapes for d in c.dtypes]


def trial_id(t) -> str:
    case, shapes, dtype = t
    dt = dtype if isinstance(dtype, str) else "-".join(dtype)
    return f"{case.name}-{'x'.join(str(s) for s in shapes)}-{dt}"


def build(case, values):
    xs = [tj.tensor(v.dtype.name, static_shape(v, case.static), name=f"in{k}")
          for k, v in enumerate(values)]
    return xs, case.build(*xs)


def compare(case, got, want, dtype):
    want = np.asarray(want)
    rtol = case.rtol.get(got.dtype.name, 0) if got.dtype.kind == "f" else 0
    assert got.shape == want.shape, f"shape {got.shape} != reference {want.shape}"
    if got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want.astype(got.dtype), rtol=rtol, atol=case.atol,
                                   equal_nan=True)


@pytest.mark.parametrize("trial", TRIALS, ids=trial_id)
def test_reference_evaluator_matches_reference(trial):
    case, shapes, dtype = trial
    values = case.inputs(np.random.default_rng(0), shapes, dtype)
    xs, out = build(case, values)
    f = tj.function(xs, out, mode="py", optimizer=None)
    got = np.asarray(f(*values))
    assert got.dtype.name == out.dtype, f"result dtype {got.dtype} != declared {out.dtype}"
    assert out.type.accepts_shape(got.shape), f"result shape {got.shape} vs type {out.type}"
    with np.errstate(all="ignore"):
        want = case.reference(*values)
    compare(case, got, want, dtype)


@pytest.mark.parametrize("trial", TRIALS, ids=trial_id)
def test_infer_shape_matches_actual(trial):
    case, shapes, dtype = trial
    values = case.inputs(np.random.default_rng(1), shapes, dtype)
    xs, out = build(case, values)
    f = tj.function(xs, out, mode="py", optimizer=None)
    env = dict(zip(f.fgraph.inputs, values))
    for node in f.fgraph.toposort():
        ins = [leaf_value(v, env) for v in node.inputs]
        with np.errstate(all="ignore"):
            outs = node.op.perform(node, ins)
        inferred = node.op.infer_shape(node, [np.shape(v) for v in ins], ins)
        for o, value, shape in zip(node.outputs, outs, inferred):
            assert tuple(shape) == np.shape(value), f"{node.op}: inferred {shape}"
            assert o.type.accepts_shape(np.shape(value)), f"{node.op}: type {o.type}"
            assert np.asarray(value).dtype.name == o.dtype, f"{node.op}: dtype"
            env[o] = value


def leaf_value(v, env):
    if v in env:
        return env[v]
    if isinstance(v, tj.SharedVariable):
        return v.get_value()
    return v.data  # a Constant


GRAD_CASES = [c for c in CASES if c.grad_order > 0]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.name)
def test_gradients_match_finite_differences(case):
    shapes = case.grad_shapes or case.shapes[0]
    # float inputs in float64 (finite differences need it); integer inputs (labels,
    # indices) keep their integer dtype and are passed as constants by verify_grad
    dtypes = case.input_dtypes(case.dtypes[0], len(shapes))
    dtypes = tuple("float64" if d.startswith("float") else d for d in dtypes)
    values = case.inputs(np.random.default_rng(2), shapes, dtypes)
    tj.verify_grad(case.build, values, order=case.grad_order, rtol=case.grad_rtol)


def test_every_registered_op_has_a_case():
    covered = {name for c in CASES for name in c.covers}
    missing = sorted((set(OP_REGISTRY) | set(SCALAR_OP_REGISTRY)) - covered)
    assert not missing, f"ops without a test case: {missing}"
