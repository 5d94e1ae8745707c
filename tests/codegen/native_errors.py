"""Checking errors that native kernels detect.

A native kernel that finds bad input (an index out of bounds, a shape mismatch)
reports a code and two numbers; the runtime then re-runs the call on the reference
evaluator and raises its fuller message, keeping the native error as ``native_error``.
These tests check both: the kernel itself caught the problem (safety does not rest on
the reference evaluator) and the user sees the reference message.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

import pytest


@contextmanager
def raises_natively(exc_type: type[BaseException], native_match: str,
                    match: str | None = None) -> Iterator[pytest.ExceptionInfo]:
    """Like pytest.raises, and the native error's message matches ``native_match``."""
    with pytest.raises(exc_type, match=match) as info:
        yield info
    native = getattr(info.value, "native_error", None)
    assert native is not None, f"no native error behind {info.value!r}"
    assert re.search(native_match, str(native)), f"native error: {native}"
