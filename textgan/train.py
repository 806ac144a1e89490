"""``textgan-train``: MLE pretraining, then adversarial training, configured by Hydra over ``conf/``.

Data flows one way: DataModule -> generator / discriminator (sized by the data) -> estimator + GAN loss ->
Lightning modules -> loggers. ``run(cfg)`` does the work and is what tests call through Hydra's compose API.

Outputs (in the run directory, printed at the end): ``pretrained_generator.pt`` (the shared starting point of
estimator comparisons: pass it as ``generator.pretrained=PATH``), ``generator.pt`` (after adversarial
training), ``checkpoints/{pretrain,adversarial}/last.ckpt``, ``samples/``, ``summary.json`` and the
loggers' files. ``resume=RUN_DIR`` continues a run where its checkpoints left it.
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
from omegaconf import DictConfig, OmegaConf

from textgan.models.io import build_from_config, load_generator, save_generator
from textgan.numerics import flush_denormals
from textgan.training.adversarial import AdversarialModule
from textgan.training.callbacks import AtomicCheckpoint, EvaluationCallback
from textgan.training.mle import MLEPretrainModule

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
if not OmegaConf.has_resolver("textgan_root"):
    OmegaConf.register_new_resolver("textgan_root", lambda: str(CONF_DIR.parent))


def run_name(cfg: DictConfig) -> str:
    """``{experiment_name}-{estimator}-seed{seed}`` unless ``run_name`` is set: says estimator and seed."""
    if cfg.get("run_name"):
        return str(cfg.run_name)
    estimator = cfg.estimator._target_.rsplit(".", 1)[-1].removesuffix("Estimator")
    estimator = "".join(f"_{c.lower()}" if c.isupper() else c for c in estimator).lstrip("_")
    return f"{cfg.experiment_name}-{estimator}-seed{cfg.seed}"


def _build_loggers(cfg: DictConfig, output_dir: Path) -> list:
    if cfg.get("logger") is None:
        return []
    configs = cfg.logger.values() if "_target_" not in cfg.logger else [cfg.logger]
    name = run_name(cfg)
    return [instantiate(c, save_dir=str(output_dir), name=name) for c in configs if c is not None]


def _trainer(cfg: DictConfig, loggers: list, callbacks: list, **overrides: Any) -> L.Trainer:
    options = OmegaConf.to_container(cfg.trainer, resolve=True)
    options.update(overrides)
    return L.Trainer(logger=loggers or False, callbacks=callbacks, enable_checkpointing=False, **options)


def _check_generator_matches(metadata: dict, facts: dict, path: str) -> None:
    for key, value in facts.items():
        saved = metadata.get(key)
        if saved is not None and saved != value:
            raise ValueError(f"{path}: generator was trained with {key}={saved}, but the data has {key}={value}")


def _pretrain(cfg, generator, build, datamodule, loggers, output_dir, metadata) -> dict[str, float]:
    """Stage 1: MLE pretraining (resumable), then ``pretrained_generator.pt``."""
    checkpoint = AtomicCheckpoint(output_dir / "checkpoints" / "pretrain", every=cfg.pretrain.checkpoint_every)
    evaluation = EvaluationCallback(
        datamodule,
        "pretrain/eval",
        every=cfg.pretrain.eval_every,
        num_samples=cfg.evaluation.num_samples,
        samples_dir=output_dir / "samples",
        seed=cfg.seed,
    )
    module = MLEPretrainModule(generator, lr=cfg.pretrain.lr)
    trainer = _trainer(
        cfg, loggers, [checkpoint, evaluation], max_epochs=cfg.pretrain.epochs, gradient_clip_val=cfg.pretrain.grad_clip
    )
    resume_from = checkpoint.last_path if checkpoint.last_path.is_file() else None
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from)
    save_generator(output_dir / "pretrained_generator.pt", generator, build, metadata)
    return evaluation.history[-1] if evaluation.history else {}


def _adversarial(cfg, generator, discriminator, datamodule, loggers, output_dir) -> tuple[dict, list]:
    """Stage 2: adversarial training with the configured estimator and GAN loss (resumable)."""
    steps = cfg.adversarial.steps
    estimator = instantiate(cfg.estimator, _convert_="object", **_horizon(cfg))
    module = AdversarialModule(
        generator,
        discriminator,
        estimator,
        instantiate(cfg.loss),
        generator_lr=cfg.adversarial.generator_lr,
        discriminator_lr=cfg.adversarial.discriminator_lr,
        generator_steps=cfg.adversarial.generator_steps,
        discriminator_steps=cfg.adversarial.discriminator_steps,
        grad_clip=cfg.adversarial.grad_clip,
        discriminator_epochs=cfg.adversarial.discriminator_epochs,
        num_negatives=cfg.adversarial.num_negatives,
        discriminator_pretrain_steps=cfg.adversarial.discriminator_pretrain_steps,
        discriminator_regularization=cfg.adversarial.discriminator_regularization,
        release_memory=cfg.adversarial.release_memory,
        num_iterations=steps,
        real_tokens=datamodule.train_tokens,
    )
    checkpoint = AtomicCheckpoint(output_dir / "checkpoints" / "adversarial", every=cfg.adversarial.checkpoint_every)
    evaluation = EvaluationCallback(
        datamodule,
        "adversarial/eval",
        every=cfg.adversarial.eval_every,
        num_samples=cfg.evaluation.num_samples,
        samples_dir=output_dir / "samples",
        seed=cfg.seed,
    )
    resume_from, start = None, 0
    if checkpoint.last_path.is_file():
        resume_from = checkpoint.last_path
        start = torch.load(resume_from, map_location="cpu", weights_only=False).get("adversarial_iteration", 0)
    trainer = _trainer(cfg, loggers, [checkpoint, evaluation], max_epochs=-1, max_steps=-1)
    batches = datamodule.random_batches(module.batches_per_step, start_step=start)
    if start < steps:
        trainer.fit(module, train_dataloaders=batches, datamodule=None, ckpt_path=resume_from)
    return (evaluation.history[-1] if evaluation.history else {}), evaluation.history


def _horizon(cfg: DictConfig) -> dict[str, Any]:
    """The Gumbel-Softmax schedule's horizon defaults to the run's adversarial steps."""
    schedule = cfg.estimator.get("schedule")
    if schedule is not None and schedule.get("horizon") is None:
        return {"schedule": {"horizon": max(int(cfg.adversarial.steps), 2)}}
    return {}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train as configured; returns the run summary (also written to ``summary.json``)."""
    output_dir = Path(cfg.resume or cfg.paths.output_dir).resolve()
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
    metadata = {**facts, "vocab_fingerprint": getattr(datamodule, "vocab_fingerprint", None)}
    for source in ("dataset_dir", "oracle_path"):  # lets scripts/evaluate.py find the data by itself
        if getattr(datamodule, source, None):
            metadata[source] = str(Path(getattr(datamodule, source)).resolve())
    loggers = _build_loggers(cfg, output_dir)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    summary: dict[str, Any] = {"output_dir": str(output_dir), "config": OmegaConf.to_container(cfg, resolve=True)}
    pretrained_file = output_dir / "pretrained_generator.pt"
    if pretrained:
        loaded, saved_metadata = load_generator(pretrained)
        _check_generator_matches(saved_metadata, facts, pretrained)
        generator.load_state_dict(loaded.state_dict())
        summary["pretrained_from"] = str(pretrained)
    elif pretrained_file.is_file():
        generator.load_state_dict(load_generator(pretrained_file)[0].state_dict())
        summary["pretrained_from"] = str(pretrained_file)
    elif cfg.pretrain.epochs > 0:
        started = time.perf_counter()
        summary["after_pretraining"] = _pretrain(cfg, generator, build, datamodule, loggers, output_dir, metadata)
        summary["pretrain_seconds"] = time.perf_counter() - started  # this invocation's, evaluations included

    if cfg.adversarial.steps > 0:
        started = time.perf_counter()
        final, history = _adversarial(cfg, generator, discriminator, datamodule, loggers, output_dir)
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
