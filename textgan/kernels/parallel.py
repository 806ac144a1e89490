"""Splitting a native kernel's rows over threads.

Rows are split into one contiguous range per torch intra-op thread. The ranges run on torch's own OpenMP threads
when the library was built with ``-fopenmp`` against torch's runtime (``run_parts``), else on a thread pool of
this module (``ctypes`` releases the GIL while a kernel runs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

from textgan.kernels import build

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def parallel_rows(rows: int, work: Callable[[int, int, int], None], min_rows: int = 1) -> int:
    """Run ``work(part, n0, n1)`` on one contiguous row range per torch intra-op thread, in parallel, with at
    least ``min_rows`` rows per range (handing work over costs time: small calls run in this thread).

    The ranges run on torch's own OpenMP threads when the library shares torch's runtime (``run_parts``), else
    on a thread pool of this module. Returns the number of parts (for per-thread partial sums).
    """
    global _pool, _pool_size
    workers = num_parts(rows, min_rows)
    ranges = [(rows * i // workers, rows * (i + 1) // workers) for i in range(workers)]
    if workers == 1:
        work(0, *ranges[0])
        return 1
    lib = build.library()
    if lib is not None and lib.shares_torch_threads:
        errors: list[BaseException] = []

        def part(index: int) -> None:
            try:
                work(index, *ranges[index])
            except BaseException as error:  # a ctypes callback cannot raise: carried out and raised below
                errors.append(error)

        lib.run_parts(workers, build.PART(part))
        if errors:
            raise errors[0]
        return workers
    with _lock:
        if _pool is None or _pool_size < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="textgan-native")
            _pool_size = workers
    for future in [_pool.submit(work, part, n0, n1) for part, (n0, n1) in enumerate(ranges)]:
        future.result()
    return workers


def num_parts(rows: int, min_rows: int = 1) -> int:
    """How many row ranges :func:`parallel_rows` will use for ``rows`` rows."""
    return max(1, min(torch.get_num_threads(), rows // max(1, min_rows)))
