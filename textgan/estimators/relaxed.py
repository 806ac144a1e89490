"""The base of the per-step relaxed and straight-through estimators (Gumbel-Rao, GST, ReinMax, ...).

Sequences are autoregressive. The generator samples hard tokens ``y_t ~ softmax(theta_t)`` step by step and
feeds them back (as RelGAN does); ``theta_t = theta_t(y_<t)`` are that step's logits, kept with their graph
(one batched output projection, ``Generator.unroll(keep_logits=True)``). A subclass maps each step's logits
and token to a row ``r_t = relax(theta_t, y_t)`` (B, T, V); the discriminator reads the whole sequence of rows
and the generator minimises the configured GAN loss's generator loss of them:

    loss = loss_G(D(real), D(r_1 .. r_T))

so every estimator here estimates the gradient of the same objective as REINFORCE and RelGAN's
Gumbel-Softmax. Rows of straight-through estimators are one-hot in the forward pass (the discriminator sees
the sampled sentence), so :meth:`Estimator.discriminator_fakes` keeps its default (hard samples).
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import integer, optional
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.losses.gan import GANLoss, paired_real_logits
from textgan.models.generator import Generator
from textgan.sampling import categorical_sample


class PerStepRelaxedEstimator(Estimator):
    """Hard tokens fed back, rows ``relax(theta_t, y_t)`` for the discriminator (see the module docstring).

    Args:
        num_samples: sentences per generator update (default: the real batch size).
        optimizer: for estimators with parameters of their own (see :class:`Estimator`).
    """

    config_ranges = {"num_samples": optional(integer(1))}  # null: the real batch size

    def __init__(self, num_samples: int | None = None, optimizer=None) -> None:
        super().__init__(optimizer)
        self.num_samples = num_samples

    def relax(self, logits: torch.Tensor, tokens: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        """Rows for the discriminator from logits (B, T, V) float32 with a graph and tokens (B, T).

        Returns the rows (B, T, V) and scalars to log. ``step`` is the adversarial iteration (schedules).
        """
        raise NotImplementedError

    def sample(self, generator: Generator, batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Hard tokens (B, T) drawn step by step and their logits (B, T, V) with a graph."""

        def choose(logits: torch.Tensor) -> torch.Tensor:
            return categorical_sample(logits)

        tokens, logits, _ = generator.unroll(batch, length, choose, keep_logits=True)
        return tokens, logits.float()

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
    ) -> EstimatorOutput:
        batch, length = self.num_samples or real_tokens.shape[0], real_tokens.shape[1]
        tokens, logits = self.sample(generator, batch, length)
        rows, logs = self.relax(logits, tokens, step)  # (B, T, V)
        real_logits = None
        if gan_loss.uses_real_in_generator_loss:
            with torch.no_grad():
                real_logits = discriminator(real_tokens)  # (B_real, R)
            real_logits = paired_real_logits(real_logits, batch)
        loss = gan_loss.generator_loss(real_logits, discriminator(rows))
        return EstimatorOutput(loss=loss, logs=logs)
