"""Specialize: cheaper forms that compute the same values (placeholder, filled below)."""

from __future__ import annotations

from .rewriter import Rewrite

REWRITES: list[Rewrite] = []
