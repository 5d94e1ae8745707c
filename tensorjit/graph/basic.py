"""The graph's core objects: Variable, Constant, SharedVariable, Apply and Op.

This module names no concrete op. Python operators on variables (``x + y``, ``x[i]``,
``x.sum()``) dispatch through ``OPERATORS``, a table filled by ``graph.ops``.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar, Iterable, Sequence

import numpy as np

from .types import TensorType, normalize_dtype

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ids = itertools.count()

# Filled by tensorjit.graph.ops: name -> function implementing a Python operator/method.
OPERATORS: dict[str, Callable[..., Any]] = {}

# Every concrete Op subclass, by class name: tests assert each has a test case and,
# later, a codegen rule.
OP_REGISTRY: dict[str, type["Op"]] = {}


def user_source_line() -> str | None:
    """Return 'file.py:LINE' of the innermost stack frame outside the tensorjit package."""
    frame = sys._getframe(1)
    while frame is not None:
        user_file = _user_file(frame.f_code.co_filename)
        if user_file is not None:
            return f"{user_file}:{frame.f_lineno}"
        frame = frame.f_back
    return None


@functools.lru_cache(maxsize=1024)
def _user_file(filename: str) -> str | None:
    """The base name of a file outside the tensorjit package, None for one inside it
    (cached: every node created asks for every frame, and abspath is not cheap)."""
    path = os.path.abspath(filename)
    return None if path.startswith(_PACKAGE_DIR + os.sep) else os.path.basename(path)


# --------------------------------------------------------------------------------------
# Variables


class Variable:
    """A symbolic tensor value: a type, an optional name, and the Apply that computes it."""

    __array_priority__ = 1000  # make ndarray <op> Variable defer to our reflected ops

    def __init__(
        self,
        type: TensorType,
        owner: "Apply | None" = None,
        index: int | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(type, TensorType):
            raise TypeError(f"Variable type must be a TensorType, got {type!r}")
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag: dict[str, Any] = {}
        self.id = next(_ids)
        self.source_line = user_source_line()

    # -- type shortcuts
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def static_shape(self) -> tuple[int | None, ...]:
        return self.type.shape

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    def clone(self) -> "Variable":
        """A new variable of the same type and name, with no owner."""
        v = type(self).__new__(type(self))
        v.__dict__.update(self.__dict__)
        v.owner, v.index, v.id = None, None, next(_ids)
        v.tag = dict(self.tag)
        return v

    def describe(self) -> str:
        """A short human description: name (or op output), type, creation line."""
        what = repr(self.name) if self.name else (
            f"output of {self.owner.op}" if self.owner else "unnamed input")
        where = f" (created at {self.source_line})" if self.source_line else ""
        return f"{what} of type {self.type}{where}"

    def __repr__(self) -> str:
        if self.name:
            return f"{self.name}"
        if self.owner is not None:
            return f"{self.owner.op}.{self.index}"
        return f"<{type(self).__name__} {self.type}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "a symbolic Variable has no truth value; use tj.where/tj.switch for "
            "conditionals, or compile and call a function to get numbers")

    def __iter__(self):
        raise TypeError("a symbolic Variable cannot be iterated; index it instead")

    def __len__(self) -> int:
        raise TypeError("len() of a symbolic Variable is not defined; use x.shape[0]")

    __hash__ = object.__hash__

    def eval(self, inputs: dict["Variable", Any] | None = None) -> np.ndarray:
        """Evaluate on the reference evaluator (a convenience for exploring graphs)."""
        return OPERATORS["eval"](self, inputs or {})


def _install_operators() -> None:
    """Attach Python operators that dispatch to OPERATORS at call time."""

    def binary(name: str, reflected: bool = False):
        def method(self, other):
            if reflected:
                return OPERATORS[name](other, self)
            return OPERATORS[name](self, other)
        return method

    def unary(name: str):
        def method(self):
            return OPERATORS[name](self)
        return method

    def forward(name: str):
        def method(self, *args, **kwargs):
            return OPERATORS[name](self, *args, **kwargs)
        method.__name__ = name
        return method

    pairs = {
        "add": "add", "sub": "sub", "mul": "mul", "truediv": "true_div",
        "floordiv": "floor_div", "mod": "mod", "pow": "pow", "matmul": "matmul",
        "and": "logical_and", "or": "logical_or", "xor": "logical_xor",
    }
    for dunder, op in pairs.items():
        setattr(Variable, f"__{dunder}__", binary(op))
        setattr(Variable, f"__r{dunder}__", binary(op, reflected=True))
    for dunder, op in {"lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}.items():
        setattr(Variable, f"__{dunder}__", binary(op))
    for dunder, op in {"neg": "neg", "pos": "identity", "abs": "abs",
                       "invert": "logical_not"}.items():
        setattr(Variable, f"__{dunder}__", unary(op))
    Variable.__getitem__ = lambda self, key: OPERATORS["getitem"](self, key)
    for meth in ("sum", "mean", "prod", "max", "min", "argmax", "argmin", "all", "any",
                 "var", "std", "reshape", "astype", "dimshuffle", "flatten", "transpose",
                 "dot", "squeeze", "clip", "repeat", "zeros_like", "ones_like"):
        setattr(Variable, meth, forward(meth))
    Variable.T = property(lambda self: OPERATORS["transpose"](self))
    Variable.shape = property(lambda self: OPERATORS["shape"](self))
    Variable.size = property(lambda self: OPERATORS["size"](self))


_install_operators()


class Constant(Variable):
    """A variable with a fixed value, stored as a read-only NumPy array."""

    def __init__(self, type: TensorType, value: Any, name: str | None = None) -> None:
        super().__init__(type, name=name)
        arr = np.array(value, dtype=type.dtype)
        if not type.accepts_shape(arr.shape):
            raise ValueError(f"constant of shape {arr.shape} does not fit type {type}")
        arr.setflags(write=False)
        self.data = arr

    def signature(self) -> tuple:
        """Hashable identity of the value (for merging equal constants)."""
        return (self.type, self.data.tobytes())

    def __repr__(self) -> str:
        if self.name:
            return self.name
        if self.data.size <= 4:
            return np.array2string(self.data, separator=", ")
        return f"<Constant {self.type}>"


class SharedVariable(Variable):
    """A variable whose value lives between calls; compiled functions may update it."""

    def __init__(self, value: Any, name: str | None = None, shape=None,
                 strict: bool = False) -> None:
        arr = np.array(value)
        if arr.dtype == np.float16:
            raise TypeError(f"shared {name!r}: float16 is not supported")
        dtype = normalize_dtype(arr.dtype)
        static = tuple(shape) if shape is not None else tuple(None for _ in arr.shape)
        super().__init__(TensorType(dtype, static), name=name)
        self._value = self._check(arr, "shared()")

    def _check(self, value: Any, where: str) -> np.ndarray:
        arr = np.asarray(value)
        who = f"shared variable {self.name!r}" if self.name else "shared variable"
        if arr.ndim != self.type.ndim:
            raise ValueError(f"{where}: {who} expects a {self.type.ndim}-d array, "
                             f"got {arr.ndim}-d with shape {arr.shape}")
        if arr.dtype.name != self.type.dtype:
            if np.can_cast(arr.dtype, self.type.dtype, "same_kind") and not (
                    arr.dtype.kind == "f" and self.type.dtype in ("float32",)
                    and arr.dtype.itemsize > 4) and _ints_fit(arr, self.type.dtype):
                arr = arr.astype(self.type.dtype)
            else:
                raise TypeError(f"{where}: {who} has dtype {self.type.dtype}, "
                                f"got an array of dtype {arr.dtype.name}")
        if not self.type.accepts_shape(arr.shape):
            raise ValueError(f"{where}: {who} has static shape {self.type.shape}, "
                             f"got shape {arr.shape}")
        return arr

    def get_value(self, borrow: bool = False) -> np.ndarray:
        """The current value (a copy unless borrow=True)."""
        return self._value if borrow else self._value.copy()

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value; dtype and ndim must match the variable's type."""
        arr = self._check(value, "set_value()")
        self._value = arr if (borrow and arr is value) else np.array(arr, copy=True)

    def clone(self) -> "Variable":
        raise TypeError("shared variables are not cloned: they are identified by identity")


def _ints_fit(arr: np.ndarray, dtype: str) -> bool:
    """False when integer data would wrap around in the integer dtype (int64 -> int8)."""
    if arr.dtype.kind not in "iu" or np.dtype(dtype).kind not in "iu" or arr.size == 0:
        return True
    info = np.iinfo(dtype)
    return bool(info.min <= arr.min() and arr.max() <= info.max)


def as_variable(x: Any, dtype: str | None = None, name: str | None = None) -> Variable:
    """Return x if it is a Variable, else wrap it as a Constant."""
    if isinstance(x, Variable):
        return x
    return constant(x, dtype=dtype, name=name)


def constant(value: Any, dtype: Any = None, name: str | None = None) -> Constant:
    """A symbolic constant with the given value (static shape = the value's shape)."""
    if isinstance(value, Variable):
        raise TypeError(f"constant(): expected a value, got symbolic variable {value!r}")
    arr = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    if arr.dtype.kind in "OUSV":
        raise TypeError(f"constant(): cannot make a tensor from {type(value).__name__} "
                        f"(dtype {arr.dtype})")
    if dtype is None and arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return Constant(TensorType(arr.dtype.name, arr.shape), arr, name=name)


# --------------------------------------------------------------------------------------
# Apply and Op


class Apply:
    """One use of an op: inputs -> op -> outputs."""

    def __init__(self, op: "Op", inputs: Sequence[Variable],
                 output_types: Sequence[TensorType]) -> None:
        self.op = op
        self.inputs = list(inputs)
        self.outputs = [Variable(t, owner=self, index=i) for i, t in enumerate(output_types)]
        self.source_line = user_source_line()
        self.tag: dict[str, Any] = {}

    @property
    def out(self) -> Variable:
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    def describe(self) -> str:
        where = f" (created at {self.source_line})" if self.source_line else ""
        shapes = ", ".join(str(v.type) for v in self.inputs)
        return f"{self.op}({shapes}){where}"

    def __repr__(self) -> str:
        return f"Apply({self.op}, {self.inputs})"


@dataclass(frozen=True)
class Op:
    """One kind of computation. Subclasses are frozen dataclasses: fields are identity.

    A subclass defines, side by side:

    - ``make_node(*inputs) -> Apply``: checks and converts inputs, infers output types;
    - ``perform(node, inputs) -> list[np.ndarray]``: the NumPy reference implementation;
    - ``L_op(inputs, outputs, output_grads)``: vector-Jacobian product as graph;
    - ``R_op(inputs, outputs, eval_points)``: Jacobian-vector product as graph;
    - ``infer_shape(node, input_shapes)``: concrete output shapes from input shapes.
    """

    # Input positions whose *values* (not only shapes) decide output shapes.
    shape_value_inputs: ClassVar[tuple[int, ...]] = ()
    # Ops for which a stochastic/shape-only result means gradient is not defined.

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("abstract", False) and not cls.__name__.startswith("_"):
            OP_REGISTRY[cls.__name__] = cls

    abstract: ClassVar[bool] = True

    # -- interface
    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def perform(self, node: Apply, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable]) -> list[Variable | None]:
        raise NotImplementedError(
            f"{self}: reverse-mode gradient (L_op) is not implemented for this op")

    def R_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             eval_points: Sequence[Variable | None]) -> list[Variable | None]:
        raise NotImplementedError(
            f"{self}: forward-mode derivative (R_op) is not implemented for this op")

    def infer_shape(self, node: Apply, input_shapes: Sequence[tuple[int, ...]],
                    input_values: Sequence[np.ndarray | None] = ()) -> list[tuple[int, ...]]:
        """Concrete output shapes. The default evaluates perform (only for tiny ops)."""
        raise NotImplementedError(f"{type(self).__name__}.infer_shape")

    # -- conveniences
    def __call__(self, *inputs: Any) -> Variable | list[Variable]:
        node = self.make_node(*inputs)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self) -> str:
        params = self.params()
        name = type(self).__name__
        if not params:
            return name
        inner = ", ".join(f"{k}={_fmt_param(v)}" for k, v in params.items())
        return f"{name}{{{inner}}}"


def _fmt_param(v: Any) -> str:
    if isinstance(v, Op):
        return str(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt_param(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v) if isinstance(v, str) else str(v)


# --------------------------------------------------------------------------------------
# Graph walks


def ancestors(outputs: Iterable[Variable],
              blockers: Iterable[Variable] = ()) -> list[Variable]:
    """All variables that the outputs depend on (stopping at blockers), outputs included."""
    blocked = {id(b) for b in blockers}
    seen: dict[int, Variable] = {}
    stack = list(outputs)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen[id(v)] = v
        if v.owner is not None and id(v) not in blocked:
            stack.extend(v.owner.inputs)
    return list(seen.values())


def graph_inputs(outputs: Iterable[Variable],
                 blockers: Iterable[Variable] = ()) -> list[Variable]:
    """The leaf variables (no owner, or blocked) that the outputs depend on."""
    blocked = {id(b) for b in blockers}
    return [v for v in ancestors(outputs, blockers)
            if v.owner is None or id(v) in blocked]


def toposort(outputs: Iterable[Variable],
             blockers: Iterable[Variable] = ()) -> list[Apply]:
    """Apply nodes between blockers/leaves and outputs, each after its inputs' owners."""
    blocked = {id(b) for b in blockers}
    order: list[Apply] = []
    done: set[int] = set()
    # iterative DFS (graphs from long chains would overflow recursion)
    for out in outputs:
        stack: list[tuple[Variable, bool]] = [(out, False)]
        while stack:
            v, expanded = stack.pop()
            node = v.owner
            if node is None or id(v) in blocked or id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                order.append(node)
                continue
            stack.append((v, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and id(inp.owner) not in done:
                    stack.append((inp, False))
    return order


def clone_replace(outputs: Sequence[Variable],
                  replace: dict[Variable, Variable]) -> list[Variable]:
    """Copies of outputs' graphs in which each key of ``replace`` is its value."""
    memo: dict[Variable, Variable] = dict(replace)
    for node in toposort(outputs, blockers=list(replace)):
        new_inputs = [memo.get(v, v) for v in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = node.op.make_node(*new_inputs)
        new_node.source_line = node.source_line
        new_node.tag = dict(node.tag)
        for old, new in zip(node.outputs, new_node.outputs):
            new.name = old.name
            memo[old] = new
    return [memo.get(v, v) for v in outputs]
