"""LeakGAN's goal arithmetic: goal sums, and how far the leaked features moved along each goal.

0-based indices as in :mod:`textgan.models.leakgan`: ``f_t`` (t = 0 .. T) is the feature of the prefix of
``t`` tokens, ``g_t`` (t = 0 .. T - 1) the Manager's unit goal read from ``f_t``, ``c`` the goal horizon.

* :func:`window_sums`: ``sum_{i=0}^{c-1} g_{t-i}``, what the Worker's ``w_t`` projects;
* :func:`window_cosines`: ``cos(f_{t+c} - f_t, g_t)`` at the window starts ``t = 0, c, 2c, ..`` (the last
  window ends at ``T``): the Manager's objective, weighted by the rollout reward in adversarial training and
  unweighted in MLE pretraining (Eq. 8 of the paper, evaluated every ``c`` steps as the authors' code does);
* :func:`intrinsic_rewards`: the Worker's reward for ``y_t``, which takes the prefix from ``s_t`` to
  ``s_{t+1}``: ``r_t = 1/c sum_{i=1}^{c} cos(f_{t+1} - f_{t+1-i}, g_{t+1-i})`` (the paper's Eq. 10 for the state
  after ``y_t``; terms before ``g_0`` do not exist and count 0). Its goals ``g_{t+1-c} .. g_t`` are exactly those
  that ``w_t`` sums, the goals the Worker followed when it chose ``y_t``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def window_sums(goals: torch.Tensor, step_size: int) -> torch.Tensor:
    """``sum_{i=0}^{c-1} g_{t-i}`` for every t: (B, T, F) -> (B, T, F) (terms before t = 0 are absent)."""
    padded = F.pad(goals.cumsum(dim=1), (0, 0, 1, 0))  # (B, T + 1, F): [0, S_0, .., S_{T-1}]
    length = goals.shape[1]
    earlier = (torch.arange(length, device=goals.device) + 1 - step_size).clamp_min(0)  # index of S_{t-c}
    return padded[:, 1:] - padded[:, earlier]


def window_starts(length: int, step_size: int) -> list[int]:
    """``0, c, 2c, ..`` below ``length``: where the Manager's objective reads a goal."""
    return list(range(0, length, step_size))


def window_ends(length: int, step_size: int) -> list[int]:
    """``min(t + c, T)`` for each window start: the prefix lengths whose rollout value rewards the goal."""
    return [min(start + step_size, length) for start in window_starts(length, step_size)]


def window_cosines(features: torch.Tensor, goals: torch.Tensor, step_size: int) -> torch.Tensor:
    """``cos(f_{e} - f_t, g_t)`` per window (start ``t``, end ``e``): features (B, T + 1, F), goals (B, T, F)
    -> (B, W), W = ceil(T / c). Differentiable in ``goals``."""
    length = goals.shape[1]
    starts, ends = window_starts(length, step_size), window_ends(length, step_size)
    change = features[:, ends] - features[:, starts]  # (B, W, F)
    return F.cosine_similarity(change.float(), goals[:, starts].float(), dim=-1)


def intrinsic_rewards(features: torch.Tensor, goals: torch.Tensor, step_size: int) -> torch.Tensor:
    """The Worker's intrinsic reward of every token (module docstring): features (B, T + 1, F), goals (B, T, F)
    -> (B, T). A loop over the ``c`` goal offsets, each a batched cosine over all sentences and steps."""
    length = goals.shape[1]
    after = features[:, 1:].float()  # f_{t+1}, (B, T, F)
    total = after.new_zeros(after.shape[:2])
    steps = torch.arange(length, device=goals.device)
    for offset in range(1, step_size + 1):
        source = steps + 1 - offset  # t + 1 - i
        exists = (source >= 0).to(total.dtype)
        source = source.clamp_min(0)
        cosine = F.cosine_similarity(after - features[:, source].float(), goals[:, source].float(), dim=-1)
        total = total + cosine * exists
    return total / step_size
