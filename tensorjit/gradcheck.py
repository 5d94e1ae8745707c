"""verify_grad: check symbolic derivatives against central finite differences in float64.

For a function f and random directions u (output) and v (inputs), reverse mode must
give <grad_x <u, f(x)>, v> and forward mode <u, Rop(f, x, v)>, both equal to the finite
difference (c(x + eps v) - c(x - eps v)) / (2 eps) of c(x) = <u, f(x)>. Order 2 and
higher apply the same check to the gradient itself, so rev-over-rev and fwd-over-rev
are both covered.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .graph.basic import Variable, constant
from .graph.constructors import tensor
from .graph.grad import Rop, grad
from .graph.ops.elemwise import mul
from .graph.ops.reduce import sum as tsum
from .runtime.function import function


class GradientError(AssertionError):
    """A symbolic derivative disagrees with finite differences."""


def _symbolic_inputs(args: Sequence[np.ndarray], diff: Sequence[bool]) -> list[Variable]:
    out = []
    for k, (a, d) in enumerate(zip(args, diff)):
        if d:
            shape = tuple(1 if s == 1 else None for s in a.shape)
            out.append(tensor("float64", shape, name=f"x{k}"))
        else:
            out.append(constant(a))
    return out


def _project(out: Variable, u: np.ndarray) -> Variable:
    return tsum(mul(out, constant(u, dtype=out.dtype)))


def verify_grad(fn: Callable[..., Variable], args: Sequence[Any], order: int = 1,
                modes: Sequence[str] = ("rev", "fwd"), eps: float = 1e-5,
                rtol: float = 1e-5, atol: float = 1e-8, rng: Any = None,
                optimizer: str | None = None, n_directions: int = 1) -> None:
    """Check fn's derivatives to ``order`` against central finite differences.

    Parameters
    ----------
    fn : maps symbolic inputs to one symbolic output of any shape.
    args : point of evaluation; floating arrays are differentiated (in float64),
        integer/bool arrays are passed as constants.
    order : 1 checks first derivatives; 2 also checks derivatives of the gradient.
    modes : "rev" (grad / L_op) and/or "fwd" (Rop / R_op).
    eps, rtol, atol : finite-difference step and tolerances (on the projections).
    """
    rng = np.random.default_rng(rng if rng is not None else 0)
    arrays = [np.asarray(a) for a in args]
    diff = [a.dtype.kind == "f" for a in arrays]
    arrays = [a.astype("float64") if d else a for a, d in zip(arrays, diff)]
    for mode in modes:
        if mode not in ("rev", "fwd"):
            raise ValueError(f"verify_grad(): unknown mode {mode!r}; use 'rev' or 'fwd'")
    if not any(diff):
        raise ValueError("verify_grad(): no floating-point argument to differentiate")
    for _ in range(n_directions):
        _check_once(fn, arrays, diff, order, modes, eps, rtol, atol, rng, optimizer)


def _check_once(fn, arrays, diff, order, modes, eps, rtol, atol, rng, optimizer) -> None:
    xs = _symbolic_inputs(arrays, diff)
    out = fn(*xs)
    if not isinstance(out, Variable):
        raise TypeError(f"verify_grad(): fn must return one Variable, got {type(out)}")
    free = [x for x, d in zip(xs, diff) if d]
    points = [a for a, d in zip(arrays, diff) if d]
    f_out = function(free, out, optimizer=optimizer, name="verify_grad.f")
    y0 = np.asarray(f_out(*points))
    u = rng.standard_normal(y0.shape)
    vs = [rng.standard_normal(p.shape) for p in points]
    cost = _project(out, u)
    f_cost = function(free, cost, optimizer=optimizer, name="verify_grad.cost")
    numeric = (f_cost(*[p + eps * v for p, v in zip(points, vs)])
               - f_cost(*[p - eps * v for p, v in zip(points, vs)])) / (2 * eps)
    numeric = float(numeric)
    if "rev" in modes:
        gs = grad(cost, free, disconnected_inputs="ignore")
        g_vals = function(free, gs, optimizer=optimizer, name="verify_grad.grad")(*points)
        analytic = sum(float(np.sum(g * v)) for g, v in zip(g_vals, vs))
        _compare("reverse mode (grad)", analytic, numeric, rtol, atol, eps)
    if "fwd" in modes:
        v_vars = [tensor("float64", x.type.shape, name=f"v{k}") for k, x in enumerate(free)]
        jvp = Rop(out, free, v_vars)
        f_jvp = function(free + v_vars, jvp, optimizer=optimizer, name="verify_grad.jvp")
        analytic = float(np.sum(u * f_jvp(*points, *vs)))
        _compare("forward mode (Rop)", analytic, numeric, rtol, atol, eps)
    if order > 1:
        ws = [rng.standard_normal(p.shape) for p in points]

        def grad_fn(*inner: Variable) -> Variable:
            inner_cost = _project(fn(*_restore(inner, arrays, diff)), u)
            g = grad(inner_cost, list(inner), disconnected_inputs="ignore")
            return sum((_project(gi, w) for gi, w in zip(g, ws)), constant(0.0))

        _check_once(grad_fn, points, [True] * len(points), order - 1, modes, eps, rtol,
                    atol, rng, optimizer)


def _restore(inner: Sequence[Variable], arrays, diff) -> list[Variable]:
    """Re-insert the non-differentiated constants between the free inputs."""
    it = iter(inner)
    return [next(it) if d else constant(a) for a, d in zip(arrays, diff)]


def _compare(what: str, analytic: float, numeric: float, rtol: float, atol: float,
             eps: float) -> None:
    if not np.isfinite(analytic) or abs(analytic - numeric) > atol + rtol * max(
            abs(analytic), abs(numeric)):
        raise GradientError(
            f"{what} disagrees with central finite differences (eps={eps}): "
            f"analytic projection {analytic!r}, numeric {numeric!r}, "
            f"abs error {abs(analytic - numeric):.3g}")
