"""The estimator: the seam of the framework.

An estimator turns the generator's samples and the discriminator's verdict into a differentiable generator
loss whose gradient estimates the gradient of the configured GAN generator loss. Everything else (data,
models, GAN loss, optimisation, logging) is shared, so comparing estimators means swapping this one object.

The protocol, in the order the adversarial module calls it:

* ``setup(generator, discriminator)``: once, before a checkpoint is restored (create copies, control-variate
  networks, anything whose state must exist to be loaded);
* ``configure_optimizer()``: an optimiser over the estimator's own parameters, from the ``optimizer`` factory
  its config gives (a Hydra partial), or None when it has none to learn;
* ``generator_loss(...)``: per generator update; ``EstimatorOutput.create_graph`` asks for a backward pass
  that keeps the graph of the generator's gradient (RELAX differentiates its variance);
* ``after_backward(generator)``: after that backward pass, with the estimate in the generator's ``.grad``
  and before clipping and the generator's step: a learned estimator sets the ``.grad`` of its own parameters
  here (e.g. from the gradient's squared norm, a variance proxy) and the module steps its optimiser;
* ``discriminator_fakes(...)``: what the discriminator is trained on;
* ``discriminator_loss(...)``: the loss of one discriminator update, for schemes whose discriminator-like
  module is not trained by the configured GAN loss (CoT's mediator, DPGAN's language model, RankGAN's ranker);
  None (the default) keeps the GAN loss.

``trains_discriminator = False`` declares a scheme without a discriminator network to train (DGSAN's implicit
discriminator, JSDGAN): the adversarial module then skips the discriminator updates, whatever their count.
A scheme that needs a particular discriminator-like module (a ``discriminator=`` config choice) says why it
refuses another class in ``discriminator_refusal``, naming the choice: ``textgan-train`` asks before anything is
built (``textgan.training.validation.check_scheme``) and ``setup`` raises it for the instance;
``generator_refusal`` does the same for the ``generator=`` choice (LeakGAN's generator and estimator need each
other).

A new estimator is one file subclassing :class:`Estimator` plus one config file in ``conf/estimator/`` (or in a
folder of one's own on Hydra's search path); it states its arguments' ranges beside its constructor,
``config_ranges`` and ``config_relations`` (:mod:`textgan.config_ranges`), which ``textgan-train`` checks before
anything is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from textgan.models.generator import Generator

if TYPE_CHECKING:  # the losses package is only needed for type hints here
    from textgan.losses.gan import GANLoss

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


@dataclass
class EstimatorOutput:
    """The generator loss to back-propagate and scalars to log (detached tensors, no host sync).

    ``create_graph``: back-propagate with ``create_graph=True`` so ``after_backward`` can differentiate the
    generator's gradient with respect to the estimator's own parameters.
    """

    loss: torch.Tensor
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)
    create_graph: bool = False


class Estimator(nn.Module):
    """Base class; an ``nn.Module`` so that stateful estimators (baselines, rollout copies, learned
    parameters) checkpoint with the adversarial module.

    Args:
        optimizer: factory ``parameters -> optimizer`` for the estimator's own parameters (learned
            estimators); ignored when the estimator has no trainable parameters.
    """

    #: False: the scheme has no discriminator network to train; the adversarial module skips its updates
    trains_discriminator: bool = True
    #: True: a class-conditional scheme; on labelled data the adversarial module passes the real sentences'
    #: classes (B,) as ``real_labels`` to ``generator_loss``, ``discriminator_fakes`` and ``discriminator_loss``
    conditional: bool = False
    #: True: ``generator_loss`` takes the generator's optimiser steps itself (an evolutionary population, CatGAN)
    #: and returns the loss only to be logged; the adversarial module then makes no generator step of its own
    updates_generator: bool = False
    #: False: a scheme of the model zoo whose generator objective is its paper's, not the configured GAN loss's
    #: generator loss (the estimator lab, which measures gradients of that one objective, leaves it out)
    objective_is_gan_loss: bool = True

    def __init__(self, optimizer: OptimizerFactory | None = None) -> None:
        super().__init__()
        self.optimizer_factory = optimizer

    @classmethod
    def discriminator_refusal(cls, discriminator_class: type) -> str | None:
        """Why this scheme cannot train with a discriminator of ``discriminator_class``, in words that name the
        ``discriminator=`` choice it needs; None (the default): it can."""
        return None

    @classmethod
    def generator_refusal(cls, generator_class: type) -> str | None:
        """Why this scheme cannot train a generator of ``generator_class``, naming the choice it needs; None: it can.

        Default: any generator, unless the generator's class names the one scheme that trains it
        (``scheme_required``, e.g. LeakGAN's Manager-Worker generator, ``generator=leakgan``)."""
        required = getattr(generator_class, "scheme_required", None)
        if required is None:
            return None
        return (
            f"generator={required} ({generator_class.__name__}) trains only with estimator={required}, "
            f"got {cls.__name__}"
        )

    def check_generator(self, generator: nn.Module) -> nn.Module:
        """``generator`` itself, or ValueError with :meth:`generator_refusal`'s words."""
        refusal = self.generator_refusal(type(generator))
        if refusal is not None:
            raise ValueError(refusal)
        return generator

    def check_discriminator(self, discriminator: nn.Module) -> nn.Module:
        """``discriminator`` itself, or ValueError with :meth:`discriminator_refusal`'s words."""
        refusal = self.discriminator_refusal(type(discriminator))
        if refusal is not None:
            raise ValueError(refusal)
        return discriminator

    def setup(self, generator: Generator, discriminator: nn.Module) -> None:
        """Called once with the models before any checkpoint is restored. Default: nothing to set up."""

    def configure_optimizer(self) -> torch.optim.Optimizer | None:
        """The optimiser of the estimator's trainable parameters, or None when there are none."""
        parameters = [p for p in self.parameters() if p.requires_grad]
        if not parameters:
            return None
        if self.optimizer_factory is None:
            raise ValueError(f"{type(self).__name__} has parameters to learn: configure its `optimizer`")
        return self.optimizer_factory(parameters)

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

    def after_backward(self, generator: Generator) -> dict[str, torch.Tensor | float]:
        """Hook after the generator loss's backward pass, before the generator's step; returns scalars to log.

        Learned estimators set the ``.grad`` of their own parameters here; the adversarial module zeroes it
        before and steps the estimator's optimiser after. Default: nothing.
        """
        return {}

    @torch.no_grad()
    def discriminator_fakes(self, generator: Generator, batch_size: int, length: int, step: int) -> torch.Tensor:
        """Generated input for a discriminator update, without a generator graph.

        Default: hard samples (B, T). Estimators whose generator loss shows the discriminator something
        else (relaxed one-hot rows) override this, so the discriminator is trained on what it is shown.
        """
        return generator.sample(batch_size, length, batch_size=batch_size)

    def discriminator_loss(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor, gan_loss: GANLoss
    ) -> torch.Tensor | None:
        """The loss of one discriminator update on real sentences (B, T) and ``discriminator_fakes``' output.

        Default: None, the configured GAN loss (with the discriminator's regularisation and the loss's
        penalty, added by the adversarial module). A scheme whose discriminator-like module learns something
        else (a mediator's or a language model's likelihood, a ranking) returns that loss here, complete.
        """
        return None
