"""JSDGAN: the gradient of the Jensen-Shannon divergence to the real batch, with no discriminator network.

Li, Xia, Lou, Xu, Wang, Xiao, *Adversarial Discrete Sequence Generation without Explicit Neural Networks as
Discriminators* (AISTATS 2019). With the optimal discriminator ``D*(x) = P(x) / (P(x) + G(x))`` written out,
the generator minimises ``JSD(P || G_theta)`` itself, ``P`` the empirical distribution of the real batch
(``P(x) = count(x) / B``) and ``G_theta(x) = prod_t G(x_t | x_<t)`` the sentence's probability:

    grad JSD = 1/2 sum_x grad G(x) log(2 G(x) / (P(x) + G(x)))                       (the other terms cancel)
             = 1/2 sum_{x in S} G(x) log(G(x) / (P(x) + G(x))) grad log G(x)

The second line splits the sum at the batch's support ``S``: off it the log term is ``log 2`` and
``sum_{x not in S} grad G(x) = -sum_{x in S} grad G(x)``. So the exact gradient needs the sequence
log-probabilities ``L(x) = log G(x)`` of the real sentences only, each distinct sentence once: the loss is

    loss = sum_i w_i L(x_i),   w_i = sg[ -1/2 exp(L_i) softplus(log P(x_i) - L_i) / count(x_i) ]

over the batch's rows (a sentence seen ``count`` times contributes once). The weights are formed in log
space, ``log |w_i| = L_i + log softplus(log P_i - L_i) - log 2 - log count_i``, in float64; the softplus
argument is at least ``-log B``, so every term is finite. For sentences of realistic length ``exp(L)`` is far
below float32's range (``L ~ -170`` nats for 20 tokens of a 5,000-word vocabulary), so the exact gradient
underflows: with ``normalize`` (the default) the weights are divided by ``sum_i |w_i|`` (a logsumexp), a
positive scalar per batch, so the update keeps the exact JSD gradient's direction. TextGAN-PyTorch instead
min-max normalises the probabilities per batch before forming the weights, which changes the relative weights
(the least likely sentence gets none) and so the direction; its weights also ignore repeated sentences.

On the seam: no discriminator network (``trains_discriminator = False``, the adversarial module skips its
updates) and no GAN loss; one generator update per real batch, teacher-forced (no sampling at all).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.models.generator import Generator

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss


def jsd_log_weights(log_probs: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log |w_i|`` of the JSD gradient's weights (see the module docstring), float64: (B,), (B, T) -> (B,).

    ``log_probs``: the sequence log-probabilities ``L_i = log G(x_i)`` of the real rows ``tokens``, whose
    empirical distribution is ``P``. The weights themselves are ``-exp`` of these (all negative).
    """
    _, inverse, counts = torch.unique(tokens, dim=0, return_inverse=True, return_counts=True)
    count = counts[inverse].to(torch.float64)  # (B,): how often each row's sentence occurs in the batch
    log_probs = log_probs.detach().to(torch.float64)
    log_data = torch.log(count / tokens.shape[0])  # log P(x_i)
    return log_probs + torch.log(F.softplus(log_data - log_probs)) - math.log(2.0) - torch.log(count)


class JsdganEstimator(Estimator):
    """The exact gradient of ``JSD(P_batch || G)`` from the real sentences' log-probabilities (module docstring).

    Args:
        normalize: divide the weights by the sum of their magnitudes (the exact gradient's direction at a
            scale float32 holds); False: the exact gradient, which underflows for long sentences.
    """

    objective_is_gan_loss = False  # the paper's objective (see the module docstring)

    trains_discriminator = False

    def __init__(self, normalize: bool = True) -> None:
        super().__init__()
        self.normalize = normalize

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss | None,
        step: int,
    ) -> EstimatorOutput:
        log_probs = generator.log_prob(real_tokens).sum(dim=1)  # (B,) float32, with a graph
        log_weights = jsd_log_weights(log_probs, real_tokens)  # (B,) float64
        log_total = torch.logsumexp(log_weights, dim=0)
        if self.normalize:
            log_weights = log_weights - log_total
        weights = -torch.exp(log_weights)
        loss = (weights.to(log_probs.dtype) * log_probs).sum()
        logs: dict[str, torch.Tensor | float] = {
            "log_prob": log_probs.detach().mean(),  # of the real sentences
            "log_gradient_scale": log_total.float(),  # log sum |w|: how small the exact gradient is
        }
        return EstimatorOutput(loss=loss, logs=logs)
