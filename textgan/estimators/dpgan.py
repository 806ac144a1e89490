"""DPGAN: REINFORCE with a language model's cross-entropy as the reward (Xu et al., EMNLP 2018).

Xu, Ren, Lin and Sun, "Diversity-Promoting GAN: A Cross-Entropy Based Generative Adversarial Network for
Diversified Text Generation". The discriminator is a language model ``D``
(:class:`textgan.models.language_model_discriminator.LanguageModelDiscriminator`, ``discriminator=language_model``).
For a sentence ``y`` of ``T`` tokens sampled from the generator:

    word-level reward       R(y_t) = -log D(y_t | y_<t)                     ("novelty", in nats)
    sentence-level reward   R(y)   = 1/T sum_t R(y_t)
    discounted return       G_t    = sum_{i >= t} gamma^(i - t) R(y_i)
    token reward            q_t    = R(y) * G_t

and the generator minimises ``-1/B sum_b sum_t (q_bt - baseline) log G(y_bt | y_b<t)`` (REINFORCE): the
tokens are the generator's own free-running samples, drawn step by step from ``G`` and fed back, so the loss
estimates ``-grad E_{y ~ G}[sum_t q_t(y) ...]`` with ``q`` held fixed. (TextGAN-PyTorch instead scores the
argmax of teacher-forced predictions on real sentences, which are not samples of ``G``: its gradient is
not the policy gradient.) The product of the sentence reward and the word returns follows TextGAN-PyTorch's
reading of the paper; ``gamma`` is ``discount``.

The discriminator's loss (the ``discriminator_loss`` hook) raises the novelty of real text and lowers it for
generated text, the sign of the paper's objective ``J(phi) = -E_real[R(y)] + E_G[R(y)]`` and of both released
implementations (lancopku/DPGAN weights the cross-entropy of real sentences by -1e-4 and of generated ones
by +1, the -1e-4 truncated to 0 by the int32 array that holds the weights; TextGAN-PyTorch minimises
``-mean R(real) + mean R(fake)``):

    loss_D = 1/B sum_b R(fake_b) - real_weight * 1/B sum_b min(R(real_b)_t, cap) averaged over t

``D`` learns what the generator keeps producing (low reward for repeated text) and is pushed away from real
text (high reward for fluent, novel text). The real term is unbounded below without a cap: ``novelty_cap``
(lancopku/DPGAN clips word rewards at 12 nats) bounds it, per token, in both the loss and the rewards;
``real_weight`` is 1 in the paper's objective; the released code means 1e-4 and computes 0 (see above).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.config_ranges import integer, number, one_of, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.baselines import Baseline, make_baseline
from textgan.estimators.rewards import evaluation_mode
from textgan.models.generator import Generator
from textgan.models.language_model_discriminator import LanguageModelDiscriminator
from textgan.sampling import categorical_sample

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss

FREE_BASELINES = ("none", "moving_average", "leave_one_out")  # self_critical needs greedy rewards: not here


def discounted_returns(rewards: torch.Tensor, discount: float) -> torch.Tensor:
    """``G_t = sum_{i >= t} discount^(i - t) r_i``: (B, T) -> (B, T), one product with a (T, T) triangle."""
    length = rewards.shape[1]
    steps = torch.arange(length, device=rewards.device)
    gap = (steps.view(-1, 1) - steps.view(1, -1)).to(rewards.dtype)  # [i, t] = i - t
    weights = torch.full_like(gap, discount).pow(gap.clamp_min(0)).masked_fill(gap < 0, 0.0)  # 0 ** 0 = 1
    return rewards @ weights  # (B, T): sum over i of r_i * discount^(i - t) [i >= t]


def dpgan_rewards(
    novelty: torch.Tensor, discount: float, cap: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPGAN's rewards from per-token novelty (B, T): word rewards (B, T), sentence rewards (B, 1) and the
    token rewards ``q_t = R(y) * G_t`` (B, T) (see the module docstring)."""
    word = novelty.float() if cap is None else novelty.float().clamp_max(cap)
    sentence = word.mean(dim=1, keepdim=True)
    return word, sentence, sentence * discounted_returns(word, discount)


def language_model_refusal(discriminator_class: type) -> str | None:
    """Why DPGAN cannot train with a discriminator of ``discriminator_class`` (None: it can)."""
    if issubclass(discriminator_class, LanguageModelDiscriminator):
        return None
    return (
        "estimator=dpgan needs discriminator=language_model (DPGAN's discriminator is a language model), "
        f"got {discriminator_class.__name__}"
    )


class DpganEstimator(Estimator):
    """DPGAN's REINFORCE on free-running samples with language-model novelty rewards (module docstring).

    Args:
        discount: ``gamma`` of the returns, in [0, 1].
        real_weight: weight of the real sentences' novelty in the discriminator's loss (paper 1; released code:
            0 in effect).
        novelty_cap: per-token cap of the novelty in nats (lancopku/DPGAN: 12), or None.
        baseline: ``none``, ``moving_average`` or ``leave_one_out`` (a name or a :class:`Baseline`).
        num_samples: sentences per generator update (default: the real batch size).
        discriminator_dropout: score with the language model in training mode (it has no dropout: no effect
            unless a subclass adds some).
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    config_ranges = {
        "discount": number(0, 1),
        "real_weight": number(0),
        "novelty_cap": optional(number(0, above=True)),
        "baseline": optional(one_of(*FREE_BASELINES)),
        "num_samples": optional(integer(1)),
    }

    def __init__(
        self,
        discount: float = 1.0,
        real_weight: float = 1.0,
        novelty_cap: float | None = None,
        baseline: Baseline | str | None = None,
        num_samples: int | None = None,
        discriminator_dropout: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= discount <= 1.0:
            raise ValueError(f"discount must be in [0, 1], got {discount}")
        self.discount, self.real_weight, self.novelty_cap = discount, real_weight, novelty_cap
        self.baseline = make_baseline(baseline)
        if self.baseline.needs_greedy:
            raise ValueError(f"estimator=dpgan takes a baseline without greedy rewards: one of {FREE_BASELINES}")
        self.num_samples, self.discriminator_dropout = num_samples, discriminator_dropout

    @classmethod
    def discriminator_refusal(cls, discriminator_class: type) -> str | None:
        return language_model_refusal(discriminator_class)

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        self.check_discriminator(discriminator)

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss | None,
        step: int,
    ) -> EstimatorOutput:
        language_model = self.check_discriminator(discriminator)
        batch, length = self.num_samples or real_tokens.shape[0], real_tokens.shape[1]

        def choose(logits: torch.Tensor) -> torch.Tensor:  # free-running: each sample is the next input
            return categorical_sample(logits.detach())

        tokens, logits, _ = generator.unroll(batch, length, choose, keep_logits=True)  # (B, T), (B, T, V)
        log_probs = torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad(), evaluation_mode(language_model, enabled=not self.discriminator_dropout):
            word, sentence, rewards = dpgan_rewards(language_model.novelty(tokens), self.discount, self.novelty_cap)
            baseline = self.baseline(rewards)
            advantages = rewards - baseline  # (B, T)
        loss = -(advantages * log_probs).sum(dim=1).mean()
        logs: dict[str, torch.Tensor | float] = {
            "reward": rewards.mean(),
            "word_novelty": word.mean(),
            "sentence_novelty": sentence.mean(),
            "baseline": baseline.float().mean(),
            "log_prob": log_probs.detach().sum(dim=1).mean(),
        }
        return EstimatorOutput(loss=loss, logs=logs)

    def discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_loss: GANLoss
    ) -> torch.Tensor:
        """``mean novelty(fake) - real_weight * mean min(novelty(real), cap)``: lower the generated text's
        novelty, raise the real text's (both averaged over tokens and sentences)."""
        language_model = self.check_discriminator(discriminator)
        real_novelty = language_model.novelty(real)  # (B, T)
        if self.novelty_cap is not None:
            real_novelty = real_novelty.clamp_max(self.novelty_cap)  # no push beyond the cap: bounded below
        return language_model.novelty(fake).mean() - self.real_weight * real_novelty.mean()
