"""``textgan-train``: MLE pretraining, then adversarial training, configured by Hydra over ``conf/``.

Data flows one way: DataModule -> generator / discriminator (sized by the data) -> estimator + GAN loss ->
Lightning modules (built from ``conf/pretrain/`` and ``conf/adversarial/`` with their optimisers) -> loggers.
``run(cfg)`` does the work and is what tests call through Hydra's compose API; each stage's fit is in
``textgan.training.stages``.

Outputs (in the run directory, printed at the end): ``pretrained_generator.pt`` (the shared starting point of
estimator comparisons: pass it as ``generator.pretrained=PATH``), ``generator.pt`` (after adversarial
training), ``checkpoints/{pretrain,adversarial}/last.ckpt``, ``samples/``, ``summary.json``, ``config.yaml``
(the resolved config), ``generator_build.json`` (the generator's build), ``train.log``, the metrics as CSV
(``csv/version_0/metrics.csv``, whatever the logger) and the loggers' files.
Every run writes into a folder of its own;
``resume=RUN_DIR`` continues a run with its saved config where its checkpoints left it (see
``textgan.training.run_folder``), and only then is an existing run folder reused. Ctrl-C saves and stops
(``textgan.training.interrupt``); a NaN stops the run naming it (``textgan.training.nonfinite``).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra._internal.utils import _locate as locate  # how instantiate finds a _target_
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from textgan.conf_location import CONF_DIR  # and the resolvers every config needs
from textgan.evaluation.data import check_vocabulary
from textgan.evaluation.runs import target_name
from textgan.kernels.bf16_products import EmulatedBF16Products
from textgan.kernels.numerics import bf16_products_mode, flush_denormals, slow_bf16_warning
from textgan.models.conditional import initialise_from
from textgan.models.io import build_from_config, load_generator, save_generator, save_generator_build
from textgan.training import stages
from textgan.training.config_resolvers import TRAINING_RESOLVERS  # noqa: F401  (registers them)
from textgan.training.distributed import is_rank_zero
from textgan.training.group_choices import check_group_choices
from textgan.training.host_memory import configure_cpu_heap
from textgan.training.interrupt import EXIT_CODE, RunInterrupted, handle_interrupts
from textgan.training.nonfinite import NonFiniteError
from textgan.training.objective import optimized_value
from textgan.training.run_folder import (
    finished_summary,
    read_summary,
    resume_point,
    resumed_config,
    run_directory,
    write_run_config,
    write_summary,
)
from textgan.training.settings import unread_keys
from textgan.training.threads import available_cores, use_threads
from textgan.training.validation import ConfigError, check_machine, check_scheme, validate_config

log = logging.getLogger("textgan.train")


def run_name(cfg: DictConfig) -> str:
    """``{experiment_name}-{estimator}-seed{seed}`` unless ``run_name`` is set: says estimator and seed."""
    if cfg.get("run_name"):
        return str(cfg.run_name)
    estimator = target_name(cfg.estimator._target_, "Estimator")  # the name textgan-evaluate --runs groups by
    return f"{cfg.experiment_name}-{estimator}-seed{cfg.seed}"


def _check_generator_matches(metadata: dict, facts: dict, datamodule, path: str) -> None:
    """Refuse a pretrained generator trained on other data: vocabulary (fingerprint) and row length."""
    check_vocabulary(metadata, datamodule, path)
    saved = metadata.get("max_length")
    if saved is not None and saved != facts["max_length"]:
        raise ValueError(
            f"{path}: generator was trained with max_length={saved}, but the data has {facts['max_length']}"
        )


def class_facts(target: str, datamodule, option: str) -> dict[str, int]:
    """``{"num_classes": k}`` from the data for a class-conditional model (a constructor taking ``num_classes``),
    else nothing; a conditional model on unlabelled data is refused, naming ``option``."""
    if "num_classes" not in inspect.signature(locate(target)).parameters:
        return {}
    classes = getattr(datamodule, "num_classes", 0)
    if classes < 1:
        raise ValueError(
            f"{option}: {target} is class-conditional and needs labelled data (data=movie_reviews, k_oracle, ...); "
            f"this data has no class labels"
        )
    return {"num_classes": classes}


def _bf16_products(cfg: DictConfig) -> contextlib.AbstractContextManager:
    """Where training runs bf16 products on a CPU: the emulation to train under (``bf16_products``, see
    ``textgan/kernels/bf16_products.py``), or a warning when native products would run ~20x slower than float32."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    precision = str(cfg.trainer.get("precision", "32-true"))
    setting = str(cfg.get("bf16_products", "auto"))
    mode = bf16_products_mode(setting, precision, on_cpu)
    if mode == "emulated":
        if is_rank_zero():
            reason = ": this CPU has no bf16 kernels" if setting == "auto" else ""
            log.info(
                "trainer.precision=%s: bf16 matrix products computed in float32 and rounded to bf16 "
                "(bf16_products=emulated%s)",
                precision,
                reason,
            )
        return EmulatedBF16Products()
    warning = slow_bf16_warning(precision, on_cpu) if mode == "native" else None
    if warning and is_rank_zero():
        log.warning("%s", warning)
    return contextlib.nullcontext()


def _batches_per_epoch(cfg: DictConfig, sentences: int) -> int:
    """MLE batches per epoch on each rank: under DDP every rank takes 1/N of the epoch (``EpochShuffle``)."""
    world = 1
    if "ddp" in str(cfg.trainer.get("strategy") or ""):
        devices = cfg.trainer.get("devices", 1)
        if isinstance(devices, int) and devices > 0:
            world = devices
        elif OmegaConf.is_list(devices) or isinstance(devices, list):
            world = len(devices)
        elif cfg.trainer.get("accelerator") in ("gpu", "cuda"):
            world = max(torch.cuda.device_count(), 1)
        world *= int(cfg.trainer.get("num_nodes", 1) or 1)
    per_rank = -(-sentences // world)
    return -(-per_rank // int(cfg.data.batch_size))


def decided_at_start(cfg: DictConfig) -> dict[str, Any]:
    """Values a run fixes when it starts, saved in its ``config.yaml`` so that a resume keeps them.

    The Gumbel-Softmax schedule's horizon defaults to the run's adversarial steps: a run continued for more
    steps keeps its schedule (the extra steps run at the final temperature).
    """
    schedule = cfg.estimator.get("schedule")
    if schedule is not None and schedule.get("horizon") is None:
        return {"estimator.schedule.horizon": max(int(cfg.adversarial.steps), 2)}
    return {}


def check_config(cfg: DictConfig) -> None:
    """Refuse a config with keys nothing reads (a typo, or a key of another version), a value of the wrong
    type or out of range, a discriminator the estimator cannot train with, or a trainer this machine cannot run
    (``textgan.training.validation``), naming each: one ``ConfigError`` line."""
    unread = unread_keys(OmegaConf.to_container(cfg, resolve=False))
    if unread:
        raise ConfigError([f"key(s) that nothing reads: {', '.join(unread)}"])
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError([f"cannot resolve {getattr(error, 'full_key', '') or 'a value'}: {error.msg}"]) from None
    validate_config(resolved)
    check_scheme(resolved)
    check_machine(resolved)


def run(cfg: DictConfig, overrides: list[str] | None = None) -> dict[str, Any]:
    """Train as configured; returns the run summary (also written to ``summary.json``).

    ``overrides``: the command line's ``key=value`` overrides; they matter only with ``resume=``, where the
    run's saved config is used and only resumable keys may change (``textgan.training.run_folder``).
    """
    cfg, output_dir, finished = prepare_run(cfg, overrides)
    if finished is not None:
        return finished
    with handle_interrupts():
        return _train(cfg, output_dir)


def prepare_run(cfg: DictConfig, overrides: list[str] | None) -> tuple[DictConfig, Path, dict | None]:
    """Check the config and the run folder, and write ``config.yaml``: everything before training.

    Returns the config to train with, the run folder, and the saved summary when a resumed run has nothing
    left to do. Raises (``ValueError`` / ``FileExistsError`` / ``FileNotFoundError``) before anything is
    created when the config or the folder cannot be used.
    """
    if cfg.get("resume"):
        cfg = resumed_config(cfg, overrides)
    check_config(cfg)
    if not is_rank_zero():  # a data-parallel rank started by rank 0, which checked and wrote the folder
        output_dir = Path(cfg.resume or cfg.paths.output_dir).resolve()
        with open_dict(cfg):
            cfg.paths.output_dir, cfg.run_name = str(output_dir), run_name(cfg)
            for key, value in decided_at_start(cfg).items():
                OmegaConf.update(cfg, key, value)
        return cfg, output_dir, None
    output_dir = run_directory(cfg)
    finished = finished_summary(cfg, output_dir)
    if finished is not None:
        log.warning("%s has finished its %d adversarial steps; nothing to do (pass more adversarial.steps "
                    "to continue it)", output_dir, cfg.adversarial.steps)  # fmt: skip
        return cfg, output_dir, finished
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)  # loggers write where the run is, resumed runs included
        cfg.run_name = run_name(cfg)
    output_dir.mkdir(parents=True, exist_ok=True)
    resume = cfg.get("resume")
    cfg = write_run_config(cfg, output_dir, decided_at_start(cfg))
    with open_dict(cfg):
        cfg.resume = resume
    return cfg, output_dir, None


def _train(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    loggers: list = []
    failed = True
    try:
        with _bf16_products(cfg):
            summary = _train_stages(cfg, output_dir, loggers)
        failed = False
        return summary
    finally:
        _finish_wandb_runs(loggers, failed)


def _train_stages(cfg: DictConfig, output_dir: Path, loggers: list) -> dict[str, Any]:
    """The stages of ``_train``; ``loggers`` is filled here, so that the caller can close them."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    torch.set_float32_matmul_precision(cfg.get("matmul_precision", "highest"))

    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    facts = {"vocab_size": datamodule.vocab_size, "max_length": datamodule.max_length}
    generator_cfg = OmegaConf.to_container(cfg.generator, resolve=True)
    pretrained = generator_cfg.pop("pretrained", None)
    build = {**generator_cfg, **facts, "start_token": datamodule.start_token}
    build.update(class_facts(build["_target_"], datamodule, "generator"))  # k of a class-conditional generator
    generator = build_from_config(build)
    discriminator_facts = {**facts, **class_facts(cfg.discriminator._target_, datamodule, "discriminator")}
    discriminator = instantiate(cfg.discriminator, **discriminator_facts)
    metadata = {**facts, "vocab_fingerprint": datamodule.vocab_fingerprint}
    for source in ("dataset_dir", "oracle_path"):  # lets textgan-evaluate find the data by itself
        if getattr(datamodule, source, None):
            metadata[source] = str(Path(getattr(datamodule, source)).resolve())
    if is_rank_zero():  # lets the commands read this run's Lightning checkpoints before any generator file exists
        save_generator_build(output_dir / "generator_build.json", build, metadata)
    mle_steps = cfg.pretrain.epochs * _batches_per_epoch(cfg, len(datamodule.train_tokens))  # adversarial logs after
    log_step_offset = mle_steps if not pretrained or cfg.pretrain.get("continue_from_pretrained") else 0
    loggers.extend(stages.build_loggers(cfg))
    if cfg.resume and is_rank_zero():  # drop what the killed process logged after its last checkpoint
        last_kept = resume_point(output_dir, mle_steps, log_step_offset)
        for logger in loggers:
            if hasattr(logger, "drop_after"):
                logger.drop_after(last_kept)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    summary: dict[str, Any] = read_summary(output_dir) if cfg.resume else {}
    summary.update(output_dir=str(output_dir), config=OmegaConf.to_container(cfg, resolve=True), finished=False)
    pretrained_file = output_dir / "pretrained_generator.pt"
    continue_mle = bool(cfg.pretrain.get("continue_from_pretrained", False)) and cfg.pretrain.epochs > 0
    if pretrained:
        loaded, saved_metadata = load_generator(pretrained)
        _check_generator_matches(saved_metadata, facts, datamodule, pretrained)
        initialise_from(generator, loaded)  # an unconditional file may start a conditional generator
        summary["pretrained_from"] = str(pretrained)
    if cfg.resume and pretrained_file.is_file():  # a resumed run whose MLE stage had finished
        generator.load_state_dict(load_generator(pretrained_file)[0].state_dict())
        if "pretrain_history" not in summary:  # stopped after pretrained_generator.pt, before the summary's write
            summary.update(stages.finished_pretraining(cfg, datamodule, output_dir))
    elif cfg.pretrain.epochs > 0 and (continue_mle or not pretrained):  # MLE from scratch, or more MLE epochs
        summary.update(stages.pretrain(cfg, generator, build, datamodule, loggers, output_dir, metadata))
        if is_rank_zero():
            write_summary(output_dir, summary)

    if cfg.adversarial.steps > 0:
        summary.update(
            stages.adversarial(cfg, generator, discriminator, datamodule, loggers, output_dir, log_step_offset)
        )
        if is_rank_zero():
            save_generator(output_dir / "generator.pt", generator, build, metadata)

    for logger in loggers:
        logger.finalize("success")
    summary["finished"] = True
    if is_rank_zero():
        write_summary(output_dir, summary)
        log.info("results in %s", output_dir)
        print(f"textgan: results in {output_dir}", file=sys.stderr)
    return summary


def _finish_wandb_runs(loggers: list, failed: bool) -> None:
    """Close the wandb runs this run opened: Lightning's ``finalize`` leaves them open, and the next job of a
    multirun in the same process (Hydra's basic launcher) would otherwise log into this one's run."""
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger._experiment.finish(exit_code=1 if failed else 0)


def _remove_unused_hydra_folder(folder: Path) -> None:
    """Remove the folder Hydra made for a run that never started (only its own ``.hydra/`` and log inside),
    and the parents it made for it that are now empty, up to the working directory."""
    if not folder.is_dir() or not {p.name for p in folder.iterdir()} <= {".hydra", "train.log"}:
        return
    shutil.rmtree(folder, ignore_errors=True)
    here = Path.cwd().resolve()
    for parent in folder.resolve().parents:
        if parent == here or here not in parent.parents:
            break
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):  # into Hydra's console and train.log
        lightning_log = logging.getLogger(name)
        lightning_log.handlers.clear()
        lightning_log.propagate = True
    hydra_cfg = HydraConfig.get()
    if cfg.get("flush_denormal", True):
        flush_denormals()  # before any parallel torch operation, so that every worker thread inherits it
    threads = use_threads(cfg.get("threads", "auto"), _concurrent_jobs(hydra_cfg.launcher))
    log.info("%d CPU thread(s)", threads)
    try:
        cfg, output_dir, finished = prepare_run(cfg, list(hydra_cfg.overrides.task))
    except (ValueError, FileExistsError, FileNotFoundError) as error:  # refused before anything was made
        if not cfg.get("resume"):
            _remove_unused_hydra_folder(Path(hydra_cfg.runtime.output_dir))
        _exit_with(error, 2)
    configure_cpu_heap(str(cfg.get("cpu_heap", "reuse")))  # validated by prepare_run; before the first tensors
    if finished is not None:
        return optimized_value(finished, cfg.optimized_metric) if cfg.get("optimized_metric") else None
    try:
        with handle_interrupts():
            summary = _train(cfg, output_dir)
    except NonFiniteError as error:
        _exit_with(error, 1)
    except RunInterrupted as error:
        _exit_with(error, EXIT_CODE)
    except Exception as error:
        _log_to_run_folder(error)
        raise
    if cfg.get("optimized_metric"):  # what a Hydra sweeper (Optuna) optimises
        return optimized_value(summary, cfg.optimized_metric)
    return None


def _concurrent_jobs(launcher: Any) -> int:
    """Jobs the Hydra launcher runs at once on this machine: joblib's ``n_jobs`` (-1: one per core), else 1."""
    n_jobs = launcher.get("n_jobs") if launcher is not None else None
    if not isinstance(n_jobs, int):
        return 1
    return n_jobs if n_jobs > 0 else max(available_cores() + 1 + n_jobs, 1)


def _exit_with(error: Exception, code: int) -> None:
    """One line and an exit status; in a multirun the error is raised instead, so that the sweep (an Optuna
    study with ``max_failure_rate``, the launcher) records this job as failed and goes on."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    log.error("%s", error)
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        raise error
    print(f"textgan-train: {error}", file=sys.stderr)
    sys.exit(code)


def _log_to_run_folder(error: Exception) -> None:
    """Write ``error`` and its traceback to the run's ``train.log`` (Hydra's file handler): Hydra prints an
    unexpected error on the console only, and the run's folder must keep why the run stopped."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "run failed: %s", (error,),
                            (type(error), error, error.__traceback__))  # fmt: skip
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def main() -> None:
    """Console entry point ``textgan-train``."""
    try:  # an unknown choice (estimator=gumbel_softmx): one line, as for any bad value, not Hydra's listing
        check_group_choices(sys.argv[1:])
    except ConfigError as error:
        print(f"textgan-train: {error}", file=sys.stderr)
        sys.exit(2)
    _hydra_main()


if __name__ == "__main__":
    main()
