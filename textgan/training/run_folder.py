"""Where a run lives and how it continues: one folder per run, its saved config, and what a resume may change.

A fresh run refuses a folder that already holds a run. Its first act is to write ``config.yaml`` (the
resolved config, with every value that was decided at start made explicit: the temperature schedule's
horizon, the wandb run id), so that ``resume=RUN_DIR`` alone continues it with exactly that config. On the
command line of a resume only :data:`RESUMABLE` keys may take new values (more adversarial steps, progress
bar, going online, skipping non-finite updates); any other override must repeat the saved value or is
refused, naming the key, the saved and the given value.

:func:`resume_point` says which global logging step a resumed run restarts after, so that the metric files
can drop what the killed process logged past its last checkpoint: the resumed run then logs every row
exactly once, as an uninterrupted run does.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from textgan.atomic_files import atomic_write_text

CONFIG_FILE = "config.yaml"
RUN_FILES = ("checkpoints", "summary.json", "generator.pt", "pretrained_generator.pt", CONFIG_FILE)
RESUMABLE = (
    "adversarial.steps",  # continue a finished run for more iterations (its schedule's horizon stays)
    "on_nonfinite",  # e.g. skip the update that stopped the run
    "trainer.enable_progress_bar",
    "logger.wandb.offline",  # go online for the rest of the run (after `wandb login`)
)


LABEL_GROUPS = ("data", "generator", "discriminator")  # what a run's folder name says it trained


def run_label(root: DictConfig, conf_dir: Path) -> str:
    """The name a run is filed under, ``outputs/<label>/...`` (``multirun/<label>/...`` for a sweep).

    ``experiment_name`` where it says what the run trains: given on the command line, or the run uses the
    data, generator and discriminator of its experiment preset (``conf/experiment/<experiment>.yaml``).
    Otherwise ``<data>-<generator>-<discriminator>`` from the choices actually made, the data being the
    ``data=`` choice or, for ``data=corpus``, the dataset folder's name: ``data=corpus data.dir=corpora/wiki103``
    is filed under ``wiki103-rmc-relgan_cpu``, not under the default experiment's ``relgan_oracle_cpu``.
    ``root``: the composed config with its ``hydra`` node (what the ``textgan_run_label`` resolver is given).
    """
    name = str(root.experiment_name)
    choices = OmegaConf.select(root, "hydra.runtime.choices", default=None)
    overrides = OmegaConf.select(root, "hydra.overrides.task", default=None) or []
    if not choices or "experiment_name" in {override_key(str(override)) for override in overrides}:
        return _folder_name(name)
    used = {group: choices.get(group) for group in LABEL_GROUPS}
    preset = _preset_choices(conf_dir, choices.get("experiment"))
    if preset is None or all(used[group] == preset.get(group) for group in LABEL_GROUPS):
        return _folder_name(name)
    data = used["data"]
    if data == "corpus":
        folder = OmegaConf.select(root, "data.dir", default=None, throw_on_missing=False)
        data = Path(os.path.abspath(str(folder))).name if folder else data
    return _folder_name("-".join(str(value) for value in (data, used["generator"], used["discriminator"])))


def _preset_choices(conf_dir: Path, experiment: str | None) -> dict[str, str] | None:
    """The choices an experiment preset stands for: ``conf/train.yaml``'s defaults, overridden by the preset's
    ``override /group: choice`` entries; ``{}`` for no experiment (nothing to stand for), None for a preset
    that is not a file of ``conf_dir`` (its name is then taken as it is)."""
    if not experiment:
        return {}
    path = conf_dir / "experiment" / f"{experiment}.yaml"
    if not path.is_file():
        return None
    choices: dict[str, str] = {}
    for file in (conf_dir / "train.yaml", path):
        for entry in OmegaConf.to_container(OmegaConf.load(file)).get("defaults") or []:
            for key, value in entry.items() if isinstance(entry, dict) else ():
                choices[key.removeprefix("override").strip().lstrip("/")] = str(value)
    return choices


def _folder_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "run"


def run_directory(cfg: DictConfig) -> Path:
    """This run's folder: ``resume`` (which must hold a run) or a fresh one (which must not).

    A folder that already holds another run's checkpoints or results is refused rather than overwritten or
    silently resumed: two jobs of a sweep must never share one.
    """
    if cfg.get("resume"):
        folder = Path(cfg.resume).resolve()
        if not (folder / "checkpoints").is_dir() and not (folder / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"resume={cfg.resume}: no run to continue there (no checkpoints/ or {CONFIG_FILE})")
        return folder
    folder = Path(cfg.paths.output_dir).resolve()
    existing = [name for name in RUN_FILES if (folder / name).exists()]
    if existing:
        raise FileExistsError(
            f"{folder} already holds a run ({', '.join(existing)}): pass resume={folder} to continue it, "
            "or start this run in another folder"
        )
    return folder


def override_key(override: str) -> str:
    """The key of a command-line override ``key=value`` (also ``+key=``, ``++key=``, ``~key``)."""
    return override.split("=", 1)[0].lstrip("+~")


def resumed_config(cfg: DictConfig, overrides: list[str] | None) -> DictConfig:
    """The config a resume continues with: the run's saved ``config.yaml`` plus the resumable ``overrides``.

    ``cfg``: the composed config (it carries the overrides' values); ``overrides``: the command line's
    ``key=value`` strings (``None``: none but ``resume``). A run saved without ``config.yaml`` (made before
    it existed) continues with ``cfg`` itself, as before.
    """
    folder = Path(cfg.resume).resolve()
    saved_file = folder / CONFIG_FILE
    if not saved_file.is_file():
        return cfg
    saved = OmegaConf.load(saved_file)
    for override in overrides or []:
        key = override_key(override)
        if key == "resume":
            continue
        given = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
        if key in RESUMABLE:
            OmegaConf.update(saved, key, given, force_add=True)
            continue
        before = OmegaConf.select(saved, key, default="<absent>", throw_on_missing=False)
        if isinstance(given, DictConfig) or OmegaConf.is_config(before) or given != before:
            raise ValueError(
                f"resume={cfg.resume}: {override!r} would change the saved run (its {CONFIG_FILE} has "
                f"{key}={_show(before)}); a resume may change only {', '.join(RESUMABLE)}"
            )
    saved.resume = str(folder)
    saved.paths.output_dir = str(folder)
    return saved


def _show(value: Any) -> str:
    return "<a config group>" if OmegaConf.is_config(value) else repr(value)


def write_run_config(cfg: DictConfig, output_dir: Path, decided: dict[str, Any]) -> DictConfig:
    """Write the run's ``config.yaml``: ``cfg`` resolved, ``decided`` dotted keys filled in; return it.

    A fresh run also gets its wandb run id here. A resumed run rewrites the file with what it continues
    with (its resumable overrides included), so that the next ``resume=RUN_DIR`` alone does the same.
    """
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    for key, value in decided.items():
        OmegaConf.update(resolved, key, value, force_add=True)
    if OmegaConf.select(resolved, "logger.wandb") is not None and not resolved.logger.wandb.get("id"):
        resolved.logger.wandb.id = secrets.token_hex(4)  # a resumed run continues this wandb run
    resolved.resume = None
    atomic_write_text(output_dir / CONFIG_FILE, OmegaConf.to_yaml(resolved))
    return resolved


def finished_summary(cfg: DictConfig, output_dir: Path) -> dict[str, Any] | None:
    """The saved summary of a resumed run that has already done what ``cfg`` asks, else None.

    Resuming such a run must change nothing: no stage would train, and rewriting its generator and summary
    would replace the trained weights with the checkpoint's starting point.
    """
    summary = read_summary(output_dir)
    if not cfg.get("resume") or not summary.get("finished", bool(summary)):  # older runs wrote it at the end
        return None
    if cfg.adversarial.steps > 0:
        checkpoint = output_dir / "checkpoints" / "adversarial" / "last.ckpt"
        if (
            not checkpoint.is_file()
            or checkpoint_value(checkpoint, "adversarial_iteration", 0) < cfg.adversarial.steps
        ):
            return None
    return summary


def read_summary(output_dir: Path) -> dict[str, Any]:
    """The run's ``summary.json`` so far (empty before the first stage ended)."""
    path = output_dir / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_summary(output_dir: Path, summary: dict[str, Any]) -> None:
    atomic_write_text(output_dir / "summary.json", json.dumps(summary, indent=2, default=str))


def checkpoint_value(path: Path, key: str, default: int) -> int:
    """An integer the module stored in a Lightning checkpoint (e.g. ``adversarial_iteration``)."""
    return int(torch.load(path, map_location="cpu", weights_only=False).get(key, default))


def resume_point(output_dir: Path, mle_steps: int, log_step_offset: int) -> int:
    """The last global logging step the run's checkpoints cover (-1: none); later rows are to be dropped.

    Adversarial checkpoint at iteration ``i``: ``log_step_offset + i``. Finished MLE stage
    (``pretrained_generator.pt``): its last step, ``mle_steps - 1``. MLE checkpoint after ``g`` optimizer
    steps: ``g - 1``.
    """
    adversarial = output_dir / "checkpoints" / "adversarial" / "last.ckpt"
    if adversarial.is_file():
        return log_step_offset + checkpoint_value(adversarial, "adversarial_iteration", 0)
    if (output_dir / "pretrained_generator.pt").is_file():
        return mle_steps - 1
    pretrain = output_dir / "checkpoints" / "pretrain" / "last.ckpt"
    if pretrain.is_file():
        return checkpoint_value(pretrain, "global_step", 0) - 1
    return -1
