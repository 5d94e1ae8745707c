"""Tensor types: a dtype and a static shape whose entries may be unknown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

DTYPES: tuple[str, ...] = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64",
)
FLOAT_DTYPES: frozenset[str] = frozenset({"float32", "float64"})
INT_DTYPES: frozenset[str] = frozenset({"int8", "int16", "int32", "int64", "uint8"})
DISCRETE_DTYPES: frozenset[str] = INT_DTYPES | {"bool"}

Shape = tuple[int | None, ...]


def normalize_dtype(dtype: Any) -> str:
    """Return the canonical dtype name, or raise TypeError for unsupported dtypes."""
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}") from exc
    if name not in DTYPES:
        raise TypeError(f"unsupported dtype {name!r}; expected one of {', '.join(DTYPES)}")
    return name


def normalize_shape(shape: Iterable[int | None]) -> Shape:
    """Return a shape tuple of non-negative ints and Nones."""
    out: list[int | None] = []
    for s in shape:
        if s is None:
            out.append(None)
            continue
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"shape entries must be int or None, got {s!r}")
        if s < 0:
            raise ValueError(f"shape entries must be >= 0, got {s}")
        out.append(int(s))
    return tuple(out)


@dataclass(frozen=True)
class TensorType:
    """The type of a tensor value: a dtype name and a static shape (None = unknown)."""

    dtype: str
    shape: Shape

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", normalize_dtype(self.dtype))
        object.__setattr__(self, "shape", normalize_shape(self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def is_discrete(self) -> bool:
        return self.dtype in DISCRETE_DTYPES

    def with_dtype(self, dtype: Any) -> "TensorType":
        return TensorType(dtype, self.shape)

    def with_shape(self, shape: Iterable[int | None]) -> "TensorType":
        return TensorType(self.dtype, tuple(shape))

    def is_compatible(self, other: "TensorType") -> bool:
        """Same dtype and ndim, and no static dimension that disagrees."""
        return (
            self.dtype == other.dtype
            and self.ndim == other.ndim
            and all(a is None or b is None or a == b for a, b in zip(self.shape, other.shape))
        )

    def accepts_shape(self, shape: Sequence[int]) -> bool:
        return len(shape) == self.ndim and all(
            s is None or s == v for s, v in zip(self.shape, shape)
        )

    def __str__(self) -> str:
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        if self.ndim == 1:
            dims += ","
        return f"{self.dtype}[{dims}]" if self.ndim else self.dtype


def broadcast_shapes(*shapes: Shape, context: str = "broadcast") -> Shape:
    """Static NumPy broadcasting of shapes with unknown entries.

    A known 1 broadcasts; two known sizes that differ (neither 1) are an error; an
    unknown entry paired with a known size > 1 yields that size (runtime checks the rest).
    """
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out: list[int | None] = []
    for axis in range(ndim):
        dims = [s[axis] for s in padded]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            shown = " and ".join(_shape_str(s) for s in shapes)
            raise ValueError(f"{context}: shapes {shown} cannot broadcast "
                             f"(axis {axis} has sizes {sorted(known)})")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def _shape_str(shape: Sequence[int | None]) -> str:
    inner = ", ".join("?" if s is None else str(s) for s in shape)
    return f"({inner}{',' if len(shape) == 1 else ''})"


shape_str = _shape_str


def upcast(*dtypes: str) -> str:
    """NumPy's promotion of the given dtype names."""
    return np.result_type(*[np.dtype(d) for d in dtypes]).name


def float_dtype_for(dtype: str) -> str:
    """The float dtype an op like exp() computes in for the given input dtype."""
    if dtype in FLOAT_DTYPES:
        return dtype
    # NumPy: int8/uint8/int16/bool -> float16 which we do not support; use float32
    # for the small ints as float32 holds them exactly, float64 for the wide ones.
    return "float32" if dtype in ("bool", "int8", "uint8", "int16") else "float64"
