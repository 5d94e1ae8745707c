"""The native Python entry (runtime/pyentry.py, codegen/pycall.py) against the Python path.

Every call a compiled function gets goes through the entry first; whatever it declines
must come out of the Python path exactly as before. So each case here is called with
the entry and with the entry turned off (``_py_entry = None``) and the two compared:
values, types, errors and messages.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.runtime.pyentry import numpy_api

pytestmark = pytest.mark.skipif(numpy_api() is None, reason="no native entry on this build")


def _both(f, *args):
    """(result via the entry, result via the Python path) for the same call."""
    entry = f._py_entry
    assert entry is not None
    got = f(*args)
    f._py_entry = None
    try:
        want = f(*args)
    finally:
        f._py_entry = entry
    return got, want


def _same(got, want):
    assert type(got) is type(want)
    if isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    assert type(got) is np.ndarray and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


class Sub(np.ndarray):
    pass


def test_entry_only_where_results_are_fresh_arrays():
    x = tj.vector("x")
    assert tj.function([x], x + 1)._py_entry is not None
    assert tj.function([x], [x + 1, x * 2])._py_entry is not None
    w = tj.shared(np.zeros(3), name="w")
    assert tj.function([x], x + w, updates={w: w + x})._py_entry is not None
    assert tj.function([x], x, mode="llvm")._py_entry is None  # an input as output
    assert tj.function([x], [x + 1, x + 1])._py_entry is None  # one array twice
    assert tj.function([x], x + 1, mode="py")._py_entry is None


def test_updates_are_assigned_after_the_call_and_only_if_it_succeeds():
    x, i = tj.vector("x"), tj.ivector("i")
    w = tj.shared(np.zeros(3), name="w")
    count = tj.shared(np.asarray(0, dtype="int64"), name="count")
    f = tj.function([x, i], tj.sum(x[i]) * tj.sum(w), updates=[(w, w + x), (count, count + 1)])
    for k in range(1, 4):
        out = f(np.ones(3), np.array([0, 2], "int32"))
        assert float(out) == pytest.approx(2.0 * 3 * (k - 1))
        np.testing.assert_array_equal(w.get_value(), np.full(3, float(k)))
        assert int(count.get_value()) == k
    before = w.get_value()
    with pytest.raises(IndexError):
        f(np.ones(3), np.array([5], "int32"))
    np.testing.assert_array_equal(w.get_value(), before)
    assert int(count.get_value()) == 3
    assert f._py_entry is not None


def test_update_of_another_shape_raises_and_changes_nothing():
    x = tj.vector("x")
    w = tj.shared(np.zeros(3), name="w")
    f = tj.function([x], tj.sum(w), updates={w: x * 2.0})
    f(np.ones(3))
    np.testing.assert_array_equal(w.get_value(), [2.0, 2.0, 2.0])
    for _ in range(2):  # the plan for (4,) is made once; both calls decline natively
        with pytest.raises(ValueError, match="updates keep the shape"):
            f(np.ones(4))
        np.testing.assert_array_equal(w.get_value(), [2.0, 2.0, 2.0])


def test_updates_and_results_agree_with_the_python_path():
    x = tj.matrix("x")
    w = tj.shared(np.ones((3, 2)), name="w")
    b = tj.shared(np.zeros(2), name="b")
    loss = tj.sum(tj.tanh(tj.dot(x, w) + b) ** 2)
    gw, gb = tj.grad(loss, [w, b])
    f = tj.function([x], [loss, gb], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    a = np.arange(12.0).reshape(4, 3) / 10
    start = (w.get_value(), b.get_value())
    got = [f(a) for _ in range(3)]
    native = (w.get_value(), b.get_value())
    w.set_value(start[0])
    b.set_value(start[1])
    f._py_entry = None
    want = [f(a) for _ in range(3)]
    for g, v in zip(got, want):
        _same(g, v)
    np.testing.assert_array_equal(native[0], w.get_value())
    np.testing.assert_array_equal(native[1], b.get_value())


@pytest.mark.parametrize("value", [
    np.arange(5.0), [1.0, 2.0, 3.0], np.arange(5, dtype=np.float32), np.arange(5, dtype=np.int32),
    np.arange(10.0)[::2], np.arange(5.0).view(Sub), np.arange(5.0).astype(">f8"),
    np.zeros(0), np.arange(7.0),
])
def test_arguments_the_entry_declines_come_out_of_the_python_path(value):
    x = tj.vector("x")
    f = tj.function([x], [tj.exp(x) * 2, tj.sum(x)])
    f(np.ones(4))  # a plan for (4,): every value above is another case for the entry
    _same(*_both(f, value))
    _same(*_both(f, np.ones(4)))


def test_output_structure_single_list_tuple():
    x = tj.matrix("x")
    a = np.arange(6.0).reshape(2, 3)
    for outputs in (x * 2, [x * 2, x.sum()], (x.T + 1,), (x * 2, x - 1)):
        f = tj.function([x], outputs)
        for _ in range(2):  # the first call plans on the Python path, the second not
            _same(*_both(f, a))


def test_errors_are_the_python_paths():
    x, i = tj.vector("x"), tj.ivector("i")
    f = tj.function([x, i], x[i] * 2)
    xv = np.arange(5.0)
    f(xv, np.array([1], "int32"))
    for bad in ((xv, np.array([9], "int32")), (xv[None, :], np.array([1], "int32")),
                (xv, np.array([1.5]))):
        with pytest.raises(Exception) as native:
            f(*bad)
        entry, f._py_entry = f._py_entry, None
        with pytest.raises(Exception) as python:
            f(*bad)
        f._py_entry = entry
        assert type(native.value) is type(python.value)
        assert str(native.value) == str(python.value)
    np.testing.assert_array_equal(f(xv, np.array([4, -1], "int32")), [8.0, 8.0])


def test_shared_values_are_read_at_each_call():
    x = tj.vector("x")
    w = tj.shared(np.ones(3), name="w")
    f = tj.function([x], x * w)
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 1.0, 2.0])
    w.set_value(np.full(3, 2.0))
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])
    w.set_value(np.full(4, 3.0))  # another shape: another plan
    np.testing.assert_array_equal(f(np.arange(4.0)), [0.0, 3.0, 6.0, 9.0])
    w.set_value(np.arange(3.0)[::-1].copy())
    np.testing.assert_array_equal(f(np.ones(3)), [2.0, 1.0, 0.0])


def test_results_are_fresh_arrays():
    x = tj.vector("x")
    f = tj.function([x], [x + 0.0, x * 1.0])
    a = np.arange(3.0)
    r1, r2 = f(a)
    s1, _ = f(a)
    assert not np.shares_memory(r1, a) and not np.shares_memory(r1, r2)
    assert not np.shares_memory(r1, s1)
    r1[0] = 99.0
    assert a[0] == 0.0 and s1[0] == 0.0


def test_no_reference_leaks():
    x = tj.matrix("x")
    w = tj.shared(np.ones((3, 2)), name="w")
    f = tj.function([x], [tj.dot(x, w), x.sum()])
    c = tj.shared(np.zeros(2), name="c")
    g = tj.function([x], tj.dot(x, w)[0], updates={c: c + 1.0})
    a = np.ones((4, 3))
    f(a), g(a)
    before = (sys.getrefcount(a), sys.getrefcount(w._value), sys.getrefcount(NotImplemented))
    for _ in range(2000):
        f(a)
        f(np.ones((4, 3), np.float32))  # declined every time: NotImplemented returned
        r = g(a)
    after = (sys.getrefcount(a), sys.getrefcount(w._value), sys.getrefcount(NotImplemented))
    assert after == before
    counts = (sys.getrefcount(r), sys.getrefcount(c._value))  # outside the assert: pytest
    assert counts == (2, 2)                                    # keeps what it shows
    np.testing.assert_array_equal(c.get_value(), [2001.0, 2001.0])


def test_large_calls_release_the_gil_and_still_agree():
    x = tj.vector("x")
    f = tj.function([x], tj.exp(x) + 1.0)
    a = np.linspace(-3, 3, 1 << 17)
    _same(*_both(f, a))
    assert f.program._last_plan.nbytes >= (1 << 18)


@pytest.mark.parametrize("entry", [True, False])
def test_concurrent_calls_of_one_function_from_threads(entry):
    """The plan's buffers serve one call at a time: before calls took turns, threads
    calling one function overwrote each other's pointers (wrong results, heap
    corruption). Large enough that the GIL is released around the kernels."""
    import threading
    x = tj.matrix("x")
    outputs = [tj.sum(tj.softmax(x) * x, axis=1), tj.max(tj.log_softmax(x * 2.0), axis=0)]
    f = tj.function([x], outputs)
    if not entry:
        f._py_entry = None
    reference = tj.function([x], outputs, mode="py")
    arrays = [np.random.default_rng(k).random((256, 256)) * (k + 1) for k in range(4)]
    want = [reference(a) for a in arrays]
    bad = []

    def work(k):
        for _ in range(40):
            got = f(arrays[k])
            if not all(np.allclose(g, w) for g, w in zip(got, want[k])):
                bad.append(k)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert f.program._last_plan.nbytes >= (1 << 18)
    assert bad == []
