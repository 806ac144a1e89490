"""The estimator: the seam of the framework.

An estimator turns the generator's samples and the discriminator's verdict into a differentiable generator
loss. Everything else (data, models, GAN loss, optimisation, logging) is shared, so comparing estimators means
swapping this one object. A new estimator is one file implementing ``generator_loss`` plus one config file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.models.generator import Generator

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss


@dataclass
class EstimatorOutput:
    """The generator loss to back-propagate and scalars to log (detached tensors, no host sync)."""

    loss: torch.Tensor
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)


class Estimator(nn.Module):
    """Base class; an ``nn.Module`` so that stateful estimators (baselines, rollout copies) checkpoint."""

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
    ) -> EstimatorOutput:
        """Generator loss for one update from a batch of real sequences ``real_tokens`` (B, T).

        ``step`` is the adversarial iteration (0-based), for schedules. The discriminator's parameters are
        frozen by the caller during this call; gradients must reach the generator's parameters.
        """
        raise NotImplementedError

    @torch.no_grad()
    def discriminator_fakes(self, generator: Generator, batch_size: int, length: int, step: int) -> torch.Tensor:
        """Generated input for a discriminator update, without a generator graph.

        Default: hard samples (B, T). Estimators whose generator loss shows the discriminator something
        else (relaxed one-hot rows) override this, so the discriminator is trained on what it is shown.
        """
        return generator.sample(batch_size, length, batch_size=batch_size)
