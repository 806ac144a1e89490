"""REINFORCE (the score-function estimator) of the GAN generator loss, with SeqGAN's rollouts and baselines.

The generator samples hard sentences ``y`` (B, T) with their logits; the discriminator scores them without a
graph; the generator minimises

    loss = - 1/B sum_b sum_t A(b, t) log p(y_bt | y_b<t)       (reduction "sequence_mean", the default)

whose gradient is an unbiased estimate of ``-grad E_y[r(y)]`` (the score-function identity) as long as the
advantage ``A = r - baseline`` uses a valid baseline (:mod:`textgan.estimators.baselines`). Averaging over the
batch and summing over tokens keeps the scale of the per-sentence objective, independent of ``B``; SeqGAN's
code sums over both (``reduction: sum``) and ``token_mean`` divides by ``B * T`` as well.

Rewards (``reward=``):

* ``sequence``: ``r(b, t) = R(y_b)`` for every token, one discriminator call;
* ``rollout``: SeqGAN's Monte-Carlo rollouts, ``r(b, t) = mean_k R(complete_k(y_b<=t))`` for ``t < T`` and
  ``R(y_b)`` for ``t = T``, vectorised (:mod:`textgan.estimators.rollout`). The rollout policy is the current
  generator (SeqGAN's released code; ``rollout_update_rate: null``) or SeqGAN's intended delayed copy
  ``theta_r <- rate * theta_r + (1 - rate) * theta``, updated at the start of every generator step.

``R`` is by default minus the per-sentence generator loss of the configured GAN loss
(``reward_transform="gan_loss"``, :mod:`textgan.estimators.rewards`): the relaxed estimators differentiate the
batch mean of the same per-sentence losses, so ``estimator=`` changes the estimator and not the objective. The
discriminator scores in its training mode (dropout on), as it does in the Gumbel-Softmax estimator's loss
(RelGAN applies dropout in every discriminator call). SeqGAN's rewards are options: ``prob`` =
``sigmoid(logit)``, ``logit``, ``log_prob`` (averaged over RelGAN's ``R`` representations), scored with
dropout off (``discriminator_dropout=False``, SeqGAN's ``dropout_keep_prob = 1``), as the SeqGAN presets set.
``maligan`` is MaliGAN's (Che et al., 2017) normalised importance weight ``r_i = w_i / sum_j w_j``,
``w = D / (1 - D)``, normalised here over the batch's sentences (per rollout position for rollout rewards; a
self-critical baseline's greedy rewards are divided by the same sums); like ``prob`` it is a SeqGAN-family
reward, not the one objective.

Options: ``normalize_rewards`` standardises the advantages over the batch (all (b, t) entries) after the
baseline (slightly biased: the batch statistics include the sample); ``entropy_weight`` subtracts
``weight * H`` with ``H`` the entropy of the full next-token distributions along the sampled sentences,
reduced like the main term.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.config_ranges import integer, number, one_of, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.baselines import BASELINES, Baseline, make_baseline
from textgan.estimators.delayed_policy import DelayedPolicy
from textgan.estimators.rewards import (
    REWARD_TRANSFORMS,
    DiscriminatorReward,
    evaluation_mode,
    normalize_importance_weights,
)
from textgan.estimators.rollout import complete_prefixes, prefix_states, rollout_rewards, stack_states
from textgan.models.generator import Generator, State
from textgan.sampling import categorical_sample

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss

REWARDS = ("sequence", "rollout")
REDUCTIONS = ("sequence_mean", "token_mean", "sum")
_AUTOCAST = {None: None, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ReinforceEstimator(Estimator):
    """SeqGAN-style REINFORCE: hard samples, discriminator rewards, ``-A * log p`` (see the module docstring).

    Args:
        reward: ``sequence`` or ``rollout``.
        rollout_num: ``K``, rollouts per prefix (SeqGAN: 16).
        baseline: a :class:`Baseline` or its name (``none``, ``moving_average``, ``leave_one_out``,
            ``self_critical``).
        reward_transform: ``gan_loss`` (minus the per-sentence GAN generator loss), ``prob``, ``logit``,
            ``log_prob`` or ``maligan`` (MaliGAN's importance weights, normalised over the batch).
        rollout_update_rate: None: roll out with the current generator; a rate in [0, 1): SeqGAN's intended
            delayed copy (0.8 in SeqGAN).
        num_samples: sentences per generator update (default: the real batch size).
        max_batch: sentences per discriminator call while scoring rollouts (the memory bound; on CPUs
            a few hundred keep the convolutions in cache, on GPUs larger is better).
        sample_batch: rollout rows generated together (the (rows, V) block of each step).
        deduplicate: score identical rollout completions once (exact with the discriminator in ``eval()``).
        normalize_rewards: standardise the advantages over the batch.
        entropy_weight: weight of the entropy bonus.
        reduction: ``sequence_mean``, ``token_mean`` or ``sum`` (see the module docstring).
        discriminator_dropout: score in the discriminator's training mode (dropout, as the relaxed estimators'
            loss does); False: ``eval()`` mode, which also lets identical rollouts be scored once.
        reward_autocast: None, ``bfloat16`` or ``float16``: score under ``torch.autocast`` (faster on CPUs
            with bf16 units; rewards are then only as precise as that type).
    """

    config_ranges = {
        "reward": one_of(*REWARDS),
        "rollout_num": integer(1),
        "baseline": optional(one_of(*BASELINES)),  # or a baseline node (conf/estimator/baseline/)
        "reward_transform": one_of(*REWARD_TRANSFORMS),
        "rollout_update_rate": optional(number(0, 1, below=True)),
        "num_samples": optional(integer(1)),  # null: the real batch size
        "max_batch": integer(1),
        "sample_batch": integer(1),
        "reduction": one_of(*REDUCTIONS),
        "reward_autocast": one_of(*_AUTOCAST),
    }

    def __init__(
        self,
        reward: str = "rollout",
        rollout_num: int = 16,
        baseline: Baseline | str | None = None,
        reward_transform: str = "gan_loss",
        rollout_update_rate: float | None = None,
        num_samples: int | None = None,
        max_batch: int = 256,
        sample_batch: int = 256,
        deduplicate: bool = True,
        normalize_rewards: bool = False,
        entropy_weight: float = 0.0,
        reduction: str = "sequence_mean",
        discriminator_dropout: bool = True,
        reward_autocast: str | None = None,
    ) -> None:
        super().__init__()
        if reward not in REWARDS:
            raise ValueError(f"unknown reward {reward!r}; choose one of {REWARDS}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; choose one of {REDUCTIONS}")
        if reward_transform not in REWARD_TRANSFORMS:
            raise ValueError(f"unknown reward transform {reward_transform!r}; choose one of {REWARD_TRANSFORMS}")
        if reward_autocast not in _AUTOCAST:
            raise ValueError(f"reward_autocast must be one of {list(_AUTOCAST)}, got {reward_autocast!r}")
        if min(rollout_num, max_batch, sample_batch) < 1:
            raise ValueError("rollout_num, max_batch and sample_batch must be positive")
        self.reward, self.rollout_num, self.reward_transform = reward, rollout_num, reward_transform
        self.baseline = make_baseline(baseline)
        self.delayed = DelayedPolicy(rollout_update_rate) if rollout_update_rate is not None else None
        self.num_samples, self.max_batch, self.sample_batch = num_samples, max_batch, sample_batch
        self.deduplicate = deduplicate and not discriminator_dropout  # dropout masks differ per row
        self.normalize_rewards, self.entropy_weight = normalize_rewards, entropy_weight
        self.reduction, self.discriminator_dropout = reduction, discriminator_dropout
        self.autocast_dtype = _AUTOCAST[reward_autocast]

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        """Create the delayed rollout copy of ``generator``, if configured (before a checkpoint loads)."""
        if self.delayed is not None:
            self.delayed.setup(generator)

    def _reduce(self, values: torch.Tensor) -> torch.Tensor:
        """(B, T) per-token terms -> scalar under ``reduction``."""
        if self.reduction == "sequence_mean":
            return values.sum(dim=1).mean()
        if self.reduction == "token_mean":
            return values.mean()
        return values.sum()

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss | None,
        step: int,
    ) -> EstimatorOutput:
        batch, length = self.num_samples or real_tokens.shape[0], real_tokens.shape[1]
        policy = self.delayed.update(generator) if self.delayed is not None else generator
        reuse_states = self.reward == "rollout" and policy is generator

        def choose(logits: torch.Tensor) -> torch.Tensor:
            return categorical_sample(logits.detach())

        tokens, logits, states = generator.unroll(
            batch, length, choose, keep_logits=True, keep_states=reuse_states
        )  # (B, T), (B, T, V) with a graph
        log_softmax = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
        log_probs = log_softmax.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)  # (B, T)
        entropy = -(log_softmax.exp() * log_softmax).sum(dim=-1)  # (B, T), of the full distributions

        with torch.no_grad(), evaluation_mode(discriminator, enabled=not self.discriminator_dropout):
            score = self._scorer(discriminator, real_tokens, gan_loss)
            policy_states: State | None = None
            if self.reward == "sequence":
                rewards = score(tokens).unsqueeze(1)  # (B, 1), shared by the tokens
            else:
                if reuse_states:
                    policy_states = stack_states(generator.initial_state(batch, tokens.device), states)
                else:
                    policy_states = prefix_states(policy, tokens)
                rewards, _ = rollout_rewards(
                    policy, tokens, score, self.rollout_num, states=policy_states, max_batch=self.max_batch,
                    sample_batch=self.sample_batch, deduplicate=self.deduplicate,
                )  # fmt: skip  # (B, T)
            greedy = None
            if self.baseline.needs_greedy:
                greedy = self._greedy_rewards(generator, policy, tokens, policy_states, score)
            if self.reward_transform == "maligan":  # importance weights normalised over the batch's sentences
                greedy = None if greedy is None else normalize_importance_weights(rewards, greedy)
                rewards = normalize_importance_weights(rewards)
            baseline = self.baseline(rewards, greedy)
            advantages = rewards - baseline  # (B, 1) or (B, T)
            if self.normalize_rewards:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        loss = -self._reduce(advantages.expand_as(log_probs) * log_probs)
        if self.entropy_weight:
            loss = loss - self.entropy_weight * self._reduce(entropy)
        logs: dict[str, torch.Tensor | float] = {
            "reward": rewards.mean(),
            "reward_final": rewards[:, -1].mean(),
            "baseline": baseline.float().mean(),
            "advantage_std": advantages.std() if advantages.numel() > 1 else advantages.new_zeros(()),
            "log_prob": log_probs.detach().sum(dim=1).mean(),
            "entropy": entropy.detach().mean(),
            "discriminator_calls": float(score.calls),
        }
        return EstimatorOutput(loss=loss, logs=logs)

    def _scorer(
        self, discriminator: nn.Module, real_tokens: torch.Tensor, gan_loss: GANLoss | None
    ) -> DiscriminatorReward:
        """The reward of sampled sentences; the real batch's logits when the GAN loss pairs fakes with reals."""
        real_logits = None
        if self.reward_transform == "gan_loss" and gan_loss is not None and gan_loss.uses_real_in_generator_loss:
            real_logits = discriminator(real_tokens)  # (B_real, R), the same mode as the fakes' scores
        return DiscriminatorReward(discriminator, self.reward_transform, gan_loss, real_logits, self.autocast_dtype)

    @torch.no_grad()
    def _greedy_rewards(
        self,
        generator: Generator,
        policy: Generator,
        tokens: torch.Tensor,
        policy_states: State | None,
        score: DiscriminatorReward,
    ) -> torch.Tensor:
        """Rewards of greedy decodes from each context: (B, 1) for sequence rewards, (B, T) for rollouts."""
        batch, length = tokens.shape
        if policy_states is None:  # one greedy sentence from the start token: the context of every sentence
            greedy, _, _ = generator.unroll(1, length, lambda logits: logits.argmax(dim=-1))
            logits = score.logits(greedy).expand(batch, -1)  # (B, R): paired with each sentence's real row
            return score.rewards(logits, torch.arange(batch, device=tokens.device)).view(batch, 1)
        result = complete_prefixes(
            policy, tokens, policy_states, range(length), 1, score, greedy=True, max_batch=self.max_batch,
            sample_batch=self.sample_batch, deduplicate=self.deduplicate,
        )  # fmt: skip
        return result.rewards.view(length, batch).t()  # (T, 1, B) -> (B, T): column t from context y_<t
