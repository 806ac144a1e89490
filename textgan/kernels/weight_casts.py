"""Cast each weight once per recurrent loop under autocast, not once per time step.

Under ``torch.autocast`` every ``F.linear`` casts its float32 weight to the low-precision dtype. Autocast can
cache those casts, but Lightning's mixed-precision plugin turns the cache off (``cache_enabled=False``): with
manual optimisation an optimiser step inside the autocast region would otherwise leave stale casts behind. A
recurrent loop calls the same weights at every step (20 steps at the oracle's length, 37 at COCO's), so without
the cache the loop re-casts the cell's weights, and sums their gradients back into float32, once per step.

:func:`weights_cast_once` turns the cache on for the loop only and empties it when the loop ends, before any
optimiser can change a weight. Only weights that require gradients are cached (autocast's rule), so the loops
of training are covered. Loops without a graph (sampling, a discriminator's fakes while the generator is frozen)
pass ``module``: its frozen float32 parameters are marked as requiring gradients for the loop's duration, which
makes them cacheable and, with gradients off, records nothing (at oracle size this saves re-casting 4.4 M
weights at each of the 20 steps of a 320-row loop, ~15 ms). Forward values are bitwise the same
(the cache holds exactly the cast each step would have made). Gradients differ in rounding only: each step's
weight gradient is summed into the one cast in the low precision before it is cast back to float32, as in
plain autocast training, instead of being cast to float32 step by step. At oracle size (RMC 1 x 2 x 256,
bf16) the MLE gradient's relative error against float32 is 0.0720 either way, and a bf16-mixed MLE step under
Lightning's autocast settings spends 16 ms instead of 36 ms in casts (368 -> 327 ms, one thread).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def autocast_dtype(kind: str) -> torch.dtype | None:
    """The dtype autocast computes products in on device type ``kind`` ("cpu", "cuda"); None when it is off."""
    return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None


@contextlib.contextmanager
def weights_cast_once(device: torch.device, module: nn.Module | None = None) -> Iterator[None]:
    """Within the block, autocast casts each weight once (a no-op when autocast is off on ``device``).

    ``module``: with gradients disabled, its frozen float32 parameters are cached too (see the module docstring).
    """
    kind = device.type
    dtype = autocast_dtype(kind)
    if dtype is None:
        yield
        return
    thawed = []
    if module is not None and not torch.is_grad_enabled():
        thawed = [p for p in module.parameters() if not p.requires_grad and p.dtype == torch.float32]
    try:
        for parameter in thawed:
            parameter.requires_grad_(True)
        with torch.autocast(kind, dtype=dtype, cache_enabled=True):
            yield
    finally:
        for parameter in thawed:
            parameter.requires_grad_(False)
        torch.clear_autocast_cache()  # the loop's casts must not outlive it (weights change after it)
