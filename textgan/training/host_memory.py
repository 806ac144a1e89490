"""Give freed host memory back to the operating system between training phases.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves blocks below a threshold that grows
up to 32 MB from its heap, and keeps freed heap memory mapped for reuse; a GAN iteration frees and allocates
blocks of many sizes in different orders (the generator's backward through T steps, then five discriminator
updates), so holes accumulate and the resident size grows well past the live tensors. ``malloc_trim``
returns the free pages, holes included, to the system. Called once after the generator phase and once after
the discriminator phase, it keeps the resident peak of an iteration close to its live tensors (the README's
benchmark section has the measurements).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return None
    return getattr(libc, "malloc_trim", None)


def release_free_memory() -> bool:
    """Return the C heap's free pages to the operating system; whether this platform can (glibc on Linux).

    Live tensors are untouched; the next allocations fault fresh pages in, so call it between phases, not
    inside hot loops.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
