"""The op library, one module per family. Importing it fills the Python operator table."""

from . import (creation, elemwise, indexing, join, linalg, nn, reduce,  # noqa: F401
               scalar_arith, scalar_logic, scalar_math, shape)
from . import composite  # noqa: F401
