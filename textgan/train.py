"""``textgan-train``: MLE pretraining, then adversarial training, configured by Hydra over ``conf/``.

Data flows one way: DataModule -> generator / discriminator (sized by the data) -> estimator + GAN loss ->
Lightning modules (built from ``conf/pretrain/`` and ``conf/adversarial/`` with their optimisers) -> loggers.
``run(cfg)`` does the work and is what tests call through Hydra's compose API.

Outputs (in the run directory, printed at the end): ``pretrained_generator.pt`` (the shared starting point of
estimator comparisons: pass it as ``generator.pretrained=PATH``), ``generator.pt`` (after adversarial
training), ``checkpoints/{pretrain,adversarial}/last.ckpt``, ``samples/``, ``summary.json`` and the
loggers' files. Every run writes into a folder of its own; ``resume=RUN_DIR`` continues a run where its
checkpoints left it, and only then is an existing run folder reused.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from textgan.evaluation.data import check_vocabulary
from textgan.models.io import build_from_config, load_generator, save_generator
from textgan.numerics import flush_denormals
from textgan.training.callbacks import AtomicCheckpoint, EvaluationCallback
from textgan.training.settings import (
    AdversarialSettings,
    DiagnosticsSettings,
    EvaluationSettings,
    PretrainSettings,
    settings,
    unread_keys,
)

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
if not OmegaConf.has_resolver("textgan_root"):
    OmegaConf.register_new_resolver("textgan_root", lambda: str(CONF_DIR.parent))

RUN_FILES = ("checkpoints", "summary.json", "generator.pt", "pretrained_generator.pt")


def run_name(cfg: DictConfig) -> str:
    """``{experiment_name}-{estimator}-seed{seed}`` unless ``run_name`` is set: says estimator and seed."""
    if cfg.get("run_name"):
        return str(cfg.run_name)
    estimator = cfg.estimator._target_.rsplit(".", 1)[-1].removesuffix("Estimator")
    estimator = "".join(f"_{c.lower()}" if c.isupper() else c for c in estimator).lstrip("_")
    return f"{cfg.experiment_name}-{estimator}-seed{cfg.seed}"


def run_directory(cfg: DictConfig) -> Path:
    """This run's folder: ``resume`` (which must hold a run) or a fresh one (which must not).

    A folder that already holds another run's checkpoints or results is refused rather than overwritten or
    silently resumed: two jobs of a sweep must never share one.
    """
    if cfg.get("resume"):
        folder = Path(cfg.resume).resolve()
        if not (folder / "checkpoints").is_dir():
            raise FileNotFoundError(f"resume={cfg.resume}: no run to continue there (no checkpoints/ folder)")
        return folder
    folder = Path(cfg.paths.output_dir).resolve()
    existing = [name for name in RUN_FILES if (folder / name).exists()]
    if existing:
        raise FileExistsError(
            f"{folder} already holds a run ({', '.join(existing)}): pass resume={folder} to continue it, "
            "or start this run in another folder"
        )
    return folder


def finished_summary(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
    """The saved summary of a resumed run that has already done what ``cfg`` asks, else None.

    Resuming such a run must change nothing: no stage would train, and rewriting its generator and summary
    would replace the trained weights with the checkpoint's starting point.
    """
    summary_file = output_dir / "summary.json"
    if not cfg.get("resume") or not summary_file.is_file():
        return None
    checkpoint = output_dir / "checkpoints" / "adversarial" / "last.ckpt"
    if cfg.adversarial.steps > 0:
        if not checkpoint.is_file():
            return None
        done = torch.load(checkpoint, map_location="cpu", weights_only=False).get("adversarial_iteration", 0)
        if done < cfg.adversarial.steps:
            return None
    elif not (output_dir / "pretrained_generator.pt").is_file():
        return None
    return json.loads(summary_file.read_text())


def _build_loggers(cfg: DictConfig) -> list:
    if cfg.get("logger") is None:
        return []
    return [instantiate(c) for c in cfg.logger.values() if c is not None]


def _trainer(cfg: DictConfig, loggers: list, callbacks: list, **overrides: Any) -> L.Trainer:
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    options.update(overrides)
    return L.Trainer(logger=loggers or False, callbacks=callbacks, enable_checkpointing=False, **options)


def _check_generator_matches(metadata: dict, facts: dict, datamodule, path: str) -> None:
    """Refuse a pretrained generator trained on other data: vocabulary (fingerprint) and row length."""
    check_vocabulary(metadata, datamodule, path)
    saved = metadata.get("max_length")
    if saved is not None and saved != facts["max_length"]:
        raise ValueError(
            f"{path}: generator was trained with max_length={saved}, but the data has {facts['max_length']}"
        )


def _evaluation(cfg: DictConfig, datamodule, prefix: str, every: int, output_dir: Path) -> EvaluationCallback:
    return EvaluationCallback(
        datamodule,
        prefix,
        every=every,
        num_samples=settings(EvaluationSettings, cfg.evaluation, "evaluation").num_samples,
        samples_dir=output_dir / "samples",
        seed=cfg.seed,
    )


def _pretrain(cfg, generator, build, datamodule, loggers, output_dir, metadata) -> dict[str, float]:
    """Stage 1: MLE pretraining (resumable), then ``pretrained_generator.pt``."""
    schedule = settings(PretrainSettings, cfg.pretrain, "pretrain")
    checkpoint = AtomicCheckpoint(output_dir / "checkpoints" / "pretrain", every=schedule.checkpoint_every)
    evaluation = _evaluation(cfg, datamodule, "pretrain/eval", schedule.eval_every, output_dir)
    module = instantiate(cfg.pretrain.module, generator=generator)
    trainer = _trainer(
        cfg, loggers, [checkpoint, evaluation], max_epochs=schedule.epochs, gradient_clip_val=schedule.grad_clip
    )
    resume_from = checkpoint.last_path if checkpoint.last_path.is_file() else None
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from)
    save_generator(output_dir / "pretrained_generator.pt", generator, build, metadata)
    return evaluation.history[-1] if evaluation.history else {}


def _adversarial(cfg, generator, discriminator, datamodule, loggers, output_dir, log_step_offset) -> tuple[dict, list]:
    """Stage 2: adversarial training with the configured estimator and GAN loss (resumable)."""
    schedule = settings(AdversarialSettings, cfg.adversarial, "adversarial")
    estimator = instantiate(cfg.estimator, _convert_="object", **_horizon(cfg))
    module = instantiate(
        cfg.adversarial.module,
        generator=generator,
        discriminator=discriminator,
        estimator=estimator,
        gan_loss=instantiate(cfg.loss),
        num_iterations=schedule.steps,
        real_tokens=datamodule.train_tokens,
        log_step_offset=log_step_offset,
        diagnostics_every=settings(DiagnosticsSettings, cfg.diagnostics, "diagnostics").every,
    )
    checkpoint = AtomicCheckpoint(output_dir / "checkpoints" / "adversarial", every=schedule.checkpoint_every)
    evaluation = _evaluation(cfg, datamodule, "adversarial/eval", schedule.eval_every, output_dir)
    resume_from, start = None, 0
    if checkpoint.last_path.is_file():
        resume_from = checkpoint.last_path
        start = torch.load(resume_from, map_location="cpu", weights_only=False).get("adversarial_iteration", 0)
    trainer = _trainer(cfg, loggers, [checkpoint, evaluation], max_epochs=-1, max_steps=-1)
    batches = datamodule.random_batches(module.batches_per_step, start_step=start)
    if start < schedule.steps:
        trainer.fit(module, train_dataloaders=batches, datamodule=None, ckpt_path=resume_from)
    return (evaluation.history[-1] if evaluation.history else {}), evaluation.history


def _horizon(cfg: DictConfig) -> dict[str, Any]:
    """The Gumbel-Softmax schedule's horizon defaults to the run's adversarial steps."""
    schedule = cfg.estimator.get("schedule")
    if schedule is not None and schedule.get("horizon") is None:
        return {"schedule": {"horizon": max(int(cfg.adversarial.steps), 2)}}
    return {}


def check_config(cfg: DictConfig) -> None:
    """Refuse a config with keys nothing reads (a typo, or a key of another version), naming them."""
    unread = unread_keys(OmegaConf.to_container(cfg, resolve=False))
    if unread:
        raise ValueError(f"config: key(s) that nothing reads: {', '.join(unread)}")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train as configured; returns the run summary (also written to ``summary.json``)."""
    check_config(cfg)
    output_dir = run_directory(cfg)
    finished = finished_summary(cfg, output_dir)
    if finished is not None:
        print(f"textgan: {output_dir} has finished its {cfg.adversarial.steps} adversarial steps; nothing to do "
              "(pass more adversarial.steps to continue it)", file=sys.stderr)  # fmt: skip
        return finished
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)  # loggers write where the run is, resumed runs included
        cfg.run_name = run_name(cfg)
    output_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_float32_matmul_precision(cfg.get("matmul_precision", "highest"))

    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    facts = {"vocab_size": datamodule.vocab_size, "max_length": datamodule.max_length}
    generator_cfg = OmegaConf.to_container(cfg.generator, resolve=True)
    pretrained = generator_cfg.pop("pretrained", None)
    build = {**generator_cfg, **facts, "start_token": datamodule.start_token}
    generator = build_from_config(build)
    discriminator = instantiate(cfg.discriminator, **facts)
    metadata = {**facts, "vocab_fingerprint": datamodule.vocab_fingerprint}
    for source in ("dataset_dir", "oracle_path"):  # lets textgan-evaluate find the data by itself
        if getattr(datamodule, source, None):
            metadata[source] = str(Path(getattr(datamodule, source)).resolve())
    loggers = _build_loggers(cfg)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    summary: dict[str, Any] = {"output_dir": str(output_dir), "config": OmegaConf.to_container(cfg, resolve=True)}
    pretrained_file = output_dir / "pretrained_generator.pt"
    mle_steps = cfg.pretrain.epochs * len(datamodule.train_dataloader())  # the adversarial stage logs after them
    log_step_offset = 0
    if pretrained:
        loaded, saved_metadata = load_generator(pretrained)
        _check_generator_matches(saved_metadata, facts, datamodule, pretrained)
        generator.load_state_dict(loaded.state_dict())
        summary["pretrained_from"] = str(pretrained)
    elif cfg.resume and pretrained_file.is_file():  # a resumed run whose MLE stage had finished
        generator.load_state_dict(load_generator(pretrained_file)[0].state_dict())
        summary["pretrained_from"] = str(pretrained_file)
        log_step_offset = mle_steps
    elif cfg.pretrain.epochs > 0:
        started = time.perf_counter()
        summary["after_pretraining"] = _pretrain(cfg, generator, build, datamodule, loggers, output_dir, metadata)
        summary["pretrain_seconds"] = time.perf_counter() - started  # this invocation's, evaluations included
        log_step_offset = mle_steps

    if cfg.adversarial.steps > 0:
        started = time.perf_counter()
        final, history = _adversarial(
            cfg, generator, discriminator, datamodule, loggers, output_dir, log_step_offset
        )
        summary["adversarial_seconds"] = time.perf_counter() - started
        summary["adversarial_history"] = history
        summary["after_adversarial"] = final
        save_generator(output_dir / "generator.pt", generator, build, metadata)

    for logger in loggers:
        logger.finalize("success")
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"textgan: results in {output_dir}", file=sys.stderr)
    return summary


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    if cfg.get("flush_denormal", True):
        flush_denormals()  # before any parallel torch operation, so that every worker thread inherits it
    run(cfg)


def main() -> None:
    """Console entry point ``textgan-train``."""
    _hydra_main()


if __name__ == "__main__":
    main()
