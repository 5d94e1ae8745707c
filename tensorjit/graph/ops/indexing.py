"""Indexing: ``x[key]`` (basic and advanced), and the scatter ops its gradients need.

- ``Subtensor``: basic indexing (ints, slices, newaxis); a view in NumPy terms.
- ``AdvancedSubtensor``: NumPy advanced indexing with integer arrays and boolean masks
  (a mask is replaced by its ``nonzero()`` arrays, exactly as NumPy defines it), mixed
  with ints, slices and newaxis.
- ``IncSubtensor`` / ``AdvancedIncSubtensor``: ``x`` with ``x[key]`` incremented by (or
  set to) ``v``. The advanced increment accumulates repeated indices (``np.add.at``).

Each op's ``idx_list`` is the static structure of the key (see ``indexing_keys``); the
symbolic integer scalars and index arrays are extra inputs after the data inputs.
Indexing is linear in ``x``, so R_op applies the same op to the tangent, and the L_op
of a read is the increment of zeros (and vice versa).

Limits: 0-d boolean indices (``x[True]``, ``x[b]`` for a bool scalar) are not supported.
The gradient of ``set_subtensor`` with *repeated* advanced indices with respect to the
value counts every duplicate (as Theano/PyTensor do), although only one write survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..basic import OPERATORS, Apply, Op, Variable, as_variable, constant
from ..types import TensorType, shape_str
from .elemwise import cast, sum_to, zeros_like
from .indexing_keys import (
    IndexInfo,
    format_entries,
    index_input_kinds,
    indexed_shape,
    numpy_key,
    parse_key,
    validate_entries,
    where,
)

__all__ = ["inc_subtensor", "set_subtensor"]


@dataclass(frozen=True)
class _IndexOp(Op):
    """Shared machinery: input checks, the shape rule and the NumPy key."""

    idx_list: tuple
    # inputs before the index inputs: (x,) for reads, (x, v) for increments
    n_data: ClassVar[int] = 1
    advanced: ClassVar[bool] = False
    fname: ClassVar[str] = "getitem"

    def __post_init__(self) -> None:
        validate_entries(self.idx_list, type(self).__name__, self.advanced)

    def _check_indices(self, x: Variable, indices: Sequence[Variable]) -> None:
        kinds = index_input_kinds(self.idx_list)
        if len(indices) != len(kinds):
            raise TypeError(f"{self.fname}(): {self} expects {len(kinds)} index inputs, "
                            f"got {len(indices)}{where(x)}")
        for k, (v, kind) in enumerate(zip(indices, kinds)):
            ok = {"array": v.ndim > 0 and _is_int(v.dtype),
                  "mask": v.ndim > 0 and v.dtype == "bool"}.get(
                kind, v.ndim == 0 and _is_int(v.dtype))
            if not ok:
                expected = _EXPECTED.get(kind, "an integer scalar")
                raise TypeError(f"{self.fname}(): input {self.n_data + k} must be "
                                f"{expected}, got {v.describe()}{where(x)}")

    @property
    def shape_value_inputs(self) -> tuple[int, ...]:
        """Positions of index inputs whose values (not only shapes) decide x[key]'s shape:
        slice bounds and masks. Integer arrays and integer scalars do not."""
        kinds = index_input_kinds(self.idx_list)
        return tuple(self.n_data + k for k, kind in enumerate(kinds)
                     if kind in ("bound", "mask"))

    def _static_shape(self, x: Variable, indices: Sequence[Variable]) -> tuple:
        infos = [IndexInfo(v.type.shape, getattr(v, "data", None),
                           f"index input {self.n_data + k} ({v.describe()})")
                 for k, v in enumerate(indices)]
        return indexed_shape(self.idx_list, x.type.shape, infos, self.fname)

    def _runtime_shape(self, node: Apply, shapes: Sequence[tuple[int, ...]],
                       values: Sequence[np.ndarray | None]) -> tuple:
        """x[key]'s shape from the inputs' shapes, and values where known (bounds checks)."""
        infos = []
        for pos in range(self.n_data, len(node.inputs)):
            value = values[pos] if pos < len(values) else None
            infos.append(IndexInfo(tuple(shapes[pos]),
                                   None if value is None else np.asarray(value),
                                   f"index input {pos} ({node.inputs[pos].describe()})"))
        return indexed_shape(self.idx_list, tuple(shapes[0]), infos, self.fname)

    def _key(self, values: Sequence[np.ndarray]) -> tuple:
        return numpy_key(self.idx_list, [np.asarray(v) for v in values])

    def __str__(self) -> str:
        return f"{type(self).__name__}{{[{format_entries(self.idx_list)}]}}"


_EXPECTED = {"array": "an integer array", "mask": "a boolean array"}


def _is_int(dtype: str) -> bool:
    return np.dtype(dtype).kind in "iu"


# --------------------------------------------------------------------------------------
# Reads


@dataclass(frozen=True)
class _Read(_IndexOp):
    """x[key]: inputs (x, *indices)."""

    def make_node(self, x: Any, *indices: Any) -> Apply:
        x = as_variable(x)
        indices = [as_variable(i) for i in indices]
        self._check_indices(x, indices)
        shape = self._static_shape(x, indices)
        return Apply(self, [x, *indices], [TensorType(x.dtype, shape)])

    def perform(self, node, inputs):
        x, values = inputs[0], inputs[1:]
        # bounds checks with clear messages
        self._runtime_shape(node, [np.shape(v) for v in inputs], inputs)
        # a copy, so later in-place work on the result can never write into x
        return [np.array(np.asarray(x)[self._key(values)], dtype=node.outputs[0].dtype)]

    def infer_shape(self, node, input_shapes, input_values=()):
        shape = self._runtime_shape(node, input_shapes, input_values)
        if None in shape:
            raise ValueError(f"{self}: the output shape depends on the values of inputs "
                             f"{self.shape_value_inputs}; pass them in input_values")
        return [shape]

    def L_op(self, inputs, outputs, output_grads):
        x, indices = inputs[0], inputs[1:]
        no_grads: list[Variable | None] = [None] * len(indices)
        if not x.type.is_float:
            return [None, *no_grads]
        g = cast(output_grads[0], x.dtype)
        return [self.inc_class(self.idx_list)(zeros_like(x), g, *indices), *no_grads]

    def R_op(self, inputs, outputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [type(self)(self.idx_list)(eval_points[0], *inputs[1:])]


@dataclass(frozen=True)
class Subtensor(_Read):
    """Basic indexing x[key] with ints, slices (symbolic parts allowed) and newaxis."""

    @property
    def inc_class(self) -> type:
        return IncSubtensor


@dataclass(frozen=True)
class AdvancedSubtensor(_Read):
    """NumPy advanced indexing with integer arrays / boolean masks (a gather)."""

    advanced: ClassVar[bool] = True

    @property
    def inc_class(self) -> type:
        return AdvancedIncSubtensor


# --------------------------------------------------------------------------------------
# Increments / assignments


@dataclass(frozen=True)
class _Write(_IndexOp):
    """x with x[key] += v (or = v when set_instead_of_inc): inputs (x, v, *indices)."""

    set_instead_of_inc: bool = False
    n_data: ClassVar[int] = 2
    fname: ClassVar[str] = "inc_subtensor"

    def make_node(self, x: Any, v: Any, *indices: Any) -> Apply:
        x = as_variable(x)
        v = as_variable(v)
        indices = [as_variable(i) for i in indices]
        self._check_indices(x, indices)
        if v.dtype != x.dtype:
            raise TypeError(f"{self._name()}(): the value has dtype {v.dtype}; expected "
                            f"{x.dtype} like the indexed tensor {x.describe()}{where(v)}")
        sub = self._static_shape(x, indices)
        _check_value_static(self._name(), v, sub)
        return Apply(self, [x, v, *indices], [x.type])

    @property
    def shape_value_inputs(self) -> tuple[int, ...]:
        """None: the output has x's shape whatever the index values."""
        return ()

    def _name(self) -> str:
        return "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"

    def perform(self, node, inputs):
        x, v, values = np.asarray(inputs[0]), np.asarray(inputs[1]), inputs[2:]
        sub = self._runtime_shape(node, [np.shape(v) for v in inputs], inputs)
        _check_value_runtime(self._name(), node.inputs[1], v.shape, sub)
        key = self._key(values)
        out = x.copy()
        if self.set_instead_of_inc:
            out[key] = v
        elif self.advanced:
            np.add.at(out, key, v)  # repeated indices accumulate
        else:
            out[key] += v
        return [out]

    def infer_shape(self, node, input_shapes, input_values=()):
        return [tuple(input_shapes[0])]

    def L_op(self, inputs, outputs, output_grads):
        x, v, indices = inputs[0], inputs[1], inputs[2:]
        g = output_grads[0]
        no_grads: list[Variable | None] = [None] * len(indices)
        if not x.type.is_float:
            return [None, None, *no_grads]
        g = cast(g, x.dtype)
        if self.set_instead_of_inc:
            # the overwritten entries of x do not reach the output
            gx = type(self)(self.idx_list, True)(g, constant(0, dtype=x.dtype), *indices)
        else:
            gx = g
        gv = sum_to(self.read_class(self.idx_list)(g, *indices), v)
        return [gx, gv, *no_grads]

    def R_op(self, inputs, outputs, eval_points):
        x, v, indices = inputs[0], inputs[1], inputs[2:]
        tx, tv = eval_points[0], eval_points[1]
        if tx is None and tv is None:
            return [None]
        tx = zeros_like(x) if tx is None else tx
        tv = zeros_like(v) if tv is None else tv
        return [type(self)(self.idx_list, self.set_instead_of_inc)(tx, tv, *indices)]

    def __str__(self) -> str:
        mode = "set" if self.set_instead_of_inc else "inc"
        return f"{type(self).__name__}{{{mode}, [{format_entries(self.idx_list)}]}}"


@dataclass(frozen=True)
class IncSubtensor(_Write):
    """x with x[key] incremented by (or set to) v, for a basic key."""

    @property
    def read_class(self) -> type:
        return Subtensor


@dataclass(frozen=True)
class AdvancedIncSubtensor(_Write):
    """x with x[key] incremented by (or set to) v for an advanced key (np.add.at)."""

    advanced: ClassVar[bool] = True

    @property
    def read_class(self) -> type:
        return AdvancedSubtensor


def _check_value_static(fname: str, v: Variable, sub: tuple) -> None:
    """The value must broadcast to x[key]'s shape (NumPy rules, known sizes)."""
    if v.ndim > len(sub):
        raise ValueError(f"{fname}(): the value is {v.ndim}-d but the indexed part has "
                         f"shape {shape_str(sub)}; got {v.describe()}")
    for vd, sd in zip(reversed(v.type.shape), reversed(sub)):
        if vd not in (None, 1) and sd is not None and vd != sd:
            raise ValueError(f"{fname}(): the value of shape {shape_str(v.type.shape)} "
                             f"cannot broadcast to the indexed shape {shape_str(sub)} "
                             f"({v.describe()})")


def _check_value_runtime(fname: str, v: Variable, shape: tuple, sub: tuple) -> None:
    """Strict broadcasting: a value axis broadcasts only where its static shape says 1."""
    lead = len(sub) - len(shape)
    for d, (vd, static) in enumerate(zip(shape, v.type.shape)):
        if vd != sub[lead + d] and static != 1:
            raise ValueError(f"{fname}(): the value has shape {shape_str(shape)}, which "
                             f"does not match the indexed shape {shape_str(sub)} on axis "
                             f"{d} (a value axis broadcasts only where its static shape "
                             f"says 1; value: {v.describe()})")


# --------------------------------------------------------------------------------------
# Public functions


def getitem(x: Any, key: Any) -> Variable:
    """x[key] with NumPy semantics (basic and advanced indexing, boolean masks)."""
    x = as_variable(x)
    parsed = parse_key(x, key)
    op = AdvancedSubtensor(parsed.entries) if parsed.advanced else Subtensor(parsed.entries)
    return op(x, *parsed.inputs)


def inc_subtensor(x_sub: Variable, v: Any) -> Variable:
    """The tensor indexed by ``x_sub = x[key]``, with ``v`` added at ``key``.

    Parameters
    ----------
    x_sub : the result of indexing a variable, ``x[key]`` (basic or advanced).
    v : a value broadcastable to ``x[key]``'s shape, cast to ``x``'s dtype.

    Returns
    -------
    A Variable like ``x`` where ``x[key] += v``. Repeated advanced indices accumulate,
    as with ``np.add.at``.
    """
    return _write(x_sub, v, set_instead_of_inc=False)


def set_subtensor(x_sub: Variable, v: Any) -> Variable:
    """The tensor indexed by ``x_sub = x[key]``, with ``x[key] = v``.

    Parameters
    ----------
    x_sub : the result of indexing a variable, ``x[key]`` (basic or advanced).
    v : a value broadcastable to ``x[key]``'s shape, cast to ``x``'s dtype.

    Returns
    -------
    A Variable like ``x`` where ``x[key] = v``. With repeated advanced indices, which
    write survives is unspecified (as in NumPy).
    """
    return _write(x_sub, v, set_instead_of_inc=True)


def _write(x_sub: Variable, v: Any, set_instead_of_inc: bool) -> Variable:
    fname = "set_subtensor" if set_instead_of_inc else "inc_subtensor"
    node = getattr(x_sub, "owner", None)
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        what = x_sub.describe() if isinstance(x_sub, Variable) else repr(x_sub)
        raise TypeError(f"{fname}(): the first argument must be an indexed variable "
                        f"x[key], got {what}")
    x, indices = node.inputs[0], node.inputs[1:]
    v = _coerce_value(fname, v, x)
    cls = AdvancedIncSubtensor if isinstance(node.op, AdvancedSubtensor) else IncSubtensor
    return cls(node.op.idx_list, set_instead_of_inc)(x, v, *indices)


def _coerce_value(fname: str, v: Any, x: Variable) -> Variable:
    if not isinstance(v, Variable):
        arr = np.asarray(v)
        # Python scalars are weak (like NumPy's), but never a float into an integer tensor
        if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and not x.type.is_float):
            raise TypeError(f"{fname}(): cannot write values of dtype {arr.dtype} into "
                            f"{x.describe()}")
        return constant(arr, dtype=x.dtype)
    if v.dtype != x.dtype:
        if not np.can_cast(v.dtype, x.dtype, "same_kind"):
            raise TypeError(f"{fname}(): the value {v.describe()} has dtype {v.dtype}, "
                            f"which cannot be cast to {x.dtype} of {x.describe()}")
        v = cast(v, x.dtype)
    return v


OPERATORS["getitem"] = getitem
