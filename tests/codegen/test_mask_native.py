"""Boolean-mask indexing under mode="llvm": reads, set/inc, gradients, errors, no fallbacks.

Every check compares mode="llvm" with the reference evaluator (mode="py") on the same
graph and asserts the native function has no fallback node.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from native_errors import raises_natively

import tensorjit as tj

Key = Callable  # (x, m, i) -> x[...]: works on Variables and on NumPy arrays alike

# (name, x shape, mask shape, index array or None, key)
READS: list[tuple[str, tuple, tuple, np.ndarray | None, Key]] = [
    ("1d", (5,), (5,), None, lambda x, m, i: x[m]),
    ("2d_full", (3, 4), (3, 4), None, lambda x, m, i: x[m]),
    ("3d_full", (2, 3, 4), (2, 3, 4), None, lambda x, m, i: x[m]),
    ("leading_1d", (3, 4, 2), (3,), None, lambda x, m, i: x[m]),
    ("leading_2d", (3, 4, 2), (3, 4), None, lambda x, m, i: x[m]),
    ("middle", (3, 4, 2), (4,), None, lambda x, m, i: x[:, m]),
    ("trailing_2d", (3, 4, 2), (4, 2), None, lambda x, m, i: x[:, m]),
    ("trailing_ellipsis", (3, 4, 2), (2,), None, lambda x, m, i: x[..., m]),
    ("slice_before", (5, 4), (4,), None, lambda x, m, i: x[1:4, m]),
    ("reversed_slice_after", (4, 5), (4,), None, lambda x, m, i: x[m, ::-2]),
    ("newaxis", (3, 4), (3,), None, lambda x, m, i: x[None, m]),
    ("int_adjacent", (3, 4, 2), (4, 2), None, lambda x, m, i: x[-1, m]),
    ("int_separated", (3, 4, 2), (3,), None, lambda x, m, i: x[m, :, 1]),
    ("array_adjacent", (3, 4, 2), (3,), np.array([-1]), lambda x, m, i: x[m, i]),
    ("array_separated", (3, 4, 5), (3,), np.array([[4], [0]]),
     lambda x, m, i: x[m, :, i]),
]


class _KeyOf:
    """key(_KEY, m, i) is the NumPy index tuple itself."""

    def __getitem__(self, key):
        return key if isinstance(key, tuple) else (key,)


_KEY = _KeyOf()


def _nonzero_key(key: Key, mv: np.ndarray, iv: np.ndarray | None) -> tuple:
    """The key with the mask replaced by its nonzero() arrays (for np.add.at)."""
    out: list = []
    for item in key(_KEY, mv, iv):
        is_mask = isinstance(item, np.ndarray) and item.dtype == bool
        out.extend(np.nonzero(item) if is_mask else [item])
    return tuple(out)


def _mask(rng: np.random.Generator, shape: tuple, how: str) -> np.ndarray:
    if how == "none":
        return np.zeros(shape, bool)
    if how == "all":
        return np.ones(shape, bool)
    return rng.random(shape) < 0.5


def _index_var(i: np.ndarray | None):
    return None if i is None else tj.tensor("int64", (None,) * i.ndim, name="i")


def _compile(build: Callable, inputs: list, mode: str):
    return tj.function(inputs, build(*inputs), mode=mode)


def _both(build: Callable, inputs: list, values: list) -> list[np.ndarray]:
    """Outputs of llvm and py (asserting llvm has no fallback and both agree)."""
    f = _compile(build, inputs, "llvm")
    assert f.fallbacks == [], [str(n.op) for n in f.fallbacks]
    g = _compile(build, inputs, "py")
    got, want = f(*values), g(*values)
    got, want = (got, want) if isinstance(got, list) else ([got], [want])
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    return got


def _x_value(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    return (rng.normal(size=shape) * 10).astype(dtype)


@pytest.mark.parametrize("how", ["random", "none", "all"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
@pytest.mark.parametrize("case", READS, ids=[c[0] for c in READS])
def test_read(case, dtype, how):
    _name, xs, ms, iv, key = case
    rng = np.random.default_rng(1)
    xv, mv = _x_value(rng, xs, dtype), _mask(rng, ms, how)
    x = tj.tensor(dtype, (None,) * len(xs), name="x")
    m = tj.tensor("bool", (None,) * len(ms), name="m")
    i = _index_var(iv)
    inputs, values = ([x, m], [xv, mv]) if i is None else ([x, m, i], [xv, mv, iv])
    (got,) = _both(lambda x, m, i=None: key(x, m, i), inputs, values)
    np.testing.assert_array_equal(got, key(xv, mv, iv))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("case", READS, ids=[c[0] for c in READS])
def test_set_and_inc(case, dtype):
    _name, xs, ms, iv, key = case
    rng = np.random.default_rng(2)
    xv, mv = _x_value(rng, xs, dtype), _mask(rng, ms, "random")
    sub = key(xv, mv, iv).shape
    vv = _x_value(rng, sub, dtype)
    x = tj.tensor(dtype, (None,) * len(xs), name="x")
    m = tj.tensor("bool", (None,) * len(ms), name="m")
    v = tj.tensor(dtype, (None,) * len(sub), name="v")
    i = _index_var(iv)

    def build(x, m, v, i=None):
        return [tj.set_subtensor(key(x, m, i), v), tj.inc_subtensor(key(x, m, i), v),
                tj.set_subtensor(key(x, m, i), 0)]

    inputs, values = [x, m, v], [xv, mv, vv]
    if i is not None:
        inputs, values = inputs + [i], values + [iv]
    setv, inc, zero = _both(build, inputs, values)
    want = xv.copy()
    want[key(_KEY, mv, iv)] = vv
    np.testing.assert_array_equal(setv, want)
    want = xv.copy()
    np.add.at(want, _nonzero_key(key, mv, iv), vv)
    np.testing.assert_array_equal(inc, want)
    assert not np.any(key(zero, mv, iv))


def test_value_broadcasts_against_selected_part():
    """A value broadcasts over the selected shape (count, 4): trailing axis, static 1s."""
    x = tj.tensor("float32", (None, None, 4), name="x")
    m = tj.tensor("bool", (None, None), name="m")
    row = tj.tensor("float32", (4,), name="row")
    col = tj.tensor("float32", (None, 1), name="col")

    def build(x, m, row, col):
        return [tj.inc_subtensor(x[m], row), tj.set_subtensor(x[m], col)]

    rng = np.random.default_rng(3)
    xv = rng.normal(size=(2, 3, 4)).astype("float32")
    mv = rng.random((2, 3)) < 0.5
    rv = np.arange(4, dtype="float32")
    cv = np.arange(mv.sum(), dtype="float32")[:, None]
    inc, setv = _both(build, [x, m, row, col], [xv, mv, rv, cv])
    want = xv.copy()
    want[mv] += rv
    np.testing.assert_array_equal(inc, want)
    want = xv.copy()
    want[mv] = cv
    np.testing.assert_array_equal(setv, want)


def test_single_true_broadcast_by_index_array():
    """A count of 1 broadcasts against a longer index array; inc accumulates repeats."""
    x, v = tj.tensor("int64", (None, None), name="x"), tj.lvector("v")
    m, i = tj.tensor("bool", (None,), name="m"), tj.lvector("i")

    def build(x, m, i, v):
        return [x[m, i], tj.inc_subtensor(x[m, i], v), tj.set_subtensor(x.T[i, m], v)]

    xv = np.arange(12).reshape(3, 4)
    mv, iv, vv = np.array([False, True, False]), np.array([3, 0, 3, -1]), np.arange(4)
    got, inc, setv = _both(build, [x, m, i, v], [xv, mv, iv, vv])
    assert setv[0, 1] == 1 and setv[3, 1] in (0, 2, 3)  # x.T[i, 1] = v, i repeats 3
    np.testing.assert_array_equal(got, xv[mv, iv])
    want = xv.copy()
    np.add.at(want, (np.nonzero(mv)[0], iv), vv)
    np.testing.assert_array_equal(inc, want)
    with pytest.raises(IndexError):  # a count of 2 does not broadcast against 4
        tj.function([x, m, i], x[m, i], mode="llvm")(xv, ~mv, iv)


@pytest.mark.parametrize("xs, ms, key", [
    ((0,), (0,), lambda x, m: x[m]),
    ((0, 3), (0,), lambda x, m: x[m]),
    ((2, 0, 4), (2, 0), lambda x, m: x[m]),
    ((2, 3, 0), (2, 3), lambda x, m: x[m]),
    ((2, 0), (0,), lambda x, m: x[:, m]),
])
def test_size_zero(xs, ms, key):
    x = tj.tensor("float64", (None,) * len(xs), name="x")
    m = tj.tensor("bool", (None,) * len(ms), name="m")
    xv, mv = np.ones(xs), np.ones(ms, bool)

    def build(x, m):
        part = key(x, m)
        return [part, tj.inc_subtensor(part, 1.0), tj.set_subtensor(part, 2.0)]

    got, *_ = _both(build, [x, m], [xv, mv])
    assert got.shape == key(xv, mv).shape


def test_mask_computed_from_the_data():
    x = tj.matrix("x")
    rng = np.random.default_rng(4)
    xv = rng.normal(size=(5, 6))

    def build(x):
        return [x[x > 0], tj.set_subtensor(x[x < 0], 0.0), x[:, x[0] > 0] * 2]

    pos, relu, cols = _both(build, [x], [xv])
    np.testing.assert_array_equal(pos, xv[xv > 0])
    np.testing.assert_array_equal(relu, np.maximum(xv, 0))
    np.testing.assert_array_equal(cols, xv[:, xv[0] > 0] * 2)


@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
def test_constant_masks_and_static_shapes(static):
    """All dims constant in the kernel (no runtime shape branch before the mask code)."""
    x = tj.tensor("float64", (3, 4) if static else (None, None), name="x")
    v = tj.tensor("float64", (), name="v")
    rows, cols = np.array([True, False, True]), np.array([False, True, True, True])

    def build(x, v):
        return [x[rows], x[:, cols], tj.inc_subtensor(x[rows], v),
                tj.set_subtensor(x[1:, cols], v), tj.inc_subtensor(x[rows, 1:2], v)]

    xv = np.arange(12.0).reshape(3, 4)
    got = _both(build, [x, v], [xv, np.array(2.0)])
    np.testing.assert_array_equal(got[0], xv[rows])
    np.testing.assert_array_equal(got[1], xv[:, cols])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradient_of_masked_sum_is_native(dtype):
    x = tj.tensor(dtype, (None, None), name="x")
    xv = np.random.default_rng(5).normal(size=(4, 7)).astype(dtype)
    (g,) = _both(lambda x: [tj.grad((x[x > 0] ** 2).sum(), x)], [x], [xv])
    np.testing.assert_allclose(g, 2 * xv * (xv > 0), rtol=1e-6)


def _mismatch_function(mode: str, write: bool):
    """Built on one line, so both modes name the same source line in their errors."""
    x, m = tj.matrix("x"), tj.tensor("bool", (None, None), name="m")
    return tj.function([x, m], tj.inc_subtensor(x[m], 1.0) if write else x[m], mode=mode)


@pytest.mark.parametrize("write", [False, True], ids=["read", "inc"])
@pytest.mark.parametrize("mshape", [(3, 2), (2, 4), (1, 3)])
def test_mismatched_mask_shape_raises_index_error(write, mshape):
    xv, mv = np.zeros((2, 3)), np.ones(mshape, bool)
    with pytest.raises(IndexError, match="does not match axes") as want:
        _mismatch_function("py", write)(xv, mv)
    f = _mismatch_function("llvm", write)
    assert f.fallbacks == []
    f(xv, np.ones((2, 3), bool))  # a plan for good shapes exists
    if write:  # the kernel itself must catch it: no read outside x
        with raises_natively(IndexError, "out of bounds", match="does not match") as got:
            f(xv, mv)
    else:  # the output shape needs the mask: the plan's shape rule catches it
        with pytest.raises(IndexError, match="does not match axes") as got:
            f(xv, mv)
    assert str(got.value) == str(want.value)


def test_two_masks_stay_on_the_reference_path():
    """The one declined combination: two masks in one key (needs a position table)."""
    x = tj.matrix("x")
    a, b = tj.tensor("bool", (None,), name="a"), tj.tensor("bool", (None,), name="b")
    f = tj.function([x, a, b], x[a, b], mode="llvm")
    assert [type(n.op).__name__ for n in f.fallbacks] == ["AdvancedSubtensor"]
    xv = np.arange(12.0).reshape(3, 4)
    av, bv = np.array([True, False, True]), np.array([False, True, True, False])
    np.testing.assert_array_equal(f(xv, av, bv), xv[av, bv])


# --------------------------------------------------------------------------------------
# Random masks and shapes

_FUNCS: dict[tuple, tuple] = {}


def _random_functions(ndim: int, first: int, k: int) -> tuple:
    """(llvm, py) functions of x[(:,)*first + (mask,)], its set, inc; built once."""
    key = (ndim, first, k)
    if key not in _FUNCS:
        x = tj.tensor("float64", (None,) * ndim, name="x")
        m = tj.tensor("bool", (None,) * k, name="m")
        v = tj.tensor("float64", (None,) * (ndim - k + 1), name="v")
        part = x[(slice(None),) * first + (m,)]
        outs = [part, tj.inc_subtensor(part, v), tj.set_subtensor(part, v)]
        _FUNCS[key] = tuple(tj.function([x, m, v], outs, mode=mode)
                            for mode in ("llvm", "py"))
    return _FUNCS[key]


@st.composite
def _mask_problems(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    first = draw(st.integers(0, ndim - 1))
    k = draw(st.integers(1, ndim - first))
    mshape = shape[first:first + k]
    bits = draw(st.lists(st.booleans(), min_size=int(np.prod(mshape)),
                         max_size=int(np.prod(mshape))))
    return shape, first, np.array(bits, bool).reshape(mshape)


@settings(max_examples=60, deadline=None)
@given(_mask_problems())
def test_random_masks_match_reference(problem):
    shape, first, mv = problem
    f, g = _random_functions(len(shape), first, mv.ndim)
    assert f.fallbacks == []
    rng = np.random.default_rng(len(shape) + mv.size)
    xv = rng.normal(size=shape)
    sub = xv[(slice(None),) * first + (mv,)].shape
    vv = rng.normal(size=sub)
    for a, b in zip(f(xv, mv, vv), g(xv, mv, vv)):
        np.testing.assert_array_equal(a, b)
