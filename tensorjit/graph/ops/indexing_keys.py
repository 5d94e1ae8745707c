"""Index keys for ``x[key]``: parsing into a static structure, shape rules, bounds checks.

A key is parsed into ``entries`` (the static structure, an Op parameter) and a list of
index Variables (the op's extra inputs). Entries are hashable tuples:

- ``("int", c)``: an integer index; ``c`` is a Python int, or ``SYM`` when it is the
  next index input (a symbolic integer scalar);
- ``("slice", start, stop, step)``: each part an int, None (absent) or ``SYM``;
- ``("newaxis",)``: insert an axis of length 1 (``None`` / ``np.newaxis``);
- ``("array",)``: the next index input is an integer array (advanced indexing);
- ``("mask",)``: the next index input is a boolean array covering as many axes as it
  has dimensions (NumPy: the same as indexing with its ``nonzero()`` arrays).

Ellipsis is expanded while parsing and trailing full slices are dropped, so equal
indexing has one spelling. The same shape rule serves static inference (None = unknown)
and run time (concrete shapes and values), so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..basic import Constant, Variable, constant
from ..types import INT_DTYPES, broadcast_shapes, shape_str

SYM = "?"  # marks a part of the key that is a symbolic input
FULL_SLICE = ("slice", None, None, None)

Entry = tuple


@dataclass
class IndexInfo:
    """What the shape rule knows about one index input (static or at run time)."""

    shape: tuple[int | None, ...]
    value: np.ndarray | None
    who: str


@dataclass
class ParsedKey:
    """A key split into its static structure and its symbolic inputs."""

    entries: tuple[Entry, ...]
    inputs: list[Variable]

    @property
    def advanced(self) -> bool:
        return is_advanced(self.entries)


def is_advanced(entries: Sequence[Entry]) -> bool:
    """Whether a key has integer arrays or masks (advanced indexing)."""
    return any(e[0] in ("array", "mask") for e in entries)


def where(v: Variable) -> str:
    """' (graph built at file:line)' for messages, or ''."""
    return f" (graph built at {v.source_line})" if v.source_line else ""


# --------------------------------------------------------------------------------------
# Parsing


def parse_key(x: Variable, key: Any, fname: str = "getitem") -> ParsedKey:
    """Split a NumPy-style key into entries and index Variables (see module docstring)."""
    items = key if isinstance(key, tuple) else (key,)
    entries: list[Entry | None] = []  # None marks the Ellipsis until it is expanded
    inputs: list[Variable] = []
    consumed = 0
    for pos, item in enumerate(items):
        if item is Ellipsis:
            if None in entries:
                raise IndexError(f"{fname}(): an index can only have a single ellipsis "
                                 f"('...'){where(x)}")
            entries.append(None)
            continue
        entry, new_inputs, n_axes = _parse_item(x, item, pos, fname)
        entries.append(entry)
        inputs.extend(new_inputs)
        consumed += n_axes
    if consumed > x.ndim:
        raise IndexError(f"{fname}(): too many indices for {x.describe()}: it is "
                         f"{x.ndim}-dimensional, but {consumed} were indexed")
    fill = [FULL_SLICE] * (x.ndim - consumed)
    if None in entries:
        at = entries.index(None)
        entries[at:at + 1] = fill
    while entries and entries[-1] == FULL_SLICE:
        entries.pop()
    return ParsedKey(tuple(entries), inputs)  # type: ignore[arg-type]


def _parse_item(x: Variable, item: Any, pos: int,
                fname: str) -> tuple[Entry, list[Variable], int]:
    """One element of the key -> (entry, index inputs, number of axes it consumes)."""
    if item is None:
        return ("newaxis",), [], 0
    if isinstance(item, slice):
        parts, inputs = [], []
        for what, part in (("start", item.start), ("stop", item.stop), ("step", item.step)):
            p, var = _slice_part(x, part, pos, what, fname)
            parts.append(p)
            inputs.extend(var)
        if parts[2] == 0:
            raise ValueError(f"{fname}(): slice step cannot be zero (index position {pos})"
                             f"{where(x)}")
        return ("slice", *parts), inputs, 1
    if isinstance(item, (bool, np.bool_)):
        raise NotImplementedError(
            f"{fname}(): a scalar boolean index (position {pos}) is not supported; use a "
            f"boolean array mask or tj.where{where(x)}")
    if isinstance(item, (int, np.integer)):
        return ("int", int(item)), [], 1
    if isinstance(item, Variable):
        return _parse_variable(x, item, pos, fname)
    if isinstance(item, (np.ndarray, list, tuple, range)):
        return _parse_variable(x, _array_constant(x, item, pos, fname), pos, fname)
    if isinstance(item, (float, np.floating)):
        raise TypeError(f"{fname}(): index at position {pos} is the float {item!r}; "
                        f"indices must be integers{where(x)}")
    raise TypeError(f"{fname}(): index at position {pos} has unsupported type "
                    f"{type(item).__name__}; expected an int, a slice, None, Ellipsis, an "
                    f"integer or boolean array, or a symbolic integer{where(x)}")


def _parse_variable(x: Variable, v: Variable, pos: int,
                    fname: str) -> tuple[Entry, list[Variable], int]:
    if v.dtype not in INT_DTYPES and v.dtype != "bool":
        raise TypeError(f"{fname}(): index at position {pos} is {v.describe()}; index "
                        f"arrays and scalars must have an integer (or boolean) dtype, "
                        f"got {v.dtype} (cast it, e.g. tj.cast(i, 'int64')){where(x)}")
    if v.ndim == 0:
        if v.dtype == "bool":
            raise NotImplementedError(
                f"{fname}(): a 0-d boolean index (position {pos}, {v.describe()}) is not "
                f"supported; use a boolean array mask or tj.where{where(x)}")
        if isinstance(v, Constant):
            return ("int", int(v.data)), [], 1
        return ("int", SYM), [v], 1
    if v.dtype == "bool":
        return ("mask",), [v], v.ndim
    return ("array",), [v], 1


def _array_constant(x: Variable, item: Any, pos: int, fname: str) -> Variable:
    """A NumPy array / list used as an index -> a Constant of a supported dtype."""
    try:
        arr = np.asarray(item)
    except ValueError as exc:
        raise TypeError(f"{fname}(): index at position {pos} is not a regular array: "
                        f"{exc}{where(x)}") from None
    if arr.dtype == object:
        raise TypeError(f"{fname}(): index at position {pos} mixes symbolic and numeric "
                        f"values or is ragged; build symbolic index arrays with "
                        f"tj.stack{where(x)}")
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype("int64")  # NumPy treats an empty list as an integer index
    if arr.dtype.kind == "u" and arr.dtype.name != "uint8" or (
            arr.dtype.kind == "i" and arr.dtype.name not in INT_DTYPES):
        arr = arr.astype("int64")
    if arr.dtype.kind not in "biu":
        raise TypeError(f"{fname}(): index at position {pos} has dtype {arr.dtype}; index "
                        f"arrays must have an integer or boolean dtype{where(x)}")
    return constant(arr)


def _slice_part(x: Variable, part: Any, pos: int, what: str,
                fname: str) -> tuple[int | str | None, list[Variable]]:
    if part is None:
        return None, []
    if isinstance(part, (bool, np.bool_)) or not isinstance(
            part, (int, np.integer, Variable, np.ndarray)):
        raise TypeError(f"{fname}(): slice {what} at index position {pos} must be an int, "
                        f"None or a symbolic integer scalar, got {part!r}{where(x)}")
    if isinstance(part, (int, np.integer)):
        return int(part), []
    v = part if isinstance(part, Variable) else constant(part)
    if v.ndim != 0 or v.dtype not in INT_DTYPES:
        raise TypeError(f"{fname}(): slice {what} at index position {pos} must be an "
                        f"integer scalar, got {v.describe()}{where(x)}")
    if isinstance(v, Constant):
        return int(v.data), []
    return SYM, [v]


# --------------------------------------------------------------------------------------
# Shape rule and bounds checks (static when values/dims are None, concrete at run time)


def slice_length(n: int | None, start: Any, stop: Any, step: Any) -> int | None:
    """Length of ``range(n)[start:stop:step]``; parts may be SYM (unknown), n None."""
    if n == 0:
        return 0
    if step == SYM:
        return None
    if n is not None and SYM not in (start, stop):
        return len(range(*slice(start, stop, step).indices(n)))
    step = 1 if step is None else step
    if start is None and stop is None and step in (1, -1):
        return n
    if step > 0 and start is None:
        start = 0
    same_side = isinstance(start, int) and isinstance(stop, int) and (
        (start >= 0) == (stop >= 0))
    if same_side and (stop - start) * step <= 0:
        return 0  # empty whatever the axis length
    return None


def check_int_index(value: Any, n: int | None, axis: int, who: str, fname: str) -> None:
    """IndexError if a known integer index is outside [-n, n)."""
    if value == SYM or value is None or n is None:
        return
    if not -n <= value < n:
        what = f" ({who})" if who else ""
        raise IndexError(f"{fname}(): index {value}{what} is out of range for axis {axis} "
                         f"of size {n}")


def check_array_index(info: IndexInfo, n: int | None, axis: int, fname: str) -> None:
    """IndexError naming the index input if a known index array has an entry out of range."""
    if info.value is None or n is None or info.value.size == 0:
        return
    lo, hi = int(info.value.min()), int(info.value.max())
    if lo < -n or hi >= n:
        bad = hi if hi >= n else lo
        raise IndexError(f"{fname}(): {info.who} has value {bad}, out of range for axis "
                         f"{axis} of size {n}")


def check_mask(info: IndexInfo, dims: Sequence[int | None], axis: int, fname: str) -> None:
    """IndexError if a boolean mask's known shape disagrees with the axes it covers."""
    for m, d in zip(info.shape, dims):
        if m is not None and d is not None and m != d:
            last = axis + len(info.shape) - 1
            raise IndexError(f"{fname}(): boolean mask {info.who} has shape "
                             f"{shape_str(info.shape)}, which does not match axes "
                             f"{axis}..{last} of the indexed tensor (sizes "
                             f"{shape_str(tuple(dims))})")


def indexed_shape(entries: Sequence[Entry], x_shape: Sequence[int | None],
                  infos: Sequence[IndexInfo], fname: str = "getitem") -> tuple:
    """The shape of x[key] (NumPy rules), checking every index whose value is known."""
    it = iter(infos)
    axis = 0
    parts: list[tuple[bool, tuple]] = []  # (is advanced, dims it contributes)
    for entry in entries:
        kind = entry[0]
        if kind == "newaxis":
            parts.append((False, (1,)))
        elif kind == "slice":
            bounds = [_known_scalar(next(it)) if p == SYM else p for p in entry[1:]]
            parts.append((False, (slice_length(x_shape[axis], *bounds),)))
            axis += 1
        elif kind == "int":
            info = next(it) if entry[1] == SYM else None
            value = entry[1] if info is None else _known_scalar(info)
            check_int_index(value, x_shape[axis], axis, info.who if info else "", fname)
            parts.append((True, ()))
            axis += 1
        elif kind == "mask":
            info = next(it)
            k = len(info.shape)
            check_mask(info, x_shape[axis:axis + k], axis, fname)
            count = None if info.value is None else int(np.count_nonzero(info.value))
            parts.append((True, (count,)))
            axis += k
        else:
            info = next(it)
            check_array_index(info, x_shape[axis], axis, fname)
            parts.append((True, tuple(info.shape)))
            axis += 1
    rest = tuple(x_shape[axis:])
    if not is_advanced(entries):
        return tuple(d for adv, dims in parts if not adv for d in dims) + rest
    return _assemble_advanced(parts, fname) + rest


def _assemble_advanced(parts: list[tuple[bool, tuple]], fname: str) -> tuple:
    """NumPy's placement: broadcast index dims replace adjacent advanced indices in place,
    or go first when the advanced indices are separated by a slice or newaxis."""
    positions = [i for i, (adv, _) in enumerate(parts) if adv]
    try:
        bshape = broadcast_shapes(*[dims for adv, dims in parts if adv])
    except ValueError:
        shown = ", ".join(shape_str(dims) for adv, dims in parts if adv)
        raise IndexError(f"{fname}(): shape mismatch: index arrays of shapes {shown} "
                         f"could not be broadcast together") from None
    basic = [dims for adv, dims in parts if not adv]
    if positions == list(range(positions[0], positions[-1] + 1)):
        before = [d for adv, dims in parts[:positions[0]] for d in dims]
        after = [d for adv, dims in parts[positions[-1] + 1:] for d in dims]
        return tuple(before) + tuple(bshape) + tuple(after)
    return tuple(bshape) + tuple(d for dims in basic for d in dims)


def _known_scalar(info: IndexInfo) -> Any:
    return SYM if info.value is None else int(info.value)


def numpy_key(entries: Sequence[Entry], values: Sequence[np.ndarray]) -> tuple:
    """The NumPy index tuple for entries and concrete index values (masks -> nonzero)."""
    it = iter(values)
    key: list[Any] = []
    for entry in entries:
        kind = entry[0]
        if kind == "newaxis":
            key.append(None)
        elif kind == "slice":
            parts = [int(next(it)) if p == SYM else p for p in entry[1:]]
            if parts[2] == 0:
                raise ValueError("slice step cannot be zero")
            key.append(slice(*parts))
        elif kind == "int":
            key.append(int(next(it)) if entry[1] == SYM else entry[1])
        elif kind == "mask":
            key.extend(np.nonzero(next(it)))
        else:
            key.append(next(it))
    return tuple(key)


def format_entries(entries: Sequence[Entry]) -> str:
    """Entries as a NumPy-like key: '1:?:-1, ?, None, <array>'."""
    out = []
    for entry in entries:
        kind = entry[0]
        if kind == "newaxis":
            out.append("None")
        elif kind == "int":
            out.append(str(entry[1]))
        elif kind in ("array", "mask"):
            out.append(f"<{kind}>")
        else:
            start, stop, step = ("" if p is None else str(p) for p in entry[1:])
            out.append(f"{start}:{stop}" + (f":{step}" if step else ""))
    return ", ".join(out)


def validate_entries(entries: Any, cls_name: str, advanced: bool) -> None:
    """ValueError unless entries is a well-formed key structure for this op class."""
    if not isinstance(entries, tuple):
        raise TypeError(f"{cls_name}: idx_list must be a tuple, got {entries!r}")
    for e in entries:
        ok = isinstance(e, tuple) and bool(e) and (
            e in (("newaxis",), ("array",), ("mask",))
            or (e[0] == "int" and len(e) == 2 and _is_part(e[1], allow_none=False))
            or (e[0] == "slice" and len(e) == 4 and all(_is_part(p) for p in e[1:])))
        if not ok:
            raise ValueError(f"{cls_name}: malformed index entry {e!r}")
    has_array = is_advanced(entries)
    if has_array != advanced:
        need = "at least one" if advanced else "no"
        use = "the Advanced* indexing ops" if has_array else "the basic indexing ops"
        raise ValueError(f"{cls_name}: idx_list must have {need} array or mask entry; use "
                         f"{use} for this key")


def _is_part(p: Any, allow_none: bool = True) -> bool:
    return (p is None and allow_none) or p == SYM or (
        isinstance(p, int) and not isinstance(p, bool))


def index_input_kinds(entries: Sequence[Entry]) -> list[str]:
    """The kind of each index input the entries expect, in order: 'scalar' (in an int
    entry), 'bound' (a slice part), 'array' or 'mask'."""
    kinds = []
    for e in entries:
        if e[0] in ("array", "mask"):
            kinds.append(e[0])
        elif e[0] == "int":
            kinds.extend("scalar" for p in e[1:] if p == SYM)
        else:
            kinds.extend("bound" for p in e[1:] if p == SYM)
    return kinds
