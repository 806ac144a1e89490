"""How many CPU threads one training process uses: its share of the cores it may run on.

PyTorch starts as many threads as the machine has cores, so several runs side by side (a Hydra joblib sweep,
a few ``textgan-train`` in terminals, jobs sharing a node) each take every core and slow one another down far
more than their number: on a 2-core machine four runs took a CPU MLE step from ~0.1 s to ~3 s. ``threads``
(top-level config key) fixes that:

- an integer: exactly that many threads;
- ``auto`` (default): ``OMP_NUM_THREADS`` when the user set it; else ``SLURM_CPUS_PER_TASK`` under SLURM; else
  the cores this process may run on (``os.sched_getaffinity``) divided by the jobs the Hydra launcher runs at
  once (``hydra.launcher.n_jobs`` of the joblib launcher), at least 1.

Several runs started by hand cannot know of one another: give each ``threads=N`` (cores / runs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), or ``os.cpu_count()`` where affinity is unknown."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count(setting: int | str | None, concurrent_jobs: int = 1, environ: Mapping[str, str] | None = None) -> int:
    """The threads one process should use under ``setting`` (an int, or ``auto``/None: see the module)."""
    if setting not in (None, "auto"):
        count = int(setting)
        if count < 1:
            raise ValueError(f"threads must be 'auto' or an integer >= 1, got {setting!r}")
        return count
    environ = os.environ if environ is None else environ
    for variable in ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK"):
        value = environ.get(variable, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return max(available_cores() // max(int(concurrent_jobs), 1), 1)


def use_threads(setting: int | str | None, concurrent_jobs: int = 1) -> int:
    """Set torch's intra-op threads for this process (see :func:`thread_count`); returns the count."""
    count = thread_count(setting, concurrent_jobs)
    torch.set_num_threads(count)
    return count
