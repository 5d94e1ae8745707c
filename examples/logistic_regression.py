"""Multinomial logistic regression on scikit-learn's digits, trained with ``updates``.

    python examples/logistic_regression.py [--epochs 100] [--lr 0.5]

Builds the model symbolically, asks tensorjit for the gradients (more graph), compiles
one training step that updates the shared parameters in place, runs full-batch
gradient descent and prints the test accuracy (about 0.95).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import tensorjit as tj


def load_data(seed: int = 0):
    """Standardized 8x8 digit images (64 features), split 75% train / 25% test."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y.astype("int32"), test_size=0.25, random_state=seed, stratify=y)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0  # some border pixels are always blank
    return (X_train - mean) / std, (X_test - mean) / std, y_train, y_test


def build(n_features: int, n_classes: int, lr: float):
    """The compiled training step and prediction functions."""
    x = tj.matrix("x")
    y = tj.ivector("y")
    W = tj.shared(np.zeros((n_features, n_classes)), name="W")
    b = tj.shared(np.zeros(n_classes), name="b")
    p = tj.softmax(x @ W + b)                               # class probabilities
    loss = -tj.mean(tj.log(p)[tj.arange(y.shape[0]), y])   # cross-entropy
    gW, gb = tj.grad(loss, [W, b])                          # graph, not numbers
    train = tj.function([x, y], loss, name="train",
                        updates=[(W, W - lr * gW), (b, b - lr * gb)])
    predict = tj.function([x], tj.argmax(p, axis=1), name="predict")
    return train, predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()

    X_train, X_test, y_train, y_test = load_data()
    train, predict = build(X_train.shape[1], 10, args.lr)
    for epoch in range(args.epochs):
        loss = train(X_train, y_train)
        if epoch % 20 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:4d}  loss {float(loss):.4f}")
    accuracy = np.mean(predict(X_test) == y_test)
    print(f"test accuracy: {accuracy:.3f}")


if __name__ == "__main__":
    main()
