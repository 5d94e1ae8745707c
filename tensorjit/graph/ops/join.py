"""Joining and splitting: concatenate, stack, split, repeat, tile.

The gradients pair up: concatenate's gradient splits, split's concatenates, and
repeat's and tile's reshape the output gradient so the copies get an axis of their
own, then sum over it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = ["concatenate", "repeat", "split", "stack", "tile"]

from ..basic import OPERATORS, Apply, Op, Variable, as_variable
from ..types import INT_DTYPES, TensorType, shape_str, upcast
from .elemwise import cast, zeros_like
from .reduce import normalize_axis
from .reduce import sum as tsum
from .shape import (
    as_shape_vector,
    dimshuffle,
    expand_dims,
    flatten,
    make_vector,
    reshape,
    shape_i,
    static_int_values,
)


@dataclass(frozen=True)
class Join(Op):
    """Concatenation of tensors of one dtype and ndim along ``axis``."""

    axis: int

    def make_node(self, *tensors: Any) -> Apply:
        xs = [as_variable(x) for x in tensors]
        if not xs:
            raise ValueError("concatenate(): need at least one tensor")
        first = xs[0]
        if first.ndim == 0 or not 0 <= self.axis < first.ndim:
            raise ValueError(f"concatenate(): axis {self.axis} is out of range for "
                             f"{first.describe()}")
        for k, x in enumerate(xs):
            if x.ndim != first.ndim or x.dtype != first.dtype:
                raise TypeError(f"concatenate(): input {k} is {x.describe()}; expected "
                                f"a {first.ndim}-d {first.dtype} tensor like input 0")
        return Apply(self, xs, [TensorType(first.dtype, _joined_shape(xs, self.axis))])

    def perform(self, node, inputs):
        _check_join(inputs, self.axis)
        return [np.concatenate(inputs, axis=self.axis)]

    def infer_shape(self, node, input_shapes, input_values=()):
        out = list(input_shapes[0])
        out[self.axis] = sum(s[self.axis] for s in input_shapes)
        return [tuple(out)]

    def L_op(self, inputs, outputs, output_grads):
        if not outputs[0].type.is_float:
            return [None] * len(inputs)
        if len(inputs) == 1:
            return [output_grads[0]]
        sizes = make_vector(*[shape_i(x, self.axis) for x in inputs])
        parts = Split(self.axis, len(inputs), "sizes")(output_grads[0], sizes)
        return list(parts)

    def R_op(self, inputs, outputs, eval_points):
        if all(t is None for t in eval_points):
            return [None]
        ts = [zeros_like(x) if t is None else t for x, t in zip(inputs, eval_points)]
        return [Join(self.axis)(*ts)]


def _joined_shape(xs: Sequence[Variable], axis: int) -> tuple[int | None, ...]:
    out: list[int | None] = []
    for d in range(xs[0].ndim):
        dims = [x.type.shape[d] for x in xs]
        if d == axis:
            out.append(None if None in dims else sum(dims))
            continue
        known = {s for s in dims if s is not None}
        if len(known) > 1:
            shapes = ", ".join(shape_str(x.type.shape) for x in xs)
            raise ValueError(f"concatenate(): shapes {shapes} differ on axis {d}; all "
                             f"axes except the join axis {axis} must match "
                             f"(inputs: {', '.join(x.describe() for x in xs)})")
        out.append(known.pop() if known else None)
    return tuple(out)


def _check_join(values: Sequence[np.ndarray], axis: int) -> None:
    ref = values[0].shape
    for k, v in enumerate(values):
        if any(a != b for d, (a, b) in enumerate(zip(v.shape, ref)) if d != axis):
            raise ValueError(f"concatenate(): input {k} has shape {v.shape} but input 0 "
                             f"has {ref}; all axes except {axis} must match")


def concatenate(tensors: Sequence[Any], axis: int | None = 0) -> Variable:
    """Join tensors along an existing axis (dtypes are promoted as NumPy does).

    Parameters
    ----------
    tensors : a list of tensors with the same ndim and equal lengths on the other axes.
    axis : the axis to join along (negative counts from the end; None flattens first).
    """
    if isinstance(tensors, Variable) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"concatenate(): expected a list of tensors, got {tensors!r}")
    xs = [as_variable(x) for x in tensors]
    if not xs:
        raise ValueError("concatenate(): need at least one tensor")
    if axis is None:
        xs, axis = [flatten(x) for x in xs], 0
    if xs[0].ndim == 0:
        raise ValueError(f"concatenate(): zero-dimensional input {xs[0].describe()} cannot "
                         f"be concatenated; use stack()")
    axis = normalize_axis(axis, xs[0].ndim, "concatenate")[0]
    dtype = upcast(*[x.dtype for x in xs])
    return Join(axis)(*[cast(x, dtype) for x in xs])


def stack(tensors: Sequence[Any], axis: int = 0) -> Variable:
    """Join tensors of equal shapes along a new axis (its position in the result)."""
    if isinstance(tensors, Variable) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"stack(): expected a list of tensors, got {tensors!r}")
    xs = [as_variable(x) for x in tensors]
    if not xs:
        raise ValueError("stack(): need at least one tensor")
    for k, x in enumerate(xs):
        if x.ndim != xs[0].ndim:
            raise ValueError(f"stack(): input {k} is {x.describe()}; expected "
                             f"{xs[0].ndim}-d like input 0")
    axis = normalize_axis(axis, xs[0].ndim + 1, "stack")[0]
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


# --------------------------------------------------------------------------------------
# split


@dataclass(frozen=True)
class Split(Op):
    """x cut into ``n`` pieces along ``axis``.

    ``mode`` says what the second input holds: "sections" (none: n equal pieces, the
    axis length must divide), "indices" (n-1 cut points, NumPy's split semantics) or
    "sizes" (the n piece lengths, summing to the axis length).
    """

    axis: int
    n: int
    mode: str = "sizes"
    shape_value_inputs: ClassVar[tuple[int, ...]] = (1,)

    def make_node(self, x: Any, *cuts: Any) -> Apply:
        x = as_variable(x)
        if self.mode not in ("sections", "indices", "sizes") or self.n < 1:
            raise ValueError(f"split(): bad mode {self.mode!r} or count {self.n}")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"split(): axis {self.axis} is out of range for {x.describe()}")
        want = {"sections": 0, "indices": self.n - 1, "sizes": self.n}[self.mode]
        vec = [as_variable(c) for c in cuts]
        if len(vec) != (self.mode != "sections") or (vec and (
                vec[0].ndim != 1 or vec[0].dtype not in INT_DTYPES
                or vec[0].type.shape[0] != want)):
            raise TypeError(f"split(): mode {self.mode!r} needs an integer vector of "
                            f"length {want}, got {[v.describe() for v in vec]}")
        known = static_int_values(vec[0]) if vec else ()
        lengths = _static_lengths(self, x.type.shape[self.axis], known, x)
        outs = []
        for n in lengths:
            shape = list(x.type.shape)
            shape[self.axis] = n
            outs.append(TensorType(x.dtype, shape))
        return Apply(self, [x, *vec], outs)

    def perform(self, node, inputs):
        x = inputs[0]
        lengths = _split_lengths(self, x.shape[self.axis], inputs[1:])
        bounds = np.cumsum([0, *lengths])
        index = [slice(None)] * x.ndim
        out = []
        for a, b in itertools.pairwise(bounds):
            index[self.axis] = slice(int(a), int(b))
            out.append(x[tuple(index)].copy())
        return out

    def infer_shape(self, node, input_shapes, input_values=()):
        x_shape = input_shapes[0]
        lengths = _split_lengths(self, x_shape[self.axis], list(input_values[1:]))
        return [tuple(n if d == self.axis else s for d, s in enumerate(x_shape))
                for n in lengths]

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        if not x.type.is_float:
            return [None] * len(inputs)
        return [Join(self.axis)(*output_grads)] + [None] * (len(inputs) - 1)

    def R_op(self, inputs, outputs, eval_points):
        if eval_points[0] is None:
            return [None] * len(outputs)
        parts = Split(self.axis, self.n, self.mode)(eval_points[0], *inputs[1:])
        return list(parts) if isinstance(parts, list) else [parts]


def _split_lengths(op: Split, length: int, cuts: Sequence[Any]) -> list[int]:
    """Piece lengths (or ValueError) for an axis of the given length."""
    if op.mode == "sections":
        if length % op.n:
            raise ValueError(f"split(): an axis of length {length} does not divide into "
                             f"{op.n} equal sections")
        return [length // op.n] * op.n
    values = [int(c) for c in np.asarray(cuts[0]).reshape(-1)]
    if op.mode == "sizes":
        if any(v < 0 for v in values) or sum(values) != length:
            raise ValueError(f"split(): sizes {tuple(values)} must be >= 0 and sum to the "
                             f"axis length {length}")
        return values
    points = [0, *values, length]
    # NumPy semantics: each cut point is a slice bound (negatives count from the end,
    # out-of-range ones are clipped, and a piece is empty when its bounds cross)
    lengths = []
    for a, b in itertools.pairwise(points):
        lengths.append(len(range(length)[slice(a, b)]))
    return lengths


def _static_lengths(op: Split, length: int | None, known: tuple,
                    x: Variable) -> list[int | None]:
    if op.mode == "sizes":
        if any(v is not None and v < 0 for v in known):
            raise ValueError(f"split(): negative size in {known} for {x.describe()}")
        if length is not None and None not in known and sum(known) != length:
            raise ValueError(f"split(): sizes {known} do not sum to the length {length} of "
                             f"axis {op.axis} of {x.describe()}")
        return list(known)
    if length is None or None in known:
        return [None] * op.n
    try:
        return _split_lengths(op, length, [np.array(known, dtype="int64")])
    except ValueError as exc:
        raise ValueError(f"{exc} ({x.describe()})") from None


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Variable]:
    """Split x along ``axis`` as NumPy's split does; returns a list of tensors.

    Parameters
    ----------
    x : the tensor to split.
    indices_or_sections : an int n (n equal pieces; the axis length must be divisible
        by n), or a list/vector of cut points (ints or 0-d int variables).
    axis : the axis to cut along.
    """
    x = as_variable(x)
    axis = normalize_axis(axis, x.ndim, "split")[0]
    spec = indices_or_sections
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        if spec < 1:
            raise ValueError(f"split(): number of sections must be >= 1, got {spec}")
        parts = Split(axis, int(spec), "sections")(x)
    else:
        cuts = as_shape_vector(spec, "split")
        parts = Split(axis, cuts.type.shape[0] + 1, "indices")(x, cuts)
    return parts if isinstance(parts, list) else [parts]


# --------------------------------------------------------------------------------------
# repeat and tile


@dataclass(frozen=True)
class Repeat(Op):
    """Each element of x repeated ``repeats`` times along ``axis`` (np.repeat)."""

    repeats: int
    axis: int

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        if not 0 <= self.axis < x.ndim or self.repeats < 0:
            raise ValueError(f"repeat(): bad axis {self.axis} or repeats {self.repeats} "
                             f"for {x.describe()}")
        shape = list(x.type.shape)
        n = shape[self.axis]
        shape[self.axis] = 0 if self.repeats == 0 else (None if n is None else n * self.repeats)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def perform(self, node, inputs):
        return [np.repeat(inputs[0], self.repeats, axis=self.axis)]

    def infer_shape(self, node, input_shapes, input_values=()):
        shape = list(input_shapes[0])
        shape[self.axis] *= self.repeats
        return [tuple(shape)]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if not x.type.is_float:
            return [None]
        # give the copies of each element their own axis (after axis), then sum it
        dims = [shape_i(x, d) for d in range(x.ndim)]
        dims.insert(self.axis + 1, self.repeats)
        g = reshape(output_grads[0], tuple(dims))
        return [tsum(g, axis=self.axis + 1)]

    def R_op(self, inputs, outputs, eval_points):
        t = eval_points[0]
        return [None if t is None else Repeat(self.repeats, self.axis)(t)]


def repeat(x: Any, repeats: int, axis: int | None = None) -> Variable:
    """Repeat each element ``repeats`` times along axis (None: of the flattened x)."""
    x = as_variable(x)
    if isinstance(repeats, (bool, np.bool_)) or not isinstance(repeats, (int, np.integer)):
        raise TypeError(f"repeat(): repeats must be an int, got {repeats!r}")
    if repeats < 0:
        raise ValueError(f"repeat(): repeats must be >= 0, got {repeats}")
    if axis is None:
        x, axis = flatten(x), 0
    axis = normalize_axis(axis, x.ndim, "repeat")[0]
    return Repeat(int(repeats), axis)(x)


@dataclass(frozen=True)
class Tile(Op):
    """x repeated ``reps[d]`` times along each axis d (np.tile; len(reps) >= x.ndim)."""

    reps: tuple[int, ...]

    def make_node(self, x: Any) -> Apply:
        x = as_variable(x)
        if len(self.reps) < x.ndim or any(r < 0 for r in self.reps):
            raise ValueError(f"tile(): bad reps {self.reps} for {x.describe()}")
        shape = self._padded(x.type.shape)
        out = [0 if r == 0 else (None if s is None else s * r)
               for s, r in zip(shape, self.reps)]
        return Apply(self, [x], [TensorType(x.dtype, out)])

    def _padded(self, shape: Sequence[Any]) -> list[Any]:
        return [1] * (len(self.reps) - len(shape)) + list(shape)

    def perform(self, node, inputs):
        return [np.tile(inputs[0], self.reps)]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(s * r for s, r in zip(self._padded(input_shapes[0]), self.reps))]

    def L_op(self, inputs, outputs, output_grads):
        (x,) = inputs
        if not x.type.is_float:
            return [None]
        lead = len(self.reps) - x.ndim
        dims = [1] * lead + [shape_i(x, d) for d in range(x.ndim)]
        # output axis d is (reps[d], dims[d]) in C order: tile copies whole blocks
        split_dims = [v for r, d in zip(self.reps, dims) for v in (r, d)]
        g = reshape(output_grads[0], tuple(split_dims))
        g = tsum(g, axis=tuple(range(0, 2 * len(self.reps), 2)))
        return [dimshuffle(g, tuple(range(lead, len(self.reps))))]

    def R_op(self, inputs, outputs, eval_points):
        t = eval_points[0]
        return [None if t is None else Tile(self.reps)(t)]


def tile(x: Any, reps: int | Sequence[int]) -> Variable:
    """x repeated along each axis as np.tile (reps: ints; shorter reps pad with 1s)."""
    x = as_variable(x)
    reps_t = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if any(isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer))
           for r in reps_t):
        raise TypeError(f"tile(): reps must be ints, got {reps!r}")
    if any(r < 0 for r in reps_t):
        raise ValueError(f"tile(): reps must be >= 0, got {reps!r}")
    reps_t = (1,) * (x.ndim - len(reps_t)) + tuple(int(r) for r in reps_t)
    return Tile(reps_t)(x)


OPERATORS["repeat"] = repeat
