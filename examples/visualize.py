"""Dumps and pictures of a small model's training graph, before and after optimization.

    python examples/visualize.py [--out graphs/]

Writes <out>/before.{html,svg} and <out>/after.{html,svg} (svg only with Graphviz's
dot) and prints debugprint text of both, with the rewrites that fired.
"""

from __future__ import annotations

import argparse
import os
import shutil

import numpy as np

import tensorjit as tj


def model():
    x, y = tj.matrix("x"), tj.ivector("y")
    W = tj.shared(np.zeros((4, 3)), name="W")
    b = tj.shared(np.zeros(3), name="b")
    p = tj.softmax(x @ W + b)
    loss = -tj.mean(tj.log(p)[tj.arange(y.shape[0]), y])
    gW, gb = tj.grad(loss, [W, b])
    updates = [(W, W - 0.5 * gW), (b, b - 0.5 * gb)]
    return [x, y], loss, updates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="graphs")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    inputs, loss, updates = model()
    before = tj.function(inputs, loss, updates=updates, optimizer=None, name="before")
    after = tj.function(inputs, loss, updates=updates, name="after")
    print(f"pprint: {tj.pprint(loss)}\n")
    for f in (before, after):
        print(f"===== {f.name}: {len(f.fgraph.apply_nodes)} nodes")
        tj.debugprint(f, rewrites=f is after)
        exts = ["html"] + (["svg"] if shutil.which("dot") else [])
        for ext in exts:
            print(f"wrote {tj.render(f, os.path.join(args.out, f'{f.name}.{ext}'))}")
    return before, after


if __name__ == "__main__":
    main()
