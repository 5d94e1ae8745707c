"""A 2-hidden-layer MLP on scikit-learn's digits, trained by minibatch SGD via updates.

    python examples/mlp_digits.py [--epochs 40] [--picture mlp_train.svg]

Prints the loss per epoch (tqdm), the test accuracy, and saves a picture of the
optimized training graph (.svg/.png need Graphviz's dot; .html needs nothing).
"""

from __future__ import annotations

import argparse
import shutil
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import tensorjit as tj


def init_layer(rng, n_in, n_out, name):
    scale = np.sqrt(2.0 / n_in)  # He initialisation for relu layers
    w = tj.shared((rng.standard_normal((n_in, n_out)) * scale).astype("float32"), name=f"W{name}")
    b = tj.shared(np.zeros(n_out, "float32"), name=f"b{name}")
    return w, b


def build(sizes=(64, 128, 64, 10), lr=0.05, seed=0):
    """The training step and the predictor, compiled."""
    rng = np.random.default_rng(seed)
    params = [init_layer(rng, a, b, k + 1) for k, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    x, y = tj.fmatrix("x"), tj.ivector("y")
    h = x
    for w, b in params[:-1]:
        h = tj.relu(h @ w + b)
    w, b = params[-1]
    logits = h @ w + b
    # Written the naive way on purpose: the stabilize phase turns it into one fused,
    # max-shifted cross-entropy op whose gradient is softmax - onehot.
    loss = -tj.mean(tj.log(tj.softmax(logits))[tj.arange(y.shape[0]), y])
    flat = [p for pair in params for p in pair]
    grads = tj.grad(loss, flat)
    step = tj.function([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(flat, grads)],
                       name="train_step")
    predict = tj.function([x], tj.argmax(logits, axis=1), name="predict")
    return step, predict


def load(seed=0):
    digits = load_digits()
    X = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def save_picture(step, path):
    if not path:
        return None
    if not path.endswith(".html") and shutil.which("dot") is None:
        path = path.rsplit(".", 1)[0] + ".html"  # dot missing: the HTML page needs nothing
    return tj.render(step, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--picture", default="mlp_train.svg")
    args = parser.parse_args(argv)
    X_train, X_test, y_train, y_test = load()
    start = time.perf_counter()
    step, predict = build()
    rng = np.random.default_rng(1)
    bar = tqdm(range(args.epochs), desc="epochs")
    for _ in bar:
        order = rng.permutation(len(X_train))
        losses = [step(X_train[idx], y_train[idx])
                  for idx in np.array_split(order, max(1, len(order) // args.batch))]
        bar.set_postfix(loss=f"{np.mean(losses):.4f}")
    accuracy = float(np.mean(predict(X_test) == y_test))
    print(f"test accuracy: {accuracy:.4f}  ({time.perf_counter() - start:.1f} s)")
    saved = save_picture(step, args.picture)
    if saved:
        print(f"optimized training graph: {saved}")
    return accuracy


if __name__ == "__main__":
    main()
