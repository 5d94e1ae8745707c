"""Shape manipulation: dimshuffle/transpose, reshape/flatten, squeeze/expand_dims, shape.

Shape arguments may be Python/NumPy ints, 0-d integer variables or integer vectors;
``as_shape_vector`` turns any of them into one int64 vector (through ``MakeVector``
when some entries are symbolic), and ``static_int_values`` recovers the entries that
are known when the graph is built, so static output shapes are inferred wherever the
information exists (``reshape(x (None, 4), (-1, 2))`` has static shape (None, 2)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "dimshuffle",
    "expand_dims",
    "flatten",
    "make_vector",
    "permute_dims",
    "reshape",
    "shape",
    "shape_i",
    "size",
    "specify_shape",
    "squeeze",
    "transpose",
]

from ..basic import OPERATORS, Apply, Constant, Op, Variable, as_variable, constant
from ..types import INT_DTYPES, TensorType, shape_str
from .elemwise import mul

# Ops that only move entries of their first input around (gathers). For those,
# static_int_values finds which known entries they pick by running perform on a probe.
GATHER_OPS: set[str] = {"Subtensor", "DimShuffle", "Reshape"}
_MAX_STATIC_DEPTH = 32


@dataclass(frozen=True)
class DimShuffle(Op):
    """Permute axes, insert broadcastable axes ('x') and drop size-1 axes.

    ``new_order[j]`` is the input axis that becomes output axis j, or 'x' for a new
    axis of length 1. Input axes not mentioned are dropped; they must have static size 1.
    """

    new_order: tuple[int | str, ...]

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        axes = [a for a in self.new_order if a != "x"]
        if any(not isinstance(a, int) or not 0 <= a < x.ndim for a in axes) or \
                len(set(axes)) != len(axes):
            raise ValueError(f"dimshuffle(): invalid order {self.new_order} for a "
                             f"{x.ndim}-d input {x.describe()}")
        for a in range(x.ndim):
            if a not in axes and x.type.shape[a] != 1:
                raise ValueError(f"dimshuffle(): cannot drop axis {a} of {x.describe()}: "
                                 f"only axes of static length 1 can be dropped")
        shape = tuple(1 if a == "x" else x.type.shape[a] for a in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def perform(self, node, inputs):
        (x,) = inputs
        axes = [a for a in self.new_order if a != "x"]
        dropped = tuple(a for a in range(x.ndim) if a not in axes)
        if any(x.shape[a] != 1 for a in dropped):
            raise ValueError(f"dimshuffle(): axis to drop has length != 1 in shape {x.shape}")
        y = np.transpose(x.reshape([s for a, s in enumerate(x.shape) if a in axes]
                                   if dropped else x.shape),
                         [sorted(axes).index(a) for a in axes])
        shape = []
        it = iter(y.shape)
        for a in self.new_order:
            shape.append(1 if a == "x" else next(it))
        return [y.reshape(shape)]

    def infer_shape(self, node, input_shapes, input_values=()):
        (s,) = input_shapes
        return [tuple(1 if a == "x" else s[a] for a in self.new_order)]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if not x.type.is_float:
            return [None]
        order = tuple(self.new_order.index(i) if i in self.new_order else "x"
                      for i in range(x.ndim))
        return [DimShuffle(order)(output_grads[0])]

    def R_op(self, inputs, outputs, eval_points):
        return [None if eval_points[0] is None else DimShuffle(self.new_order)(eval_points[0])]

    def __str__(self):
        return "DimShuffle{" + ",".join(str(a) for a in self.new_order) + "}"


def dimshuffle(x: Any, *order: Any) -> Variable:
    """x with axes permuted/inserted/dropped: dimshuffle(x, (1, 'x', 0)) or (x, 1, 'x', 0)."""
    x = as_variable(x)
    if len(order) == 1 and isinstance(order[0], (tuple, list)):
        order = tuple(order[0])
    order = tuple(a if a == "x" else int(a) for a in order)
    if order == tuple(range(x.ndim)):
        return x
    return DimShuffle(order)(x)


# --------------------------------------------------------------------------------------
# Shapes as symbolic integers


@dataclass(frozen=True)
class Shape(Op):
    """The runtime shape of x as an int64 vector."""

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))])

    def perform(self, node, inputs):
        return [np.array(inputs[0].shape, dtype="int64")]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [(len(input_shapes[0]),)]

    def L_op(self, inputs, outputs, output_grads):
        return [None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


def shape(x: Any) -> Variable:
    """The symbolic shape of x (an int64 vector)."""
    return Shape()(as_variable(x))


@dataclass(frozen=True)
class ShapeI(Op):
    """The runtime length of axis ``i`` of x, as an int64 scalar."""

    i: int

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"shape_i(): axis {self.i} is out of range for "
                             f"{x.describe()}")
        return Apply(self, [x], [TensorType("int64", ())])

    def perform(self, node, inputs):
        return [np.array(inputs[0].shape[self.i], dtype="int64")]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [()]

    def L_op(self, inputs, outputs, output_grads):
        return [None]

    def R_op(self, inputs, outputs, eval_points):
        return [None]


def shape_i(x: Any, i: int) -> Variable:
    """Length of axis i of x as an int64 scalar (a constant when statically known)."""
    x = as_variable(x)
    if not -x.ndim <= i < x.ndim:
        raise ValueError(f"shape_i(): axis {i} is out of range for {x.describe()}")
    i = i % x.ndim
    if x.type.shape[i] is not None:
        return constant(x.type.shape[i], dtype="int64")
    return ShapeI(i)(x)


@dataclass(frozen=True)
class MakeVector(Op):
    """An int64 vector from 0-d integer scalars (used to build symbolic shapes)."""

    def make_node(self, *scalars: Any) -> Apply:
        ins = []
        for k, s in enumerate(scalars):
            s = as_variable(s)
            if s.ndim != 0 or s.dtype not in INT_DTYPES:
                raise TypeError(f"make_vector(): input {k} must be a 0-d integer, got "
                                f"{s.describe()}")
            ins.append(s)
        return Apply(self, ins, [TensorType("int64", (len(ins),))])

    def perform(self, node, inputs):
        return [np.array([int(v) for v in inputs], dtype="int64").reshape(len(inputs))]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [(len(input_shapes),)]

    def L_op(self, inputs, outputs, output_grads):
        return [None] * len(inputs)

    def R_op(self, inputs, outputs, eval_points):
        return [None]


def make_vector(*scalars: Any) -> Variable:
    """An int64 vector of the given integer scalars (ints or 0-d integer variables)."""
    return MakeVector()(*[_as_int_scalar(s, "make_vector", k) for k, s in enumerate(scalars)])


def _as_int_scalar(s: Any, fname: str, k: int) -> Variable:
    if isinstance(s, Variable):
        if s.ndim != 0 or s.dtype not in INT_DTYPES:
            raise TypeError(f"{fname}(): shape entry {k} must be an int or a 0-d integer "
                            f"variable, got {s.describe()}")
        return s
    if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
        raise TypeError(f"{fname}(): shape entry {k} must be an int or a 0-d integer "
                        f"variable, got {s!r}")
    return constant(int(s), dtype="int64")


def as_shape_vector(shp: Any, fname: str) -> Variable:
    """A shape argument (ints, 0-d int variables, or an int vector) as an int64 vector."""
    if isinstance(shp, np.ndarray) and shp.ndim <= 1:
        shp = shp.tolist()
    if isinstance(shp, Variable) and shp.ndim == 1:
        if shp.dtype not in INT_DTYPES or shp.type.shape[0] is None:
            raise TypeError(f"{fname}(): a shape vector must be an integer vector of "
                            f"static length, got {shp.describe()}")
        return shp if shp.dtype == "int64" else _cast_int64(shp)
    if isinstance(shp, Variable) and shp.ndim > 1:
        raise TypeError(f"{fname}(): shape must be ints or an integer vector, got "
                        f"{shp.describe()}")
    entries = list(shp) if isinstance(shp, (tuple, list)) else [shp]
    scalars = [_as_int_scalar(s, fname, k) for k, s in enumerate(entries)]
    if all(isinstance(s, Constant) for s in scalars):
        return constant(np.array([int(s.data) for s in scalars], dtype="int64")
                        .reshape(len(scalars)))
    return MakeVector()(*scalars)


def _cast_int64(v: Variable) -> Variable:
    from .elemwise import cast
    return cast(v, "int64")


def static_int_values(v: Variable, _depth: int = 0) -> tuple[int | None, ...] | None:
    """Entries of a 0-d or 1-d integer variable known when the graph is built.

    Returns one entry per element (None = unknown), or None if v is not an integer
    scalar/vector of static length.
    """
    if v.ndim > 1 or v.dtype not in INT_DTYPES or None in v.type.shape:
        return None
    n = v.type.shape[0] if v.ndim else 1
    unknown: tuple[int | None, ...] = (None,) * n
    if isinstance(v, Constant):
        return tuple(int(a) for a in v.data.reshape(-1))
    node = v.owner
    if node is None or _depth > _MAX_STATIC_DEPTH:
        return unknown
    op = node.op
    if isinstance(op, Shape):
        return node.inputs[0].type.shape
    if isinstance(op, ShapeI):
        return (node.inputs[0].type.shape[op.i],)
    ins = [static_int_values(i, _depth + 1) for i in node.inputs]
    if isinstance(op, MakeVector):
        return tuple(vals[0] for vals in ins)  # type: ignore[index]
    if any(vals is None for vals in ins):
        return unknown
    if all(None not in vals for vals in ins):
        return _fold(node, v, ins) or unknown
    if type(op).__name__ in GATHER_OPS and all(None not in vals for vals in ins[1:]):
        return _probe_gather(node, v, ins) or unknown
    return unknown


def _input_arrays(node: Apply, ins: list, first: np.ndarray | None = None) -> list:
    if not node.inputs:
        return []
    arrays = [np.array(vals, dtype=i.dtype).reshape(i.type.shape)
              for i, vals in zip(node.inputs[1:], ins[1:])]
    if first is None:
        first = np.array(ins[0], dtype=node.inputs[0].dtype).reshape(node.inputs[0].type.shape)
    return [first, *arrays]


def _fold(node: Apply, v: Variable, ins: list) -> tuple[int, ...] | None:
    """Evaluate a node whose inputs are all known small integer arrays."""
    try:
        with np.errstate(all="ignore"):
            outs = node.op.perform(node, _input_arrays(node, ins))
    except Exception:  # noqa: BLE001 -- any failure here resurfaces at run time
        return None
    return tuple(int(a) for a in np.asarray(outs[v.index]).reshape(-1))


def _probe_gather(node: Apply, v: Variable, ins: list) -> tuple[int | None, ...] | None:
    """For a gather op, run perform on positions 0..n-1 to see which entries it picks."""
    src = node.inputs[0]
    probe = np.arange(len(ins[0]), dtype="int64").reshape(src.type.shape)
    try:
        outs = node.op.perform(node, _input_arrays(node, ins, first=probe))
    except Exception:  # noqa: BLE001 -- unknown then; run time reports errors
        return None
    picked = np.asarray(outs[v.index]).reshape(-1)
    return tuple(ins[0][int(p)] for p in picked)


# --------------------------------------------------------------------------------------
# Reshape and friends


def _prod(values: Sequence[int]) -> int:
    return math.prod(int(s) for s in values)


def _static_reshape(in_shape: Sequence[int | None], target: Sequence[int | None],
                    where: str) -> tuple[int | None, ...]:
    """The static output shape of a reshape, or ValueError for a known mismatch."""
    known = [t for t in target if t is not None]
    if any(t < -1 for t in known):
        raise ValueError(f"reshape(): negative size in target shape {_fmt(target)}{where}")
    if known.count(-1) > 1:
        raise ValueError(f"reshape(): at most one -1 allowed in target shape "
                         f"{_fmt(target)}{where}")
    out = [t if t is not None and t >= 0 else None for t in target]
    total = 0 if 0 in in_shape else (None if None in in_shape else _prod(in_shape))
    if total is None:
        return tuple(out)
    fixed = _prod(t for t in known if t >= 0)
    bad = f"reshape(): cannot reshape {_fmt(in_shape)} ({total} elements) into " \
          f"{_fmt(target)}{where}"
    if None not in target and -1 not in target and fixed != total:
        raise ValueError(bad)
    if (fixed and total % fixed) or (fixed == 0 and -1 not in target and total):
        raise ValueError(bad)
    if None not in target and -1 in target:
        if fixed == 0:
            raise ValueError(bad + ": the -1 is ambiguous when other sizes are 0")
        out[list(target).index(-1)] = total // fixed
    return tuple(out)


def _fmt(shape: Sequence[int | None]) -> str:
    return shape_str(tuple(shape))


def _resolve_reshape(in_shape: tuple[int, ...], target: Sequence[int]) -> tuple[int, ...]:
    """The concrete output shape of a reshape (resolving one -1), or ValueError."""
    target = [int(t) for t in target]
    total = _prod(in_shape)
    bad = f"reshape(): cannot reshape an array of shape {tuple(in_shape)} " \
          f"({total} elements) into shape {tuple(target)}"
    if any(t < -1 for t in target) or target.count(-1) > 1:
        raise ValueError(bad + ": sizes must be >= 0 with at most one -1")
    if -1 in target:
        fixed = _prod(t for t in target if t != -1)
        if fixed == 0 or total % fixed:
            raise ValueError(bad)
        target[target.index(-1)] = total // fixed
    if _prod(target) != total:
        raise ValueError(bad)
    return tuple(target)


@dataclass(frozen=True)
class Reshape(Op):
    """x with a new shape of ``ndim`` axes given by an int64 vector (one entry may be -1)."""

    ndim: int
    shape_value_inputs: ClassVar[tuple[int, ...]] = (1,)

    def make_node(self, x: Any, shp: Any) -> Apply:
        x = as_variable(x)
        shp = as_variable(shp)
        if shp.ndim != 1 or shp.dtype not in INT_DTYPES or shp.type.shape[0] != self.ndim:
            raise TypeError(f"reshape(): input 1 must be an integer vector of length "
                            f"{self.ndim}, got {shp.describe()}")
        where = f" for {x.describe()}"
        out = _static_reshape(x.type.shape, static_int_values(shp), where)
        return Apply(self, [x, shp], [TensorType(x.dtype, out)])

    def perform(self, node, inputs):
        x, shp = inputs
        return [x.reshape(_resolve_reshape(x.shape, shp))]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [_resolve_reshape(tuple(input_shapes[0]), input_values[1])]

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        if not x.type.is_float:
            return [None, None]
        return [Reshape(x.ndim)(output_grads[0], shape(x)), None]

    def R_op(self, inputs, outputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [Reshape(self.ndim)(eval_points[0], inputs[1])]


def reshape(x: Any, *newshape: Any) -> Variable:
    """x with a new shape (same number of elements).

    Parameters
    ----------
    x : the tensor to reshape.
    newshape : a tuple/list of ints and/or 0-d integer variables (at most one -1, whose
        size is inferred), an integer vector of static length, or the entries given as
        separate arguments (``x.reshape(2, -1)``).

    A size mismatch known when the graph is built raises ValueError then; otherwise the
    call raises ValueError naming both shapes.
    """
    x = as_variable(x)
    if len(newshape) == 1:
        newshape = newshape[0]
    vec = as_shape_vector(newshape, "reshape")
    return Reshape(vec.type.shape[0])(x, vec)


def _product(x: Variable, axes: Sequence[int]) -> Variable:
    """Product of the lengths of the given axes of x as int64 (constant-folded)."""
    known = _prod(x.type.shape[a] for a in axes if x.type.shape[a] is not None)
    unknown = [a for a in axes if x.type.shape[a] is None]
    if known == 0 or not unknown:
        return constant(known, dtype="int64")
    out = ShapeI(unknown[0])(x)
    for a in unknown[1:]:
        out = mul(out, ShapeI(a)(x))
    return out if known == 1 else mul(out, constant(known, dtype="int64"))


def flatten(x: Any, ndim: int = 1) -> Variable:
    """x reshaped to ``ndim`` axes: the first ndim-1 axes are kept, the rest collapsed."""
    x = as_variable(x)
    if isinstance(ndim, bool) or not isinstance(ndim, (int, np.integer)) or \
            not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten(): ndim must be an int in [1, {max(x.ndim, 1)}] for "
                         f"{x.describe()}, got {ndim!r}")
    keep = [shape_i(x, a) for a in range(ndim - 1)]
    rest = _product(x, range(ndim - 1, x.ndim))
    return reshape(x, (*keep, rest))


def size(x: Any) -> Variable:
    """The number of elements of x as an int64 scalar (a constant when static)."""
    x = as_variable(x)
    return _product(x, range(x.ndim))


# --------------------------------------------------------------------------------------
# Axis permutation, insertion and removal (all DimShuffle)


def transpose(x: Any, *axes: Any) -> Variable:
    """x with axes permuted: reversed by default, or ``axes[j]`` becomes axis j."""
    x = as_variable(x)
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    if axes is None or axes == ():
        perm = tuple(reversed(range(x.ndim)))
    else:
        perm = _check_permutation(tuple(axes), x, "transpose")
    return dimshuffle(x, perm)


def permute_dims(x: Any, axes: Sequence[int]) -> Variable:
    """x with axes permuted so that ``axes[j]`` becomes axis j (array-API name)."""
    return transpose(x, tuple(axes))


def _check_permutation(axes: tuple, x: Variable, fname: str) -> tuple[int, ...]:
    bad = ValueError(f"{fname}(): axes {axes} are not a permutation of "
                     f"{tuple(range(x.ndim))} for {x.describe()}")
    if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise bad
    if len(axes) != x.ndim or any(not -x.ndim <= a < x.ndim for a in axes):
        raise bad
    perm = tuple(int(a) % x.ndim for a in axes)
    if len(set(perm)) != len(perm):
        raise bad
    return perm


def expand_dims(x: Any, axis: int | Sequence[int]) -> Variable:
    """x with new axes of length 1 inserted at the given positions of the result."""
    from .reduce import normalize_axis
    x = as_variable(x)
    n = 1 if isinstance(axis, (int, np.integer)) else len(tuple(axis))
    new = normalize_axis(axis, x.ndim + n, "expand_dims")
    rest = iter(range(x.ndim))
    return dimshuffle(x, tuple("x" if a in new else next(rest) for a in range(x.ndim + n)))


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Variable:
    """x without the given axes of length 1.

    With ``axis=None``, the axes whose STATIC length is 1 are removed (an axis of
    unknown length is kept even if it is 1 at run time: the output's ndim must be known
    when the graph is built). Named axes of unknown length are removed with a run-time
    check that their length is 1; a named axis of known length != 1 is an error.
    """
    from .reduce import normalize_axis
    x = as_variable(x)
    if axis is None:
        axes = tuple(a for a, s in enumerate(x.type.shape) if s == 1)
    else:
        axes = normalize_axis(axis, x.ndim, "squeeze")
    for a in axes:
        if x.type.shape[a] not in (1, None):
            raise ValueError(f"squeeze(): cannot remove axis {a} of {x.describe()}: "
                             f"its length is {x.type.shape[a]}, not 1")
    if any(x.type.shape[a] is None for a in axes):
        x = specify_shape(x, tuple(1 if a in axes else None for a in range(x.ndim)))
    return dimshuffle(x, tuple(a for a in range(x.ndim) if a not in axes))


@dataclass(frozen=True)
class SpecifyShape(Op):
    """x, asserting at run time that its shape matches ``shape`` (None = any length)."""

    shape: tuple[int | None, ...]

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        if len(self.shape) != x.ndim or any(
                a is not None and b is not None and a != b
                for a, b in zip(self.shape, x.type.shape)):
            raise ValueError(f"specify_shape(): shape {_fmt(self.shape)} does not fit "
                             f"{x.describe()}")
        out = tuple(b if a is None else a for a, b in zip(self.shape, x.type.shape))
        return Apply(self, [x], [TensorType(x.dtype, out)])

    def perform(self, node, inputs):
        (x,) = inputs
        if not node.outputs[0].type.accepts_shape(x.shape):
            raise ValueError(f"specify_shape(): the value has shape {x.shape} but the graph "
                             f"declares {_fmt(self.shape)} (from squeeze() of an axis of "
                             f"unknown length, or specify_shape())")
        return [x]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(input_shapes[0])]

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] if inputs[0].type.is_float else None]

    def R_op(self, inputs, outputs, eval_points):
        t = eval_points[0]
        return [None if t is None else SpecifyShape(self.shape)(t)]


def specify_shape(x: Any, shape: Sequence[int | None]) -> Variable:
    """x with a static shape that is checked at run time (None entries = any length)."""
    x = as_variable(x)
    shape = tuple(None if s is None else int(s) for s in shape)
    if shape == x.type.shape:
        return x
    return SpecifyShape(shape)(x)


OPERATORS["dimshuffle"] = dimshuffle
OPERATORS["shape"] = shape
OPERATORS["reshape"] = reshape
OPERATORS["flatten"] = flatten
OPERATORS["transpose"] = transpose
OPERATORS["squeeze"] = squeeze
OPERATORS["size"] = size
