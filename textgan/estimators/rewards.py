"""Rewards for score-function estimators: the discriminator's verdict on hard token sequences.

A reward is computed in two stages, so that identical sentences are scored by the discriminator once even when
their rewards differ: ``logits(tokens)`` (N, T) -> (N, R), then ``rewards(logits, sentences)`` -> (N,), where
``sentences[n]`` is the index of the sampled sentence row ``n`` belongs to (a rollout completion belongs to the
sentence whose prefix it completes).

The default reward (``transform="gan_loss"``) is minus the per-sentence generator loss of the configured GAN
loss, ``r(y_i) = -loss_G(real_i, D(y_i))`` (:meth:`textgan.losses.gan.GANLoss.generator_loss` with
``reduction="none"``). The relaxed estimators differentiate the batch mean of the same per-sentence losses, so
every estimator estimates the gradient of one objective. For the relativistic loss the fake sentence ``i``
(and every rollout completing its prefix) is paired with row ``i mod B_real`` of the real batch's logits.

SeqGAN's rewards are options (the SeqGAN presets select ``prob``):

* ``prob``: ``sigmoid(logit)`` in (0, 1) (SeqGAN);
* ``logit``: the raw logit, unbounded (minus the hinge / WGAN generator loss);
* ``log_prob``: ``log sigmoid(logit)``, minus the per-sentence non-saturating (``standard``) generator loss;
* ``maligan``: MaliGAN's importance weight (Che et al., 2017, "Maximum-Likelihood Augmented Discrete
  Generative Adversarial Networks"), ``r_i = D_i / (1 - D_i)`` with ``D_i = sigmoid(logit)`` averaged over
  ``R``, which the estimator normalises over the batch's sentences, ``r_i / sum_j r_j``
  (:func:`normalize_importance_weights`; a batch-level step, so not part of ``rewards``).

With ``R`` logits per sentence (RelGAN's representations) the transformed values are averaged over ``R``
(for ``maligan``, ``D`` is averaged before the odds are taken). Like ``prob``, the MaliGAN reward belongs to the
SeqGAN family: it is not minus the configured GAN loss, so it changes the objective, not only the estimator.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from textgan.losses.gan import GANLoss, paired_real_logits

REWARD_TRANSFORMS = ("gan_loss", "prob", "logit", "log_prob", "maligan")


def reward_from_logits(logits: torch.Tensor, transform: str = "prob") -> torch.Tensor:
    """Discriminator logits (N, R) -> rewards (N,) float32 under a SeqGAN-style transform, averaged over ``R``."""
    logits = logits.float()
    if transform == "prob":
        values = torch.sigmoid(logits)
    elif transform == "logit":
        values = logits
    elif transform == "log_prob":
        values = F.logsigmoid(logits)
    elif transform == "maligan":  # D / (1 - D) with D = mean_R sigmoid; 1 - D = mean_R sigmoid(-logit), no cancellation
        return torch.sigmoid(logits).mean(dim=-1) / torch.sigmoid(-logits).mean(dim=-1).clamp_min(1e-30)
    else:
        raise ValueError(f"unknown reward transform {transform!r}; choose one of {REWARD_TRANSFORMS[1:]}")
    return values.mean(dim=-1)


def normalize_importance_weights(weights: torch.Tensor, others: torch.Tensor | None = None) -> torch.Tensor:
    """MaliGAN's normalisation over the batch: weights (B, T') -> ``w_bt / sum_b' w_b't`` per column (B, T').

    Each column (one reward per sentence, or the rollout rewards of one position) sums to one over the batch's
    sentences. ``others`` (e.g. greedy rewards, (B', T') or broadcastable) are divided by the same column
    sums and returned instead, so a baseline stays on the rewards' scale.
    """
    totals = weights.sum(dim=0, keepdim=True).clamp_min(1e-30)  # (1, T')
    return (weights if others is None else others) / totals


class DiscriminatorReward:
    """Scores sentences with a discriminator: ``logits(tokens)`` then ``rewards(logits, sentences)``.

    Args:
        discriminator: any module mapping (N, T) ids to (N, R) logits.
        transform: ``gan_loss`` (minus the per-sentence GAN generator loss), ``prob``, ``logit``, ``log_prob``
            or ``maligan`` (unnormalised odds ``D / (1 - D)``; see the module docstring).
        gan_loss: the configured GAN loss (needed by ``gan_loss``).
        real_logits: the discriminator's logits of the real batch (B_real, R), needed when the GAN loss is
            relativistic.
        autocast_dtype: e.g. ``torch.bfloat16`` to score under ``torch.autocast``; rewards are only as precise
            as that type. None: full precision.
    """

    def __init__(
        self,
        discriminator: nn.Module,
        transform: str = "gan_loss",
        gan_loss: GANLoss | None = None,
        real_logits: torch.Tensor | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        if transform not in REWARD_TRANSFORMS:
            raise ValueError(f"unknown reward transform {transform!r}; choose one of {REWARD_TRANSFORMS}")
        if transform == "gan_loss":
            if gan_loss is None:
                raise ValueError("reward_transform='gan_loss' needs the configured GAN loss")
            if gan_loss.uses_real_in_generator_loss and real_logits is None:
                raise ValueError(f"{gan_loss!r} pairs each fake with a real sentence: pass real_logits")
        self.discriminator, self.transform, self.autocast_dtype = discriminator, transform, autocast_dtype
        self.gan_loss = gan_loss
        self.real_logits = real_logits.detach().float() if real_logits is not None else None
        self.calls = 0
        self.sentences = 0

    @torch.no_grad()
    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Discriminator logits of sentences (N, T) -> (N, R), counted as one call."""
        self.calls += 1
        self.sentences += tokens.shape[0]
        if self.autocast_dtype is None:
            return self.discriminator(tokens).float()
        with torch.autocast(tokens.device.type, dtype=self.autocast_dtype):
            return self.discriminator(tokens).float()

    @torch.no_grad()
    def rewards(self, logits: torch.Tensor, sentences: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (N, R) of rows belonging to sampled sentences ``sentences`` (N,) -> rewards (N,).

        ``sentences`` defaults to ``0 .. N - 1`` (each row is its own sampled sentence).
        """
        if self.transform != "gan_loss":
            return reward_from_logits(logits, self.transform)
        real = None
        if self.gan_loss.uses_real_in_generator_loss:
            real = paired_real_logits(self.real_logits, logits.shape[0] if sentences is None else sentences)
        return -self.gan_loss.generator_loss(real, logits, reduction="none")

    def __call__(self, tokens: torch.Tensor, sentences: torch.Tensor | None = None) -> torch.Tensor:
        """Rewards of sentences (N, T) -> (N,) in one discriminator call."""
        return self.rewards(self.logits(tokens), sentences)


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
