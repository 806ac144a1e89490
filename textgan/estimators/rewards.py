"""Rewards for score-function estimators: the discriminator's verdict on hard token sequences.

SeqGAN rewards a sentence with the discriminator's probability that it is real, ``sigmoid(logit)``, computed
without dropout (``dropout_keep_prob = 1``) and without a graph. The transform is an option:

* ``prob``: ``sigmoid(logit)`` in (0, 1) (SeqGAN);
* ``logit``: the raw logit, unbounded (the reward a WGAN / hinge critic implies);
* ``log_prob``: ``log sigmoid(logit)``, minus the per-sentence non-saturating (``standard``) generator loss.

With ``R`` logits per sentence (RelGAN's representations) the transformed values are averaged over ``R``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

REWARD_TRANSFORMS = ("prob", "logit", "log_prob")


def reward_from_logits(logits: torch.Tensor, transform: str = "prob") -> torch.Tensor:
    """Discriminator logits (N, R) -> rewards (N,) float32, averaged over the ``R`` representations."""
    logits = logits.float()
    if transform == "prob":
        values = torch.sigmoid(logits)
    elif transform == "logit":
        values = logits
    elif transform == "log_prob":
        values = F.logsigmoid(logits)
    else:
        raise ValueError(f"unknown reward transform {transform!r}; choose one of {REWARD_TRANSFORMS}")
    return values.mean(dim=-1)


class DiscriminatorReward:
    """A scorer ``(N, T) token ids -> (N,) rewards`` from a discriminator, counting its calls.

    Args:
        discriminator: any module mapping (N, T) ids to (N, R) logits.
        transform: see the module docstring.
        autocast_dtype: e.g. ``torch.bfloat16`` to score under ``torch.autocast`` (about twice as fast on CPUs
            with bf16 units); rewards are only as precise as that type. None: full precision.
    """

    def __init__(
        self, discriminator: nn.Module, transform: str = "prob", autocast_dtype: torch.dtype | None = None
    ) -> None:
        if transform not in REWARD_TRANSFORMS:
            raise ValueError(f"unknown reward transform {transform!r}; choose one of {REWARD_TRANSFORMS}")
        self.discriminator, self.transform, self.autocast_dtype = discriminator, transform, autocast_dtype
        self.calls = 0
        self.sentences = 0

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.sentences += tokens.shape[0]
        if self.autocast_dtype is None:
            return reward_from_logits(self.discriminator(tokens), self.transform)
        with torch.autocast(tokens.device.type, dtype=self.autocast_dtype):
            logits = self.discriminator(tokens)
        return reward_from_logits(logits, self.transform)


@contextlib.contextmanager
def evaluation_mode(module: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Put ``module`` in ``eval()`` (no dropout) for the block, then restore each submodule's mode."""
    if not enabled:
        yield module
        return
    modes = {sub: sub.training for sub in module.modules()}
    module.eval()
    try:
        yield module
    finally:
        for sub, training in modes.items():
            sub.training = training
