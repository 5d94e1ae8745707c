"""Regenerate the pictures and text the README's tour shows.

    python docs/make_pictures.py [--out docs/]

Writes <out>/mlp_training_graph.svg (Graphviz's ``dot`` must be installed: Debian
package graphviz) and <out>/mlp_training_graph.txt (the pprint form, the rewrites that
fired and the optimized graph as debugprint text), and prints the text.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import tensorjit as tj


def small_mlp_training_step() -> tuple[tj.Function, tj.Variable]:
    """One SGD step of a 1-hidden-layer MLP classifier (float32), compiled; and its loss."""
    rng = np.random.default_rng(0)
    W1 = tj.shared(rng.standard_normal((8, 16)).astype("float32") * 0.3, name="W1")
    b1 = tj.shared(np.zeros(16, "float32"), name="b1")
    W2 = tj.shared(rng.standard_normal((16, 3)).astype("float32") * 0.3, name="W2")
    b2 = tj.shared(np.zeros(3, "float32"), name="b2")
    x, y = tj.fmatrix("x"), tj.ivector("y")
    h = tj.relu(x @ W1 + b1)
    loss = -tj.mean(tj.log(tj.softmax(h @ W2 + b2))[tj.arange(y.shape[0]), y])
    params = [W1, b1, W2, b2]
    grads = tj.grad(loss, params)
    step = tj.function([x, y], loss, name="train_step",
                       updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
    return step, loss


def tour_text(step: tj.Function, loss: tj.Variable) -> str:
    """What the README shows: the loss as written, what the optimizer did, the result."""
    parts = [f"loss as written:\n  {tj.pprint(loss)}",
             str(step.explain(max_chars=90)),
             "optimized graph:\n" + step.dump("final")]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write the picture and the text into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args(argv)
    step, loss = small_mlp_training_step()
    svg = tj.render(step, os.path.join(args.out, "mlp_training_graph.svg"))
    text = tour_text(step, loss)
    with open(os.path.join(args.out, "mlp_training_graph.txt"), "w") as fh:
        fh.write(text)
    print(text)
    print(f"wrote {svg}")


if __name__ == "__main__":
    main()
