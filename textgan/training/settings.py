"""The run-level settings ``textgan-train`` reads, and a check that a composed config holds no key nothing reads.

Objects (data, models, estimator, loss, Lightning modules, optimisers, loggers) are built from ``_target_``
nodes, so their keys are constructor arguments. The remaining sections are schedules that ``train.py`` reads
through the dataclasses below; building them from the config refuses a key they do not have.
:func:`unread_keys` walks a whole composed config and lists every key that no constructor and no settings
class takes, so a stale or mistyped key fails a test (and a run) instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from textgan.config_ranges import Rule, integer, is_int, number, one_of, optional
from textgan.kernels.numerics import BF16_PRODUCTS_SETTINGS
from textgan.training.host_memory import CPU_HEAP_SETTINGS
from textgan.training.nonfinite import MODES as NONFINITE_MODES
from textgan.training.objective import STAGES as OBJECTIVE_STAGES

HYDRA_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}


@dataclass(frozen=True)
class PretrainSettings:
    """MLE stage: ``epochs`` over the training set, clip norm, evaluation and checkpoint periods (epochs), and
    whether a run given ``generator.pretrained`` continues MLE from it (else the stage is skipped)."""

    epochs: int
    grad_clip: float | None
    eval_every: int
    checkpoint_every: int
    continue_from_pretrained: bool = False  # with generator.pretrained: train ``epochs`` more MLE epochs from it

    config_ranges = {  # grad_clip: the Trainer's gradient_clip_val, 0 = no clipping
        "epochs": integer(0), "grad_clip": optional(number(0)), "eval_every": integer(1), "checkpoint_every": integer(1)
    }  # fmt: skip


@dataclass(frozen=True)
class AdversarialSettings:
    """Adversarial stage: ``steps`` iterations, evaluation and checkpoint periods (iterations)."""

    steps: int
    eval_every: int
    checkpoint_every: int

    config_ranges = {"steps": integer(0), "eval_every": integer(1), "checkpoint_every": integer(1)}


@dataclass(frozen=True)
class EvaluationSettings:
    """Generated sentences per evaluation (NLL_oracle, BLEU, Self-BLEU), and how many of them are kept as text
    (``samples/`` and the wandb table); the default lets a run saved before the setting existed resume."""

    num_samples: int
    num_logged_samples: int = 16
    nll_gen_train: bool = False  # also NLL_gen on the training split (RelGAN's definition), as nll_gen_train

    config_ranges = {"num_samples": integer(1), "num_logged_samples": integer(0)}  # 0: no sample files / tables


@dataclass(frozen=True)
class DiagnosticsSettings:
    """Gradient diagnostics during adversarial training: every ``every`` iterations (0: off)."""

    every: int

    config_ranges = {"every": integer(0)}  # 0: off


@dataclass(frozen=True)
class PathSettings:
    """Where the repository, the shared benchmark data, caches and this run's outputs are."""

    root_dir: str
    shared_data: str
    cache_dir: str
    output_dir: str


@dataclass(frozen=True)
class RunSettings:
    """Top-level scalars of ``conf/train.yaml``."""

    experiment_name: str
    run_name: str | None
    seed: int
    resume: str | None
    matmul_precision: str
    bf16_products: str
    flush_denormal: bool
    cpu_heap: str
    on_nonfinite: str
    threads: int | str
    optimized_metric: str | None

    config_ranges = {
        "experiment_name": Rule(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
        "seed": integer(0, 2**32 - 1),  # lightning.seed_everything's range
        "matmul_precision": one_of("highest", "high", "medium"),  # torch.set_float32_matmul_precision
        "bf16_products": one_of(*BF16_PRODUCTS_SETTINGS),
        "cpu_heap": one_of(*CPU_HEAP_SETTINGS),
        "on_nonfinite": one_of(*NONFINITE_MODES),
        "optimized_metric": optional(Rule(lambda v: isinstance(v, str) and v.startswith(tuple(OBJECTIVE_STAGES)),
                                          f"a metric name starting with {' or '.join(OBJECTIVE_STAGES)}")),
        "threads": Rule(lambda v: v == "auto" or (is_int(v) and v >= 1), "'auto' or an integer >= 1"),
    }  # fmt: skip


# section -> settings class; "module" / object nodes inside a section are checked as ``_target_`` nodes
SECTIONS: dict[str, type] = {
    "pretrain": PretrainSettings,
    "adversarial": AdversarialSettings,
    "evaluation": EvaluationSettings,
    "diagnostics": DiagnosticsSettings,
    "paths": PathSettings,
}
OBJECT_SECTIONS = ("data", "generator", "discriminator", "estimator", "loss")
EXTRA_OBJECT_KEYS = {"generator": {"pretrained"}}  # read by train.py beside the constructor's arguments
TRAINER_TARGET = "lightning.Trainer"


def settings(cls: type, section: Mapping[str, Any], name: str) -> Any:
    """Build settings ``cls`` from a config section (nested ``_target_`` nodes left out); errors name the key."""
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {key: value for key, value in section.items() if not _is_object(value)}
    unknown = sorted(set(values) - fields)
    if unknown:
        keys = ", ".join(f"{name}.{key}" for key in unknown)
        raise ValueError(f"config: unknown key(s) {keys}; {name} takes {sorted(fields)}")
    no_default = dataclasses.MISSING
    required = {f.name for f in dataclasses.fields(cls) if f.default is no_default and f.default_factory is no_default}
    missing = sorted(required - set(values))
    if missing:
        raise ValueError(f"config: missing key(s) {', '.join(f'{name}.{k}' for k in missing)}")
    return cls(**values)


def unread_keys(config: Mapping[str, Any]) -> list[str]:
    """Dotted paths of keys in a composed, resolved config (plain containers) that nothing reads."""
    unread: list[str] = []
    run_fields = {f.name for f in dataclasses.fields(RunSettings)}
    known = run_fields | set(SECTIONS) | set(OBJECT_SECTIONS) | {"trainer", "logger"}
    unread += [key for key in config if key not in known]
    for name, cls in SECTIONS.items():
        section = config.get(name) or {}
        fields = {f.name for f in dataclasses.fields(cls)}
        for key, value in section.items():
            if _is_object(value):
                unread += _unread_in_object(value, f"{name}.{key}")
            elif key not in fields:
                unread.append(f"{name}.{key}")
    for name in OBJECT_SECTIONS:
        if config.get(name) is not None:
            unread += _unread_in_object(config[name], name, EXTRA_OBJECT_KEYS.get(name, set()))
    if config.get("trainer") is not None:
        unread += _unread_in_object({"_target_": TRAINER_TARGET, **config["trainer"]}, "trainer")
    for key, logger in (config.get("logger") or {}).items():
        if logger is not None:
            unread += _unread_in_object(logger, f"logger.{key}")
    return unread


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping) and "_target_" in value


def _target(path: str) -> Any:
    module_name, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def _unread_in_object(node: Mapping[str, Any], where: str, extra: set[str] = frozenset()) -> list[str]:
    """Keys of a ``_target_`` node (and of nested ``_target_`` nodes) that its constructor does not take."""
    if not _is_object(node):
        return [where]
    signature = inspect.signature(_target(node["_target_"]))
    parameters = signature.parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unread = []
    for key, value in node.items():
        if key in HYDRA_KEYS or key in extra:
            continue
        if key not in parameters and not takes_any:
            unread.append(f"{where}.{key}")
        elif _is_object(value):
            unread += _unread_in_object(value, f"{where}.{key}")
    return unread
