"""Checking and converting the arguments of a compiled function call.

The dtype rules (documented in the README):

- an ndarray (or NumPy scalar) of the input's dtype is used as is (no copy);
- NumPy data of another dtype is converted only when NumPy calls the cast "safe"
  (int32 -> float64, float32 -> float64), or when integer data is exactly
  representable in the float dtype; anything lossy (float64 -> float32, float -> int)
  is a TypeError unless the function was compiled with ``allow_input_downcast=True``;
- Python scalars and (nested) lists/tuples of them are *weak*, as Python scalars are in
  graph expressions: floats are accepted by float32 and float64 inputs, integers by any
  integer input they fit and by float inputs that hold them exactly, bools by anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Variable
from ..graph.types import FLOAT_DTYPES, shape_str


def describe_input(var: Variable, position: int) -> str:
    """'input 1 'y'': how error messages name an argument (position and name)."""
    name = repr(var.name) if var.name else "(unnamed)"
    return f"input {position} {name}"


class InputSpec:
    """What the call path needs to know about one input, computed once per function."""

    __slots__ = ("var", "position", "fname", "allow_downcast", "np_dtype", "ndim",
                 "static")

    def __init__(self, var: Variable, position: int, fname: str,
                 allow_downcast: bool) -> None:
        self.var = var
        self.position = position
        self.fname = fname
        self.allow_downcast = allow_downcast
        self.np_dtype = np.dtype(var.dtype)
        self.ndim = var.ndim
        # Only the static entries need checking; most inputs have none.
        self.static = tuple((axis, size) for axis, size in enumerate(var.type.shape)
                            if size is not None)

    def convert(self, value: Any) -> np.ndarray:
        """value as an array this input accepts; the common case does no conversion."""
        if (type(value) is np.ndarray and value.dtype is self.np_dtype
                and value.ndim == self.ndim):
            shape = value.shape
            for axis, size in self.static:
                if shape[axis] != size:
                    break
            else:
                return value
        return convert_argument(value, self.var, self.position, self.fname,
                                self.allow_downcast)


def convert_argument(value: Any, var: Variable, position: int, fname: str,
                     allow_downcast: bool) -> np.ndarray:
    """value as an ndarray of var's dtype, ndim and static shape, or a clear error."""
    who = f"{fname}: {describe_input(var, position)}"
    expected = var.type
    if isinstance(value, Variable):
        raise TypeError(f"{who}: expected a value of type {expected}, got the symbolic "
                        f"variable {value!r}; compiled functions take arrays")
    arr = coerce_dtype(value, expected.dtype, who, allow_downcast)
    if arr.ndim != expected.ndim:
        raise TypeError(f"{who}: expected a {expected.ndim}-d array of type {expected}, "
                        f"got a {arr.ndim}-d array of shape {shape_str(arr.shape)}")
    for axis, (want, got) in enumerate(zip(expected.shape, arr.shape)):
        if want is not None and want != got:
            raise ValueError(f"{who}: expected shape {shape_str(expected.shape)}, got "
                             f"{shape_str(arr.shape)} (axis {axis} must be {want})")
    return arr


def coerce_dtype(value: Any, dtype: str, who: str, allow_downcast: bool) -> np.ndarray:
    """value as an array of dtype under the rules above; ``who`` starts error messages."""
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        return _coerce_python_scalar(value, dtype, who, allow_downcast)
    weak = isinstance(value, (list, tuple))
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{who}: cannot convert {type(value).__name__} to an array of "
                        f"{dtype}: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: expected numbers of dtype {dtype}, got "
                        f"{type(value).__name__} holding dtype {arr.dtype}")
    target = np.dtype(dtype)
    if arr.dtype == target:
        return arr
    if arr.dtype.name == dtype:  # same type, other byte order
        return arr.astype(target)
    if _lossless(arr, dtype, weak) or allow_downcast:
        return arr.astype(target)
    source = "a list of Python numbers giving" if weak else "an array of"
    raise TypeError(f"{who}: expected dtype {dtype}, got {source} dtype {arr.dtype.name}; "
                    f"converting would lose precision (cast it first, or compile with "
                    f"allow_input_downcast=True)")


def _lossless(arr: np.ndarray, dtype: str, weak: bool) -> bool:
    """Whether converting arr to dtype keeps its meaning (see the module docstring)."""
    if np.can_cast(arr.dtype, dtype, "safe"):
        return True
    kind = arr.dtype.kind
    if kind in "iub" and dtype in FLOAT_DTYPES:
        return _ints_exact(arr, dtype)
    if weak and kind == "f" and dtype in FLOAT_DTYPES:
        return True  # Python floats are weak: they round to float32 as in expressions
    if weak and kind in "iu" and dtype not in FLOAT_DTYPES and dtype != "bool":
        info = np.iinfo(dtype)
        return arr.size == 0 or bool(info.min <= arr.min() and arr.max() <= info.max)
    return False


def _ints_exact(arr: np.ndarray, dtype: str) -> bool:
    """Integer data that a float dtype represents exactly (a list of ints is fine)."""
    limit = 2 ** (24 if dtype == "float32" else 53)
    if arr.size == 0:
        return True
    if arr.dtype.kind == "u":
        return bool(arr.max() <= limit)
    return bool(np.all(np.abs(arr.astype(np.int64)) <= limit))


def _coerce_python_scalar(value: Any, dtype: str, who: str,
                          allow_downcast: bool) -> np.ndarray:
    got = f"the Python {type(value).__name__} {value!r}"
    if dtype == "bool":
        if isinstance(value, bool) or allow_downcast:
            return np.asarray(bool(value))
    elif dtype in FLOAT_DTYPES:
        if isinstance(value, float) or isinstance(value, bool) or allow_downcast:
            return np.asarray(value, dtype=dtype)
        limit = 2 ** (24 if dtype == "float32" else 53)
        if abs(value) <= limit:
            return np.asarray(value, dtype=dtype)
        raise TypeError(f"{who}: {got} is not exactly representable in {dtype}")
    elif isinstance(value, (bool, int)):
        info = np.iinfo(dtype)
        if info.min <= int(value) <= info.max:
            return np.asarray(value, dtype=dtype)
        raise TypeError(f"{who}: {got} does not fit dtype {dtype} "
                        f"(range {info.min} to {info.max})")
    elif allow_downcast:
        return np.asarray(value).astype(dtype)
    raise TypeError(f"{who}: expected dtype {dtype}, got {got}; converting would lose "
                    f"information (compile with allow_input_downcast=True to allow it)")
