"""RankGAN: a ranker instead of a classifier, and REINFORCE of the expected log-rank (Lin et al., NeurIPS 2017).

Lin, Li, He, Zhang and Sun, "Adversarial Ranking for Language Generation". The ranker
(:class:`textgan.models.ranker.Ranker`, ``discriminator=ranker``) maps sentences to features ``y``; with the
relevance ``alpha(u | s) = cos(y_u, y_s)`` of a sentence ``u`` to a reference ``s``, the rank score of ``u``
among a comparison set ``C`` is

    P(u | s, C) = exp(gamma alpha(u | s)) / sum_{u' in C + {u}} exp(gamma alpha(u' | s))
    R(u | U, C) = 1/|U| sum_{s in U} P(u | s, C)

an average over reference sentences ``U`` drawn from human text, of a softmax per reference (not the softmax
of the relevance to the references' mean, which Texygen computes: ``softmax`` is not linear, so the two
differ). The game is

    max_ranker  E_{u ~ human}[log R(u | U, C-)] + E_{u ~ G}[log(1 - R(u | U, C+))]
    max_G       E_{u ~ G}[log R(u | U, C+)]

with ``C-`` generated sentences (when ``u`` is human) and ``C+`` human ones (when ``u`` is generated). The
generator's reward ``log R(y | U, C+)`` is estimated for every prefix by SeqGAN's Monte-Carlo rollouts: this
estimator is :class:`textgan.estimators.reinforce.ReinforceEstimator` (rollouts vectorised over prefixes,
rollouts and sentences, baselines, delayed rollout policy) with the rank score as the reward.

Each real batch is split: its first ``min(num_references, B // 2)`` sentences are the references ``U``, the
rest the human sentences (the ``C+`` of the generator's rewards, the ranked humans of the ranker's loss), so
``U`` and the sentences ranked against them never overlap. ``gamma`` is the inverse temperature. Rewards are
scored with the ranker in ``eval()`` mode by default (SeqGAN's convention for its CNN: dropout off, identical
rollouts scored once); the ranker trains with its dropout.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import integer, number
from textgan.estimators.baselines import Baseline
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.models.generator import Generator
from textgan.models.ranker import Ranker

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss


def log_rank_scores(
    candidates: torch.Tensor, comparison: torch.Tensor, references: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``log R(u | U, C)`` for each candidate ``u``: features (N, F), (M, F), (K, F) -> (N,).

    ``log P(u | s, C + {u}) = gamma a(u|s) - log(exp(gamma a(u|s)) + sum_c exp(gamma a(c|s)))``, then the log of
    the mean over the ``K`` references, all in log space (logsumexp).
    """
    unit = [F.normalize(x.float(), dim=-1) for x in (candidates, comparison, references)]
    own = gamma * unit[0] @ unit[2].t()  # (N, K): gamma alpha(u | s)
    others = torch.logsumexp(gamma * unit[1] @ unit[2].t(), dim=0)  # (K,): log sum_c exp(gamma alpha(c | s))
    log_p = own - torch.logaddexp(own, others)  # (N, K): log P(u | s, C + {u})
    return torch.logsumexp(log_p, dim=1) - math.log(references.shape[0])


def split_references(real_features: torch.Tensor, num_references: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of a real batch (B, F) -> references ``U`` (the first ``min(K, B // 2)``) and the rest."""
    count = min(num_references, real_features.shape[0] // 2)
    if count < 1:
        raise ValueError("RankGAN needs at least 2 real sentences per batch (references and compared ones)")
    return real_features[:count], real_features[count:]


def ranker_refusal(discriminator_class: type) -> str | None:
    """Why RankGAN cannot train with a discriminator of ``discriminator_class`` (None: it can)."""
    if issubclass(discriminator_class, Ranker):
        return None
    return (
        "estimator=rankgan needs discriminator=ranker (RankGAN's discriminator ranks by CNN features), "
        f"got {discriminator_class.__name__}"
    )


class RankScore:
    """The generator's reward ``log R(y | U, C+)`` of sentences (n, T) -> (n,), against fixed U and C+.

    A two-stage scorer for :func:`textgan.estimators.rollout.score_rows`: ``logits`` are the rewards
    themselves (n, 1), computed once per distinct row.
    """

    def __init__(self, ranker: Ranker, references: torch.Tensor, humans: torch.Tensor, gamma: float) -> None:
        self.ranker, self.references, self.humans, self.gamma = ranker, references, humans, gamma
        self.calls = 0

    @torch.no_grad()
    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return log_rank_scores(self.ranker(tokens), self.humans, self.references, self.gamma).unsqueeze(1)

    def rewards(self, logits: torch.Tensor, sentences: torch.Tensor | None = None) -> torch.Tensor:
        return logits[:, 0]

    def __call__(self, tokens: torch.Tensor, sentences: torch.Tensor | None = None) -> torch.Tensor:
        return self.rewards(self.logits(tokens))


class RankganEstimator(ReinforceEstimator):
    """RankGAN's REINFORCE with Monte-Carlo rollouts of ``log R(y | U, C+)`` (see the module docstring).

    The other arguments (``reward``, ``rollout_num``, ``baseline``, ``rollout_update_rate``, ``num_samples``,
    ``max_batch``, ``sample_batch``, ``deduplicate``, ``normalize_rewards``, ``entropy_weight``, ``reduction``,
    ``discriminator_dropout``) are :class:`ReinforceEstimator`'s (rollouts of 16 per prefix, SeqGAN's and RankGAN's).

    Args:
        gamma: the inverse temperature of the rank softmax.
        num_references: ``|U|``, taken from the front of each real batch (at most half of it).
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    config_ranges = {"gamma": number(0, above=True), "num_references": integer(1)}

    def __init__(
        self,
        gamma: float = 1.0,
        num_references: int = 16,
        reward: str = "rollout",
        rollout_num: int = 16,
        baseline: Baseline | str | None = None,
        rollout_update_rate: float | None = None,
        num_samples: int | None = None,
        max_batch: int = 256,
        sample_batch: int = 256,
        deduplicate: bool = True,
        normalize_rewards: bool = False,
        entropy_weight: float = 0.0,
        reduction: str = "sequence_mean",
        discriminator_dropout: bool = False,
    ) -> None:
        super().__init__(
            reward, rollout_num, baseline, "log_prob", rollout_update_rate, num_samples, max_batch, sample_batch,
            deduplicate, normalize_rewards, entropy_weight, reduction, discriminator_dropout,
        )  # fmt: skip
        if gamma <= 0 or num_references < 1:
            raise ValueError(f"gamma must be > 0 and num_references >= 1, got {gamma}, {num_references}")
        self.reward_transform = "log_rank"  # the scorer below; none of the discriminator-logit transforms
        self.gamma, self.num_references = gamma, num_references

    @classmethod
    def discriminator_refusal(cls, discriminator_class: type) -> str | None:
        return ranker_refusal(discriminator_class)

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        self.check_discriminator(discriminator)
        super().setup(generator, discriminator)

    def _scorer(self, discriminator: nn.Module, real_tokens: torch.Tensor, gan_loss: GANLoss | None) -> RankScore:
        """Called by the parent's ``generator_loss`` in the rewards' mode and without a graph."""
        ranker = self.check_discriminator(discriminator)
        references, humans = split_references(ranker(real_tokens), self.num_references)
        return RankScore(ranker, references, humans, self.gamma)

    def discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_loss: GANLoss
    ) -> torch.Tensor:
        """``-mean log R(human | U, C-) - mean log(1 - R(fake | U, C+))``, one ranker pass over all sentences."""
        ranker = self.check_discriminator(discriminator)
        features = ranker(torch.cat([real, fake]))  # (B_real + B_fake, F), one pass (dropout on in training)
        references, humans = split_references(features[: real.shape[0]], self.num_references)
        generated = features[real.shape[0] :]
        log_human = log_rank_scores(humans, generated, references, self.gamma)  # ranked among generated (C-)
        log_fake = log_rank_scores(generated, humans, references, self.gamma)  # ranked among human (C+)
        log_not_fake = torch.log(-torch.expm1(log_fake).clamp_max(-1e-12))  # log(1 - R), R < 1 always
        return -(log_human.mean() + log_not_fake.mean())
