"""Native codegen rules, keyed by op class, and what a rule sees while it emits a kernel.

The contract between the runtime and the kernels:

- Every value the compiled program touches is a C-contiguous buffer with an index b.
  The entry point receives ``i8** ptrs`` (ptrs[b] = the data of buffer b) and
  ``i64* meta`` (the shapes of all buffers, at offsets fixed when the program is built;
  meta[0:4] is the error record, meta[4] the thread count). Shapes are known per call,
  strides follow from them.
- A rule emits ONE kernel function ``i32 kernel(i8** ptrs, i64* meta)`` for one node,
  with the same layout but its own numbering (program.node_layout: its inputs then
  outputs, from slot 0; its dims after the header), filled in by the entry point. It
  loads its buffers' pointers and dims (static dims become constants), computes, and
  returns 0, or an error code after filling the error record (see ``fail``).
- Rules only build IR (llvmlite.ir); codegen/jit.py compiles it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from llvmlite import ir

from ..graph.basic import Apply, Variable
from . import irutils

I8P = ir.IntType(8).as_pointer()
I64 = ir.IntType(64)
I32 = ir.IntType(32)
KERNEL_TYPE = ir.FunctionType(I32, [I8P.as_pointer(), I64.as_pointer()])

# Error record in meta[0:4]: code, node index, value, limit. Codes:
ERR_INDEX = 1      # an index out of range: value = the index, limit = the axis size
ERR_SHAPE = 2      # a runtime shape mismatch: value/limit = the two sizes
ERR_VALUE = 3      # a value error (e.g. empty max): value/limit as the rule documents
ERROR_SLOTS = 4
# meta[4]: how many threads a kernel may use (see parallel.py)
THREADS_SLOT = 4
HEADER_SLOTS = 5


class Rule(Protocol):
    def __call__(self, ctx: "KernelContext") -> None: ...


RULES: dict[str, Rule] = {}
# External functions kernels may call (e.g. BLAS), name -> address, given to the JIT
# linker. Rule modules fill it at import time.
EXTERNAL_SYMBOLS: dict[str, int] = {}
# Name prefix -> function giving the address of such a symbol. Code loaded from the
# disk cache was never generated in this process, so nothing declared its external
# symbols: resolve_symbols() asks these providers instead.
SYMBOL_PROVIDERS: dict[str, Callable[[str], int]] = {}


def resolve_symbols(names: list[str]) -> None:
    """Make sure each external name that has a provider is in EXTERNAL_SYMBOLS."""
    for name in names:
        if name in EXTERNAL_SYMBOLS:
            continue
        for prefix, provider in SYMBOL_PROVIDERS.items():
            if name.startswith(prefix):
                EXTERNAL_SYMBOLS[name] = provider(name)
                break
# Op classes a rule may decline for some nodes (dtype, params): name -> predicate.
SUPPORTS: dict[str, Callable[[Apply], bool]] = {}


def register(*op_class_names: str, supports: Callable[[Apply], bool] | None = None):
    """Register an emit function for the named op classes."""
    def deco(fn: Rule) -> Rule:
        for name in op_class_names:
            RULES[name] = fn
            if supports is not None:
                SUPPORTS[name] = supports
        return fn
    return deco


def rule_for(node: Apply) -> Rule | None:
    """The rule that compiles this node natively, or None (reference fallback)."""
    name = type(node.op).__name__
    fn = RULES.get(name)
    if fn is None:
        return None
    pred = SUPPORTS.get(name)
    return fn if pred is None or pred(node) else None


@dataclass
class Buf:
    """A buffer as a kernel sees it: typed data pointer, dims (i64 values), dtype."""

    var: Variable
    ptr: ir.Value
    dims: list[ir.Value]
    dtype: str

    @property
    def ndim(self) -> int:
        return len(self.dims)

    def size(self, builder: ir.IRBuilder) -> ir.Value:
        total: ir.Value = ir.Constant(I64, 1)
        for d in self.dims:
            total = builder.mul(total, d)
        return total

    def strides(self, builder: ir.IRBuilder) -> list[ir.Value]:
        """C-order strides in elements."""
        out: list[ir.Value] = []
        acc: ir.Value = ir.Constant(I64, 1)
        for d in reversed(self.dims):
            out.append(acc)
            acc = builder.mul(acc, d)
        return list(reversed(out))


@dataclass
class KernelContext:
    """What a rule needs to emit the kernel of one node."""

    module: ir.Module
    node: Apply
    node_index: int
    function: ir.Function
    builder: ir.IRBuilder
    inputs: list[Buf]
    outputs: list[Buf]
    meta: ir.Value
    ret_block: ir.Block
    tag: dict = field(default_factory=dict)
    # (builder, ptrs, meta) -> (inputs, outputs): the node's buffers loaded inside
    # another function of the same signature prefix (e.g. a thread's loop body)
    rebind: Callable[[ir.IRBuilder, ir.Value, ir.Value],
                     tuple[list["Buf"], list["Buf"]]] | None = None

    def fail(self, code: int, value: ir.Value, limit: ir.Value) -> None:
        """Fill the error record and return ``code`` from the kernel (call in a branch)."""
        b = self.builder
        for k, v in enumerate([ir.Constant(I64, code), ir.Constant(I64, self.node_index),
                               _as_i64(b, value), _as_i64(b, limit)]):
            b.store(v, b.gep(self.meta, [ir.Constant(I64, k)]))
        b.ret(ir.Constant(I32, code))


def _as_i64(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
    if v.type == I64:
        return v
    if isinstance(v.type, ir.IntType):
        return builder.sext(v, I64) if v.type.width < 64 else builder.trunc(v, I64)
    return builder.fptosi(v, I64)


def element_type(dtype: str) -> ir.Type:
    """The LLVM type of one element (bool is i8 like NumPy's)."""
    if dtype in ("float32", "float64"):
        return irutils.float_type(dtype)
    width = {"bool": 8, "int8": 8, "uint8": 8, "int16": 16, "int32": 32, "int64": 64}[dtype]
    return ir.IntType(width)
