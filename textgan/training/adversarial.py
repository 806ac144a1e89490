"""Adversarial training of a generator against a discriminator, with the gradient estimator injected.

One training step is one adversarial iteration: ``generator_steps`` generator updates through the estimator,
then ``discriminator_steps`` discriminator updates on fresh real batches and fresh generated input (RelGAN:
1 + 5, Adam 1e-4 for both, gradients clipped to global norm 5). With ``discriminator_epochs > 0`` the
discriminator instead follows SeqGAN's schedule: ``discriminator_steps`` times, ``num_negatives`` fresh samples
and as many real sequences, ``discriminator_epochs`` shuffled passes over them in batches;
``discriminator_pretrain_steps`` more such rounds run before the first iteration (SeqGAN: 50 x 3 epochs).
On CPU, ``release_memory`` hands freed heap memory back to the system after each phase (``host_memory``).
A discriminator's own ``regularization()`` (SeqGAN's L2 on its output layer) is added to its loss with weight
``discriminator_regularization``.

The estimator plugs in through :class:`textgan.estimators.base.Estimator`: ``setup(generator, discriminator)``
once, ``generator_loss`` per generator update, and for learned estimators (REBAR's temperature, RELAX's
control variate) an optimiser over the estimator's own parameters that its ``after_backward`` hook drives
from the generator's gradient, before the generator's step. Labelled data (``(tokens, labels)`` batches) hands
the real sentences' classes to an estimator that declares ``conditional = True``, as ``real_labels`` of its
``generator_loss``, ``discriminator_fakes`` and ``discriminator_loss``; an estimator that declares
``updates_generator = True`` (an evolutionary population) takes its own generator steps inside
``generator_loss``, and the module only logs that loss. Metrics go to the loggers at one global step
that continues MLE pretraining's (``log_step_offset`` + iteration), so the stages' curves line up.
"""

from __future__ import annotations

import copy
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from textgan.config_ranges import Arguments, Refusals, integer, number, optional
from textgan.estimators.base import Estimator, OptimizerFactory
from textgan.estimators.diagnostics import accumulated_gradient, flat_gradient
from textgan.losses.gan import GANLoss
from textgan.models.generator import Generator
from textgan.training.batches import split_batch
from textgan.training.host_memory import release_free_memory
from textgan.training.nonfinite import NonFiniteGuard, gradient_norm
from textgan.training.optimizers import FusedAdam


def default_optimizer(lr: float) -> OptimizerFactory:
    """Adam with ``lr`` and betas (0.9, 0.999), RelGAN's optimiser (torch's fused implementation)."""
    return lambda parameters: FusedAdam(parameters, lr=lr, betas=(0.9, 0.999))


class AdversarialModule(L.LightningModule):
    """Manual-optimisation GAN training; every estimator and model plugs into this one loop.

    Args:
        generator, discriminator, estimator, gan_loss: the parts, built from their configs.
        generator_optimizer, discriminator_optimizer: factories ``parameters -> optimizer`` (Hydra partials);
            default: RelGAN's Adam at 1e-4.
        generator_steps: generator updates per iteration (>= 1).
        discriminator_steps: discriminator updates (or SeqGAN rounds) per iteration (>= 0).
        grad_clip: global gradient norm clip of both networks (None or 0: off).
        discriminator_epochs, num_negatives, discriminator_pretrain_steps: SeqGAN's discriminator schedule.
        num_iterations: adversarial iterations to run.
        real_tokens: the training set (SeqGAN's schedule draws positives from it).
        real_labels: the training set's classes (N,) on labelled data, for a conditional estimator's
            discriminator under SeqGAN's schedule (None: unlabelled).
        discriminator_regularization: weight of the discriminator's own ``regularization()``.
        release_memory: CPU: trim the C heap after each phase.
        log_step_offset: the global step of iteration 0 (the MLE stage's optimizer steps).
        diagnostics_every: every N iterations log the generator gradient's norm and its cosine with a second,
            independent estimate (``adversarial/diagnostics/*``); 0: off.
        on_nonfinite: ``stop`` or ``skip`` when a loss or gradient is not finite
            (:mod:`textgan.training.nonfinite`). ``stop`` checks once per iteration (one host sync) and raises
            before anything is saved; ``skip`` checks before every optimiser step (one sync per update).
    """

    config_ranges = {
        "generator_steps": integer(1),
        "discriminator_steps": integer(0),
        "discriminator_epochs": integer(0),
        "discriminator_pretrain_steps": integer(0),
        "num_negatives": integer(1),
        "grad_clip": optional(number(0)),  # null or 0: no clipping
        "discriminator_regularization": number(0),
    }

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        if arguments["discriminator_pretrain_steps"] > 0 and arguments["discriminator_epochs"] < 1:
            yield "discriminator_epochs", "an integer >= 1 when {discriminator_pretrain_steps} > 0"

    def __init__(
        self,
        generator: Generator,
        discriminator: nn.Module,
        estimator: Estimator,
        gan_loss: GANLoss,
        generator_optimizer: OptimizerFactory | None = None,
        discriminator_optimizer: OptimizerFactory | None = None,
        generator_steps: int = 1,
        discriminator_steps: int = 5,
        grad_clip: float | None = 5.0,
        discriminator_epochs: int = 0,
        num_negatives: int = 10_000,
        num_iterations: int = 2000,
        real_tokens: torch.Tensor | None = None,
        real_labels: torch.Tensor | None = None,
        discriminator_regularization: float = 1.0,
        discriminator_pretrain_steps: int = 0,
        release_memory: bool = True,
        log_step_offset: int = 0,
        diagnostics_every: int = 0,
        on_nonfinite: str = "stop",
    ) -> None:
        super().__init__()
        for name, value, least in (
            ("generator_steps", generator_steps, 1),
            ("discriminator_steps", discriminator_steps, 0),
            ("discriminator_epochs", discriminator_epochs, 0),
            ("discriminator_pretrain_steps", discriminator_pretrain_steps, 0),
            ("num_iterations", num_iterations, 0),
            ("num_negatives", num_negatives, 1),
            ("log_step_offset", log_step_offset, 0),
            ("diagnostics_every", diagnostics_every, 0),
        ):
            if int(value) != value or value < least:
                raise ValueError(f"adversarial: {name} must be an integer >= {least}, got {value!r}")
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.estimator, self.gan_loss = estimator, gan_loss
        self.generator_optimizer = generator_optimizer or default_optimizer(1e-4)
        self.discriminator_optimizer = discriminator_optimizer or default_optimizer(1e-4)
        self.generator_steps, self.discriminator_steps = generator_steps, discriminator_steps
        self.grad_clip = grad_clip
        self.discriminator_epochs, self.num_negatives = discriminator_epochs, num_negatives
        self.num_iterations = num_iterations
        self.discriminator_regularization = discriminator_regularization  # weight of D.regularization()
        self.discriminator_pretrain_steps = discriminator_pretrain_steps  # SeqGAN: 50 before the first iteration
        self.release_memory = release_memory  # CPU: trim the C heap after each phase (peak resident memory)
        self.real_tokens = real_tokens  # the training set: SeqGAN's schedule draws its positives from it
        self.real_labels = real_labels  # and their classes, on labelled data
        if (discriminator_epochs > 0 or discriminator_pretrain_steps > 0) and real_tokens is None:
            raise ValueError("SeqGAN's discriminator schedule needs real_tokens, the training set")
        if discriminator_pretrain_steps > 0 and discriminator_epochs < 1:
            raise ValueError("discriminator_pretrain_steps needs discriminator_epochs >= 1 (passes per round)")
        self.log_step_offset = log_step_offset
        self.diagnostics_every = diagnostics_every
        self.iteration = 0  # adversarial iterations done; checkpointed, drives the estimator's schedules
        self.nonfinite = NonFiniteGuard("adversarial", on_nonfinite)
        self._checked: dict[str, torch.Tensor] = {}  # this iteration's losses and gradient norms (mode stop)
        self._resumed_rng_state: torch.Tensor | None = None
        estimator.check_discriminator(discriminator)  # CoT without its mediator, DPGAN without ...
        estimator.check_generator(generator)  # LeakGAN's generator and estimator need each other
        estimator.setup(generator, discriminator)  # before a checkpoint loads: learned state must exist by then

    @property
    def phase_step(self) -> int:
        """Adversarial iterations done: the x-axis of this stage's evaluations and sample files."""
        return self.iteration

    @property
    def log_step(self) -> int:
        """The global logging step: MLE's optimizer steps, then one per adversarial iteration."""
        return self.log_step_offset + self.iteration

    @property
    def batches_per_step(self) -> int:
        """Real batches one iteration consumes (one per update)."""
        return self.generator_steps + (self.discriminator_steps if self.discriminator_epochs == 0 else 0)

    # ------------------------------------------------------------------------------------------ updates
    def _update(
        self, name: str, optimizer: Any, loss: torch.Tensor, create_graph: bool = False, after_backward=None
    ) -> dict:
        """One optimiser step of network ``name`` (``generator`` / ``discriminator``) on ``loss``."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss, create_graph=create_graph)
        logs = after_backward() if after_backward is not None else {}
        if self.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        quantities = {f"{name} loss": loss.detach(), f"{name} gradient norm": gradient_norm(parameters).detach()}
        if self.nonfinite.mode == "skip":
            if not self.nonfinite.all_finite(f"iteration {self.iteration}", quantities):
                optimizer.zero_grad(set_to_none=True)
                return logs
        else:  # checked once at the end of the iteration (a sum stays non-finite): it stops before any save
            for key, value in quantities.items():
                self._checked[key] = self._checked[key] + value if key in self._checked else value
        optimizer.step()
        return logs

    def _labels(self, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``{"real_labels": labels}`` for a conditional estimator on labelled data, else nothing."""
        return {"real_labels": labels} if labels is not None and self.estimator.conditional else {}

    def _gradient_diagnostics(self, real: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The estimate's norm, and its cosine with a second independent estimate (a variance proxy).

        The second estimate comes from a copy of the estimator (its running state, e.g. a moving-average
        baseline or a delayed rollout copy, is left as it was) under a forked random stream, so turning
        diagnostics on changes nothing in the training itself.
        """
        first = accumulated_gradient(self.generator)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            estimator = copy.deepcopy(self.estimator)
            out = estimator.generator_loss(
                self.generator, self.discriminator, real, self.gan_loss, self.iteration, **self._labels(labels)
            )
            second = flat_gradient(self.generator, out.loss).detach()
        return {
            "diagnostics/gradient_norm": first.norm(),
            "diagnostics/gradient_cosine": F.cosine_similarity(first, second.detach(), dim=0),
        }

    def _estimator_after_backward(self, estimator_optimizer: Any | None) -> dict:
        """Let the estimator read the generator's gradient and update its own parameters (learned estimators)."""
        if estimator_optimizer is not None:
            estimator_optimizer.zero_grad(set_to_none=True)
        logs = self.estimator.after_backward(self.generator)
        if estimator_optimizer is not None:
            estimator_optimizer.step()
        return logs

    def _end_phase(self, optimizer: Any) -> None:
        self.untoggle_optimizer(optimizer)
        if self.release_memory and self.device.type == "cpu":
            release_free_memory()

    def _discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None = None):
        scheme_loss = self.estimator.discriminator_loss(
            self.discriminator, real, fake, self.gan_loss, **self._labels(labels)
        )
        if scheme_loss is not None:  # a discriminator-like module with its own objective (CoT, DPGAN, RankGAN)
            return scheme_loss
        loss = self.gan_loss.discriminator_loss(self.discriminator(real), self.discriminator(fake))
        regularization = getattr(self.discriminator, "regularization", None)
        if callable(regularization) and self.discriminator_regularization:
            loss = loss + self.discriminator_regularization * regularization()  # SeqGAN's L2 on its output layer
        if type(self.gan_loss).penalty is not GANLoss.penalty:  # only WGAN-GP pays for one-hot rows
            vocab = self.generator.vocab_size
            real_rows = F.one_hot(real, vocab).float()
            fake_rows = fake if fake.dim() == 3 else F.one_hot(fake, vocab).float()
            loss = loss + self.gan_loss.penalty(self.discriminator, real_rows, fake_rows.float())
        return loss

    def _discriminator_batches(
        self, real_batches: list[torch.Tensor], batch_size: int, length: int, label_batches: list | None = None
    ):
        """(real, fake, real labels or None) for this iteration's discriminator updates.

        The generator does not change during them, so every update's fakes come from one generator pass over
        all the updates' rows (5 x 64 for RelGAN): one unroll of wide products instead of five narrow ones."""
        label_batches = label_batches or [None] * len(real_batches)
        if self.discriminator_epochs == 0:
            sizes = [real.shape[0] for real in real_batches]
            labels = None if label_batches[0] is None else torch.cat(label_batches)
            fakes = self.estimator.discriminator_fakes(
                self.generator, sum(sizes), length, self.iteration, **self._labels(labels)
            )
            yield from zip(real_batches, fakes.split(sizes), label_batches, strict=True)
            return
        yield from self._fresh_negative_batches(self.discriminator_steps, batch_size, length)

    def _fresh_negative_batches(self, rounds: int, batch_size: int, length: int):
        """SeqGAN's schedule: ``rounds`` x (fresh negatives, ``discriminator_epochs`` shuffled passes)."""
        positives, count = self.real_tokens, self.num_negatives
        labelled = self.real_labels is not None and self.estimator.conditional
        for _ in range(rounds):
            labels = None
            if labelled:  # the positives' classes go to the estimator, whose fakes may depend on them (CatGAN)
                drawn = torch.randint(len(positives), (count,))
                reals, labels = positives[drawn].to(self.device), self.real_labels[drawn].to(self.device)
                fakes = self.estimator.discriminator_fakes(
                    self.generator, count, length, self.iteration, real_labels=labels
                )
            else:
                fakes = self.generator.sample(count, length)
                reals = positives[torch.randint(len(positives), (count,))].to(self.device)
            for _ in range(self.discriminator_epochs):
                order = torch.randperm(count, device=self.device)
                for index in order.split(batch_size):
                    yield reals[index], fakes[index], None if labels is None else labels[index]

    def training_step(self, batch: torch.Tensor | tuple, batch_idx: int) -> None:
        if self.iteration >= self.num_iterations:  # the data stream is endless: stop here
            self.trainer.should_stop = True
            return
        if self._resumed_rng_state is not None:
            torch.set_rng_state(self._resumed_rng_state)
            self._resumed_rng_state = None
        generator_optimizer, discriminator_optimizer, *rest = self.optimizers()
        estimator_optimizer = rest[0] if rest else None
        tokens, labels = split_batch(batch)
        batch_size = tokens.shape[0] // self.batches_per_step
        real_batches = list(tokens.split(batch_size))
        label_batches = list(labels.split(batch_size)) if labels is not None else [None] * len(real_batches)
        length = tokens.shape[1]

        trains_discriminator = self.estimator.trains_discriminator  # False: DGSAN, JSDGAN (no network to train)
        if self.iteration == 0 and self.discriminator_pretrain_steps > 0 and trains_discriminator:  # SeqGAN: D first
            self.toggle_optimizer(discriminator_optimizer)
            for real, fake, real_labels in self._fresh_negative_batches(
                self.discriminator_pretrain_steps, batch_size, length
            ):
                loss = self._discriminator_loss(real, fake, real_labels)
                self._update("discriminator", discriminator_optimizer, loss)
            self._end_phase(discriminator_optimizer)

        self.toggle_optimizer(generator_optimizer)  # freezes every parameter outside the generator's optimizer ...
        if estimator_optimizer is not None:  # ... but a learned estimator trains beside the generator
            for group in estimator_optimizer.param_groups:
                for parameter in group["params"]:
                    parameter.requires_grad_(True)
        for real, real_labels in zip(real_batches[: self.generator_steps], label_batches, strict=False):
            out = self.estimator.generator_loss(
                self.generator, self.discriminator, real, self.gan_loss, self.iteration, **self._labels(real_labels)
            )
            diagnose = self.diagnostics_every > 0 and self.iteration % self.diagnostics_every == 0

            def after_backward(diagnose: bool = diagnose, second: torch.Tensor = real_batches[-1]) -> dict:
                # the second estimate's real batch: an independent draw (the last discriminator update's)
                logs = self._gradient_diagnostics(second, label_batches[-1]) if diagnose else {}
                return {**logs, **self._estimator_after_backward(estimator_optimizer)}

            if self.estimator.updates_generator:  # it stepped the generator itself (an evolutionary population)
                estimator_logs = {}
                continue
            estimator_logs = self._update(
                "generator", generator_optimizer, out.loss, create_graph=out.create_graph, after_backward=after_backward
            )
        self._end_phase(generator_optimizer)

        logs = {"adversarial/g_loss": out.loss.detach()}
        logs.update({f"adversarial/{key}": value for key, value in {**out.logs, **estimator_logs}.items()})
        if self.discriminator_steps > 0 and trains_discriminator:
            self.toggle_optimizer(discriminator_optimizer)
            start = self.generator_steps
            fake_batches = self._discriminator_batches(real_batches[start:], batch_size, length, label_batches[start:])
            for real, fake, real_labels in fake_batches:
                discriminator_loss = self._discriminator_loss(real, fake, real_labels)
                self._update("discriminator", discriminator_optimizer, discriminator_loss)
            self._end_phase(discriminator_optimizer)
            logs["adversarial/d_loss"] = discriminator_loss.detach()

        if self._checked:
            self.nonfinite.all_finite(f"iteration {self.iteration}", self._checked)  # raises when one is not
            self._checked = {}
        self.iteration += 1
        logs["adversarial/iteration"] = float(self.iteration)
        if self.nonfinite.mode == "skip":
            logs["adversarial/nonfinite_skips"] = float(self.nonfinite.skipped)
        diagnosed = any(key.startswith("adversarial/diagnostics/") for key in logs)
        self._log_metrics(logs, always=diagnosed)  # a diagnosed iteration is logged whatever the log period
        if self.iteration >= self.num_iterations:
            self.trainer.should_stop = True

    def _log_metrics(self, logs: dict[str, torch.Tensor | float], always: bool = False) -> None:
        """Every ``trainer.log_every_n_steps`` iterations (and the last; with ``always``, this one), to every
        logger at the global step (one host sync)."""
        every = max(int(getattr(self.trainer, "log_every_n_steps", 1) or 1), 1)
        if not self.trainer.loggers:
            return
        if not always and self.iteration % every and self.iteration < self.num_iterations:
            return
        names = list(logs)
        values = torch.stack(
            [torch.as_tensor(logs[n], dtype=torch.float32, device=self.device).detach() for n in names]
        ).tolist()
        for logger in self.trainer.loggers:
            logger.log_metrics(dict(zip(names, values, strict=True)), step=self.log_step)

    def configure_optimizers(self):
        optimizers = [
            self.generator_optimizer(self.generator.parameters()),
            self.discriminator_optimizer(self.discriminator.parameters()),
        ]
        estimator_optimizer = self.estimator.configure_optimizer()
        if estimator_optimizer is not None:
            optimizers.append(estimator_optimizer)
        return optimizers

    def on_train_start(self) -> None:
        if self.trainer.world_size > 1 and self.iteration == 0:  # each rank its own samples (and rollouts)
            torch.manual_seed(torch.initial_seed() + 1_000_003 * self.global_rank)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The random state goes with the weights, so a resumed CPU run repeats an uninterrupted one exactly.
        checkpoint["adversarial_iteration"] = self.iteration
        checkpoint["nonfinite_skips"] = self.nonfinite.skipped
        checkpoint["torch_rng_state"] = torch.get_rng_state()
        if self.trainer.world_size > 1:  # every rank's stream (this hook runs on every rank)
            checkpoint["torch_rng_states"] = self.all_gather(torch.get_rng_state().to(self.device)).cpu()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.iteration = int(checkpoint.get("adversarial_iteration", 0))
        self.nonfinite.skipped = int(checkpoint.get("nonfinite_skips", 0))
        # Applied at the first resumed step: restoring happens before callbacks' on_train_start hooks run.
        self._resumed_rng_state = checkpoint.get("torch_rng_state")
        states = checkpoint.get("torch_rng_states")
        if states is not None and self.trainer.world_size == len(states):
            self._resumed_rng_state = states[self.global_rank].to(torch.uint8).clone()  # its own storage
