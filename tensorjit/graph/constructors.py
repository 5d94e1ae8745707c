"""Named constructors for symbolic inputs: scalar, vector, matrix, ... and dtype forms."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .basic import SharedVariable, Variable
from .types import TensorType

DEFAULT_FLOAT = "float64"
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64",
             "f": "float32", "d": "float64", "": DEFAULT_FLOAT}


def tensor(dtype: Any = DEFAULT_FLOAT, shape: Sequence[int | None] | None = None,
           name: str | None = None, ndim: int | None = None) -> Variable:
    """A symbolic input of the given dtype and static shape (None entries = unknown)."""
    if shape is None:
        if ndim is None:
            raise TypeError("tensor(): give shape=(...) or ndim=")
        shape = (None,) * ndim
    elif ndim is not None and ndim != len(shape):
        raise ValueError(f"tensor(): ndim={ndim} disagrees with shape {tuple(shape)}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"tensor(): name must be a str, got {name!r}")
    return Variable(TensorType(dtype, tuple(shape)), name=name)


def _maker(ndim: int, dtype: str, kind: str) -> Callable[..., Variable]:
    def make(name: str | None = None, shape: Sequence[int | None] | None = None,
             dtype: str = dtype) -> Variable:
        if shape is None:
            shape = (None,) * ndim
        if len(shape) != ndim:
            raise ValueError(f"{kind}(): shape must have {ndim} entries, got {tuple(shape)}")
        return tensor(dtype, shape, name)
    make.__name__ = kind
    make.__doc__ = f"A symbolic {ndim}-d input ({dtype} unless dtype= is given)."
    return make


_KINDS = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}
CONSTRUCTORS: dict[str, Callable[..., Variable]] = {}
for _prefix, _dtype in _PREFIXES.items():
    for _kind, _ndim in _KINDS.items():
        CONSTRUCTORS[_prefix + _kind] = _maker(_ndim, _dtype, _prefix + _kind)
CONSTRUCTORS["bscalar"] = CONSTRUCTORS["bscalar"]  # int8 (as in Theano)


def row(name: str | None = None, dtype: str = DEFAULT_FLOAT) -> Variable:
    """A 1 x n matrix whose first axis broadcasts."""
    return tensor(dtype, (1, None), name)


def col(name: str | None = None, dtype: str = DEFAULT_FLOAT) -> Variable:
    """An n x 1 matrix whose second axis broadcasts."""
    return tensor(dtype, (None, 1), name)


def shared(value: Any, name: str | None = None, shape: Sequence[int | None] | None = None,
           strict: bool = False) -> SharedVariable:
    """A variable whose value persists between calls (parameters); the value is copied."""
    return SharedVariable(value, name=name, shape=shape, strict=strict)
