"""MLE pretraining of a generator: teacher-forced negative log-likelihood, as RelGAN and SeqGAN do first."""

from __future__ import annotations

import lightning as L
import torch

from textgan.models.generator import Generator


class MLEPretrainModule(L.LightningModule):
    """Minimises the mean per-token NLL of real sequences (B, T) under teacher forcing.

    RelGAN: Adam with learning rate 1e-2, betas (0.9, 0.999), gradients clipped to global norm 5 (the Trainer's
    ``gradient_clip_val``), 150 epochs over the training set.
    """

    def __init__(self, generator: Generator, lr: float = 1e-2, betas: tuple[float, float] = (0.9, 0.999)) -> None:
        super().__init__()
        self.generator = generator
        self.lr, self.betas = lr, tuple(betas)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self.generator.nll(batch)
        self.log("pretrain/nll_train", loss, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.generator.parameters(), lr=self.lr, betas=self.betas)
