"""Outputs (single vs list, no aliasing), givens, and errors raised inside ops."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.runtime.evaluator import OpRuntimeError, raise_op_error


def test_single_output_list_and_tuple():
    x = tj.vector("x")
    assert isinstance(tj.function([x], x * 2.0)([1.0]), np.ndarray)
    out = tj.function([x], [x * 2.0])([1.0])
    assert isinstance(out, list) and len(out) == 1
    out = tj.function([x], (x * 2.0, x + 1.0))([1.0])
    assert isinstance(out, tuple) and len(out) == 2
    np.testing.assert_array_equal(out[1], [2.0])


def test_output_that_is_an_input_is_a_copy():
    x = tj.vector("x")
    arg = np.array([1.0, 2.0])
    out = tj.function([x], x)(arg)
    np.testing.assert_array_equal(out, arg)
    assert not np.shares_memory(out, arg)


def test_output_that_is_a_view_of_an_input_is_a_copy():
    x = tj.matrix("x")
    arg = np.ones((2, 3))
    out = tj.function([x], x.T)(arg)
    assert out.shape == (3, 2) and not np.shares_memory(out, arg)


def test_output_never_aliases_shared_storage():
    w = tj.shared(np.ones(3), name="w")
    f = tj.function([], [w, w * 1.0])
    a, _ = f()
    a[0] = 5.0
    np.testing.assert_array_equal(w.get_value(), np.ones(3))


def test_output_and_update_do_not_share_memory():
    w = tj.shared(np.zeros(2), name="w")
    new = w + 1.0
    f = tj.function([], new, updates=[(w, new)])
    out = f()
    out[0] = 42.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 1.0])


def test_repeated_outputs_are_distinct_arrays():
    x = tj.vector("x")
    y = x * 2.0
    a, b = tj.function([x], [y, y])([1.0])
    a[0] = 0.0
    assert b[0] == 2.0


def test_constant_output_is_writable_copy():
    out = tj.function([], tj.constant(np.arange(3.0)))()
    out[0] = 9.0  # must not raise (constants are stored read-only)
    np.testing.assert_array_equal(tj.function([], tj.constant(np.arange(3.0)))(), [0, 1, 2])


def test_givens_substitutes_before_compiling():
    x, y = tj.vector("x"), tj.vector("y")
    f = tj.function([y], x * 2.0, givens={x: y + 1.0})
    np.testing.assert_array_equal(f([1.0, 2.0]), [4.0, 6.0])
    data = tj.shared(np.arange(4.0), name="data")
    g = tj.function([], x.sum(), givens=[(x, data)])
    assert g() == 6.0
    h = tj.function([], x * 1.0, givens={x: [1.0, 2.0]})
    np.testing.assert_array_equal(h(), [1.0, 2.0])


def test_givens_type_errors():
    x = tj.vector("x")
    with pytest.raises(TypeError, match=r"givens replaces 'x'.*float64\[\?,\].*'m'"):
        tj.function([], x * 2.0, givens={x: tj.matrix("m")})
    with pytest.raises(TypeError, match=r"givens value for 'x'"):
        tj.function([], tj.fvector("x") * 2.0, givens={tj.fvector("x"): np.ones(2)})
    with pytest.raises(TypeError, match="not a symbolic variable"):
        tj.function([], x, givens={"x": x})


def test_runtime_error_in_an_op_names_op_shapes_and_line():
    w = tj.shared(np.ones((2, 3)), name="w")
    b = tj.shared(np.ones(4), name="b")
    f = tj.function([], w + b, name="f")   # shared shapes are only known at run time
    with pytest.raises(ValueError) as info:
        f()
    msg = str(info.value)
    assert msg.startswith("f(): Elemwise{add} (node created at test_outputs_and_errors.py:")
    assert "w: (2, 3) float64, b: (4,) float64" in msg
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.node.op == (w + b).owner.op


def test_raise_op_error_keeps_type_and_falls_back():
    x = tj.vector("x")
    node = (x * 2.0).owner

    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(a, b)

    with pytest.raises(KeyError, match="Elemwise"):
        raise_op_error(node, [np.ones(3), np.float64(2.0)], KeyError("k"), "g")
    with pytest.raises(OpRuntimeError, match=r"g\(\): Elemwise\{mul\}.*\(3,\) float64, \(\) "
                                             r"float64\]: Odd"):
        raise_op_error(node, [np.ones(3), np.float64(2.0)], Odd(1, 2), "g")


def test_function_exposes_graph_and_attributes():
    x = tj.vector("x")
    w = tj.shared(np.zeros(1), name="w")
    f = tj.function([x], x.sum(), updates=[(w, w + 1.0)])
    assert f.n_outputs == 1 and len(f.fgraph.outputs) == 2
    assert f.updates[0][0] is w
    assert isinstance(f.rewrites, list) and f.fallbacks == []
    assert "Function" in repr(f)


def test_bad_mode_and_inputs():
    x = tj.vector("x")
    with pytest.raises(ValueError, match="mode must be one of"):
        tj.function([x], x, mode="nope")
    with pytest.raises(TypeError, match="is a shared variable"):
        tj.function([tj.shared(1.0)], x)
    with pytest.raises(TypeError, match="must be a list"):
        tj.function(x, x)
    with pytest.raises(ValueError, match="given twice"):
        tj.function([x, x], x)


def test_variable_eval_checks_dtype():
    x = tj.fvector("x")
    np.testing.assert_array_equal((x * 2.0).eval({x: [1.0, 2.0]}), [2.0, 4.0])
    with pytest.raises(TypeError, match=r"eval\(\): input 0 'x': expected dtype float32"):
        (x * 2.0).eval({x: np.ones(2)})
