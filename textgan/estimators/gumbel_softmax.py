"""RelGAN's estimator: reparameterised Gumbel-Softmax sequences with an annealed inverse temperature."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.config_ranges import Arguments, Refusals, one_of
from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.models.generator import Generator, RelaxedSample
from textgan.sampling import gumbel_noise

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss


FEEDBACKS = ("hard", "relaxed")


class GumbelSoftmaxEstimator(Estimator):
    """The discriminator reads ``softmax(beta * (o + g))`` (or its straight-through one-hot).

    The gradient of the GAN generator loss flows through the relaxed one-hot rows into the logits ``o`` at
    every step. What the generator reads next is ``feedback``:

    * ``hard`` (RelGAN): the Gumbel-Max sample ``y_t = argmax(o_t + g_t)``, an exact sample of the model, so
      ``o_t = o_t(y_<t)`` and the gradient reaches step t's logits only through step t's row;
    * ``relaxed`` (GSGAN, Kusner and Hernandez-Lobato 2016): the relaxed row itself, as the embedding averaged
      under it, ``o_t = o_t(r_<t)`` with ``r_t = softmax(beta * (o_t + g_t))``; the whole sentence is one smooth
      function of the parameters (and the tokens ``argmax r_t`` are an exact sample only as ``beta -> inf``).

    Biased for the discrete objective either way, with a bias that shrinks as ``beta`` grows.

    Args:
        schedule: the inverse temperature ``beta`` per adversarial step.
        straight_through: hard one-hot forward pass, soft gradient (with ``feedback="hard"`` only).
        feedback: ``"hard"`` or ``"relaxed"``, see above.
    """

    config_ranges = {"feedback": one_of(*FEEDBACKS)}

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        if arguments["straight_through"] and arguments["feedback"] == "relaxed":
            yield "straight_through", "false with {feedback}=relaxed (GSGAN feeds back soft rows)"

    def __init__(
        self, schedule: InverseTemperatureSchedule, straight_through: bool = False, feedback: str = "hard"
    ) -> None:
        super().__init__()
        if feedback not in FEEDBACKS:
            raise ValueError(f"feedback must be one of {FEEDBACKS}, got {feedback!r}")
        if straight_through and feedback == "relaxed":
            raise ValueError("straight_through needs feedback='hard': a one-hot row cannot feed back its gradient")
        self.schedule, self.straight_through, self.feedback = schedule, straight_through, feedback

    def _sample(self, generator: Generator, batch_size: int, length: int, beta: float) -> RelaxedSample:
        if self.feedback == "relaxed":
            noise = gumbel_noise((batch_size, length, generator.vocab_size), device=generator.device)
            relaxed = generator.rsample_relaxed_feedback(noise, 1.0 / beta)
            return RelaxedSample(tokens=relaxed.detach().argmax(dim=-1), relaxed=relaxed)
        return generator.rsample(batch_size, beta, length, straight_through_estimator=self.straight_through)

    def generator_loss(
        self,
        generator: Generator,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
    ) -> EstimatorOutput:
        beta = self.schedule(step)
        sample = self._sample(generator, real_tokens.shape[0], real_tokens.shape[1], beta)
        with torch.no_grad():
            real_logits = discriminator(real_tokens)  # (B, R): no gradient reaches the generator from here
        fake_logits = discriminator(sample.relaxed)
        loss = gan_loss.generator_loss(real_logits, fake_logits)
        return EstimatorOutput(loss=loss, logs={"beta": beta})

    @torch.no_grad()
    def discriminator_fakes(self, generator: Generator, batch_size: int, length: int, step: int) -> torch.Tensor:
        """RelGAN trains its discriminator on the relaxed rows ``softmax(beta * (o + g))`` (B, T, V) too."""
        return self._sample(generator, batch_size, length, self.schedule(step)).relaxed
