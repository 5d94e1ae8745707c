"""A CPython entry point in native code: a compiled function callable from Python.

``emit_py_entry`` emits ``PyObject* <name>_py(PyObject* self, PyObject* const* args,
Py_ssize_t nargs)``, the METH_FASTCALL signature, so the runtime can wrap it in a
builtin function object (runtime/pyentry.py). One call then does in native code what
the Python call path does for a steady-state call, without a Python frame per step:

1. check each argument: an exact ``numpy.ndarray`` of the input's dtype (the dtype's
   descriptor itself, or its type number in native byte order) and ndim;
2. read each shared variable's current ``_value`` (``PyObject_GetAttr``), checked alike;
3. allocate the outputs (``PyArray_Empty`` from NumPy's C-API table) in the shapes of
   the current plan;
4. run the program's array call (program.emit_array_call), which checks that every
   array is C-contiguous with the plan's dims, stores the data pointers and runs the
   kernels - with the GIL released when the plan says the work is large;
5. assign the updates' new values to their shared variables, and return the output,
   or a list/tuple of them.

The plan's buffers serve one call at a time: the entry takes the program's lock (a
PyThread lock, ``S_LOCK``) without waiting, and declines when another thread holds it;
the Python path then waits for the lock (runtime/native.py).

Whatever the native path does not handle - another dtype or ndim, an ndarray subclass,
a new shape (another plan), a kernel error, keyword arguments - returns
``NotImplemented`` before any state changed, and the caller takes the Python path,
which converts, plans, runs and raises exactly as before. A failed allocation or
attribute read returns NULL with the Python exception set.

Nothing process-specific is compiled in: the state table (``self``, a capsule around
an int64 array kept by the runtime) holds the addresses of the plan, of NumPy's
ndarray type and ``PyArray_Empty``, of ``NotImplemented``, of the shared variables and
of the expected dtype descriptors, so the object code can be cached on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llvmlite import ir

from .registry import I8P, I32, I64

I8 = ir.IntType(8)
OBJ = I8P  # PyObject*

# state table slots (int64 each); per-variable records follow at FIRST_RECORD
(S_PTRS, S_META, S_RELEASE_GIL, S_NDARRAY, S_EMPTY, S_NOT_IMPLEMENTED, S_VALUE_NAME,
 S_LOCK, S_UPDATES_OK) = range(9)
FIRST_RECORD = 9
IN_RECORD = 3       # expected descr, type number, ndim
SHARED_RECORD = 4   # the SharedVariable object, expected descr, type number, ndim
OUT_RECORD = 3      # descr, ndim, dims pointer (the plan's)
UPDATE_RECORD = 1   # the SharedVariable object an update assigns

# CPython / NumPy object layout (release builds, 64-bit; the runtime checks these on
# probes before it turns the entry on, see runtime/pyentry.py)
OB_TYPE = 8
ARRAY_ND = 24
ARRAY_DESCR = 56
DESCR_BYTEORDER = 26
DESCR_TYPE_NUM = 28


@dataclass(frozen=True)
class PyEntrySpec:
    """The shape of a function's Python entry (all static per compiled function)."""

    n_args: int                    # arguments the function takes
    used: tuple[int, ...]          # which of them the array call takes, in order
    n_shared: int                  # shared values the program reads
    n_outputs: int                 # arrays allocated: the results, then the updates
    container: str                 # "single", "list" or "tuple"
    order: tuple[int, ...]         # result position k holds allocated output order[k]
    n_updates: int = 0             # the last n_updates arrays are new shared values

    def record_offsets(self) -> tuple[int, int, int, int]:
        """Slots where the input, shared, output and update records start."""
        shared = FIRST_RECORD + self.n_args * IN_RECORD
        out = shared + self.n_shared * SHARED_RECORD
        return FIRST_RECORD, shared, out, out + self.n_outputs * OUT_RECORD

    @property
    def state_size(self) -> int:
        return self.record_offsets()[3] + self.n_updates * UPDATE_RECORD


class _Emitter:
    """Builds the entry function; one instance per module."""

    def __init__(self, module: ir.Module, name: str, array_call: ir.Function,
                 spec: PyEntrySpec) -> None:
        self.module, self.spec = module, spec
        self.array_call = array_call
        ty = ir.FunctionType(OBJ, [OBJ, OBJ.as_pointer(), I64])
        self.fn = ir.Function(module, ty, name=name)
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))

    # -- declarations and field access
    def declare(self, name: str, ret: ir.Type, args: Sequence[ir.Type]) -> ir.Function:
        if name in self.module.globals:
            return self.module.globals[name]
        return ir.Function(self.module, ir.FunctionType(ret, list(args)), name=name)

    def field(self, obj: ir.Value, offset: int, ty: ir.Type) -> ir.Value:
        b = self.b
        return b.load(b.bitcast(b.gep(obj, [ir.Constant(I64, offset)]), ty.as_pointer()))

    def slot(self, k: int) -> ir.Value:
        return self.b.load(self.b.gep(self.state, [ir.Constant(I64, k)]))

    def slot_ptr(self, k: int, ty: ir.Type = OBJ) -> ir.Value:
        return self.b.inttoptr(self.slot(k), ty)

    def incref(self, obj: ir.Value) -> None:
        self.b.call(self.declare("Py_IncRef", ir.VoidType(), [OBJ]), [obj])

    def decref(self, obj: ir.Value) -> None:  # NULL-safe (Py_XDECREF)
        self.b.call(self.declare("Py_DecRef", ir.VoidType(), [OBJ]), [obj])

    # -- the function
    def emit(self) -> ir.Function:
        b, spec = self.b, self.spec
        self_obj, args, nargs = self.fn.args
        get = self.declare("PyCapsule_GetPointer", I8P, [OBJ, I8P])
        self.state = b.bitcast(b.call(get, [self_obj, ir.Constant(I8P, None)]),
                               I64.as_pointer())
        n_held = spec.n_shared + spec.n_outputs
        self.held = b.alloca(OBJ, size=ir.Constant(I64, max(1, n_held)), name="held")
        for k in range(n_held):
            b.store(ir.Constant(OBJ, None), b.gep(self.held, [ir.Constant(I64, k)]))
        self.declined = self.fn.append_basic_block("declined")  # nothing held, unlocked
        self._exits()
        in0, sh0, out0, up0 = spec.record_offsets()
        self.require(b.icmp_signed("==", nargs, ir.Constant(I64, spec.n_args)), self.declined)
        inputs = [b.load(b.gep(args, [ir.Constant(I64, i)])) for i in range(spec.n_args)]
        for i, arg in enumerate(inputs):
            self.require(self.array_fits(arg, in0 + i * IN_RECORD), self.declined)
        # one call at a time uses the plan's buffers; a busy program: the Python path
        # waits for it (NativeProgram.run)
        acquire = self.declare("PyThread_acquire_lock", I32, [I8P, I32])
        got = b.call(acquire, [self.slot_ptr(S_LOCK), ir.Constant(I32, 0)])
        self.require(b.icmp_signed("!=", got, ir.Constant(I32, 0)), self.declined)
        planned = b.icmp_signed("!=", self.slot(S_PTRS), ir.Constant(I64, 0))
        if spec.n_updates:  # the plan's update values keep their variables' shapes
            ok = b.icmp_signed("!=", self.slot(S_UPDATES_OK), ir.Constant(I64, 0))
            planned = b.and_(planned, ok)
        self.require(planned, self.not_impl)
        shared = [self.fetch_shared(sh0 + j * SHARED_RECORD, j) for j in range(spec.n_shared)]
        outs = [self.allocate(out0 + k * OUT_RECORD, spec.n_shared + k)
                for k in range(spec.n_outputs)]
        status = self.run([inputs[i] for i in spec.used] + shared + outs)
        self.require(b.icmp_signed("==", status, ir.Constant(I32, 0)), self.not_impl)
        value = self.result(outs)
        self.assign_updates(outs[spec.n_outputs - spec.n_updates:], up0)
        # the results have their own references now (the caller's), the updated
        # variables theirs: nothing held here is needed any more
        self.release_held(n_held)
        self.unlock()
        b.ret(value)
        return self.fn

    def assign_updates(self, values: list[ir.Value], record: int) -> None:
        """sv._value = new for each update, all after the call succeeded. Replacing
        an attribute of an ordinary object does not fail (no allocation)."""
        setattr_ = self.declare("PyObject_SetAttr", I32, [OBJ, OBJ, OBJ])
        for j, value in enumerate(values):
            self.b.call(setattr_, [self.slot_ptr(record + j * UPDATE_RECORD),
                                   self.slot_ptr(S_VALUE_NAME), value])

    def _exits(self) -> None:
        """The ways out after the lock was taken: NotImplemented or NULL, each after
        releasing every held object and the lock; and the unlocked NotImplemented."""
        b = self.b
        here = b.block
        self.not_impl = self.fn.append_basic_block("not_implemented")
        self.null = self.fn.append_basic_block("null")
        for block, value in ((self.not_impl, None), (self.null, ir.Constant(OBJ, None))):
            b.position_at_end(block)
            self.release_held(self.spec.n_shared + self.spec.n_outputs)
            self.unlock()
            b.branch(self.declined) if value is None else b.ret(value)
        b.position_at_end(self.declined)
        obj = self.slot_ptr(S_NOT_IMPLEMENTED)
        self.incref(obj)
        b.ret(obj)
        b.position_at_end(here)

    def require(self, ok: ir.Value, otherwise: ir.Block) -> None:
        """Continue if ok, else leave through ``otherwise``."""
        nxt = self.fn.append_basic_block("ok")
        self.b.cbranch(ok, nxt, otherwise)
        self.b.position_at_end(nxt)

    def unlock(self) -> None:
        release = self.declare("PyThread_release_lock", ir.VoidType(), [I8P])
        self.b.call(release, [self.slot_ptr(S_LOCK)])

    def release_held(self, count: int) -> None:
        b = self.b
        for k in range(count):
            self.decref(b.load(b.gep(self.held, [ir.Constant(I64, k)])))

    def array_fits(self, obj: ir.Value, record: int) -> ir.Value:
        """obj is an exact ndarray of the recorded dtype and ndim (i1)."""
        b = self.b
        is_array = b.icmp_unsigned("==", b.ptrtoint(self.field(obj, OB_TYPE, OBJ), I64),
                                   self.slot(S_NDARRAY))
        check = self.fn.append_basic_block("is_array")
        done = self.fn.append_basic_block("checked")
        start = b.block
        b.cbranch(is_array, check, done)
        b.position_at_end(check)
        descr = self.field(obj, ARRAY_DESCR, OBJ)
        same = b.icmp_unsigned("==", b.ptrtoint(descr, I64), self.slot(record))
        type_num = b.sext(self.field(descr, DESCR_TYPE_NUM, I32), I64)
        native = b.icmp_unsigned("!=", self.field(descr, DESCR_BYTEORDER, I8),
                                 ir.Constant(I8, ord(">")))
        dtype_ok = b.or_(same, b.and_(native, b.icmp_signed("==", type_num,
                                                             self.slot(record + 1))))
        nd = b.sext(self.field(obj, ARRAY_ND, I32), I64)
        ok = b.and_(dtype_ok, b.icmp_signed("==", nd, self.slot(record + 2)))
        check_end = b.block
        b.branch(done)
        b.position_at_end(done)
        result = b.phi(ir.IntType(1))
        result.add_incoming(ir.Constant(ir.IntType(1), 0), start)
        result.add_incoming(ok, check_end)
        return result

    def fetch_shared(self, record: int, held: int) -> ir.Value:
        b = self.b
        getattr_ = self.declare("PyObject_GetAttr", OBJ, [OBJ, OBJ])
        value = b.call(getattr_, [self.slot_ptr(record), self.slot_ptr(S_VALUE_NAME)])
        self.fail_if_null(value)
        b.store(value, b.gep(self.held, [ir.Constant(I64, held)]))
        self.require(self.array_fits(value, record + 1), self.not_impl)
        return value

    def allocate(self, record: int, held: int) -> ir.Value:
        b = self.b
        empty_ty = ir.FunctionType(OBJ, [I32, I64.as_pointer(), OBJ, I32])
        empty = self.slot_ptr(S_EMPTY, empty_ty.as_pointer())
        descr = self.slot_ptr(record)
        self.incref(descr)  # PyArray_Empty steals a reference to the descriptor
        nd = b.trunc(self.slot(record + 1), I32)
        arr = b.call(empty, [nd, self.slot_ptr(record + 2, I64.as_pointer()), descr,
                             ir.Constant(I32, 0)])
        self.fail_if_null(arr)
        b.store(arr, b.gep(self.held, [ir.Constant(I64, held)]))
        return arr

    def fail_if_null(self, obj: ir.Value) -> None:
        """NULL (a Python exception is set): release everything, return NULL."""
        self.require(self.b.icmp_unsigned("!=", obj, ir.Constant(OBJ, None)), self.null)

    def run(self, arrays: list[ir.Value]) -> ir.Value:
        b = self.b
        ptrs = self.slot_ptr(S_PTRS, I8P.as_pointer())
        meta = self.slot_ptr(S_META, I64.as_pointer())
        release = b.icmp_signed("!=", self.slot(S_RELEASE_GIL), ir.Constant(I64, 0))
        save = self.declare("PyEval_SaveThread", I8P, [])
        restore = self.declare("PyEval_RestoreThread", ir.VoidType(), [I8P])
        with b.if_else(release, likely=False) as (unlocked, locked):
            with unlocked:
                tstate = b.call(save, [])
                free_status = b.call(self.array_call, [ptrs, meta, *arrays])
                b.call(restore, [tstate])
                free_block = b.block
            with locked:
                held_status = b.call(self.array_call, [ptrs, meta, *arrays])
                held_block = b.block
        status = b.phi(I32)
        status.add_incoming(free_status, free_block)
        status.add_incoming(held_status, held_block)
        return status

    def result(self, outs: list[ir.Value]) -> ir.Value:
        """The single output, or a new list/tuple that takes over the references."""
        b, spec = self.b, self.spec
        if spec.container == "single":
            self.incref(outs[spec.order[0]])  # held too: released with the others
            return outs[spec.order[0]]
        kind = "PyList" if spec.container == "list" else "PyTuple"
        new = self.declare(f"{kind}_New", OBJ, [I64])
        set_item = self.declare(f"{kind}_SetItem", I32, [OBJ, I64, OBJ])
        seq = b.call(new, [ir.Constant(I64, len(spec.order))])
        self.fail_if_null(seq)
        for pos, k in enumerate(spec.order):
            self.incref(outs[k])  # SetItem steals a reference; the held one is released
            b.call(set_item, [seq, ir.Constant(I64, pos), outs[k]])
        return seq


def emit_py_entry(module: ir.Module, name: str, array_call: ir.Function,
                  spec: PyEntrySpec) -> ir.Function:
    """Emit the METH_FASTCALL entry ``name`` around ``array_call`` (see the docstring)."""
    return _Emitter(module, name, array_call, spec).emit()


__all__ = ["PyEntrySpec", "emit_py_entry"]
