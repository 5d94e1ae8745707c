"""Checking and converting the arguments of a compiled function call."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.basic import Variable
from ..graph.types import FLOAT_DTYPES, shape_str


def describe_input(var: Variable, position: int) -> str:
    name = f"{var.name!r}" if var.name else "(unnamed)"
    return f"input {position} {name}"


def convert_argument(value: Any, var: Variable, position: int, fname: str,
                     allow_downcast: bool) -> np.ndarray:
    """value as an ndarray of var's dtype, ndim and static shape, or a clear error."""
    who = f"{fname}: {describe_input(var, position)}"
    expected = var.type
    if isinstance(value, np.ndarray) and value.dtype.name == expected.dtype:
        arr = value
    elif isinstance(value, Variable):
        raise TypeError(f"{who}: expected a value of type {expected}, got the symbolic "
                        f"variable {value!r}; compiled functions take arrays")
    else:
        arr = _coerce_dtype(value, expected.dtype, who, allow_downcast)
    if arr.ndim != expected.ndim:
        raise TypeError(f"{who}: expected a {expected.ndim}-d array of type {expected}, "
                        f"got a {arr.ndim}-d array of shape {shape_str(arr.shape)}")
    for axis, (want, got) in enumerate(zip(expected.shape, arr.shape)):
        if want is not None and want != got:
            raise ValueError(f"{who}: expected shape {shape_str(expected.shape)}, got "
                             f"{shape_str(arr.shape)} (axis {axis} must be {want})")
    return arr


def _coerce_dtype(value: Any, dtype: str, who: str, allow_downcast: bool) -> np.ndarray:
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        return _coerce_python_scalar(value, dtype, who, allow_downcast)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{who}: cannot convert {type(value).__name__} to an array of "
                        f"{dtype}: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: expected numbers of dtype {dtype}, got an array of "
                        f"dtype {arr.dtype}")
    if arr.dtype.name == dtype:
        return arr
    if np.can_cast(arr.dtype, dtype, "safe") or allow_downcast:
        return arr.astype(dtype)
    if arr.dtype.kind in "iub" and dtype in FLOAT_DTYPES and _ints_exact(arr, dtype):
        return arr.astype(dtype)
    raise TypeError(f"{who}: expected dtype {dtype}, got {arr.dtype.name}; converting "
                    f"would lose precision (cast it, or pass allow_input_downcast=True "
                    f"to function())")


def _ints_exact(arr: np.ndarray, dtype: str) -> bool:
    """Integer data that a float dtype represents exactly (a list of ints is fine)."""
    limit = 2 ** (24 if dtype == "float32" else 53)
    return arr.size == 0 or bool(np.all(np.abs(arr.astype(np.int64)) <= limit))


def _coerce_python_scalar(value: Any, dtype: str, who: str, allow_downcast: bool):
    arr = np.asarray(value)
    if dtype == "bool":
        if isinstance(value, bool) or allow_downcast:
            return np.asarray(bool(value))
    elif dtype in FLOAT_DTYPES:
        return np.asarray(value, dtype=dtype)
    elif isinstance(value, (bool, int)):
        info = np.iinfo(dtype)
        if info.min <= int(value) <= info.max:
            return np.asarray(value, dtype=dtype)
        raise TypeError(f"{who}: the Python int {value} does not fit dtype {dtype}")
    elif allow_downcast:
        return arr.astype(dtype)
    raise TypeError(f"{who}: expected dtype {dtype}, got the Python "
                    f"{type(value).__name__} {value!r}")
