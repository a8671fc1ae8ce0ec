"""Hand the memory glibc's malloc keeps free back to the system, now and then (the worker).

Measured (`python -m bench state`, BENCHMARKS.md "State"): after the tables stopped holding keys in
memory, most of the worker's remaining growth per event was memory malloc had freed and kept in
its pools (276 bytes per event over 24,000 events), not anything still in use. `malloc_trim(0)`
returns the free pages of every arena. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        return None
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return malloc's free pages to the system; False where that is not possible."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
