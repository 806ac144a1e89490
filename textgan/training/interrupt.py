"""Ctrl-C during training: the first one finishes the current step, saves a checkpoint and exits cleanly;
a second one exits at once.

:func:`handle_interrupts` installs the SIGINT handler for the length of a run; :func:`stop_requested` is
what the training callbacks poll after every step (adversarial iteration) or epoch (MLE: a checkpoint is
only ever written at an epoch's end, where resuming is exact). Files are written atomically, so even the
second Ctrl-C never leaves a torn checkpoint: the run resumes from the last complete one.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)
_requested = threading.Event()
EXIT_CODE = 130  # 128 + SIGINT, what shells report for a job ended by Ctrl-C


class RunInterrupted(Exception):
    """Training stopped at a user's request after saving; ``resume=RUN_DIR`` continues it."""


def stop_requested() -> bool:
    """True once Ctrl-C was pressed during this run."""
    return _requested.is_set()


def request_stop() -> None:
    """What the first Ctrl-C does (also callable from code and tests)."""
    _requested.set()


def _on_sigint(signum, frame) -> None:
    if _requested.is_set():
        print("\ntextgan: second Ctrl-C: exiting now (the last complete checkpoint is kept)", file=sys.stderr)
        os._exit(EXIT_CODE)
    request_stop()
    log.warning("Ctrl-C: finishing the current step, saving a checkpoint and stopping (Ctrl-C again: exit now)")


@contextmanager
def handle_interrupts() -> Iterator[None]:
    """Route SIGINT to the graceful stop while the block runs (main thread only; elsewhere a no-op)."""
    _requested.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()
