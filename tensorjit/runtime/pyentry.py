"""The native Python entry of a compiled function (codegen/pycall.py): probes and state.

A Function whose program is one native array call, with fresh outputs and no updates,
gets a builtin function object around the compiled ``<name>_py`` entry. Its calls take
no Python frame per step: argument checks, output allocation and the kernels all run
in native code (0-d ``x + 1``: 1.7 -> 0.5 us per call). Anything that entry does not
handle returns ``NotImplemented`` and the Python path runs instead.

The entry reads everything process-specific from a state table (an int64 array kept
here): NumPy's ndarray type and ``PyArray_Empty`` (from NumPy's C-API capsule), the
expected dtype descriptors, the shared variables, and the current plan's pointer table,
meta array and output shapes, which the program updates whenever its last plan changes.
The object layout the entry reads (ob_type, ndarray nd/descr, descr byteorder/type_num)
is checked on probes once; where it differs (a debug CPython, another NumPy ABI) no
entry is made and every call takes the Python path.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..codegen import pycall
from ..codegen.pycall import PyEntrySpec

METH_FASTCALL = 0x0080
# NumPy C-API table entries (numpy/__multiarray_api.h; stable across NumPy 1.x and 2.x)
API_NDARRAY_TYPE = 2
API_EMPTY = 184
# work above which the entry releases the GIL around the kernels (bytes of all values)
RELEASE_GIL_BYTES = 1 << 18


class _MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


def _pythonapi(name: str, restype: Any, argtypes: list) -> Any:
    fn = getattr(ctypes.pythonapi, name)
    fn.restype, fn.argtypes = restype, argtypes
    return fn


@functools.cache
def numpy_api() -> tuple[int, int] | None:
    """(address of the ndarray type, address of PyArray_Empty) once the layout the entry
    relies on has been verified on probe arrays; None where it differs."""
    if hasattr(sys, "gettotalrefcount"):  # a debug CPython has a larger object header
        return None
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath  # type: ignore[no-redef]
    get = _pythonapi("PyCapsule_GetPointer", ctypes.c_void_p, [ctypes.py_object,
                                                              ctypes.c_char_p])
    try:
        table = (ctypes.c_void_p * (API_EMPTY + 1)).from_address(get(umath._ARRAY_API, None))
    except (AttributeError, ValueError, TypeError):
        return None
    if table[API_NDARRAY_TYPE] != id(np.ndarray) or not _layout_ok(table[API_EMPTY]):
        return None
    return table[API_NDARRAY_TYPE], table[API_EMPTY]


def _layout_ok(empty_address: int) -> bool:
    """PyArray_Empty makes what we ask for, and the fields sit where pycall reads them."""
    empty = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                              ctypes.c_void_p, ctypes.c_int)(empty_address)
    for dtype, shape in ((np.dtype("float64"), (3, 5)), (np.dtype("int32"), ())):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(dtype))  # PyArray_Empty steals one
        probe = empty(len(shape), (ctypes.c_int64 * max(1, len(shape)))(*shape), id(dtype), 0)
        if type(probe) is not np.ndarray or probe.shape != shape or probe.dtype != dtype:
            return False
        if not probe.flags.c_contiguous or not _fields_ok(probe):
            return False
    if sys.byteorder != "little":  # the entry takes byteorder '>' as the swapped one
        return False
    swapped = np.dtype("float64").newbyteorder()
    return _read(id(swapped) + pycall.DESCR_BYTEORDER, ctypes.c_char) == b">"


def _read(address: int, ctype: Any) -> Any:
    return ctype.from_address(address).value


def _fields_ok(a: np.ndarray) -> bool:
    base = id(a)
    return (_read(base + pycall.OB_TYPE, ctypes.c_void_p) == id(type(a))
            and _read(base + pycall.ARRAY_ND, ctypes.c_int32) == a.ndim
            and _read(base + pycall.ARRAY_DESCR, ctypes.c_void_p) == id(a.dtype)
            and _read(id(a.dtype) + pycall.DESCR_TYPE_NUM, ctypes.c_int32) == a.dtype.num
            and _read(id(a.dtype) + pycall.DESCR_BYTEORDER, ctypes.c_char) in (b"=", b"|"))


def entry_spec(program: Any, container: type | None, n_updates: int) -> PyEntrySpec | None:
    """The entry's shape for a native program whose last ``n_updates`` outputs are new
    shared values, or None when it gets no entry."""
    if not program.call_vars or not program.fresh_results or numpy_api() is None:
        return None
    kind = {None: "single", list: "list", tuple: "tuple"}.get(container)
    n_out = len(program.fast_outputs)
    if kind is None or (kind == "single" and n_out - n_updates != 1):
        return None
    fg = program.fg
    used = tuple(k for k, v in enumerate(fg.inputs) if v in program.layout.slot)
    # fresh_results: fast_outputs are fg.outputs (the results, then the updates) in order
    return PyEntrySpec(len(fg.inputs), used, len(program.shared), n_out, kind,
                       tuple(range(n_out - n_updates)), n_updates)


class CallLock:
    """A program's lock: its plan's buffers serve one call at a time.

    A PyThread lock, so the native entry can try it without waiting (pycall.py);
    the Python path takes it here, waiting with the GIL released when it is busy."""

    _allocate = _pythonapi("PyThread_allocate_lock", ctypes.c_void_p, [])
    _free = _pythonapi("PyThread_free_lock", None, [ctypes.c_void_p])
    _try = _pythonapi("PyThread_acquire_lock", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int])
    _release = _pythonapi("PyThread_release_lock", None, [ctypes.c_void_p])
    # the same function through ctypes.CFUNCTYPE: called with the GIL released
    _wait = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int)(
        ctypes.cast(ctypes.pythonapi.PyThread_acquire_lock, ctypes.c_void_p).value)

    def __init__(self) -> None:
        self.address = self._allocate()
        if not self.address:
            raise MemoryError("could not allocate a lock for a compiled function")

    def __enter__(self) -> "CallLock":
        if not self._try(self.address, 0):
            self._wait(self.address, 1)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._release(self.address)

    def __del__(self) -> None:
        if getattr(self, "address", None):
            self._free(self.address)


class PyEntry:
    """The builtin function object around one program's entry, and its state table."""

    def __init__(self, program: Any, spec: PyEntrySpec, address: int,
                 updated: Sequence[Any] = ()) -> None:
        self.spec = spec
        self._updated = list(updated)  # the SharedVariables the updates assign, in order
        ndarray, empty = numpy_api()  # type: ignore[misc]
        self.state = np.zeros(spec.state_size, dtype=np.int64)
        self._keep: list[Any] = [sys.intern("_value"), program.lock]
        state = self.state
        state[pycall.S_LOCK] = program.lock.address
        state[pycall.S_NDARRAY], state[pycall.S_EMPTY] = ndarray, empty
        state[pycall.S_NOT_IMPLEMENTED] = id(NotImplemented)
        state[pycall.S_VALUE_NAME] = id(self._keep[0])
        in0, sh0, out0, up0 = spec.record_offsets()
        for j, sv in enumerate(self._updated):
            state[up0 + j * pycall.UPDATE_RECORD] = id(sv)  # kept alive by self._updated
        for i, var in enumerate(program.fg.inputs):
            self._dtype_record(in0 + i * pycall.IN_RECORD, var.dtype, var.ndim)
        for j, sv in enumerate(program.shared):
            state[sh0 + j * pycall.SHARED_RECORD] = id(sv)  # kept alive by the program
            self._dtype_record(sh0 + j * pycall.SHARED_RECORD + 1, sv.dtype, sv.ndim)
        self._out0 = out0
        for k, var in enumerate(program.fast_outputs):
            descr = np.dtype(var.dtype)
            self._keep.append(descr)
            state[out0 + k * pycall.OUT_RECORD] = id(descr)
            state[out0 + k * pycall.OUT_RECORD + 1] = var.ndim
        self._method = _MethodDef(b"tensorjit_entry", address, METH_FASTCALL, None)
        new_capsule = _pythonapi("PyCapsule_New", ctypes.py_object,
                                 [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p])
        self._capsule = new_capsule(state.ctypes.data, None, None)
        new_function = _pythonapi("PyCFunction_NewEx", ctypes.py_object,
                                  [ctypes.POINTER(_MethodDef), ctypes.py_object,
                                   ctypes.py_object])
        self.call = new_function(ctypes.byref(self._method), self._capsule, None)
        self._plan_dims: np.ndarray | None = None

    def _dtype_record(self, slot: int, dtype: str, ndim: int) -> None:
        descr = np.dtype(dtype)
        self._keep.append(descr)
        self.state[slot:slot + 3] = (id(descr), descr.num, ndim)

    def set_plan(self, plan: Any | None) -> None:
        """Point the entry at ``plan`` (None: every call takes the Python path)."""
        state = self.state
        if plan is None:
            state[pycall.S_PTRS] = 0
            return
        shapes: Sequence[tuple[int, ...]] = [shape for shape, _ in plan.fast_alloc]
        dims = np.array([d for shape in shapes for d in shape] or [0], dtype=np.int64)
        offset = 0
        for k, shape in enumerate(shapes):
            state[self._out0 + k * pycall.OUT_RECORD + 2] = dims.ctypes.data + 8 * offset
            offset += len(shape)
        self._plan_dims = dims  # kept alive while the state points into it
        state[pycall.S_META] = plan.meta_addr
        state[pycall.S_RELEASE_GIL] = int(plan.nbytes >= RELEASE_GIL_BYTES)
        # an update whose value has another shape than its variable: the Python path
        # raises the error, so the entry declines this plan
        n = self.spec.n_outputs - self.spec.n_updates
        state[pycall.S_UPDATES_OK] = int(all(
            shapes[n + j] == plan.shapes[sv] if sv in plan.shapes else
            shapes[n + j] == sv._value.shape for j, sv in enumerate(self._updated)))
        state[pycall.S_PTRS] = plan.ptrs_addr


__all__ = ["CallLock", "PyEntry", "entry_spec", "numpy_api"]
