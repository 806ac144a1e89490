"""Gapped Straight-Through (GST): straight-through rows relaxed from a deterministic, gapped perturbation.

Fan, Chi, Rudnicky, Ramadge, *Training Discrete Deep Generative Models via Gapped Straight-Through
Estimator* (ICML 2022, arXiv 2206.07235). The paper identifies two properties of straight-through
Gumbel-Softmax's perturbed logits ``theta + g`` that make it work: they are *consistent* with the sample (the
sampled token is their argmax) and the perturbation carries *zero gradient*; and it adds a *strict gap*
between the sampled token's perturbed logit and the others. GST replaces the random Gumbel noise by the
smallest deterministic move of the logits with these properties, so it needs no resampling. With ``y`` the
sampled token, ``theta_max = max_i theta_i`` and gap ``kappa``:

    m_y   = theta_max - theta_y                         (raise the sample to the top)
    m_i   = -max(0, theta_i - theta_max + kappa), i != y   (push the others at least kappa below it)
    z     = theta + sg(m)          so z_y = theta_max and z_i = min(theta_i, theta_max - kappa)
    S     = softmax(beta * z),     row = onehot(y) + S - sg(S)

This is the paper's **GST-1.0** variant (a constant gap, ``kappa = 1`` by default; ``gap`` sets another
constant). The paper's GST-p, whose gap depends on the sampled token's probability, is not implemented here.
``dS/dtheta`` is the softmax Jacobian at ``z``: a deterministic function of ``(theta, y)``, so the only noise
left is that of ``y`` itself.

Per step of an autoregressive sequence (see :mod:`textgan.estimators.relaxed`): ``theta_t = theta_t(y_<t)``
are step t's logits given the sampled prefix, ``y_t ~ softmax(theta_t)`` is drawn and fed back, the formula
above gives row t, and the discriminator reads the rows of the whole sequence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from textgan.config_ranges import number
from textgan.estimators.relaxed import PerStepRelaxedEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.sampling import straight_through


def gapped_logits(logits: torch.Tensor, tokens: torch.Tensor, gap: float = 1.0) -> torch.Tensor:
    """GST's perturbed logits ``z = theta + sg(m)`` (..., V) for logits (..., V) and sampled tokens (...).

    ``z`` has ``tokens`` as its argmax, ahead of every other entry by at least ``gap``; its gradient with
    respect to ``logits`` is the identity (the move ``m`` is detached).
    """
    with torch.no_grad():
        top = logits.max(dim=-1, keepdim=True).values  # (..., 1)
        sampled = F.one_hot(tokens, logits.shape[-1]).bool()  # (..., V)
        move = torch.where(sampled, top - logits, -(logits - top + gap).clamp_min(0.0))  # (..., V)
    return logits + move


class GappedStraightThroughEstimator(PerStepRelaxedEstimator):
    """Straight-through rows with the gradient of ``softmax(beta * z)``, ``z`` GST's gapped logits.

    Args:
        schedule: the inverse temperature ``beta = 1 / tau`` per adversarial step (default: constant 1).
        gap: the gap ``kappa`` between the sampled token's perturbed logit and the others (GST-1.0: 1.0).
        num_samples: sentences per generator update (default: the real batch size).
    """

    config_ranges = {"gap": number(0, above=True)}

    def __init__(
        self,
        schedule: InverseTemperatureSchedule | None = None,
        gap: float = 1.0,
        num_samples: int | None = None,
    ) -> None:
        super().__init__(num_samples=num_samples)
        if gap <= 0:
            raise ValueError(f"gap must be > 0 (the strict gap of GST), got {gap}")
        self.schedule = schedule or InverseTemperatureSchedule(beta_max=1.0, adapt="no", horizon=2)
        self.gap = float(gap)

    def relax(self, logits: torch.Tensor, tokens: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        beta = self.schedule(step)
        surrogate = torch.softmax(gapped_logits(logits, tokens, self.gap) * beta, dim=-1)  # (B, T, V)
        return straight_through(surrogate, tokens), {"beta": beta}
