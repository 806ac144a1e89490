"""MaliGAN: maximum-likelihood augmented discrete GAN, with its mixed-MLE training schedule.

Che, Li, Zhang, Hjelm, Li, Song and Bengio, *Maximum-Likelihood Augmented Discrete Generative Adversarial
Networks* (arXiv 1702.07983, 2017). A discriminator ``D`` trained by the standard GAN loss against the
generator ``p_theta'`` has the optimum ``D* = p_d / (p_d + p_theta')``, so ``r_D(x) = D(x) / (1 - D(x))``
re-weights the generator towards the data: the paper's target is

    q(x) = p_theta'(x) r_D(x) / Z,    Z = E_{p_theta'}[r_D],        (q = p_d when D = D*)

and the generator minimises ``KL(q || p_theta)`` with ``theta'`` a frozen copy of ``theta`` (here the current
parameters, ``theta' = theta`` at the point where the gradient is taken). Its gradient is an importance-sampled
maximum-likelihood gradient,

    -grad KL(q || p_theta) = E_q[grad log p_theta(x)] = E_{p_theta}[(r_D(x) / Z - b) grad log p_theta(x)],

exact for any constant ``b`` (``E_p[grad log p] = 0``). ``Z`` is unknown, so the paper replaces ``r_D / Z`` by
the weights normalised over the ``m`` samples,

    g = sum_i (w_i - b) grad log p_theta(x_i),    w_i = r_D(x_i) / sum_j r_D(x_j),   sum_i w_i = 1,

with ``b = 1 / m``, the mean normalised weight (as TextGAN-PyTorch's MaliGAN; a constant, so a valid baseline).
With the exact weights ``r_D / (m Z)`` this is an unbiased estimate of ``E_q[grad log p_theta]``; with the
self-normalised weights it is *consistent* (its bias is O(1 / m)), not unbiased: the claim the tests check.
For a sentence ``grad log p_theta(x) = sum_t grad log p(x_t | x_<t)``: every token of sample ``i`` carries
``w_i - b``.

**Mixed MLE training** (the paper's Algorithm 2, sequential MaliGAN): for each real sentence ``x`` of the batch
the first ``N`` tokens are kept and ``n`` suffixes are sampled from ``p_theta(. | x_1..x_N)``; the generator
minimises the MLE loss of the prefix plus the MaliGAN loss of the sampled suffixes, whose weights are normalised
over the ``n`` samples sharing the prefix (they estimate the conditional target ``q(. | x_1..x_N)``):

    loss = 1/B sum_i [ -sum_{t<=N} log p(x_it | x_i<t) - sum_j (w_ij - 1/n) sum_{t>N} log p(y_ijt | y_ij<t) ].

``N`` starts at ``T - K`` and drops by ``K`` every ``I`` iterations (``N(s) = max(T - K (1 + s // I), 0)``): the
sampled part grows until whole sentences are sampled (then it is Algorithm 1 with ``B`` groups of ``n``).

``mixed_mle: false`` is Algorithm 1: ``B`` whole sentences, weights normalised over the batch, through
:class:`ReinforceEstimator` (``reward_transform="maligan"``); ``reward: rollout`` there gives each token the mean
weight of ``K`` Monte-Carlo completions of its prefix, each completion a fresh sample (TextGAN-PyTorch's
MaliGAN scores the *same* sentences ``rollout_num`` times instead), normalised per position over the batch.
Both paths keep the paper's scale: the weights sum to one, so ``sum_i (w_i - b) log p(x_i)`` is already an
average over the samples (the REINFORCE path runs with ``reduction="sum"``). The discriminator scores in
``eval()`` mode by default (no dropout in a reward).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.config_ranges import Arguments, Refusals, integer, one_of
from textgan.estimators.base import EstimatorOutput
from textgan.estimators.baselines import Baseline
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.rewards import evaluation_mode
from textgan.models.generator import Generator
from textgan.sampling import categorical_sample

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss

MALIGAN_BASELINES = ("mean", "none")


class MeanWeightBaseline(Baseline):
    """``b = 1 / m``: the mean of ``m`` weights normalised to sum to one (per column), a constant."""

    def forward(self, rewards: torch.Tensor, greedy_rewards: torch.Tensor | None = None) -> torch.Tensor:
        return torch.full_like(rewards, 1.0 / rewards.shape[0])


def normalized_weights(odds: torch.Tensor) -> torch.Tensor:
    """``r_ij / sum_j' r_ij'``: odds (G, n) of ``G`` groups of ``n`` samples -> weights summing to one per group."""
    return odds / odds.sum(dim=-1, keepdim=True).clamp_min(1e-30)


def maligan_group_losses(
    log_probs: torch.Tensor, odds: torch.Tensor, prefix_length: int = 0, baseline: bool = True
) -> torch.Tensor:
    """The mixed MaliGAN loss of each group: per-token log-probs (G, n, T) with a graph, odds (G, n) -> (G,).

    The ``n`` rows of group ``g`` share their first ``prefix_length`` tokens (a real prefix): its MLE loss,
    plus ``-sum_j (w_gj - b) log p(suffix_gj | prefix)`` with the weights normalised over the group and
    ``b = 1 / n`` (``baseline``) or 0.
    """
    groups, samples, _ = log_probs.shape
    advantages = normalized_weights(odds.detach().float())  # (G, n)
    if baseline:
        advantages = advantages - 1.0 / samples
    prefix_nll = -log_probs[:, 0, :prefix_length].sum(dim=-1)  # (G,): the same prefix in every row
    suffix = log_probs[:, :, prefix_length:].sum(dim=-1)  # (G, n)
    return prefix_nll - (advantages * suffix).sum(dim=-1)


def prefix_length_at(step: int, length: int, suffix_step: int, suffix_every: int) -> int:
    """Algorithm 2's teacher-forced prefix ``N`` at iteration ``step``: ``max(T - K (1 + step // I), 0)``."""
    return max(length - suffix_step * (1 + step // suffix_every), 0)


class MaliganEstimator(ReinforceEstimator):
    """MaliGAN's normalised importance weights, with the mixed-MLE schedule (see the module docstring).

    Args:
        mixed_mle: Algorithm 2 (real prefix by MLE, sampled suffix by MaliGAN); False: Algorithm 1.
        samples_per_prefix: ``n``, suffixes sampled per real prefix (mixed MLE).
        suffix_step: ``K``, tokens the sampled suffix grows by.
        suffix_every: ``I``, iterations between growths.
        reward: ``sequence`` (one weight per sentence, the paper) or ``rollout`` (mean weight of ``rollout_num``
            completions per prefix; Algorithm 1 only).
        baseline: ``mean`` (``b = 1 / m``) or ``none``.
        num_samples, max_batch, sample_batch, deduplicate, discriminator_dropout, reward_autocast: as for
            :class:`ReinforceEstimator` (Algorithm 1's path); ``num_samples``: its sentences per update.
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    config_ranges = {
        "samples_per_prefix": integer(1),
        "suffix_step": integer(1),
        "suffix_every": integer(1),
        "baseline": one_of(*MALIGAN_BASELINES),
    }

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        if arguments["mixed_mle"] and arguments["reward"] == "rollout":
            yield "reward", "'sequence' with {mixed_mle}=true (Algorithm 2 weighs whole samples)"

    def __init__(
        self,
        mixed_mle: bool = True,
        samples_per_prefix: int = 4,
        suffix_step: int = 1,
        suffix_every: int = 50,
        reward: str = "sequence",
        rollout_num: int = 16,
        baseline: str = "mean",
        num_samples: int | None = None,
        max_batch: int = 256,
        sample_batch: int = 256,
        deduplicate: bool = True,
        discriminator_dropout: bool = False,
        reward_autocast: str | None = None,
    ) -> None:
        if baseline not in MALIGAN_BASELINES:
            raise ValueError(f"unknown MaliGAN baseline {baseline!r}; choose one of {MALIGAN_BASELINES}")
        if mixed_mle and reward == "rollout":
            raise ValueError("MaliGAN: reward='rollout' needs mixed_mle=false (Algorithm 2 weighs whole samples)")
        if min(samples_per_prefix, suffix_step, suffix_every) < 1:
            raise ValueError("samples_per_prefix, suffix_step and suffix_every must be positive")
        super().__init__(
            reward=reward, rollout_num=rollout_num, baseline=MeanWeightBaseline() if baseline == "mean" else "none",
            reward_transform="maligan", reduction="sum", num_samples=num_samples, max_batch=max_batch,
            sample_batch=sample_batch, deduplicate=deduplicate, discriminator_dropout=discriminator_dropout,
            reward_autocast=reward_autocast,
        )  # fmt: skip
        self.mixed_mle, self.samples_per_prefix = mixed_mle, samples_per_prefix
        self.suffix_step, self.suffix_every = suffix_step, suffix_every
        self.use_baseline = baseline == "mean"

    def prefix_length(self, step: int, length: int) -> int:
        """The teacher-forced prefix ``N`` at iteration ``step`` (0 without the mixed schedule)."""
        if not self.mixed_mle:
            return 0
        return prefix_length_at(step, length, self.suffix_step, self.suffix_every)

    @torch.no_grad()
    def sample_suffixes(self, generator: Generator, real_tokens: torch.Tensor, prefix_length: int) -> torch.Tensor:
        """``n`` completions of each real prefix: (B, T) -> (B * n, T), row ``i * n + j`` completing ``x_i``."""
        batch, length = real_tokens.shape
        samples = self.samples_per_prefix
        real_rows = real_tokens.repeat_interleave(samples, dim=0)  # (B n, T)
        if prefix_length >= length:
            return real_rows
        state, first_input = None, None
        if prefix_length > 0:  # teacher-force the B prefixes once, then give each of the n rows its state
            columns = iter(real_tokens[:, :prefix_length].unbind(dim=1))
            _, _, states = generator.unroll(batch, prefix_length, lambda _: next(columns), keep_states=True)
            state = tuple(component.repeat_interleave(samples, dim=0) for component in states[-1])
            first_input = real_rows[:, prefix_length - 1]

        def choose(logits: torch.Tensor) -> torch.Tensor:
            return categorical_sample(logits)

        suffix, _, _ = generator.unroll(
            batch * samples, length - prefix_length, choose, state=state, first_input=first_input
        )  # (B n, T - N)
        return torch.cat([real_rows[:, :prefix_length], suffix], dim=1)

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss | None,
        step: int,
    ) -> EstimatorOutput:
        if not self.mixed_mle:
            return super().generator_loss(generator, discriminator, real_tokens, gan_loss, step)
        batch, length = real_tokens.shape
        prefix = self.prefix_length(step, length)
        rows = self.sample_suffixes(generator, real_tokens, prefix)  # (B n, T)
        with torch.no_grad(), evaluation_mode(discriminator, enabled=not self.discriminator_dropout):
            odds = self._scorer(discriminator, real_tokens, gan_loss)(rows)  # (B n,) r_D = D / (1 - D)
        odds = odds.view(batch, self.samples_per_prefix)
        log_probs = generator.log_prob(rows).view(batch, self.samples_per_prefix, length)  # (B, n, T), a graph
        loss = maligan_group_losses(log_probs, odds, prefix, self.use_baseline).mean()
        weights = normalized_weights(odds)
        logs: dict[str, torch.Tensor | float] = {
            "prefix_length": float(prefix),
            "reward": odds.mean(),
            "effective_samples": (1.0 / weights.square().sum(dim=-1)).mean(),  # of n, per prefix
            "log_prob": log_probs.detach().sum(dim=-1).mean(),
        }
        return EstimatorOutput(loss=loss, logs=logs)
