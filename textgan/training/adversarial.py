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
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from textgan.estimators.base import Estimator
from textgan.losses.gan import GANLoss
from textgan.models.generator import Generator
from textgan.training.host_memory import release_free_memory


class AdversarialModule(L.LightningModule):
    """Manual-optimisation GAN training; every estimator and model plugs into this one loop."""

    def __init__(
        self,
        generator: Generator,
        discriminator: nn.Module,
        estimator: Estimator,
        gan_loss: GANLoss,
        generator_lr: float = 1e-4,
        discriminator_lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        generator_steps: int = 1,
        discriminator_steps: int = 5,
        grad_clip: float | None = 5.0,
        discriminator_epochs: int = 0,
        num_negatives: int = 10_000,
        num_iterations: int = 2000,
        real_tokens: torch.Tensor | None = None,
        discriminator_regularization: float = 1.0,
        discriminator_pretrain_steps: int = 0,
        release_memory: bool = True,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.estimator, self.gan_loss = estimator, gan_loss
        self.generator_lr, self.discriminator_lr, self.betas = generator_lr, discriminator_lr, tuple(betas)
        self.generator_steps, self.discriminator_steps = generator_steps, discriminator_steps
        self.grad_clip = grad_clip
        self.discriminator_epochs, self.num_negatives = discriminator_epochs, num_negatives
        self.num_iterations = num_iterations
        self.discriminator_regularization = discriminator_regularization  # weight of D.regularization()
        self.discriminator_pretrain_steps = discriminator_pretrain_steps  # SeqGAN: 50 before the first iteration
        self.release_memory = release_memory  # CPU: trim the C heap after each phase (peak resident memory)
        self.real_tokens = real_tokens  # the training set: SeqGAN's schedule draws its positives from it
        if (discriminator_epochs > 0 or discriminator_pretrain_steps > 0) and real_tokens is None:
            raise ValueError("SeqGAN's discriminator schedule needs real_tokens, the training set")
        if discriminator_pretrain_steps > 0 and discriminator_epochs < 1:
            raise ValueError("discriminator_pretrain_steps needs discriminator_epochs >= 1 (passes per round)")
        self.iteration = 0  # adversarial iterations done; checkpointed, drives the estimator's schedules
        self._resumed_rng_state: torch.Tensor | None = None
        setup = getattr(estimator, "setup", None)
        if callable(setup):
            setup(generator)

    @property
    def batches_per_step(self) -> int:
        """Real batches one iteration consumes (one per update)."""
        return self.generator_steps + (self.discriminator_steps if self.discriminator_epochs == 0 else 0)

    # ------------------------------------------------------------------------------------------ updates
    def _update(self, optimizer: Any, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.grad_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.grad_clip, gradient_clip_algorithm="norm")
        optimizer.step()

    def _end_phase(self, optimizer: Any) -> None:
        self.untoggle_optimizer(optimizer)
        if self.release_memory and self.device.type == "cpu":
            release_free_memory()

    def _discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
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

    def _discriminator_batches(self, real_batches: list[torch.Tensor], batch_size: int, length: int):
        """(real, fake) pairs for this iteration's discriminator updates."""
        if self.discriminator_epochs == 0:
            for real in real_batches:
                fake = self.estimator.discriminator_fakes(self.generator, real.shape[0], length, self.iteration)
                yield real, fake
            return
        yield from self._fresh_negative_batches(self.discriminator_steps, batch_size, length)

    def _fresh_negative_batches(self, rounds: int, batch_size: int, length: int):
        """SeqGAN's schedule: ``rounds`` x (fresh negatives, ``discriminator_epochs`` shuffled passes)."""
        positives = self.real_tokens
        for _ in range(rounds):
            fakes = self.generator.sample(self.num_negatives, length)
            reals = positives[torch.randint(len(positives), (self.num_negatives,))].to(self.device)
            for _ in range(self.discriminator_epochs):
                order = torch.randperm(self.num_negatives, device=self.device)
                for index in order.split(batch_size):
                    yield reals[index], fakes[index]

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        if self.iteration >= self.num_iterations:  # the data stream is endless: stop here
            self.trainer.should_stop = True
            return
        if self._resumed_rng_state is not None:
            torch.set_rng_state(self._resumed_rng_state)
            self._resumed_rng_state = None
        generator_optimizer, discriminator_optimizer = self.optimizers()
        batch_size = batch.shape[0] // self.batches_per_step
        real_batches = list(batch.split(batch_size))
        length = batch.shape[1]

        if self.iteration == 0 and self.discriminator_pretrain_steps > 0:  # SeqGAN pretrains D before GAN steps
            self.toggle_optimizer(discriminator_optimizer)
            for real, fake in self._fresh_negative_batches(self.discriminator_pretrain_steps, batch_size, length):
                self._update(discriminator_optimizer, self._discriminator_loss(real, fake))
            self._end_phase(discriminator_optimizer)

        self.toggle_optimizer(generator_optimizer)
        for real in real_batches[: self.generator_steps]:
            out = self.estimator.generator_loss(
                self.generator, self.discriminator, real, self.gan_loss, self.iteration
            )
            self._update(generator_optimizer, out.loss)
        self._end_phase(generator_optimizer)

        self.toggle_optimizer(discriminator_optimizer)
        for real, fake in self._discriminator_batches(real_batches[self.generator_steps :], batch_size, length):
            discriminator_loss = self._discriminator_loss(real, fake)
            self._update(discriminator_optimizer, discriminator_loss)
        self._end_phase(discriminator_optimizer)

        self.iteration += 1
        logs = {"adversarial/g_loss": out.loss.detach(), "adversarial/d_loss": discriminator_loss.detach()}
        logs.update({f"adversarial/{key}": value for key, value in out.logs.items()})
        logs["adversarial/iteration"] = float(self.iteration)
        self.log_dict(logs, on_step=True, prog_bar=False)
        if self.iteration >= self.num_iterations:
            self.trainer.should_stop = True

    def configure_optimizers(self):
        return (
            torch.optim.Adam(self.generator.parameters(), lr=self.generator_lr, betas=self.betas),
            torch.optim.Adam(self.discriminator.parameters(), lr=self.discriminator_lr, betas=self.betas),
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # The random state goes with the weights, so a resumed CPU run repeats an uninterrupted one exactly.
        checkpoint["adversarial_iteration"] = self.iteration
        checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.iteration = int(checkpoint.get("adversarial_iteration", 0))
        # Applied at the first resumed step: restoring happens before callbacks' on_train_start hooks run.
        self._resumed_rng_state = checkpoint.get("torch_rng_state")
