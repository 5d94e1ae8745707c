"""Test/benchmark helper: JIT a loop kernel applying one tensorjit math function."""

from __future__ import annotations

import ctypes
import functools

import numpy as np
from llvmlite import ir

from tensorjit.codegen import jit
from tensorjit.codegen.irutils import I64, define_function, float_type, for_range
from tensorjit.codegen.mathlib import get_math_function, math_function_info


def build_kernel_ir(name: str, dtype: str) -> str:
    """IR of ``void k(T* x0[, T* x1], T* y, i64 n)``: y[i] = name(x0[i][, x1[i]])."""
    fptype = float_type(dtype)
    nargs = math_function_info(name).nargs
    module = ir.Module(name=f"k_{name}_{dtype}")
    ptr = fptype.as_pointer()
    fn, builder = define_function(module, "k", ir.VoidType(), [ptr] * (nargs + 1) + [I64])
    for arg in fn.args[: nargs + 1]:
        arg.add_attribute("noalias")  # lets the vectorizer skip runtime alias checks
    math_fn = get_math_function(module, name, fptype)
    with for_range(builder, fn.args[-1]) as i:
        inputs = [builder.load(builder.gep(fn.args[j], [i])) for j in range(nargs)]
        builder.store(builder.call(math_fn, inputs), builder.gep(fn.args[nargs], [i]))
    builder.ret_void()
    return str(module)


class MathKernel:
    """A compiled elementwise kernel for one math function and dtype."""

    def __init__(self, name: str, dtype: str) -> None:
        self.name, self.dtype = name, np.dtype(dtype)
        self.nargs = math_function_info(name).nargs
        self.module = jit.compile_ir(build_kernel_ir(name, dtype), f"k_{name}_{dtype}")
        argtypes = [ctypes.c_void_p] * (self.nargs + 1) + [ctypes.c_int64]
        self._fn = ctypes.CFUNCTYPE(None, *argtypes)(self.module.address("k"))

    def __call__(self, *xs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Apply the function elementwise to contiguous arrays of the kernel's dtype."""
        xs = [np.ascontiguousarray(x, dtype=self.dtype) for x in xs]
        xs = np.broadcast_arrays(*xs)
        xs = [np.ascontiguousarray(x) for x in xs]
        y = np.empty_like(xs[0]) if out is None else out
        self._fn(*[x.ctypes.data for x in xs], y.ctypes.data, y.size)
        return y


@functools.cache
def math_kernel(name: str, dtype: str) -> MathKernel:
    """Compile (once per process) the kernel for ``name`` and ``dtype``."""
    return MathKernel(name, dtype)
