"""The two stages of ``textgan-train``, each a resumable Lightning fit: MLE pretraining, then adversarial training.

``textgan.train`` builds the data, the models and the loggers, and calls :func:`pretrain` and :func:`adversarial`
in turn; each builds its Lightning module from the config (``conf/pretrain/``, ``conf/adversarial/``), its
evaluation and checkpoint callbacks, and a :func:`trainer`, fits, and returns its part of the run summary. A stage
stopped by Ctrl-C raises ``RunInterrupted`` after its checkpoint is saved.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from textgan.models.io import save_generator
from textgan.training.callbacks import AtomicCheckpoint, EvaluationCallback
from textgan.training.console import quiet_lightning
from textgan.training.csv_log import with_run_csv
from textgan.training.interrupt import RunInterrupted, stop_requested
from textgan.training.progress import StageProgressBar
from textgan.training.run_folder import checkpoint_value
from textgan.training.settings import (
    AdversarialSettings,
    DiagnosticsSettings,
    EvaluationSettings,
    PretrainSettings,
    settings,
)

log = logging.getLogger("textgan.train")


def build_loggers(cfg: DictConfig) -> list:
    """The configured loggers, and a CSV logger in every run (``textgan.training.csv_log.with_run_csv``)."""
    configured = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    return with_run_csv(configured, cfg.paths.output_dir)


def trainer(cfg: DictConfig, loggers: list, callbacks: list, **overrides: Any) -> L.Trainer:
    """A Lightning ``Trainer`` from ``cfg.trainer`` and ``overrides``, with the stage's progress bar first."""
    quiet_lightning()  # no litlogger advert, no LeafSpec warning (textgan.training.console)
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    options.update(overrides)
    if options.get("enable_progress_bar", True):
        callbacks = [StageProgressBar(), *callbacks]  # first: see its docstring
    # Samplers shard the data themselves under DDP (textgan.data.base.EpochShuffle)
    options.setdefault("use_distributed_sampler", False)
    return L.Trainer(logger=loggers or False, callbacks=callbacks, enable_checkpointing=False, **options)


def evaluation_callback(cfg: DictConfig, datamodule, prefix: str, every: int, output_dir: Path) -> EvaluationCallback:
    """The stage's evaluation every ``every`` epochs or iterations, as ``cfg.evaluation`` says."""
    evaluation = settings(EvaluationSettings, cfg.evaluation, "evaluation")
    return EvaluationCallback(
        datamodule,
        prefix,
        every=every,
        num_samples=evaluation.num_samples,
        num_logged_samples=evaluation.num_logged_samples,
        samples_dir=output_dir / "samples",
        seed=cfg.seed,
        nll_gen_train=evaluation.nll_gen_train,
    )


def _stopped_by_user(stage: str, output_dir: Path) -> None:
    if stop_requested():
        raise RunInterrupted(f"{stage} stage stopped by Ctrl-C and saved: continue with resume={output_dir}")


def _pretrain_parts(cfg: DictConfig, datamodule, output_dir: Path):
    schedule = settings(PretrainSettings, cfg.pretrain, "pretrain")
    checkpoint = AtomicCheckpoint(output_dir / "checkpoints" / "pretrain", every=schedule.checkpoint_every)
    evaluation = evaluation_callback(cfg, datamodule, "pretrain/eval", schedule.eval_every, output_dir)
    return schedule, checkpoint, evaluation


def finished_pretraining(cfg: DictConfig, datamodule, output_dir: Path) -> dict[str, Any]:
    """The MLE stage's summary from its last checkpoint, for a run stopped after the stage saved
    ``pretrained_generator.pt`` and before it wrote the summary."""
    _, checkpoint, evaluation = _pretrain_parts(cfg, datamodule, output_dir)
    saved = checkpoint.restore_callbacks([evaluation, checkpoint])
    return {
        "after_pretraining": evaluation.history[-1] if evaluation.history else {},
        "pretrain_history": evaluation.history,
        "pretrain_seconds": checkpoint.elapsed_seconds,
        "pretrain_nonfinite_skips": int(saved.get("nonfinite_skips", 0)),
    }


def pretrain(cfg: DictConfig, generator, build: dict, datamodule, loggers: list, output_dir: Path,
             metadata: dict) -> dict[str, Any]:  # fmt: skip
    """Stage 1: MLE pretraining (resumable), then ``pretrained_generator.pt``; returns its summary."""
    schedule, checkpoint, evaluation = _pretrain_parts(cfg, datamodule, output_dir)
    module = instantiate(cfg.pretrain.module, generator=generator, on_nonfinite=cfg.on_nonfinite)
    fit = trainer(
        cfg, loggers, [evaluation, checkpoint], max_epochs=schedule.epochs, gradient_clip_val=schedule.grad_clip
    )
    resume_from = checkpoint.last_path if checkpoint.last_path.is_file() else None
    log.info("pretrain: %d MLE epochs%s", schedule.epochs, f", resumed from {resume_from}" if resume_from else "")
    fit.fit(module, datamodule=datamodule, ckpt_path=resume_from)
    _stopped_by_user("pretrain", output_dir)
    if fit.is_global_zero:
        save_generator(output_dir / "pretrained_generator.pt", generator, build, metadata)
    return {
        "after_pretraining": evaluation.history[-1] if evaluation.history else {},
        "pretrain_history": evaluation.history,
        "pretrain_seconds": checkpoint.elapsed_seconds,
        "pretrain_nonfinite_skips": module.nonfinite.skipped,
    }


def adversarial(cfg: DictConfig, generator, discriminator, datamodule, loggers: list, output_dir: Path,
                log_step_offset: int) -> dict[str, Any]:  # fmt: skip
    """Stage 2: adversarial training with the configured estimator and GAN loss (resumable); its summary."""
    schedule = settings(AdversarialSettings, cfg.adversarial, "adversarial")
    # The stage starts from one random state whatever came before (a finished MLE stage, a shared
    # pretrained generator, or a resume right after MLE), so those runs are identical from here on.
    L.seed_everything(cfg.seed + 1, workers=True, verbose=False)
    estimator = instantiate(cfg.estimator, _convert_="object")
    module = instantiate(
        cfg.adversarial.module,
        generator=generator,
        discriminator=discriminator,
        estimator=estimator,
        gan_loss=instantiate(cfg.loss),
        num_iterations=schedule.steps,
        real_tokens=datamodule.train_tokens,
        real_labels=getattr(datamodule, "train_labels", None),
        log_step_offset=log_step_offset,
        diagnostics_every=settings(DiagnosticsSettings, cfg.diagnostics, "diagnostics").every,
        on_nonfinite=cfg.on_nonfinite,
        release_memory=cfg.get("cpu_heap", "reuse") == "release",  # trim the heap after each phase
    )
    checkpoint = AtomicCheckpoint(output_dir / "checkpoints" / "adversarial", every=schedule.checkpoint_every)
    evaluation = evaluation_callback(cfg, datamodule, "adversarial/eval", schedule.eval_every, output_dir)
    resume_from, start = None, 0
    if checkpoint.last_path.is_file():
        resume_from = checkpoint.last_path
        start = checkpoint_value(resume_from, "adversarial_iteration", 0)
    # One training_step updates the generator, then the discriminator: DDP must expect unused parameters.
    strategy = {"strategy": "ddp_find_unused_parameters_true"} if cfg.trainer.get("strategy") == "ddp" else {}
    fit = trainer(cfg, loggers, [evaluation, checkpoint], max_epochs=-1, max_steps=-1, **strategy)
    batches = datamodule.random_batches(module.batches_per_step, start_step=start)
    log.info("adversarial: %d iterations%s", schedule.steps, f", resumed at {start}" if resume_from else "")
    if start < schedule.steps:
        fit.fit(module, train_dataloaders=batches, datamodule=None, ckpt_path=resume_from)
    else:  # stopped after its last checkpoint: its weights and history come from that checkpoint
        checkpoint.restore_finished(module, [evaluation, checkpoint])
    _stopped_by_user("adversarial", output_dir)
    seconds, iterations = checkpoint.elapsed_seconds, module.iteration
    return {
        "after_adversarial": evaluation.history[-1] if evaluation.history else {},
        "adversarial_history": evaluation.history,
        "adversarial_seconds": seconds,
        "adversarial_evaluation_seconds": evaluation.seconds,
        # one iteration's cost, its evaluations left out (textgan-evaluate --runs reports it beside the metrics)
        "seconds_per_iteration": (seconds - evaluation.seconds) / iterations if iterations else None,
        "adversarial_nonfinite_skips": module.nonfinite.skipped,
    }
