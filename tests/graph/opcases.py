"""The op-case table format. Each tests/graph/cases_*.py module defines CASES: list[OpCase].

One case says how to build a graph from input variables, an INDEPENDENT reference
(NumPy/SciPy/mpmath, never the op's own decomposition), the shapes and dtypes to try,
the input domain, and how far to check derivatives. tests/graph/test_ops.py runs every
case through the reference evaluator, shape inference and verify_grad; the LLVM
backend's tests run the same table.
"""

from __future__ import annotations

import importlib
import pathlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

Shapes = tuple[tuple[int, ...], ...]


@dataclass
class OpCase:
    name: str
    # Op / ScalarOp class names this case exercises (for the coverage test).
    covers: tuple[str, ...]
    # (*input variables) -> output variable
    build: Callable[..., Any]
    # (*input arrays) -> expected array (independent implementation)
    reference: Callable[..., Any]
    # Each entry: the shapes of all inputs for one trial (broadcasting, 0-d, size 0...).
    shapes: Sequence[Shapes] = (((3, 4),),)
    # Each entry: one dtype for every input, or a tuple with one dtype per input.
    dtypes: Sequence[Any] = ("float64", "float32")
    # Inputs are drawn uniformly from this interval (ints: integers in it).
    domain: tuple[float, float] = (-2.0, 2.0)
    # Optional full control: (rng, shapes, dtypes) -> list of arrays.
    make_inputs: Callable[..., list[np.ndarray]] | None = None
    # Highest derivative order checked by verify_grad (0: not differentiable).
    grad_order: int = 1
    # Relative tolerance of values per dtype.
    rtol: dict[str, float] = field(default_factory=lambda: {"float32": 2e-5,
                                                           "float64": 1e-10})
    atol: float = 1e-12
    # Tolerance of the finite-difference checks.
    grad_rtol: float = 1e-5
    # Shapes to use for verify_grad (default: the first entry of shapes).
    grad_shapes: Shapes | None = None
    # Static input shapes: "broadcast" gives 1 where the value has 1 and None elsewhere;
    # "exact" uses the value's whole shape.
    static: str = "broadcast"

    def input_dtypes(self, dtype: Any, n: int) -> tuple[str, ...]:
        return tuple(dtype) if isinstance(dtype, (tuple, list)) else (dtype,) * n

    def inputs(self, rng: np.random.Generator, shapes: Shapes, dtype: Any) -> list[np.ndarray]:
        dtypes = self.input_dtypes(dtype, len(shapes))
        if self.make_inputs is not None:
            return self.make_inputs(rng, shapes, dtypes)
        return [random_array(rng, s, d, self.domain) for s, d in zip(shapes, dtypes)]


def random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: str,
                 domain: tuple[float, float] = (-2.0, 2.0)) -> np.ndarray:
    """Uniform values in domain, of the given dtype."""
    lo, hi = domain
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, size=shape).astype(dtype)
    return rng.uniform(lo, hi, size=shape).astype(dtype)


def all_cases() -> list[OpCase]:
    """Every case from every tests/graph/cases_*.py module, names unique."""
    here = pathlib.Path(__file__).parent
    cases: list[OpCase] = []
    for path in sorted(here.glob("cases_*.py")):
        module = importlib.import_module(path.stem)
        cases.extend(module.CASES)
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate op case names: {sorted(dupes)}")
    return cases


def static_shape(value: np.ndarray, how: str) -> tuple[int | None, ...]:
    if how == "exact":
        return tuple(value.shape)
    return tuple(1 if s == 1 else None for s in value.shape)
