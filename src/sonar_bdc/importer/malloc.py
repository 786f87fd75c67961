"""Fewer glibc malloc arenas for the import's worker threads.

glibc gives a thread that allocates an arena of its own (up to eight per core) and
keeps what is freed in it for later. CPython threads allocate under the GIL, one
at a time, so the extra arenas buy no speed; with 10 to 32 workers decoding answers
of 4 to 140 KB they only fragment, and the peak memory of a v2 import grew with
the account count (100 MB at 50,000 accounts against 68 MB at 5,000; one worker:
64 against 56). ``MALLOC_ARENA_MAX`` in the environment does the same and wins.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_arenas(count: int = 2) -> bool:
    """Ask glibc for at most ``count`` arenas; False where that is not possible
    (another C library) or the environment already chose."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # TypeError: CDLL(None) on Windows
        return False
    return bool(mallopt(M_ARENA_MAX, count))
