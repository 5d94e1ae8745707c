"""tensorjit.printing: how a program is shown (text trees, pictures, IR dumps)."""

from .debugprint import debugprint

__all__ = ["debugprint"]
