"""debugprint: exact text for small graphs, ids for shared subgraphs, updates, rewrites."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.basic import Apply, Op


def small_graph():
    x = tj.matrix("x")
    e = tj.exp(x)
    z = (e + e * 2.0).sum(axis=1)
    z.name = "z"
    return x, e, z


SMALL = """\
Sum{axis=(1,), keepdims=False} 'z' float64[?,]
 |Elemwise{add} float64[?, ?]
 | |Elemwise{exp} [id A] float64[?, ?]
 | | |x float64[?, ?] (input)
 | |Elemwise{mul} float64[?, ?]
 | | |Elemwise{exp} [id A] (see above)
 | | |2.0 float64 (constant)
"""


def test_variable_exact_text_and_return_value(capsys):
    _, _, z = small_graph()
    text = tj.debugprint(z)
    assert text == SMALL
    assert capsys.readouterr().out == SMALL


def test_file_str_only_returns_and_file_object_receives(capsys):
    _, _, z = small_graph()
    assert tj.debugprint(z, file="str") == SMALL
    buf = io.StringIO()
    assert tj.debugprint(z, file=buf) == SMALL
    assert buf.getvalue() == SMALL
    assert capsys.readouterr().out == ""


def test_stable_across_builds():
    assert tj.debugprint(small_graph()[2], file="str") == \
        tj.debugprint(small_graph()[2], file="str")


def test_list_ids_none_and_no_shapes():
    _, e, z = small_graph()
    expected = """\
Sum{axis=(1,), keepdims=False} 'z' float64
 |Elemwise{add} float64
 | |Elemwise{exp} float64
 | | |x float64 (input)
 | |Elemwise{mul} float64
 | | |Elemwise{exp} float64
 | | | |x float64 (input)
 | | |2.0 float64 (constant)
Elemwise{exp} float64
 |x float64 (input)
"""
    assert tj.debugprint([z, e], file="str", ids="none", shapes=False) == expected


def test_ids_all_refers_back_across_trees():
    _, e, z = small_graph()
    text = tj.debugprint([z, e], file="str", ids="all")
    assert text.splitlines()[0] == "Sum{axis=(1,), keepdims=False} [id A] 'z' float64[?,]"
    assert text.splitlines()[-1] == "Elemwise{exp} [id C] (see above)"


def test_compiled_function_labels_outputs_updates_shared_and_inputs():
    x = tj.matrix("x")
    w = tj.shared(np.ones((2, 3)), name="W")
    loss = tj.sum(x * w)
    g = tj.grad(loss, w)
    f = tj.function([x], [loss, tj.exp(x)], updates=[(w, w - 0.5 * g)], optimizer=None)
    expected = """\
Sum{axis=(0, 1), keepdims=False} float64  <- output 0
 |Elemwise{mul} [id A] float64[?, ?]
 | |x float64[?, ?] (input 0)
 | |W float64[?, ?] (shared)
Elemwise{exp} float64[?, ?]  <- output 1
 |x float64[?, ?] (input 0)
Elemwise{sub} float64[?, ?]  <- update of W
 |W float64[?, ?] (shared)
 |Elemwise{mul} float64[?, ?]
 | |0.5 float64 (constant)
 | |Elemwise{mul} float64[?, ?]
 | | |Elemwise{fill} float64[?, ?]
 | | | |Elemwise{mul} [id A] (see above)
 | | | |DimShuffle{x,x} float64[1, 1]
 | | | | |1.0 float64 (constant)
 | | |x float64[?, ?] (input 0)
rewrites: none
"""
    assert tj.debugprint(f, file="str", rewrites=True) == expected


def test_unnamed_function_input_shows_its_position():
    v = tj.vector()
    f = tj.function([v], -v, optimizer=None)
    assert tj.debugprint(f, file="str") == \
        "Elemwise{neg} float64[?,]\n |<input 0> float64[?,] (input 0)\n"


def test_rewrites_listed_from_events():
    x = tj.matrix("x")
    fg = tj.FunctionGraph([x], [tj.exp(x) * 1.0])
    old = fg.outputs[0]
    fg.replace(old, old.owner.inputs[0], reason="mul_by_one", phase="canonicalize")
    text = tj.debugprint(fg, file="str", rewrites=True)
    lines = text.splitlines()
    assert lines[:2] == ["Elemwise{exp} float64[?, ?]", " |x float64[?, ?] (input 0)"]
    assert lines[2] == "rewrites (1):"
    assert lines[3].startswith("  canonicalize: mul_by_one replaced Elemwise{mul} by "
                               "Elemwise{exp} (node created at test_debugprint.py:")


@dataclass(frozen=True)
class _TwoOutputs(Op):
    """A test-only op with two outputs (the leading underscore keeps it unregistered)."""

    def make_node(self, x):
        return Apply(self, [x], [x.type, x.type])


def test_multi_output_node_is_printed_once():
    x = tj.vector("x")
    a, b = _TwoOutputs()(x)
    text = tj.debugprint(a + b, file="str")
    assert text == """\
Elemwise{add} float64[?,]
 |_TwoOutputs.0 [id A] float64[?,]
 | |x float64[?,] (input)
 |_TwoOutputs.1 [id A] (see above)
"""


def test_constants_and_deep_graphs():
    x = tj.vector("x")
    y = x
    for _ in range(3000):  # deeper than the recursion limit
        y = y + 1.0
    text = tj.debugprint(y, file="str", shapes=False)
    assert len(text.splitlines()) == 1 + 2 * 3000
    c = tj.debugprint(tj.constant(np.arange(6.0)) * x, file="str")
    assert " |<6 values> float64[6,] (constant)" in c


def test_bad_arguments():
    with pytest.raises(ValueError, match="ids must be one of"):
        tj.debugprint(tj.vector("x"), ids="long")
    with pytest.raises(TypeError, match="expected a Variable"):
        tj.debugprint(42)
