"""Gumbel-Rao Monte Carlo: straight-through Gumbel-Softmax, Rao-Blackwellised over the noise given the token.

Paulus, Maddison, Krause, *Rao-Blackwellizing the Straight-Through Gumbel-Softmax Gradient Estimator*
(ICLR 2021, arXiv 2010.04838), the GR-MCK estimator. Straight-through Gumbel-Softmax (ST-GS) draws
``y = argmax(theta + g)`` and back-propagates through ``softmax(beta * (theta + g))``; its forward pass depends
on ``g`` only through ``y``. Gumbel-Rao keeps the forward pass and replaces the backward surrogate by its
conditional expectation given ``y``, estimated with K draws ``g_k ~ Gumbel | argmax(theta + g) = y``:

    S     = 1/K sum_k softmax(beta * (theta + sg(g_k)))            (V,)
    row   = onehot(y) + S - sg(S)

So its mean gradient equals ST-GS's, with a variance no larger (strictly smaller for K > 1 unless the
surrogate is deterministic given ``y``); K = 1 is ST-GS itself, in distribution. The noise is held fixed, as
in the paper: no gradient flows through the conditional construction ``g_k(theta, u)``.

Per step of an autoregressive sequence (see :mod:`textgan.estimators.relaxed`): ``theta_t = theta_t(y_<t)``
are step t's logits given the sampled prefix, ``y_t ~ softmax(theta_t)`` is drawn and fed back, the formula
above gives row t, and the discriminator reads the rows of the whole sequence.

Memory: the graph keeps the K softmax outputs, (K, B, T, V) floats.
"""

from __future__ import annotations

import torch

from textgan.config_ranges import integer
from textgan.estimators.relaxed import PerStepRelaxedEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.sampling import conditional_gumbel, straight_through


class GumbelRaoEstimator(PerStepRelaxedEstimator):
    """Straight-through rows whose gradient is ST-GS's averaged over K conditional Gumbel draws.

    Args:
        schedule: the inverse temperature ``beta = 1 / tau`` per adversarial step (default: constant 1).
        num_gumbel_samples: K, conditional Gumbel draws per token (the paper's GR-MCK; 10 by default).
        num_samples: sentences per generator update (default: the real batch size).
    """

    config_ranges = {"num_gumbel_samples": integer(1)}

    def __init__(
        self,
        schedule: InverseTemperatureSchedule | None = None,
        num_gumbel_samples: int = 10,
        num_samples: int | None = None,
    ) -> None:
        super().__init__(num_samples=num_samples)
        if num_gumbel_samples < 1:
            raise ValueError(f"num_gumbel_samples must be >= 1, got {num_gumbel_samples}")
        self.schedule = schedule or InverseTemperatureSchedule(beta_max=1.0, adapt="no", horizon=2)
        self.num_gumbel_samples = int(num_gumbel_samples)

    def relax(self, logits: torch.Tensor, tokens: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        beta = self.schedule(step)
        with torch.no_grad():
            log_probs = torch.log_softmax(logits, dim=-1)  # (B, T, V), conditional_gumbel wants them normalised
            perturbed = conditional_gumbel(log_probs, tokens, self.num_gumbel_samples)  # (K, B, T, V)
            noise = perturbed.sub_(log_probs)  # g_k, held fixed
        # softmax is shift invariant, so theta + g_k relaxes the same as log_probs + g_k, with theta's graph
        surrogate = torch.softmax(noise.add_(logits).mul_(beta), dim=-1).mean(dim=0)  # (B, T, V)
        return straight_through(surrogate, tokens), {"beta": beta}
