"""ReinMax: a straight-through estimator with second-order accuracy (Heun's method instead of Euler's).

Liu, Dong, Liu, Yu, Gao, *Bridging Discrete and Backpropagation: Straight-Through and Beyond* (NeurIPS 2023,
arXiv 2304.08612), Algorithm 2. The exact gradient of ``E[f(D)]`` is made of differences ``f(e_i) - f(e_j)``
between one-hot outcomes; the paper shows that straight-through approximates each by the forward Euler step
``grad f(e_j) . (e_i - e_j)`` (first order) and derives ReinMax from Heun's (trapezoidal) rule
``(grad f(e_i) + grad f(e_j)) / 2 . (e_i - e_j)``, second-order accurate with no second derivatives. With
``D = onehot(y)``, ``y ~ softmax(theta)`` and temperature ``tau = 1 / beta >= 1``:

    pi0 = softmax(theta)
    pi1 = (D + softmax(theta / tau)) / 2
    pi1 = softmax(sg(log pi1 - theta) + theta)       (value pi1, Jacobian that of a softmax at pi1)
    pi2 = 2 pi1 - pi0 / 2
    row = pi2 - sg(pi2) + D

so the row is ``D`` in the forward pass and back-propagates ``2 J(pi1) g - J(pi0) g / 2``, with
``J(p) = diag(p) - p p^T`` and ``g`` the gradient reaching the row. At ``tau = 1`` the expected gradient is exact
when ``f`` is quadratic in ``D`` (the trapezoidal rule is exact for quadratics), where straight-through is biased.
The paper sets ``tau >= 1`` (its reference code refuses a smaller one, while Gumbel-Softmax prefers ``tau < 1``),
and so does this estimator. Unlike the Gumbel estimators ReinMax draws no noise beyond ``y``.

Per step of an autoregressive sequence (see :mod:`textgan.estimators.relaxed`): ``theta_t = theta_t(y_<t)``
are step t's logits given the sampled prefix, ``y_t ~ softmax(theta_t)`` is drawn and fed back, the formula
above gives row t, and the discriminator reads the rows of the whole sequence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from textgan.config_ranges import Arguments, Refusals, is_number
from textgan.estimators.relaxed import PerStepRelaxedEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule


class ReinMaxEstimator(PerStepRelaxedEstimator):
    """Straight-through rows with ReinMax's second-order gradient (see the module docstring).

    Args:
        schedule: the inverse temperature ``beta = 1 / tau`` per adversarial step, as for the other relaxed
            estimators; ReinMax needs ``tau >= 1``, so ``beta_max <= 1`` (default: constant ``tau = 1``, the
            paper's usual choice; ``adapt: "no"`` with ``beta_max = 1 / tau`` fixes another).
        num_samples: sentences per generator update (default: the real batch size).
    """

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        beta_max = (arguments["schedule"] or {}).get("beta_max", 1.0)
        if is_number(beta_max) and beta_max > 1:
            yield "schedule.beta_max", "a number <= 1 for ReinMax (its temperature tau = 1 / beta >= 1)"

    def __init__(self, schedule: InverseTemperatureSchedule | None = None, num_samples: int | None = None) -> None:
        super().__init__(num_samples=num_samples)
        self.schedule = schedule or InverseTemperatureSchedule(beta_max=1.0, adapt="no", horizon=2)
        if self.schedule.beta_max > 1.0:  # every schedule stays at or below its beta_max
            raise ValueError(
                f"ReinMax needs temperature tau >= 1 (Liu et al., 2023), i.e. beta_max <= 1; got "
                f"beta_max={self.schedule.beta_max} (tau={1.0 / self.schedule.beta_max:g})"
            )

    def relax(self, logits: torch.Tensor, tokens: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        beta = self.schedule(step)
        hard = F.one_hot(tokens, logits.shape[-1]).to(logits.dtype)  # D (B, T, V)
        with torch.no_grad():
            # log pi1 = log((D + softmax(theta / tau)) / 2), exact where softmax underflows (no log 0)
            tempered = torch.log_softmax(logits * beta, dim=-1)  # (B, T, V)
            sampled = tempered.gather(-1, tokens.unsqueeze(-1))  # (B, T, 1)
            log_midpoint = tempered.scatter(-1, tokens.unsqueeze(-1), torch.log1p(sampled.exp())) - math.log(2.0)
            shift = log_midpoint - logits
        midpoint = torch.softmax(shift + logits, dim=-1)  # pi1, with the softmax Jacobian at pi1
        second_order = 2.0 * midpoint - 0.5 * torch.softmax(logits, dim=-1)  # pi2
        rows = hard + (second_order - second_order.detach())
        return rows, {"beta": beta}
