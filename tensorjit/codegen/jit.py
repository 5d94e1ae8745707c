"""The JIT: LLVM IR text in, callable native code out.

This is the only module in tensorjit that imports ``llvmlite.binding``. Everything
else builds IR with ``llvmlite.ir`` (testable as text) and hands it here.

Pipeline: parse + verify -> optimize (new pass manager, O3, loop AND SLP
vectorization on, tuned for the host CPU) -> emit an object file with the host
target machine -> link the object into an ORC LLJIT library. Going through an
object file on purpose: the same bytes can be written to the on-disk cache and
loaded back with :func:`load_object` without re-running LLVM.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence

import llvmlite.binding as llvm

# libmvec holds glibc's SIMD math (e.g. _ZGVeN16v_expf). Kernels may call it through
# the "vector-function-abi-variant" attribute, so it must be resolvable by the JIT.
_VECTOR_MATH_LIBRARIES = ("libmvec.so.1",)

_lock = threading.Lock()
_library_ids = itertools.count()

# Extra LLVM command-line options (TENSORJIT_LLVM_OPTIONS, e.g.
# "-enable-epilogue-vectorization=false"), set once per process; part of cache keys.
# None by default: turning off epilogue vectorization cut kernel compile time by 8%
# on the MLP step but slowed softmax cross-entropy rows of 1000 by up to 25%.
LLVM_OPTIONS = tuple(os.environ.get("TENSORJIT_LLVM_OPTIONS", "").split())


@functools.cache
def _initialize() -> None:
    """Initialize LLVM's native target once (llvm.initialize() raises in llvmlite>=0.45)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    for option in LLVM_OPTIONS:
        llvm.set_option("tensorjit", option)
    for name in _VECTOR_MATH_LIBRARIES:
        try:
            llvm.load_library_permanently(name)
        except RuntimeError:
            pass  # not glibc (or too old): kernels must not rely on libmvec here


@functools.cache
def host_cpu() -> tuple[str, str]:
    """Return the (cpu name, feature string) that code is generated for."""
    _initialize()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


def has_vector_math_library() -> bool:
    """Return True if glibc's libmvec was found and loaded."""
    _initialize()
    return llvm.address_of_symbol("_ZGVeN16v_expf") is not None


@functools.cache
def target_machine() -> llvm.TargetMachine:
    """Return the (shared) target machine for the host CPU at opt level 3."""
    _initialize()
    cpu, features = host_cpu()
    target = llvm.Target.from_default_triple()
    # PIC + the JIT code model keep the object file position independent, so it can be
    # cached on disk and linked anywhere in the address space by ORC.
    return target.create_target_machine(
        cpu=cpu, features=features, opt=3, reloc="pic", codemodel="jitdefault", jit=True
    )


def optimize_module(module: llvm.ModuleRef, pipeline: str = "full") -> None:
    """Run one of the PIPELINES (default: O3 with loop and SLP vectorization) on
    ``module``, in place."""
    pass_builder = llvm.create_pass_builder(target_machine(),
                                            _tuning_options(*PIPELINES[pipeline]))
    pass_builder.getModulePassManager().run(module, pass_builder)


# Optimization pipelines: (speed level, vectorizers, loop interleaving and unrolling).
# The full O3 pipeline is most of a cold start (a reduction's interleaved accumulators
# need it: max over 64K floats is 2x slower without); elementwise loops lose ~7% without
# interleaving and compile ~35% faster; code that is already vectors (the GEMM library)
# or straight-line (0-d kernels, entry glue) needs no vectorizer at all. The GEMM
# library and the pool ("explicit") run as fast at speed level 1 as at 3
# (bench_gemm.py, one thread, every shape within noise: 167 vs 170 GFLOP/s for
# (128,784)@(784,512)) and compile ~15% faster (163 -> 141 ms). "rows" is "vector"
# without 512-bit vectors, for short softmax rows (compiler.kernel_pipeline).
PIPELINES = {"full": (3, True, True), "vector": (3, True, False),
             "explicit": (1, False, False), "scalar": (2, False, False),
             "glue": (1, False, False), "rows": (3, True, False)}
# Pipelines whose loops may use 512-bit vectors where the host has them. LLVM's tuning
# for many AVX-512 CPUs prefers 256 bits; elementwise loops measured faster with zmm
# here (f32 exp 0.55 -> 0.32 ns/element; the f64 expression 5.6x -> 6.7x NumPy),
# while rows of 10 classes lost a third (more of each row in the scalar remainder).
WIDE_PIPELINES = frozenset({"vector"})
_DEFINE = re.compile(r'^(define [^\n]*\))([^\n{]*?)\s*\{', re.MULTILINE)


def _prefer_wide(ir_text: str) -> str:
    """ir_text with every function asking for 512-bit vectors (AVX-512 hosts only)."""
    if "+avx512f" not in host_cpu()[1].split(","):
        return ir_text
    return _DEFINE.sub(r'\1\2 "prefer-vector-width"="512"\n{', ir_text)


def _tuning_options(speed_level: int = 3, vectorize: bool = True, interleave: bool = True
                    ) -> llvm.PipelineTuningOptions:
    pto = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    pto.loop_vectorization = vectorize
    # SLP is off by default in llvmlite's tuning options; straight-line vector code
    # (e.g. unrolled small reductions) needs it.
    pto.slp_vectorization = vectorize
    pto.loop_unrolling = interleave
    pto.loop_interleaving = interleave
    return pto


def parse_ir(ir_text: str, name: str = "") -> llvm.ModuleRef:
    """Parse and verify textual IR for the host, raising ValueError with LLVM's message."""
    _initialize()
    try:
        module = llvm.parse_assembly(str(ir_text))
        module.verify()
    except RuntimeError as exc:
        raise ValueError(f"invalid LLVM IR for module {name!r}: {exc}") from exc
    if name:
        module.name = name
    module.triple = target_machine().triple
    module.data_layout = str(target_machine().target_data)
    return module


@functools.cache
def _lljit() -> llvm.LLJIT:
    """Return the process-wide ORC LLJIT instance (one per process is enough)."""
    return llvm.create_lljit_compiler(target_machine())


class JITModule:
    """A linked native library: addresses of its functions, its IR, asm and object code."""

    def __init__(
        self,
        name: str,
        object_code: bytes | Sequence[bytes],
        symbols: Mapping[str, int] | None = None,
        exports: Iterable[str] = (),
        optimized_ir: str | None = None,
    ) -> None:
        self.name = name
        objects = [object_code] if isinstance(object_code, bytes) else list(object_code)
        self._object_code = bytes(objects[0]) if len(objects) == 1 else b""
        self._optimized_ir = optimized_ir
        self._exports = sorted(set(exports))
        builder = llvm.JITLibraryBuilder()
        for obj in objects:  # several objects: one library, resolving each other's symbols
            builder.add_object_img(bytes(obj))
        # The current process resolves libm, libmvec and anything else loaded into it.
        builder.add_current_process()
        for symbol, address in (symbols or {}).items():
            builder.import_symbol(symbol, address)
        for symbol in self._exports:
            builder.export_symbol(symbol)
        with _lock:
            # ORC never lets a library name be reused, even after it was unloaded.
            library_name = f"{name}.{next(_library_ids)}"
            # The resource tracker keeps the code mapped; dropping it unloads the library.
            self._tracker = builder.link(_lljit(), library_name)

    @property
    def exports(self) -> list[str]:
        """The names of the functions this module exports."""
        return list(self._exports)

    def address(self, fn_name: str) -> int:
        """Return the address of exported function ``fn_name`` (KeyError if not exported)."""
        if fn_name not in self._exports:
            raise KeyError(f"{fn_name!r} is not exported by JIT module {self.name!r}; "
                           f"exported: {self._exports}")
        return self._tracker[fn_name]

    def object_code(self) -> bytes:
        """Return the bytes of the object file (what the on-disk cache stores); empty
        for a library linked from several objects."""
        return self._object_code

    def optimized_ir(self) -> str:
        """Return the optimized LLVM IR text ('' when loaded from object code)."""
        return self._optimized_ir or ""

    def asm(self) -> str:
        """Return the host assembly of the optimized module."""
        if not self._optimized_ir:
            raise ValueError(f"JIT module {self.name!r} was loaded from object code; "
                             "no IR to print assembly from")
        return target_machine().emit_assembly(llvm.parse_assembly(self._optimized_ir))


def assembly(ir_text: str, pipeline: str = "full") -> str:
    """Host assembly of IR after the optimization a kernel compiled with ``pipeline``
    gets (compile_object_concurrently)."""
    module = parse_ir(_prefer_wide(ir_text) if pipeline in WIDE_PIPELINES else ir_text)
    optimize_module(module, pipeline)
    return target_machine().emit_assembly(module)


def optimized(ir_text: str, pipeline: str = "full") -> str:
    """The IR after the optimization a kernel compiled with ``pipeline`` gets."""
    module = parse_ir(_prefer_wide(ir_text) if pipeline in WIDE_PIPELINES else ir_text)
    optimize_module(module, pipeline)
    return str(module)


def _defined_functions(module: llvm.ModuleRef) -> list[str]:
    """Names of the functions a module defines with external linkage."""
    return [
        fn.name for fn in module.functions
        if not fn.is_declaration and fn.linkage == llvm.Linkage.external
    ]


def compile_ir(
    ir_text: str,
    name: str = "tensorjit",
    symbols: Mapping[str, int] | None = None,
) -> JITModule:
    """Parse, verify, optimize and JIT-link IR; ``symbols`` maps external names to addresses."""
    module = parse_ir(ir_text, name)
    optimize_module(module)
    module.verify()
    exports = _defined_functions(module)
    object_code = target_machine().emit_object(module)
    return JITModule(name, object_code, symbols, exports, optimized_ir=str(module))


def compile_object(ir_text: str, name: str = "tensorjit") -> tuple[bytes, list[str]]:
    """Parse, verify, optimize and emit object code (not linked): (object, exports)."""
    module = parse_ir(ir_text, name)
    optimize_module(module)
    return target_machine().emit_object(module), _defined_functions(module)


# -- compiling on several threads
#
# llvmlite serializes every call into LLVM behind one lock. Optimizing and emitting a
# module are the calls that take time, and LLVM runs them concurrently as long as
# each thread has its own context, module and target machine (as ORC's concurrent
# compiler does). Those two calls are made here without llvmlite's lock; ctypes
# releases the GIL during them. Everything else goes through llvmlite as usual.

_local = threading.local()


def _thread_state() -> tuple[llvm.ContextRef, llvm.TargetMachine]:
    if not hasattr(_local, "context"):
        _initialize()
        cpu, features = host_cpu()
        target = llvm.Target.from_default_triple()
        _local.context = llvm.create_context()
        _local.machine = target.create_target_machine(
            cpu=cpu, features=features, opt=3, reloc="pic", codemodel="jitdefault", jit=True)
    return _local.context, _local.machine


def _unlocked(name: str):
    """The raw ctypes function behind llvmlite's locked wrapper (or the wrapper)."""
    fn = getattr(llvm.ffi.lib, name)
    return getattr(fn, "_cfn", fn)


def compile_object_concurrently(ir_text: str, name: str = "tensorjit",
                                pipeline: str = "full") -> tuple[bytes, list[str]]:
    """compile_object, safe to call from several threads at once (see above), with one
    of the ``PIPELINES``."""
    context, machine = _thread_state()
    if pipeline in WIDE_PIPELINES:
        ir_text = _prefer_wide(str(ir_text))
    try:
        module = llvm.parse_assembly(str(ir_text), context=context)
        module.verify()
    except RuntimeError as exc:
        raise ValueError(f"invalid LLVM IR for module {name!r}: {exc}") from exc
    module.name = name
    module.triple = machine.triple
    module.data_layout = str(machine.target_data)
    pb = llvm.create_pass_builder(machine, _tuning_options(*PIPELINES[pipeline]))
    pm = pb.getModulePassManager()
    _unlocked("LLVMPY_RunNewModulePassManager")(pm, module, pb)
    exports = _defined_functions(module)
    with llvm.ffi.OutputString() as err:
        buf = _unlocked("LLVMPY_TargetMachineEmitToMemory")(machine, module, 1, err)
        if not buf:
            raise RuntimeError(f"LLVM could not emit module {name!r}: {err}")
    try:
        start = llvm.ffi.lib.LLVMPY_GetBufferStart(buf)
        size = llvm.ffi.lib.LLVMPY_GetBufferSize(buf)
        return ctypes.string_at(start, size), exports
    finally:
        llvm.ffi.lib.LLVMPY_DisposeMemoryBuffer(buf)
        module.close()


def load_object(
    object_code: bytes | Sequence[bytes],
    exports: Iterable[str],
    name: str = "tensorjit",
    symbols: Mapping[str, int] | None = None,
) -> JITModule:
    """Link previously emitted object code (e.g. from the disk cache) into the JIT."""
    _initialize()
    return JITModule(name, object_code, symbols, exports)
