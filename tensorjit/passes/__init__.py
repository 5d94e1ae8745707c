"""Rewrite passes: the engine (rewriter), the phases and their order (pipeline)."""

from .pipeline import OPTIMIZERS, PHASES, optimize, rewrite_names
from .rewriter import Rewrite, RewriteLoopError, local_rewrite

__all__ = ["OPTIMIZERS", "PHASES", "Rewrite", "RewriteLoopError", "local_rewrite",
           "optimize", "rewrite_names"]
