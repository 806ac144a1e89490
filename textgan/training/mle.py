"""MLE pretraining of a generator: teacher-forced negative log-likelihood, as RelGAN and SeqGAN do first."""

from __future__ import annotations

import lightning as L
import torch

from textgan.estimators.base import OptimizerFactory
from textgan.models.generator import Generator


class MLEPretrainModule(L.LightningModule):
    """Minimises the mean per-token NLL of real sequences (B, T) under teacher forcing.

    Args:
        generator: the generator to pretrain.
        optimizer: factory ``parameters -> optimizer`` (a Hydra partial); default RelGAN's Adam, learning rate
            1e-2, betas (0.9, 0.999). RelGAN also clips gradients to global norm 5 (the Trainer's
            ``gradient_clip_val``) and trains 150 epochs.
    """

    def __init__(self, generator: Generator, optimizer: OptimizerFactory | None = None) -> None:
        super().__init__()
        self.generator = generator
        self.optimizer_factory = optimizer or (lambda params: torch.optim.Adam(params, lr=1e-2, betas=(0.9, 0.999)))

    @property
    def log_step(self) -> int:
        """The global logging step: the index of the last optimizer step, where Lightning logs epoch metrics.

        The adversarial stage continues after the last one (its offset is the number of MLE steps).
        """
        return max(self.trainer.global_step - 1, 0)

    @property
    def phase_step(self) -> int:
        """Epochs done: the x-axis of the MLE stage's evaluations and sample files."""
        return self.current_epoch

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.generator.nll(batch)
        self.log("pretrain/nll_train", loss, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.generator.parameters())
