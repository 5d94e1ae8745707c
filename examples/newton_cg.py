"""Hessian-free (truncated Newton) optimisation with Hessian-vector products.

    python examples/newton_cg.py [--max-iter 30]

Multinomial logistic regression on scikit-learn's digits with an L2 penalty. Each
Newton step solves H d = -g approximately by conjugate gradient, where H is never
formed: every CG iteration asks the compiled graph for one product H v (Deep Learning,
sections 6.5.10 and 8.6). Plain gradient descent on the same loss is run for
comparison; both print how many iterations they needed to reach the same loss.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits

import tensorjit as tj


def build_problem(l2=1e-2):
    digits = load_digits()
    X = digits.data / 16.0
    X = np.hstack([X, np.ones((len(X), 1))])  # bias column
    y = digits.target.astype("int32")
    n_features, n_classes = X.shape[1], 10
    w = tj.dvector("w")  # flattened weights, so H is a plain matrix operator
    v = tj.dvector("v")
    W = w.reshape((n_features, n_classes))
    logits = tj.constant(X) @ W
    loss = -tj.mean(tj.log_softmax(logits, axis=1)[tj.arange(len(y)), tj.constant(y)])
    loss = loss + l2 * tj.sum(w * w)
    g = tj.grad(loss, w)
    fns = {"loss_grad": tj.function([w], [loss, g]),
           "hvp": tj.function([w, v], tj.hessian_vector_product(loss, w, v))}
    return fns, n_features * n_classes


def conjugate_gradient(hvp, g, max_iter=50, tol=1e-10):
    """Approximately solve H d = -g with CG, using only products H v."""
    d = np.zeros_like(g)
    r = -g.copy()
    p = r.copy()
    rs = r @ r
    for k in range(max_iter):
        hp = hvp(p)
        alpha = rs / (p @ hp)
        d += alpha * p
        r -= alpha * hp
        rs_new = r @ r
        if rs_new < tol:
            return d, k + 1
        p = r + (rs_new / rs) * p
        rs = rs_new
    return d, max_iter


def newton_cg(fns, w0, max_iter, target=None):
    w = w0.copy()
    history, hvps = [], 0
    for _ in range(max_iter):
        loss, g = fns["loss_grad"](w)
        history.append(float(loss))
        if target is not None and loss <= target or np.linalg.norm(g) < 1e-8:
            break
        d, used = conjugate_gradient(lambda p: fns["hvp"](w, p), g)
        hvps += used
        w = w + d
    return w, history, hvps


def gradient_descent(fns, w0, target, lr=2.0, max_iter=20000):
    w = w0.copy()
    for it in range(max_iter):
        loss, g = fns["loss_grad"](w)
        if loss <= target:
            return it, float(loss)
        w = w - lr * g
    return max_iter, float(loss)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=30)
    parser.add_argument("--gd-max-iter", type=int, default=20000)
    args = parser.parse_args(argv)
    fns, n = build_problem()
    w0 = np.zeros(n)
    w, history, hvps = newton_cg(fns, w0, args.max_iter)
    target = history[-1] + 1e-4 * abs(history[-1])
    for k, loss in enumerate(history):
        print(f"newton-cg iteration {k:2d}: loss {loss:.8f}")
    gd_iters, gd_loss = gradient_descent(fns, w0, target, max_iter=args.gd_max_iter)
    reached = "reached" if gd_loss <= target else "did not reach"
    print(f"\nnewton-cg: {len(history) - 1} Newton steps ({hvps} Hessian-vector products)"
          f" to loss {history[-1]:.6f}")
    print(f"gradient descent: {gd_iters} iterations, {reached} {target:.6f} "
          f"(loss {gd_loss:.6f})")
    return len(history) - 1, gd_iters


if __name__ == "__main__":
    main()
