"""What a program IS: types, variables, apply nodes, ops, FunctionGraph, differentiation."""

from . import ops  # noqa: F401  (fills the operator table)
from .basic import Apply, Constant, Op, SharedVariable, Variable, constant
from .fg import FunctionGraph
from .types import TensorType

__all__ = ["Apply", "Constant", "FunctionGraph", "Op", "SharedVariable", "TensorType",
           "Variable", "constant"]
