"""RelGAN's estimator: reparameterised Gumbel-Softmax sequences with an annealed inverse temperature."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.models.generator import Generator

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss


class GumbelSoftmaxEstimator(Estimator):
    """The discriminator reads ``softmax(beta * (o + g))`` (or its straight-through one-hot).

    The gradient of the GAN generator loss flows through the relaxed one-hot rows into the logits ``o`` at
    every step; the tokens fed back into the generator are the Gumbel-Max samples ``argmax(o + g)``, exactly
    as in RelGAN. Biased for the discrete objective, with a bias that shrinks as ``beta`` grows.

    Args:
        schedule: the inverse temperature ``beta`` per adversarial step.
        straight_through: hard one-hot forward pass, soft gradient.
    """

    def __init__(self, schedule: InverseTemperatureSchedule, straight_through: bool = False) -> None:
        super().__init__()
        self.schedule, self.straight_through = schedule, straight_through

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
    ) -> EstimatorOutput:
        beta = self.schedule(step)
        sample = generator.rsample(
            real_tokens.shape[0], beta, real_tokens.shape[1], straight_through_estimator=self.straight_through
        )
        with torch.no_grad():
            real_logits = discriminator(real_tokens)  # (B, R): no gradient reaches the generator from here
        fake_logits = discriminator(sample.relaxed)
        loss = gan_loss.generator_loss(real_logits, fake_logits)
        return EstimatorOutput(loss=loss, logs={"beta": beta})

    @torch.no_grad()
    def discriminator_fakes(self, generator: Generator, batch_size: int, length: int, step: int) -> torch.Tensor:
        """RelGAN trains its discriminator on the relaxed rows ``softmax(beta * (o + g))`` (B, T, V) too."""
        sample = generator.rsample(
            batch_size, self.schedule(step), length, straight_through_estimator=self.straight_through
        )
        return sample.relaxed
