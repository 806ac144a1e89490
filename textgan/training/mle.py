"""MLE pretraining of a generator: teacher-forced negative log-likelihood, as RelGAN and SeqGAN do first."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from textgan.estimators.base import OptimizerFactory
from textgan.models.generator import Generator
from textgan.training.batches import labels_for, split_batch
from textgan.training.nonfinite import NonFiniteGuard, gradient_norm
from textgan.training.optimizers import FusedAdam


class MLEPretrainModule(L.LightningModule):
    """Minimises the mean per-token NLL of real sequences (B, T) under teacher forcing
    (``generator.mle_loss``: the NLL, plus the losses of modules that pretrain beside it, LeakGAN's Manager).

    Labelled batches ``(tokens, labels)`` train a class-conditional generator (``num_classes > 0``) on
    ``nll(tokens, labels)``; an unconditional generator ignores the labels.

    Args:
        generator: the generator to pretrain.
        optimizer: factory ``parameters -> optimizer`` (a Hydra partial); default RelGAN's Adam, learning rate
            1e-2, betas (0.9, 0.999). RelGAN also clips gradients to global norm 5 (the Trainer's
            ``gradient_clip_val``) and trains 150 epochs.
        on_nonfinite: ``stop`` or ``skip`` when a step's loss or gradient is not finite
            (:mod:`textgan.training.nonfinite`).

    The epoch's mean training NLL goes to the loggers as ``pretrain/nll_train`` at the epoch's last step,
    logged by the module itself so that it is on disk before the epoch's checkpoint is written.
    """

    def __init__(
        self, generator: Generator, optimizer: OptimizerFactory | None = None, on_nonfinite: str = "stop"
    ) -> None:
        super().__init__()
        self.generator = generator
        self.optimizer_factory = optimizer or (lambda params: FusedAdam(params, lr=1e-2, betas=(0.9, 0.999)))
        self.nonfinite = NonFiniteGuard("pretrain", on_nonfinite)
        self._loss: torch.Tensor | None = None  # the step's NLL, for the epoch's mean
        self._step_loss: torch.Tensor | None = None  # what the step minimised (the NLL, or more: LeakGAN)
        self._epoch_sum = torch.zeros(())
        self._epoch_batches = 0

    @property
    def log_step(self) -> int:
        """The global logging step: the index of the last optimizer step taken.

        The adversarial stage continues after the last one (its offset is the number of MLE steps).
        """
        return max(self.trainer.global_step - 1, 0)

    @property
    def phase_step(self) -> int:
        """Epochs done: the x-axis of the MLE stage's evaluations and sample files."""
        return self.current_epoch

    def on_train_epoch_start(self) -> None:
        self._epoch_sum, self._epoch_batches = torch.zeros((), device=self.device), 0

    def training_step(self, batch: torch.Tensor | tuple, batch_idx: int) -> torch.Tensor:
        tokens, labels = split_batch(batch)
        # the NLL itself, unless the generator adds terms (LeakGAN); labels reach a class-conditional generator
        loss, nll = self.generator.mle_loss(tokens, **labels_for(self.generator, labels))
        self._loss = nll
        self._step_loss = loss.detach()
        self.log("pretrain/nll_train", nll, prog_bar=True, on_step=True, on_epoch=False, logger=False)
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        norm = gradient_norm(self.generator.parameters())
        where = f"epoch {self.current_epoch}, step {self.trainer.global_step}"
        if not self.nonfinite.all_finite(where, {"nll_train": self._step_loss, "gradient norm": norm}):
            optimizer.zero_grad(set_to_none=True)  # Adam leaves parameters without a gradient untouched
            self._loss = None

    def on_train_batch_end(self, outputs: Any, batch: torch.Tensor, batch_idx: int) -> None:
        if self._loss is not None:
            self._epoch_sum = self._epoch_sum + self._loss
            self._epoch_batches += 1
        if batch_idx + 1 == self.trainer.num_training_batches:
            self._log_epoch()

    def _log_epoch(self) -> None:
        if not self.trainer.loggers:
            return
        metrics = {"pretrain/epoch": float(self.current_epoch + 1)}
        if self._epoch_batches:
            metrics["pretrain/nll_train"] = (self._epoch_sum / self._epoch_batches).item()
        if self.nonfinite.mode == "skip":
            metrics["pretrain/nonfinite_skips"] = float(self.nonfinite.skipped)
        for logger in self.trainer.loggers:
            logger.log_metrics(metrics, step=self.log_step)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.generator.parameters())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["nonfinite_skips"] = self.nonfinite.skipped

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.nonfinite.skipped = int(checkpoint.get("nonfinite_skips", 0))
