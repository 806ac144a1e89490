"""What a person watching a run sees: a progress bar per stage that says which stage and how far it has to go.

``pretrain epoch 3/150: 40/157`` during MLE; ``adversarial: 1320/3000`` during adversarial training (the
iteration count, resumed runs included). Evaluations report themselves in the run's log (see
:class:`textgan.training.callbacks.EvaluationCallback`).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import convert_inf


class StageProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, named by stage; the adversarial bar counts iterations out of the run's total."""

    @staticmethod
    def _adversarial(pl_module: L.LightningModule) -> bool:
        return hasattr(pl_module, "num_iterations")

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if self._leave:
            self.train_progress_bar = self.init_train_tqdm()
        pl_module, bar = trainer.lightning_module, self.train_progress_bar
        if self._adversarial(pl_module):
            bar.set_description("adversarial", refresh=False)
            bar.reset(total=pl_module.num_iterations)
            bar.n = pl_module.iteration
        else:
            bar.set_description(f"pretrain epoch {trainer.current_epoch + 1}/{trainer.max_epochs}", refresh=False)
            bar.reset(total=convert_inf(self.total_train_batches))
        bar.initial = 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self._adversarial(pl_module):
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        bar = self.train_progress_bar
        if bar is not None and not bar.disable and self._should_update(pl_module.iteration, bar.total):
            bar.n = pl_module.iteration
            bar.set_postfix(self.get_metrics(trainer, pl_module))
            bar.refresh()

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)  # the logger's version number says nothing to a person watching
        return metrics
