"""Imports every module that registers native codegen rules."""

from . import elemwise  # noqa: F401
