"""Shape, join and creation ops compiled natively: no fallbacks, NumPy results, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tensorjit as tj

from native_errors import raises_natively

SHAPE_OPS = {"DimShuffle", "Reshape", "Shape", "ShapeI", "AxesSize", "MakeVector",
             "SpecifyShape", "Alloc", "ARange", "Eye", "OneHot", "Join", "Split", "Repeat",
             "Tile"}


def _native(inputs, outputs):
    f = tj.function(inputs, outputs, mode="llvm", optimizer=None)
    left = [str(n.op) for n in f.fallbacks if type(n.op).__name__ in SHAPE_OPS]
    assert left == [], left
    return f


@pytest.mark.parametrize("shape,perm", [
    ((67, 45), (1, 0)),              # blocked path, sizes not multiples of the tile
    ((3, 70, 40), (0, 2, 1)),
    ((5, 6, 7), (2, 0, 1)),
    ((5, 6, 7), (1, 0, 2)),          # inner axis kept: plain loop nest
    ((4, 0, 3), (2, 1, 0)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8"])
def test_transpose(shape, perm, dtype):
    x = tj.tensor(dtype, (None,) * len(shape))
    f = _native([x], tj.transpose(x, perm))
    v = np.arange(np.prod(shape)).reshape(shape).astype(dtype)
    np.testing.assert_array_equal(f(v), np.transpose(v, perm))


def test_dimshuffle_insert_and_drop_is_a_copy():
    x = tj.tensor("float64", (None, 1, None))
    out = x.dimshuffle(0, 2, "x")
    f = _native([x], out)
    v = np.random.default_rng(0).normal(size=(3, 1, 4))
    np.testing.assert_array_equal(f(v), v.reshape(3, 4, 1))
    ir_text = str(f.program.module_ir)
    assert "llvm.memcpy" in ir_text


def test_shape_value_used_at_plan_time_and_by_a_kernel():
    x = tj.matrix("x")
    s = x.shape                      # plan-time (reshape target) AND a kernel input
    y = tj.reshape(x, (s[1], s[0]))
    z = tj.cast(s, "float64") * 2.0  # a native elementwise kernel reads the Shape buffer
    f = _native([x], [y, z, s])
    v = np.arange(6.0).reshape(2, 3)
    got_y, got_z, got_s = f(v)
    np.testing.assert_array_equal(got_y, v.reshape(3, 2))
    np.testing.assert_array_equal(got_z, [4.0, 6.0])
    np.testing.assert_array_equal(got_s, [2, 3])
    got_y, got_z, got_s = f(np.ones((4, 5)))   # a new shape: a new plan
    assert got_y.shape == (5, 4) and list(got_z) == [8.0, 10.0] and list(got_s) == [4, 5]


def test_runtime_shape_kernel_and_sizes():
    x = tj.tensor3("x")
    f = _native([x], [tj.shape(x), tj.size(x), x.mean(axis=(0, 2))])
    v = np.random.default_rng(1).normal(size=(2, 3, 4))
    shp, size, mean = f(v)
    assert list(shp) == [2, 3, 4] and int(size) == 24
    np.testing.assert_allclose(mean, v.mean(axis=(0, 2)))


def test_join_split_repeat_tile():
    a, b = tj.matrix("a"), tj.matrix("b")
    joined = tj.concatenate([a, b], axis=1)
    parts = tj.split(joined, [2, 5], axis=1)
    outs = [joined, *parts, tj.repeat(a, 3, axis=0), tj.tile(b, (2, 1, 3)),
            tj.stack([a, a], axis=2)]
    f = _native([a, b], outs)
    av = np.arange(8.0).reshape(2, 4)
    bv = -np.arange(6.0).reshape(2, 3)
    jv = np.concatenate([av, bv], axis=1)
    want = [jv, *np.split(jv, [2, 5], axis=1), np.repeat(av, 3, axis=0),
            np.tile(bv, (2, 1, 3)), np.stack([av, av], axis=2)]
    for got, w in zip(f(av, bv), want):
        np.testing.assert_array_equal(got, w)


def test_join_mismatch_raises_value_error():
    a, b = tj.matrix("a"), tj.matrix("b")
    f = _native([a, b], tj.concatenate([a, b], axis=0))
    with raises_natively(ValueError, "shape mismatch", match="all axes except 0 must match"):
        f(np.ones((2, 3)), np.ones((2, 4)))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_creation(dtype):
    n = tj.lscalar("n")
    outs = [tj.arange(n, dtype=dtype), tj.arange(2, n * 3, 3, dtype=dtype),
            tj.zeros((n, 2), dtype=dtype), tj.full((2, n), 7, dtype=dtype),
            tj.eye(n, n + 1, 1, dtype=dtype), tj.one_hot(tj.arange(n) % 3, 3, dtype=dtype)]
    f = _native([n], outs)
    want = [np.arange(5, dtype=dtype), np.arange(2, 15, 3, dtype=dtype),
            np.zeros((5, 2), dtype), np.full((2, 5), 7, dtype), np.eye(5, 6, 1, dtype=dtype),
            np.eye(3, dtype=dtype)[np.arange(5) % 3]]
    for got, w in zip(f(5), want):
        assert got.dtype == w.dtype
        np.testing.assert_allclose(got, w, rtol=1e-6)


def test_float_arange_matches_numpy():
    start, stop, step = tj.fscalar(), tj.fscalar(), tj.fscalar()
    out = tj.arange(start, stop, step)
    f = _native([start, stop, step], out)
    f_py = tj.function([start, stop, step], out, mode="py")
    for args in [(0.1, 3.7, 0.3), (5.0, -2.5, -0.7), (0.0, 1.0, 0.1)]:
        a = [np.float32(v) for v in args]
        np.testing.assert_allclose(f(*a), np.arange(*a, dtype="float32"), rtol=1e-6)
    # the length comes from ARange (the graph op), in float64 like Python: for these
    # float32 arguments NumPy gets 10 elements and ARange 11; the kernel follows ARange
    a = [np.float32(v) for v in (5.0, -2.0, -0.7)]
    np.testing.assert_array_equal(f(*a), f_py(*a))


def test_broadcast_to_strict_mismatch_raises():
    x = tj.vector("x")
    n = tj.lscalar("n")
    f = _native([x, n], tj.broadcast_to(x, (2, n)))
    np.testing.assert_array_equal(f(np.arange(3.0), 3), np.broadcast_to(np.arange(3.0), (2, 3)))
    with pytest.raises(ValueError):
        f(np.arange(3.0), 4)


def test_one_hot_out_of_range_raises():
    i = tj.lvector("i")
    f = _native([i], tj.one_hot(i, 4))
    np.testing.assert_array_equal(f(np.array([0, 3])), np.eye(4)[[0, 3]])
    for bad in ([0, 4], [-1, 0], [2**40]):
        with pytest.raises(ValueError):
            f(np.array(bad))


def test_specify_shape_checks_at_run_time():
    x = tj.matrix("x")
    f = _native([x], tj.specify_shape(x, (None, 3)) * 2.0)
    np.testing.assert_array_equal(f(np.ones((2, 3))), np.full((2, 3), 2.0))
    with pytest.raises(ValueError):
        f(np.ones((2, 4)))
