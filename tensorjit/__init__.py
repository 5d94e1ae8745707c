"""tensorjit: a symbol-to-symbol graph compiler for numerical Python."""

from .graph import ops as _ops  # noqa: F401
from .graph.basic import Apply, Constant, Op, SharedVariable, Variable, constant
from .graph.constructors import CONSTRUCTORS as _CONSTRUCTORS
from .graph.constructors import col, row, shared, tensor
from .graph.fg import FunctionGraph
from .graph.grad import Lop, Rop, grad
from .graph.ops.elemwise import add, cast, mul, neg, ones_like, sub, true_div, zeros_like
from .graph.ops.reduce import sum
from .graph.ops.shape import dimshuffle, shape
from .graph.types import TensorType
from .runtime.function import Function, In, function

globals().update(_CONSTRUCTORS)

__version__ = "0.1.0"
