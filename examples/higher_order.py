"""Higher-order derivatives are graphs too: d3/dx3 tanh, a Hessian, a Hessian-vector product.

    python examples/higher_order.py

Each is checked against central finite differences and printed.
"""

from __future__ import annotations

import numpy as np

import tensorjit as tj


def third_derivative_of_tanh(points):
    x = tj.dscalar("x")
    d1 = tj.grad(tj.tanh(x), x)
    d2 = tj.grad(d1, x)
    d3 = tj.grad(d2, x)
    f3, f2 = tj.function([x], d3), tj.function([x], d2)
    print("third derivative of tanh")
    print(f"{'x':>6} {'symbolic':>14} {'closed form':>14} {'finite diff':>14}")
    worst = 0.0
    for p in points:
        t = np.tanh(p)
        closed = -2 * (1 - t * t) * (1 - 3 * t * t)
        eps = 1e-5
        fd = (f2(p + eps) - f2(p - eps)) / (2 * eps)
        got = float(f3(p))
        worst = max(worst, abs(got - closed))
        print(f"{p:6.2f} {got:14.8f} {closed:14.8f} {fd:14.8f}")
    return worst


def hessian_of_small_function(x0):
    # a static length lets hessian() build all rows in one batched backward pass
    x = tj.dvector("x", shape=(len(x0),))
    f = tj.sum(tj.sin(x) * x[::-1]) + tj.sum(x ** 3) / 3
    H = tj.function([x], tj.hessian(f, x))(x0)
    g = tj.function([x], tj.grad(f, x))
    eps = 1e-6
    fd = np.stack([(g(x0 + eps * e) - g(x0 - eps * e)) / (2 * eps) for e in np.eye(len(x0))])
    print("\nHessian of sum(sin(x) * x[::-1]) + sum(x**3)/3")
    print(np.array2string(H, precision=5, suppress_small=True))
    err = float(np.max(np.abs(H - fd)))
    print(f"max |H - finite differences| = {err:.2e}")
    return err


def hessian_vector_product(rng):
    X = rng.standard_normal((40, 5))
    y = (X @ rng.standard_normal(5) > 0).astype("float64")
    w = tj.dvector("w", shape=(5,))
    v = tj.dvector("v", shape=(5,))
    p = tj.sigmoid(tj.constant(X) @ w)
    loss = tj.mean(tj.binary_crossentropy(p, tj.constant(y))) + 0.01 * tj.sum(w * w)
    hv = tj.function([w, v], tj.hessian_vector_product(loss, w, v))
    g = tj.function([w], tj.grad(loss, w))
    w0, v0 = rng.standard_normal(5), rng.standard_normal(5)
    eps = 1e-6
    fd = (g(w0 + eps * v0) - g(w0 - eps * v0)) / (2 * eps)
    got = hv(w0, v0)
    print("\nHessian-vector product of a logistic-regression loss (forward-over-reverse)")
    print(f"H v          = {np.array2string(got, precision=6)}")
    print(f"finite diff. = {np.array2string(fd, precision=6)}")
    err = float(np.max(np.abs(got - fd)))
    print(f"max error = {err:.2e}")
    return err


def main():
    errs = [third_derivative_of_tanh([-2.0, -0.5, 0.0, 0.3, 1.5]),
            hessian_of_small_function(np.array([0.3, -1.2, 0.7, 2.0])),
            hessian_vector_product(np.random.default_rng(0))]
    print(f"\nall within tolerance: {max(errs) < 1e-5}")
    return errs


if __name__ == "__main__":
    main()
