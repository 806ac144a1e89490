"""Callbacks: periodic evaluation (metrics + sample tables) and atomic periodic checkpoints.

Both keep a resumed run identical to an uninterrupted one: the evaluation history travels in the checkpoint
(so an evaluation is never repeated or lost), and every logger is flushed to disk before a checkpoint is
written (so what was logged up to a checkpoint is on disk whenever the checkpoint is). In the callback list
the evaluation comes before the checkpoint, so a checkpoint at step ``s`` includes the evaluation at ``s``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

from textgan.atomic_files import atomic_write, atomic_write_text
from textgan.data.base import TokenDataModule
from textgan.evaluation import evaluate_generator
from textgan.evaluation.plots import history_figure
from textgan.evaluation.protocol import EvaluationResult, balanced_labels, check_classes, draw_samples
from textgan.evaluation.sample_metrics import SampleMetrics
from textgan.training.distributed import gather_rows, ranks_in_sync, share
from textgan.training.interrupt import stop_requested
from textgan.training.progress import paused

log = logging.getLogger(__name__)


def logged_rows(labels: torch.Tensor | None, count: int, limit: int) -> torch.Tensor:
    """Which of ``count`` samples to log, at most ``limit``: the first ones, or, for samples generated per class
    (``labels``, class by class), the first ones of every class in turn (class 0, 1, ..., 0, 1, ...)."""
    if labels is None:
        return torch.arange(min(count, limit))
    rank_in_class = torch.zeros(count, dtype=torch.long)
    for c in labels.unique():
        rows = (labels == c).nonzero().flatten()
        rank_in_class[rows] = torch.arange(len(rows))
    return torch.argsort(rank_in_class * (int(labels.max()) + 1) + labels, stable=True)[:limit]


class EvaluationCallback(L.Callback):
    """Scores ``pl_module.generator`` with the data's sample metrics and NLL_gen, every ``every`` iterations or epochs.

    Evaluates once before training starts (the starting point: e.g. the pretrained generator) and at the
    end. Metrics go to every logger as ``{prefix}/{name}`` at the module's global ``log_step`` (MLE optimizer
    steps, then adversarial iterations after them), with the stage's own x-axis ``{prefix}/step`` (epochs or
    iterations) beside them; the first ``num_logged_samples`` samples, decoded, go to a table (wandb) and a text
    file (``samples_dir``; ``evaluation.num_logged_samples`` in ``conf/train.yaml``, 0: none), and wandb
    also receives the stage's evaluations so far drawn as one image (``{prefix}/curves``);
    ``history`` keeps every evaluation, by stage step, for the run summary. A class-conditional generator on
    labelled data is sampled equally per class and scored per class as well (``evaluate_generator``); its logged
    samples carry their class (a ``label`` column in the table, ``label<TAB>sample`` lines in the file).
    """

    def __init__(
        self,
        datamodule: TokenDataModule,
        prefix: str,
        every: int = 100,
        num_samples: int = 10_000,
        num_logged_samples: int = 16,
        samples_dir: str | Path | None = None,
        seed: int = 0,
        nll_gen_train: bool = False,
    ) -> None:
        self.datamodule = datamodule
        self.nll_gen_train = nll_gen_train  # also NLL_gen on the training split (RelGAN's definition)
        self.sample_metrics = SampleMetrics(datamodule)  # its BLEU reference tables serve every evaluation
        self.prefix, self.every, self.num_samples = prefix, every, num_samples
        self.num_logged_samples, self.seed = num_logged_samples, seed
        self.samples_dir = Path(samples_dir) if samples_dir else None
        self.history: list[dict[str, float]] = []
        self.seconds = 0.0  # spent evaluating, summed over the invocations that resumed the stage
        self._last_step: int | None = None

    def evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, step: int | None = None) -> dict[str, float]:
        """Score the generator now; ``step``: the stage's x-axis value (default ``pl_module.phase_step``)."""
        step = int(pl_module.phase_step if step is None else step)
        if step == self._last_step:
            return self.history[-1]
        with paused(trainer, "evaluating"):  # the stage's bar: its time and rate are training's only
            return self._evaluate(trainer, pl_module, step)

    def _evaluate(self, trainer: L.Trainer, pl_module: L.LightningModule, step: int) -> dict[str, float]:
        log.info("%s at step %d: scoring %d samples ...", self.prefix, step, self.num_samples)
        started = time.perf_counter()
        # Evaluation must not move the training's random stream: how often one evaluates changes nothing else.
        with torch.random.fork_rng(devices=[pl_module.device] if pl_module.device.type == "cuda" else []):
            result = self._score(trainer, pl_module, step)
        if not trainer.is_global_zero:  # rank 0 scores the gathered samples, logs and writes
            self.history.append({"step": step})
            self._last_step = step
            return self.history[-1]
        scores = ", ".join(f"{key} {value:.4g}" for key, value in result.metrics.items())
        seconds, scored = time.perf_counter() - started, len(result.samples)
        self.seconds += seconds
        ranks = f" from {trainer.world_size} ranks" if trainer.world_size > 1 else ""
        log.info("%s at step %d (%.1f s, %d samples%s): %s", self.prefix, step, seconds, scored, ranks, scores)
        metrics = {f"{self.prefix}/{key}": value for key, value in result.metrics.items()}
        metrics[f"{self.prefix}/step"] = float(step)
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=int(pl_module.log_step))
        if self.num_logged_samples > 0:
            shown = logged_rows(result.labels, len(result.samples), self.num_logged_samples)
            texts = self.datamodule.decode(result.samples[shown])
            names = None
            if result.labels is not None and self.datamodule.class_labels is not None:
                names = [self.datamodule.class_labels.name(int(c)) for c in result.labels[shown]]
            self._log_samples(trainer, texts, step, names)
        self.history.append({"step": step, **result.metrics})
        self._log_plot(trainer, int(pl_module.log_step))
        self._last_step = step
        return self.history[-1]

    def _score(self, trainer: L.Trainer, pl_module: L.LightningModule, step: int) -> EvaluationResult | None:
        """One process: sample and score. N ranks: each samples its share (its own seed), rank 0 scores all."""
        if trainer.world_size == 1:
            return evaluate_generator(
                pl_module.generator,
                self.datamodule,
                self.num_samples,
                seed=self.seed + step,
                sample_metrics=self.sample_metrics,
                nll_gen_train=self.nll_gen_train,
            )
        rank, world = trainer.global_rank, trainer.world_size
        seed = (self.seed + step) * 1_000_003 + rank
        num_classes = check_classes(pl_module.generator, self.datamodule)
        labels = None
        if num_classes:  # each rank samples a contiguous share of the balanced labels, gathered in rank order
            every = balanced_labels(self.num_samples, num_classes)
            start = sum(share(len(every), r, world) for r in range(rank))
            mine = every[start : start + share(len(every), rank, world)].to(pl_module.device)
            labels = gather_rows(mine).cpu()
            samples = gather_rows(draw_samples(pl_module.generator, len(mine), seed, labels=mine))
        else:
            samples = gather_rows(draw_samples(pl_module.generator, share(self.num_samples, rank, world), seed))
        if not trainer.is_global_zero:
            return None
        return evaluate_generator(
            pl_module.generator,
            self.datamodule,
            samples=samples.cpu(),
            sample_metrics=self.sample_metrics,
            labels=labels,
            nll_gen_train=self.nll_gen_train,
        )

    def _log_samples(self, trainer: L.Trainer, texts: list[str], step: int, names: list[str] | None = None) -> None:
        if names is None:
            columns, rows = ["step", "sample"], [[step, t] for t in texts]
        else:
            columns, rows = ["step", "label", "sample"], [[step, n, t] for n, t in zip(names, texts, strict=True)]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_text(key=f"{self.prefix}/samples", columns=columns, data=rows)
        if self.samples_dir is not None:
            name = f"{self.prefix.replace('/', '_')}_{step:06d}.txt"
            lines = texts if names is None else [f"{n}\t{t}" for n, t in zip(names, texts, strict=True)]
            atomic_write_text(self.samples_dir / name, "\n".join(lines) + "\n")

    def _log_plot(self, trainer: L.Trainer, log_step: int) -> None:
        """The stage's evaluations so far as one figure (``{prefix}/curves``), for wandb loggers."""
        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if not loggers:
            return
        import matplotlib.pyplot as plt

        unit = "epoch" if self.prefix.startswith("pretrain") else "iteration"
        figure = history_figure(self.history, f"{self.prefix} after {unit} {self.history[-1]['step']}", unit)
        try:
            for logger in loggers:
                logger.log_image(key=f"{self.prefix}/curves", images=[figure], step=log_step)
        finally:
            plt.close(figure)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.history:  # the stage's starting point; a resumed stage has evaluated it already
            self.evaluate(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if hasattr(pl_module, "iteration") and pl_module.iteration % self.every == 0:
            self.evaluate(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epochs_done = pl_module.current_epoch + 1  # the epoch counter moves on only after this hook
        if not hasattr(pl_module, "iteration") and epochs_done % self.every == 0:
            self.evaluate(trainer, pl_module, step=epochs_done)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not stop_requested():  # an interrupted run is evaluated when it finishes
            self.evaluate(trainer, pl_module)

    def state_dict(self) -> dict[str, Any]:
        return {"history": self.history, "last_step": self._last_step, "seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = list(state_dict.get("history", []))
        self._last_step = state_dict.get("last_step")
        self.seconds = float(state_dict.get("seconds", 0.0))


class AtomicCheckpoint(L.Callback):
    """Writes ``last.ckpt`` every ``every`` adversarial iterations (or epochs) and at the end of training.

    The file is written under a temporary name and renamed into place, so an interrupted save never destroys
    the previous checkpoint, and a failed one (a full disk) raises naming the file and keeps the previous
    one. Loggers are flushed first. After Ctrl-C (:mod:`textgan.training.interrupt`) it saves at the next
    iteration (adversarial) or epoch end (MLE) and stops the trainer.
    """

    def __init__(self, dirpath: str | Path, every: int = 100) -> None:
        self.dirpath, self.every = Path(dirpath), every
        self._seconds_before, self._started = 0.0, time.perf_counter()  # the stage's time, over resumes
        for stale in self.dirpath.glob(".last.ckpt.tmp-*"):  # left by a process killed while saving
            stale.unlink(missing_ok=True)

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.ckpt"

    @property
    def elapsed_seconds(self) -> float:
        """Seconds this stage has trained, evaluations included, summed over the invocations that resumed it."""
        return self._seconds_before + time.perf_counter() - self._started

    def state_dict(self) -> dict[str, Any]:
        return {"elapsed_seconds": self.elapsed_seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._seconds_before, self._started = float(state_dict.get("elapsed_seconds", 0.0)), time.perf_counter()

    def save(self, trainer: L.Trainer) -> None:
        if not ranks_in_sync(trainer.lightning_module):
            raise RuntimeError(f"data-parallel ranks hold different parameters at {self.last_path}: not saved")
        if trainer.world_size > 1:
            log.info("all %d data-parallel ranks hold bitwise the same parameters", trainer.world_size)
        for logger in trainer.loggers:
            logger.save()
        # full state: optimisers, loops, RNG, for exact resume; every rank joins, rank 0 writes
        if not trainer.is_global_zero:
            trainer.save_checkpoint(self.last_path, weights_only=False)
            return
        with paused(trainer, "saving checkpoint"):
            atomic_write(self.last_path, lambda tmp: trainer.save_checkpoint(tmp, weights_only=False))
        log.info("checkpoint: %s", self.last_path)

    def restore_callbacks(self, callbacks: list[L.Callback]) -> dict[str, Any]:
        """Load the states ``last.ckpt`` holds for ``callbacks`` (this one included: the stage's time, the
        evaluation history); returns the whole checkpoint."""
        saved = torch.load(self.last_path, map_location="cpu", weights_only=False)
        states = saved.get("callbacks", {})
        for callback in callbacks:
            if callback.state_key in states:
                callback.load_state_dict(states[callback.state_key])
        return saved

    def restore_finished(self, pl_module: L.LightningModule, callbacks: list[L.Callback]) -> None:
        """Load ``last.ckpt`` into ``pl_module`` and ``callbacks`` (this one included) without training: a stage
        whose last checkpoint already holds all its iterations (a run stopped after its last save), so that the
        trained weights, the evaluation history and the stage's time reach the summary and ``generator.pt``."""
        saved = self.restore_callbacks(callbacks)
        pl_module.load_state_dict(saved["state_dict"])
        pl_module.on_load_checkpoint(saved)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if not hasattr(pl_module, "iteration"):
            return
        if pl_module.iteration % self.every == 0 or stop_requested():
            self.save(trainer)
        if stop_requested():
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if hasattr(pl_module, "iteration"):
            return
        if (pl_module.current_epoch + 1) % self.every == 0 or stop_requested():
            self.save(trainer)
        if stop_requested():
            trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)
