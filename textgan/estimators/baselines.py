"""Baselines for the score-function estimator: ``A = r - b`` with ``b`` independent of the rewarded action.

A baseline ``b`` leaves REINFORCE unbiased when it does not depend on the action it is subtracted from, given
that action's context: ``E[b * grad log p(y_t | y_<t)] = b * E[grad log p(y_t | y_<t)] = 0``. Each class below
says why it qualifies. Rewards come as (B, T'), one column per rewarded token: ``T' = 1`` for sequence rewards
(one reward per sentence, shared by its tokens; the context is the empty prefix, common to every sentence of
the batch), ``T' = T`` for rollout rewards (``Q(b, t)`` rewards token ``y_t``, whose context is ``y_<t``).

* ``none``: ``b = 0``.
* ``moving_average``: an exponential moving average of past batches' mean reward (bias-corrected as in Adam),
  computed *before* the current batch is added, so it is independent of the current samples. One scalar
  serves every column: ``E[Q(y_<=t)] = E[r]`` for all ``t`` (tower property).
* ``leave_one_out``: for sequence rewards, the mean reward of the *other* sentences of the batch (of the
  other ``group_size - 1`` sentences of its group when ``group_size`` is set): independent samples from the
  same (empty) context (Kool et al., 2019, "Buy 4 REINFORCE samples, get a baseline for free"). For rollout
  rewards, the "other samples from the same context" of token ``y_t`` are the ``K`` rollouts from its context
  ``y_<t``, i.e. the rollouts already drawn for the previous prefix: ``b(b, t) = Q(b, t - 1)``, and for
  ``t = 1`` (the empty context) the leave-one-out mean of ``Q(., 1)`` over the batch. Leave-one-out over the
  ``K`` rollouts of ``y_<=t`` itself would *not* be a baseline: they start after ``y_t`` and depend on it.
* ``self_critical``: the reward of the greedy decode from the same context (Rennie et al., 2017), which is a
  deterministic function of the context: one greedy sentence for sequence rewards, the greedy completion of
  each ``y_<t`` for rollout rewards. The estimator computes these rewards (``needs_greedy``).
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import integer, number, optional


class Baseline(nn.Module):
    """Base class: ``forward(rewards (B, T'), greedy_rewards) -> baseline (B, T')`` (or broadcastable)."""

    needs_greedy = False

    def forward(self, rewards: torch.Tensor, greedy_rewards: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


class NoBaseline(Baseline):
    """``b = 0``: plain REINFORCE."""

    def forward(self, rewards: torch.Tensor, greedy_rewards: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros_like(rewards)


class MovingAverageBaseline(Baseline):
    """``b`` = bias-corrected exponential moving average of past mean rewards (scalar, checkpointed).

    Args:
        decay: weight of the past, ``avg <- decay * avg + (1 - decay) * mean(rewards)``.
    """

    config_ranges = {"decay": number(0, 1, below=True)}

    def __init__(self, decay: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.register_buffer("average", torch.zeros(()))
        self.register_buffer("steps", torch.zeros(()))

    @torch.no_grad()
    def forward(self, rewards: torch.Tensor, greedy_rewards: torch.Tensor | None = None) -> torch.Tensor:
        correction = 1.0 - torch.pow(torch.full_like(self.steps, self.decay), self.steps)  # 0 before any update
        value = torch.where(self.steps > 0, self.average / correction.clamp_min(1e-12), torch.zeros_like(self.average))
        baseline = value.to(rewards.dtype).expand_as(rewards).clone()  # taken before this batch is seen
        self.average.mul_(self.decay).add_(rewards.detach().float().mean(), alpha=1.0 - self.decay)
        self.steps.add_(1.0)
        return baseline


class LeaveOneOutBaseline(Baseline):
    """Mean reward of the other samples from the same context (see the module docstring).

    Args:
        group_size: sentences per leave-one-out group (consecutive rows); None: the whole batch.
    """

    config_ranges = {"group_size": optional(integer(2))}  # null: the whole batch

    def __init__(self, group_size: int | None = None) -> None:
        super().__init__()
        if group_size is not None and group_size < 2:
            raise ValueError(f"group_size must be at least 2, got {group_size}")
        self.group_size = group_size

    def leave_one_out_mean(self, values: torch.Tensor) -> torch.Tensor:
        """(B,) -> (B,): mean of the other entries of each entry's group (0 for a group of one)."""
        batch = values.shape[0]
        size = self.group_size or batch
        if batch % size:
            raise ValueError(f"batch {batch} is not a multiple of group_size {size}")
        if size == 1:
            return torch.zeros_like(values)
        groups = values.view(-1, size)  # (B / size, size)
        return ((groups.sum(dim=1, keepdim=True) - groups) / (size - 1)).view(batch)

    @torch.no_grad()
    def forward(self, rewards: torch.Tensor, greedy_rewards: torch.Tensor | None = None) -> torch.Tensor:
        first = self.leave_one_out_mean(rewards[:, 0]).unsqueeze(1)  # (B, 1): the empty context
        return torch.cat([first, rewards[:, :-1]], dim=1)  # column t >= 1: Q(b, t - 1), rollouts from y_<t


class SelfCriticalBaseline(Baseline):
    """``b`` = reward of the greedy decode from the same context (computed by the estimator)."""

    needs_greedy = True

    def forward(self, rewards: torch.Tensor, greedy_rewards: torch.Tensor | None = None) -> torch.Tensor:
        if greedy_rewards is None:
            raise ValueError("the self-critical baseline needs the greedy decode's rewards")
        return greedy_rewards.to(rewards.dtype).expand_as(rewards)


BASELINES: dict[str, type[Baseline]] = {
    "none": NoBaseline,
    "moving_average": MovingAverageBaseline,
    "leave_one_out": LeaveOneOutBaseline,
    "self_critical": SelfCriticalBaseline,
}


def make_baseline(baseline: Baseline | str | None) -> Baseline:
    """A baseline object from itself, a name of :data:`BASELINES` (default options) or None (``none``)."""
    if isinstance(baseline, Baseline):
        return baseline
    name = baseline or "none"
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose one of {sorted(BASELINES)}")
    return BASELINES[name]()
