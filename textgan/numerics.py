"""Process-wide floating-point settings for training on CPUs.

Subnormal ("denormal") floats, below 1.2e-38 in float32, cost x86 cores about a hundred times more per
operation than normal ones. Text generators produce them in bulk: the teacher-forced log-softmax backward fills
a (B, T, V) gradient with products of tiny probabilities, and once the generator is peaked many are subnormal;
the output projection's backward product over them then runs orders of magnitude slower. Flushing them to
zero (the FTZ and DAZ modes) changes results only below 1.2e-38 and keeps runs deterministic.
"""

from __future__ import annotations

import torch


def flush_denormals(enabled: bool = True) -> bool:
    """Treat subnormal floats as zero on CPU, in this thread and in threads it creates from now on.

    Call it before the process's first parallel torch operation: OpenMP worker threads copy the floating-point
    mode of the thread that starts them, and a running pool keeps the mode it started with. GPUs are not
    affected. Returns whether the CPU supports it (x86 with SSE3).
    """
    return torch.set_flush_denormal(enabled)
