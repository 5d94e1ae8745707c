"""The op library, one module per family. Importing it fills the Python operator table."""

from . import elemwise, reduce, shape  # noqa: F401
