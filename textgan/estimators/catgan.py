"""CatGAN (Liu, Wang and Liang, AAAI 2020): category-aware relativistic losses and evolutionary learning.

The generator is a class-conditional RMC (:class:`textgan.models.conditional.ConditionalRMCGenerator`) trained
through RelGAN's Gumbel-Softmax sample: the discriminator reads ``softmax(beta * (o + g))`` of sentences
generated *for the classes of the real batch*, so generated row ``b`` and real row ``b`` belong to the same
class and every relativistic term compares a real sentence with a generated one of its own category. The loss
of a batch is the mean over the classes present of that class's loss over its rows:

    L_D = mean_c L_D^GAN(D(x_r^c), D(x_f^c)),    L_G = mean_c L_G^GAN(D(x_r^c), D(x_f^c)),

``L^GAN`` the configured loss for the discriminator (``loss=rsgan``), and for the generator the loss its
mutation chose. The discriminator is RelGAN's CNN with one output per representation (category-blind: the
category enters through the pairing, as in the authors' code); with a multi-class discriminator
(``discriminator=relgan_classes``) a sentence of class ``c`` is scored by its class-``c`` logit instead
(:func:`category_logits`), a category-aware discriminator.

The hierarchical evolutionary outer loop (:mod:`textgan.estimators.evolution`) runs inside
:meth:`CatganEstimator.generator_loss`: it owns the generator's adversarial optimiser, makes one child per
(parent, loss, temperature) mutation, steps each once and keeps the fittest (``updates_generator = True``: the
adversarial module makes no generator step of its own). Temperature mutations are the inverse temperatures of
the schedule at ``step``, ``step + offset`` and, once ``step > offset``, ``step - offset`` (the authors'
``get_evo_temp``, with one schedule instead of one drawn at random per candidate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from textgan.config_ranges import integer, number
from textgan.estimators.base import Estimator, EstimatorOutput, OptimizerFactory
from textgan.estimators.evolution import Member, diversity_fitness, quality_fitness, restore, select, snapshot
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.losses.gan import HingeGANLoss, LSGANLoss, RSGANLoss, StandardGANLoss
from textgan.models.conditional import is_conditional

if TYPE_CHECKING:
    from textgan.losses.gan import GANLoss

MUTATION_LOSSES = {"rsgan": RSGANLoss, "standard": StandardGANLoss, "lsgan": LSGANLoss, "hinge": HingeGANLoss}


def category_logits(discriminator: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The discriminator's logits (B, R) of ``inputs``; for a (k+1)-class discriminator the logit of each row's own
    class, ``D(x_b)[labels[b]]`` (B, 1)."""
    logits = discriminator(inputs)
    if getattr(discriminator, "num_classes", 0):
        return logits.gather(1, labels.view(-1, 1))
    return logits


def per_class_loss(loss, real_logits: torch.Tensor, fake_logits: torch.Tensor, labels: torch.Tensor, num_classes: int):
    """``mean_c loss(real_logits[rows_c], fake_logits[rows_c])`` over the classes present in ``labels`` (B,);
    real row ``b`` and fake row ``b`` are of class ``labels[b]``."""
    terms = [
        loss(real_logits[labels == c], fake_logits[labels == c])
        for c in range(num_classes)
        if bool((labels == c).any())
    ]
    return torch.stack(terms).mean()


class CatganEstimator(Estimator):
    """CatGAN's per-category relativistic training with an evolving population (see the module docstring).

    Args:
        schedule: the Gumbel-Softmax inverse temperature ``beta`` per adversarial step (RelGAN's schedule).
        mutation_losses: the generator losses a mutation may choose (names of ``MUTATION_LOSSES``).
        temperature_offset: the steps between the temperature candidates (the authors' ``evo_temp_step`` = 1).
        num_parents: population size kept from one generation to the next (the authors' ``n_parent`` = 1).
        gamma: weight of the diversity fitness ``F_d`` (see :mod:`textgan.estimators.evolution`).
        eval_samples: generated sentences per class to measure a child's fitness.
        grad_clip: global norm clip of each child's gradient (None or 0: off).
        generator_optimizer: factory ``parameters -> optimizer`` of the adversarial generator updates (default
            Adam 1e-4, betas (0.9, 0.999)); its state goes with each population member.
    """

    conditional = True
    updates_generator = True
    objective_is_gan_loss = False
    config_ranges = {
        "temperature_offset": integer(0),
        "num_parents": integer(1),
        "gamma": number(0),
        "eval_samples": integer(1),
    }

    def __init__(
        self,
        schedule: InverseTemperatureSchedule,
        mutation_losses: Sequence[str] = ("rsgan", "standard", "lsgan"),
        temperature_offset: int = 1,
        num_parents: int = 1,
        gamma: float = 2.0e-6,
        eval_samples: int = 64,
        grad_clip: float | None = 5.0,
        generator_optimizer: OptimizerFactory | None = None,
    ) -> None:
        super().__init__()
        unknown = [name for name in mutation_losses if name not in MUTATION_LOSSES]
        if unknown or not mutation_losses:
            raise ValueError(
                f"mutation_losses must name some of {sorted(MUTATION_LOSSES)}, got {list(mutation_losses)}"
            )
        self.schedule, self.mutation_losses = schedule, list(mutation_losses)
        self.losses = {name: MUTATION_LOSSES[name]() for name in self.mutation_losses}
        self.temperature_offset, self.num_parents, self.gamma = temperature_offset, num_parents, gamma
        self.eval_samples, self.grad_clip = eval_samples, grad_clip
        self.generator_optimizer_factory = generator_optimizer or (
            lambda parameters: torch.optim.Adam(parameters, lr=1e-4, betas=(0.9, 0.999))
        )
        self.optimizer: torch.optim.Optimizer | None = None
        self.population: list[Member] = []
        self.beta = float(schedule(0))

    def setup(self, generator: nn.Module, discriminator: nn.Module) -> None:
        if not is_conditional(generator):
            raise ValueError(
                "CatGAN needs a class-conditional generator (generator=rmc_conditional), "
                f"not {type(generator).__name__}"
            )
        self.optimizer = self.generator_optimizer_factory(generator.parameters())

    def temperatures(self, step: int) -> list[float]:
        """The inverse-temperature candidates of generation ``step``."""
        steps = [step, step + self.temperature_offset]
        if step > self.temperature_offset:
            steps.append(step - self.temperature_offset)
        return list(dict.fromkeys(float(self.schedule(s)) for s in steps))

    @staticmethod
    def _require(real_labels: torch.Tensor | None) -> torch.Tensor:
        if real_labels is None:
            raise ValueError("CatGAN needs labelled data (data=movie_reviews, k_oracle, ...): the batch has no labels")
        return real_labels

    def _child(self, generator, discriminator, real_logits, labels, loss_name: str, beta: float) -> torch.Tensor:
        """One optimiser step of the generator under one mutation; returns its loss (detached)."""
        sample = generator.rsample(labels.shape[0], beta, labels=labels)
        fake_logits = category_logits(discriminator, sample.relaxed, labels)
        loss = per_class_loss(
            self.losses[loss_name].generator_loss, real_logits, fake_logits, labels, generator.num_classes
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip:
            torch.nn.utils.clip_grad_norm_(generator.parameters(), self.grad_clip)
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def fitness(self, generator, discriminator, real_tokens, real_labels, beta: float) -> tuple[torch.Tensor, ...]:
        """(F, F_q, F_d) of the generator as it is now, on ``eval_samples`` sentences per class."""
        k = generator.num_classes
        labels = torch.arange(k, device=real_tokens.device).repeat_interleave(self.eval_samples)
        sample = generator.rsample(labels.shape[0], beta, labels=labels)
        real_logits = category_logits(discriminator, real_tokens, real_labels)
        fake_logits = category_logits(discriminator, sample.relaxed, labels)
        quality = quality_fitness(real_logits, fake_logits, real_labels, labels, k)
        diversity = diversity_fitness(generator.log_prob(sample.tokens, labels), labels, k)
        return quality + self.gamma * diversity, quality, diversity

    def generator_loss(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        real_tokens: torch.Tensor,
        gan_loss: GANLoss,
        step: int,
        real_labels: torch.Tensor | None = None,
    ) -> EstimatorOutput:
        """One generation of the population; leaves the fittest child in ``generator``; returns its loss."""
        labels = self._require(real_labels).to(real_tokens.device)
        if not self.population:
            self.population = [snapshot(generator, self.optimizer)]
        with torch.no_grad():
            real_logits = category_logits(discriminator, real_tokens, labels)
        children, logs = [], {}
        for parent in self.population:
            for loss_name in self.mutation_losses:
                for beta in self.temperatures(step):
                    restore(parent, generator, self.optimizer)
                    loss = self._child(generator, discriminator, real_logits, labels, loss_name, beta)
                    fitness, quality, diversity = self.fitness(generator, discriminator, real_tokens, labels, beta)
                    child = snapshot(generator, self.optimizer)
                    child.fitness, child.mutation = float(fitness), (loss_name, beta)
                    children.append(child)
                    logs[id(child)] = {"loss": loss, "fitness": fitness, "quality": quality, "diversity": diversity}
        self.population = select(children, self.num_parents)
        best = self.population[0]
        restore(best, generator, self.optimizer)
        self.beta = best.mutation[1]
        chosen = logs[id(best)]
        return EstimatorOutput(
            loss=chosen["loss"],
            logs={
                "fitness": chosen["fitness"], "fitness_quality": chosen["quality"],
                "fitness_diversity": chosen["diversity"], "beta": self.beta,
                "mutation_loss": float(self.mutation_losses.index(best.mutation[0])),
            },
        )  # fmt: skip

    @torch.no_grad()
    def discriminator_fakes(self, generator, batch_size: int, length: int, step: int, real_labels=None):
        """Relaxed rows (B, T, V) at the selected child's temperature, of the real rows' classes, row by row."""
        labels = self._require(real_labels).to(generator.device)
        return generator.rsample(batch_size, self.beta, length, labels=labels).relaxed

    def discriminator_loss(self, discriminator, real, fake, gan_loss: GANLoss, real_labels=None) -> torch.Tensor:
        """The configured GAN loss per category (real row ``b`` and fake row ``b`` share class ``labels[b]``)."""
        labels = self._require(real_labels).to(real.device)
        num_classes = int(labels.max()) + 1
        return per_class_loss(
            gan_loss.discriminator_loss,
            category_logits(discriminator, real, labels),
            category_logits(discriminator, fake, labels),
            labels,
            num_classes,
        )

    def get_extra_state(self) -> dict[str, Any]:
        """The adversarial optimiser's state, the population and the current temperature (for checkpoints)."""
        return {
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "population": [(m.weights, m.optimizer_state, m.fitness, m.mutation) for m in self.population],
            "beta": self.beta,
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("optimizer") is not None and self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.population = [Member(*values) for values in state.get("population", [])]
        self.beta = float(state.get("beta", self.beta))
