"""tensorjit: a symbol-to-symbol graph compiler for numerical Python.

Build a graph from symbolic inputs, ask for gradients (more graph), compile with
``function`` and call it with NumPy arrays.
"""

# ruff: noqa: F401, F403
from .graph.basic import Apply, Constant, Op, SharedVariable, Variable, constant
from .graph.constructors import CONSTRUCTORS as _CONSTRUCTORS
from .graph.constructors import col, row, shared, tensor
from .graph.derivatives import *
from .graph.fg import FunctionGraph
from .graph.grad import Lop, Rop, grad
from .graph.ops.creation import *
from .graph.ops.elemwise import *
from .graph.ops.indexing import *
from .graph.ops.join import *
from .graph.ops.linalg import *
from .graph.ops.nn import *
from .graph.ops.reduce import *
from .graph.ops.scalar_arith import *
from .graph.ops.scalar_logic import *
from .graph.ops.scalar_math import *
from .graph.ops.shape import *
from .graph.types import TensorType
from .codegen import cache
from .gradcheck import GradientError, verify_grad
from .printing.dot import render, to_dot
from .printing.pprint import pprint
from .printing.debugprint import debugprint
from .runtime.function import Function, In, function

globals().update(_CONSTRUCTORS)

__version__ = "0.1.0"
