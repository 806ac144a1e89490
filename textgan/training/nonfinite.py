"""What a training stage does when a loss or a gradient is not finite: stop with a named error, or skip.

``on_nonfinite=stop`` (the default) raises :class:`NonFiniteError` naming the stage, the step and the
quantity; nothing is saved after it, so the run's last checkpoint is the last good state, and
``resume=RUN_DIR`` continues from there (e.g. with a lower learning rate). ``on_nonfinite=skip`` drops the
offending update instead (the optimiser does not step, its state is untouched) and counts the skips, which
are logged as ``{stage}/nonfinite_skips`` and kept in checkpoints and the run summary.

A check costs one host synchronisation for all the quantities it is given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import torch

MODES = ("stop", "skip")
log = logging.getLogger(__name__)


class NonFiniteError(RuntimeError):
    """A loss or gradient was NaN or infinite and ``on_nonfinite=stop``."""


def gradient_norm(parameters: Iterable[torch.nn.Parameter]) -> torch.Tensor:
    """The global L2 norm of the parameters' gradients (0 when none has one), without a host sync."""
    gradients = [p.grad for p in parameters if p.grad is not None]
    if not gradients:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(gradients)


class NonFiniteGuard:
    """Checks named scalars of one stage; ``mode`` is ``stop`` or ``skip`` (see the module docstring)."""

    def __init__(self, stage: str, mode: str = "stop") -> None:
        if mode not in MODES:
            raise ValueError(f"on_nonfinite must be one of {', '.join(MODES)}, got {mode!r}")
        self.stage, self.mode, self.skipped = stage, mode, 0

    def all_finite(self, where: str, quantities: dict[str, torch.Tensor]) -> bool:
        """True when every quantity is finite; otherwise raise (``stop``) or count a skip and return False.

        ``where``: the step, as a person reads it (``"iteration 17"``, ``"epoch 3, step 120"``).
        """
        names = list(quantities)
        values = torch.stack([quantities[n].detach().float().reshape(()).cpu() for n in names]).tolist()
        bad = [f"{name} = {value}" for name, value in zip(names, values, strict=True) if not math.isfinite(value)]
        if not bad:
            return True
        message = f"{self.stage} stage, {where}: non-finite {'; '.join(bad)}"
        if self.mode == "stop":
            raise NonFiniteError(
                f"{message}. Nothing was saved after it: resume=RUN_DIR continues from the last checkpoint "
                "(on_nonfinite=skip skips such updates instead)"
            )
        self.skipped += 1
        log.warning("%s; update skipped (%d so far)", message, self.skipped)
        return False

