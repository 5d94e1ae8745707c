"""Naive softmax cross-entropy at logits of magnitude 1e4: NaN without the rewrite
passes, finite (and correct) with them, gradient included.

Run: python examples/stability.py
"""

import numpy as np

import tensorjit as tj

z = tj.matrix("z")
t = tj.matrix("t")
e = tj.exp(z)
probs = e / tj.sum(e, axis=1, keepdims=True)  # the textbook softmax
loss = -tj.mean(tj.sum(t * tj.log(probs), axis=1))  # the textbook cross-entropy
grad = tj.grad(loss, z)

logits = np.array([[1e4, -1e4, 0.0], [0.5, 1e4, -1e4]])
targets = np.eye(3)[[1, 2]]

naive = tj.function([z, t], [loss, grad], optimizer=None)
print("optimizer=None:\n  loss =", naive(logits, targets)[0],
      "\n  grad =", naive(logits, targets)[1].tolist())

f = tj.function([z, t], [loss, grad])
value, g = f(logits, targets)
print("default optimizer:\n  loss =", value, "\n  grad =", g.tolist())

print("\nwhat the rewrite passes did:")
tj.debugprint(f, rewrites=True)  # the optimized graph, then every rewrite that fired
