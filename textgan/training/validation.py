"""Types and ranges of a composed config, checked before anything is built.

:func:`validate_config` takes the composed, resolved config (plain containers) and refuses a value of the wrong
type or outside its range with one line that names the key, the value and what is allowed. Types come from
annotations: the settings dataclasses of :mod:`textgan.training.settings` for the schedule sections and the
top-level scalars, and the constructor signature of every ``_target_`` node (``lightning.Trainer``'s for
``trainer``) where an annotation is simple (int, float, bool, str, None, ``Literal``, their unions, lists of
them). Ranges and choices come from :data:`RANGES`, an explicit table of dotted key patterns that mirrors what
the constructors refuse, and a few checks that relate two keys (:func:`_related`).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import inspect
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union

import lightning as L
import torch
from lightning.fabric.connector import _PRECISION_INPUT
from lightning.pytorch.accelerators import AcceleratorRegistry, MPSAccelerator
from lightning.pytorch.loggers import Logger
from torch import nn

import textgan.estimators as estimators
from textgan.data.text import TextDataModule
from textgan.data.tokenization import SPECIAL_TOKENS, TOKENIZER_MODELS
from textgan.estimators.baselines import BASELINES
from textgan.estimators.gumbel_softmax import FEEDBACKS
from textgan.estimators.reinforce import _AUTOCAST, REDUCTIONS, REWARDS
from textgan.estimators.reinmax import ReinMaxEstimator
from textgan.estimators.rewards import REWARD_TRANSFORMS
from textgan.estimators.schedules import ADAPTS
from textgan.losses.gan import GANLoss
from textgan.models.generator import Generator
from textgan.numerics import BF16_PRODUCTS_SETTINGS
from textgan.training.host_memory import CPU_HEAP_SETTINGS
from textgan.training.nonfinite import MODES as NONFINITE_MODES
from textgan.training.objective import STAGES as OBJECTIVE_STAGES
from textgan.training.settings import HYDRA_KEYS, OBJECT_SECTIONS, SECTIONS, TRAINER_TARGET, RunSettings

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
OBJECTIVE_PREFIXES = tuple(OBJECTIVE_STAGES)
MISSING = "???"  # OmegaConf's mark of a mandatory value nobody gave


class ConfigError(ValueError):
    """A config value of the wrong type or out of range. ``str()`` is one line, ``config: KEY=VALUE is not
    allowed: WHAT`` for each violation (joined by ``; ``); ``violations`` holds them as a list."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        super().__init__("config: " + "; ".join(violations))


@dataclass(frozen=True)
class Rule:
    """``accepts(value)``, and ``allowed``: what it accepts, in words."""

    accepts: Callable[[Any], bool]
    allowed: str


def _show(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:  # an int is fine where a float is wanted; bool and inf / nan are not
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(least: int, most: int | None = None) -> Rule:
    """An int (not a bool) in ``[least, most]``."""
    words = f"an integer >= {least}" if most is None else f"an integer in [{least}, {most}]"
    return Rule(lambda v: _is_int(v) and v >= least and (most is None or v <= most), words)


def number(low: float, high: float | None = None, *, above: bool = False, below: bool = False) -> Rule:
    """A finite int or float from ``low`` (excluded if ``above``) to ``high`` (excluded if ``below``)."""
    if high is None:
        words = f"a number {'>' if above else '>='} {low:g}"
    else:
        words = f"a number in {'(' if above else '['}{low:g}, {high:g}{')' if below else ']'}"

    def accepts(v: Any) -> bool:
        if not _is_number(v) or v < low or (above and v == low):
            return False
        return high is None or v < high or (v == high and not below)

    return Rule(accepts, words)


def one_of(*choices: Any) -> Rule:
    """One of ``choices`` (same type: 16 is not '16', True is not 1)."""
    return Rule(
        lambda v: any(type(v) is type(c) and v == c for c in choices),
        "one of " + ", ".join(_show(c) for c in choices),
    )


def optional(rule: Rule) -> Rule:
    """None or what ``rule`` accepts."""
    return Rule(lambda v: v is None or rule.accepts(v), f"null or {rule.allowed}")


def list_of(rule: Rule, length: int | None = None) -> Rule:
    """A non-empty list (exactly ``length`` long if given) of what ``rule`` accepts."""
    return Rule(
        lambda v: isinstance(v, list | tuple) and len(v) > 0 and (length is None or len(v) == length)
        and all(rule.accepts(x) for x in v),
        f"{'a non-empty list' if length is None else f'a list of {length}'}, each {rule.allowed}",
    )  # fmt: skip


def subclass_of(bases: type | Sequence[type], words: str) -> Rule:
    """A dotted path naming a subclass of ``bases`` (of one of them, if several)."""
    bases = (bases,) if isinstance(bases, type) else tuple(bases)
    return Rule(lambda v: isinstance(v, str) and any(_names_subclass(v, base) for base in bases), words)


def _names_subclass(path: str, base: type) -> bool:
    try:
        target = _import(path)
    except (ImportError, AttributeError, ValueError):
        return False
    return inspect.isclass(target) and issubclass(target, base)


def _choices(group: str) -> str:
    return ", ".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml")))


ESTIMATOR_CLASSES = tuple(
    cls for cls in map(vars(estimators).get, estimators.__all__)
    if inspect.isclass(cls) and issubclass(cls, estimators.Estimator) and cls is not estimators.Estimator
)  # fmt: skip
PRECISIONS = tuple(value for literal in typing.get_args(_PRECISION_INPUT) for value in typing.get_args(literal))
ACCELERATORS = ("auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators()))


def _devices(value: Any) -> bool:
    if value == "auto" or value == -1 or (_is_int(value) and value >= 1):
        return True
    if isinstance(value, list):
        return len(value) > 0 and all(_is_int(i) and i >= 0 for i in value) and len(set(value)) == len(value)
    return isinstance(value, str) and re.fullmatch(r"-1|\d+(\s*,\s*\d+)*,?", value.strip()) is not None


# Dotted key pattern(s) -> rule. ``*`` matches any run of characters (dots included), ``{a,b}`` each of a, b.
# Every key a pattern matches must satisfy its rule, on top of its annotation's type (see the module docstring).
RANGES: tuple[tuple[str, Rule], ...] = (
    # top-level scalars (conf/train.yaml)
    ("experiment_name", Rule(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string")),
    ("seed", integer(0, 2**32 - 1)),  # lightning.seed_everything's range
    ("matmul_precision", one_of("highest", "high", "medium")),  # torch.set_float32_matmul_precision
    ("bf16_products", one_of(*BF16_PRODUCTS_SETTINGS)),  # textgan/bf16_products.py
    ("cpu_heap", one_of(*CPU_HEAP_SETTINGS)),  # textgan/training/host_memory.py
    ("on_nonfinite", one_of(*NONFINITE_MODES)),
    ("optimized_metric", optional(Rule(lambda v: isinstance(v, str) and v.startswith(OBJECTIVE_PREFIXES),
                                       f"a metric name starting with {' or '.join(OBJECTIVE_PREFIXES)}"))),
    ("threads", Rule(lambda v: v == "auto" or (_is_int(v) and v >= 1), "'auto' or an integer >= 1")),
    # schedules (conf/pretrain, conf/adversarial, evaluation, diagnostics)
    ("{pretrain.epochs,adversarial.steps}", integer(0)),
    ("{pretrain,adversarial}.{eval_every,checkpoint_every}", integer(1)),
    ("pretrain.grad_clip", optional(number(0))),  # Trainer's gradient_clip_val; 0 = no clipping
    ("evaluation.num_samples", integer(1)),
    ("evaluation.num_logged_samples", integer(0)),  # 0 = no sample files / tables
    ("diagnostics.every", integer(0)),  # 0 = off
    # optimiser partials: pretrain.module.optimizer, adversarial.module.*_optimizer, estimator.optimizer
    ("*optimizer._target_", subclass_of(torch.optim.Optimizer, "a torch.optim.Optimizer class")),
    ("*optimizer.lr", number(0, above=True)),
    ("*optimizer.betas", list_of(number(0, 1, below=True), length=2)),
    ("*optimizer.{eps,weight_decay}", number(0)),
    # adversarial module (textgan/training/adversarial.py)
    ("adversarial.module.generator_steps", integer(1)),
    ("adversarial.module.{discriminator_steps,discriminator_epochs,discriminator_pretrain_steps}", integer(0)),
    ("adversarial.module.num_negatives", integer(1)),
    ("adversarial.module.grad_clip", optional(number(0))),  # None or 0 = no clipping
    ("adversarial.module.discriminator_regularization", number(0)),
    # data (textgan/data): text corpora and the oracle
    ("data._target_", subclass_of(L.LightningDataModule, f"a LightningDataModule class (data= {_choices('data')})")),
    ("data.batch_size", integer(1)),
    ("data.{num_workers,seed,oracle_seed}", integer(0)),
    ("data.vocab_size", optional(integer(2))),  # text corpora need more: see _related
    ("data.max_length", optional(integer(2))),  # at least one token and <eos>
    ("data.{embedding_dim,hidden_dim,num_train,num_test,min_frequency}", integer(1)),
    ("data.tokenizer", one_of(*TOKENIZER_MODELS)),
    ("data.pre_tokenizer", one_of("whitespace", "words")),
    ("data.vocab_from", one_of("train", "train+test")),
    ("data.bleu_orders", list_of(integer(1))),
    ("data.{max_hypotheses,max_references,self_bleu_samples}", optional(integer(1))),  # null = all
    # generator and discriminator (textgan/models)
    ("generator._target_", subclass_of(Generator, f"a textgan Generator class (generator= {_choices('generator')})")),
    ("generator.pretrained", optional(Rule(lambda v: isinstance(v, str) and v != "", "a file path"))),
    ("generator.{embedding_dim,hidden_dim,mem_slots,head_size,num_heads,num_blocks,attention_mlp_layers}", integer(1)),
    ("discriminator._target_", subclass_of(nn.Module, f"a torch Module (discriminator= {_choices('discriminator')})")),
    ("discriminator.{embedding_dim,num_rep,hidden_size}", integer(1)),
    ("discriminator.{filter_sizes,num_filters}", list_of(integer(1))),
    ("discriminator.dropout", number(0, 1)),
    ("discriminator.l2_reg_lambda", number(0)),
    ("discriminator.backend", one_of("auto", "native", "torch")),
    # estimator (textgan/estimators) and its schedule / baseline
    ("estimator._target_", subclass_of(ESTIMATOR_CLASSES, f"an estimator= choice: {_choices('estimator')}")),
    ("estimator.schedule.beta_max", number(0, above=True)),
    ("estimator.schedule.adapt", one_of(*ADAPTS)),
    ("estimator.schedule.horizon", optional(integer(2))),  # null = the run's adversarial steps
    ("estimator.num_samples", optional(integer(1))),  # null = the real batch size
    ("estimator.{gap,temperature}", number(0, above=True)),
    ("estimator.{num_gumbel_samples,hidden_size,rollout_num,max_batch,sample_batch}", integer(1)),
    ("estimator.reward", one_of(*REWARDS)),
    ("estimator.feedback", one_of(*FEEDBACKS)),
    ("estimator.reward_transform", one_of(*REWARD_TRANSFORMS)),
    ("estimator.rollout_update_rate", optional(number(0, 1, below=True))),
    ("estimator.reduction", one_of(*REDUCTIONS)),
    ("estimator.reward_autocast", one_of(*_AUTOCAST)),
    ("estimator.baseline", optional(one_of(*BASELINES))),
    ("estimator.baseline._target_", subclass_of(BASELINES.values(), f"a baseline: {_choices('estimator/baseline')}")),
    ("estimator.baseline.decay", number(0, 1, below=True)),
    ("estimator.baseline.group_size", optional(integer(2))),
    # GAN loss (textgan/losses/gan.py)
    ("loss._target_", subclass_of(GANLoss, f"a textgan GANLoss class (loss= {_choices('loss')})")),
    ("loss.gp_weight", number(0)),
    # lightning.Trainer and loggers
    ("trainer.accelerator", one_of(*ACCELERATORS)),
    ("trainer.devices", Rule(_devices, "'auto', -1 (all), an integer >= 1, or a list or string of device ids")),
    ("trainer.precision", one_of(*PRECISIONS)),
    ("trainer.log_every_n_steps", optional(integer(0))),  # 0: Lightning logs no step metrics
    ("logger.*._target_", subclass_of(Logger, "a lightning Logger class")),
    ("logger.*.flush_logs_every_n_steps", integer(1)),
)

# keys whose null train.py fills in before the constructor sees it: their annotation says int, null is fine
FILLED_IN = ("estimator.schedule.horizon",)


def _expand(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [p for choice in match.group(1).split(",") for p in _expand(head + choice + tail)]


PATTERNS = tuple((expanded, rule) for pattern, rule in RANGES for expanded in _expand(pattern))


def _rules(key: str) -> list[Rule]:
    return [rule for pattern, rule in PATTERNS if fnmatchcase(key, pattern)]


def validate_config(config: Mapping[str, Any]) -> None:
    """Refuse a composed config whose values have the wrong type or lie outside their range.

    ``config``: plain containers, ``OmegaConf.to_container(cfg, resolve=True)``. Keys nothing reads are not
    this function's business (:func:`textgan.training.settings.unread_keys`) and are passed over. Raises
    :class:`ConfigError` naming every bad key in walk order (top-level scalars, ``pretrain``, ``adversarial``,
    ``evaluation``, ``diagnostics``, ``paths``, data, models, estimator, loss, trainer, loggers, then the
    checks between keys), in one line.
    """
    problems: list[str] = []
    run_types = _dataclass_types(RunSettings)
    for key in run_types:
        if key in config:
            _check_value(key, config[key], run_types[key], problems)
    for name, cls in SECTIONS.items():
        if _is_section(config, name, problems):
            types_ = _dataclass_types(cls)
            for key, value in (config.get(name) or {}).items():
                path = f"{name}.{key}"
                if _is_object(value):
                    _check_object(value, path, problems)
                else:
                    _check_value(path, value, types_.get(key), problems)
    for name in OBJECT_SECTIONS:
        if _is_section(config, name, problems) and config.get(name) is not None:
            _check_object(config[name], name, problems)
    if _is_section(config, "trainer", problems) and config.get("trainer") is not None:
        _check_object({"_target_": TRAINER_TARGET, **config["trainer"]}, "trainer", problems)
    if _is_section(config, "logger", problems):
        for key, logger in (config.get("logger") or {}).items():
            if logger is not None:
                _check_object(logger, f"logger.{key}", problems)
    if not problems:
        problems += _related(config)
    if problems:
        raise ConfigError(problems)


def _violation(key: str, value: Any, allowed: str) -> str:
    return f"{key}={value!r} is not allowed: {allowed}"


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping) and "_target_" in value


def _is_section(config: Mapping[str, Any], name: str, problems: list[str]) -> bool:
    if config.get(name) is None or isinstance(config[name], Mapping):
        return True
    problems.append(_violation(name, config[name], "a group of settings (a mapping)"))
    return False


def _check_value(key: str, value: Any, type_rule: Rule | None, problems: list[str]) -> None:
    """A leaf: mandatory values given, then the table's rules, then the annotation's type."""
    if value == MISSING:
        problems.append(_violation(key, value, f"a value (mandatory: pass {key}=...)"))
        return
    if isinstance(value, Mapping):
        for sub, item in value.items():
            path = f"{key}.{sub}"
            _check_object(item, path, problems) if _is_object(item) else _check_value(path, item, None, problems)
        return
    for rule in _rules(key):
        if not rule.accepts(value):
            problems.append(_violation(key, value, rule.allowed))
            return
    if type_rule is not None and not type_rule.accepts(value) and not (value is None and key in FILLED_IN):
        problems.append(_violation(key, value, type_rule.allowed))


def _check_object(node: Mapping[str, Any], where: str, problems: list[str]) -> None:
    """A ``_target_`` node: its target, then each argument against the table and the signature's types."""
    if not _is_object(node):
        problems.append(_violation(where, node, "a mapping with a _target_"))
        return
    target = node["_target_"]
    before = len(problems)
    _check_value(f"{where}._target_", target, None, problems)
    if len(problems) > before:
        return
    try:
        types_ = _parameter_types(target)
    except (ImportError, AttributeError, ValueError, TypeError):
        problems.append(_violation(f"{where}._target_", target, "an importable class or function"))
        return
    for key, value in node.items():
        if key in HYDRA_KEYS:
            continue
        path = f"{where}.{key}"
        if _is_object(value):
            _check_object(value, path, problems)
        else:
            _check_value(path, value, types_.get(key), problems)


def _related(config: Mapping[str, Any]) -> list[str]:
    """Checks between keys, each where a constructor would refuse the pair (run once every key passed)."""
    problems: list[str] = []

    def refuse(key: str, value: Any, allowed: str) -> None:
        problems.append(_violation(key, value, allowed))

    estimator = config.get("estimator") or {}
    schedule = estimator.get("schedule") if isinstance(estimator.get("schedule"), Mapping) else {}
    beta_max, adapt = schedule.get("beta_max"), schedule.get("adapt", "exp")
    if beta_max is not None and adapt != "no" and beta_max < 1:  # InverseTemperatureSchedule
        refuse("estimator.schedule.beta_max", beta_max, f"a number >= 1 with adapt={adapt!r}")
    if beta_max is not None and beta_max > 1 and _names_subclass(str(estimator.get("_target_")), ReinMaxEstimator):
        refuse("estimator.schedule.beta_max", beta_max, "a number <= 1 for estimator=reinmax (tau >= 1)")
    if estimator.get("straight_through") and estimator.get("feedback") == "relaxed":
        refuse("estimator.straight_through", True, "false with estimator.feedback=relaxed (GSGAN feeds back soft rows)")
    data = config.get("data") or {}
    vocab_size, specials = data.get("vocab_size"), len(SPECIAL_TOKENS)
    if vocab_size is not None and vocab_size <= specials and _names_subclass(str(data.get("_target_")), TextDataModule):
        refuse("data.vocab_size", vocab_size, f"null or an integer > {specials} (room beside the special tokens)")
    module = (config.get("adversarial") or {}).get("module") or {}
    if module.get("discriminator_pretrain_steps", 0) > 0 and module.get("discriminator_epochs", 0) < 1:
        refuse("adversarial.module.discriminator_epochs", module.get("discriminator_epochs"),
               "an integer >= 1 when adversarial.module.discriminator_pretrain_steps > 0")  # fmt: skip
    discriminator = config.get("discriminator") or {}
    sizes, filters = discriminator.get("filter_sizes"), discriminator.get("num_filters")
    if sizes is not None and filters is not None and len(sizes) != len(filters):
        refuse("discriminator.num_filters", filters, f"a list of {len(sizes)}, one count per filter size")
    return problems


# ---- choices of the config groups ------------------------------------------------------------------------------
def check_group_choices(arguments: Sequence[str]) -> None:
    """Refuse a command line that picks a choice ``conf/`` does not have (``estimator=gumbel_softmx``), naming the
    group, the value, the closest choice and every choice: one :class:`ConfigError` line, before Hydra composes.

    ``arguments``: the command line after the program's name, Hydra's flags included. Every choice of a sweep
    (``estimator=gst,reinmax``) is checked; ``hydra/`` groups (choices from plugins), glob sweeps and command
    lines that add config folders or another primary config are left to Hydra.
    """
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep
    from hydra.errors import HydraException

    if "--version" in arguments:
        return
    parser = get_args_parser()
    parser.exit_on_error = False

    def give_up(message: str) -> None:
        raise argparse.ArgumentError(None, message)

    parser.error = give_up  # Hydra itself reports a malformed command line
    try:
        flags, _ = parser.parse_known_args(list(arguments))
        overrides = OverridesParser.create().parse_overrides(flags.overrides)
    except (argparse.ArgumentError, HydraException):
        return
    if flags.config_path or flags.config_name or flags.config_dir or flags.experimental_rerun:
        return
    if flags.shell_completion or any(o.key_or_group == "hydra.searchpath" for o in overrides):
        return
    problems = []
    for override in overrides:
        group = override.key_or_group
        if override.is_delete() or group.split("/")[0] == "hydra" or not (CONF_DIR / group).is_dir():
            continue
        value = override.value()
        if isinstance(value, ChoiceSweep):
            values = value.list
        elif override.is_sweep_override():
            continue
        else:
            values = [value]
        for choice in values:
            if choice is not None and not (CONF_DIR / group / f"{choice}.yaml").is_file():
                problems.append(_unknown_choice(group, str(choice)))
    if problems:
        raise ConfigError(problems)


def _unknown_choice(group: str, choice: str) -> str:
    known = sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))
    closest = difflib.get_close_matches(choice, known, n=1)
    hint = f"; did you mean {closest[0]}?" if closest else ""
    return _violation(group, choice, f"a choice of conf/{group}/ ({', '.join(known)}){hint}")


# ---- the machine ----------------------------------------------------------------------------------------------
GPU_NAMES = {"cuda": "CUDA GPU", "mps": "Apple MPS GPU", "tpu": "TPU"}


def devices_here(accelerator: str) -> tuple[str, int]:
    """What ``trainer.accelerator=accelerator`` trains on here, in words, and how many of them this machine has
    (0: none). ``gpu`` is Lightning's pick: MPS where there is one, else CUDA."""
    if accelerator == "gpu":
        accelerator = "mps" if MPSAccelerator.is_available() else "cuda"
    cls = AcceleratorRegistry[accelerator]["accelerator"]
    return GPU_NAMES.get(accelerator, accelerator), cls.auto_device_count() if cls.is_available() else 0


def check_machine(config: Mapping[str, Any]) -> None:
    """Refuse a trainer this machine cannot run, before any folder exists: an accelerator it does not have
    (``trainer=gpu`` on a machine without a GPU), more devices or other device ids than it has.

    ``config``: as for :func:`validate_config`, which it must have passed. Raises :class:`ConfigError`, one line
    naming the key, the value and what this machine has; Lightning would otherwise fail only once the run's
    folder exists. CPU processes (``cpu``, ``ddp_cpu``) and ``auto`` run anywhere.
    """
    trainer = config.get("trainer") or {}
    accelerator = trainer.get("accelerator", "auto")
    if accelerator in ("auto", "cpu"):
        return
    name, count = devices_here(accelerator)
    if count == 0:
        kind = "GPU (no CUDA or MPS device)" if accelerator == "gpu" else name
        allowed = f"an accelerator this machine has, and it has no {kind}: use trainer=cpu"
        raise ConfigError([_violation("trainer.accelerator", accelerator, allowed)])
    devices = trainer.get("devices", "auto")
    if isinstance(devices, str) and devices.strip() not in ("auto", "-1"):  # Lightning's "2" is a count, "0,2" ids
        parts = [int(part) for part in devices.split(",") if part.strip()]
        devices = parts if "," in devices else parts[0]
    here = f"this machine has {count} {name}{'s' if count > 1 else ''}"
    if _is_int(devices) and devices > count:
        raise ConfigError([_violation("trainer.devices", trainer["devices"], f"at most {count}: {here}")])
    if isinstance(devices, list) and max(devices) >= count:
        raise ConfigError([_violation("trainer.devices", trainer["devices"], f"device ids below {count}: {here}")])


# ---- types from annotations ----------------------------------------------------------------------------------
def _import(path: str) -> Any:
    module_name, _, name = path.rpartition(".")
    if not module_name:
        raise ValueError(f"not a dotted path: {path!r}")
    return getattr(importlib.import_module(module_name), name)


def _dataclass_types(cls: type) -> dict[str, Rule | None]:
    hints = typing.get_type_hints(cls)
    return {f.name: _type_rule(hints.get(f.name)) for f in dataclasses.fields(cls)}


@cache
def _parameter_types(target: str) -> dict[str, Rule | None]:
    """Parameter name -> rule of its annotation (None where absent, complex or unresolvable)."""
    obj = _import(target)
    parameters = inspect.signature(obj).parameters
    try:
        hints = typing.get_type_hints(obj.__init__ if inspect.isclass(obj) else obj)
    except Exception:  # an annotation that does not resolve: evaluate them one by one, skip those that fail
        hints, namespace = {}, vars(sys.modules.get(obj.__module__, types.ModuleType("none")))
        for name, parameter in parameters.items():
            try:
                annotation = parameter.annotation
                hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
            except Exception:
                continue
    return {name: _type_rule(hints.get(name)) for name in parameters}


_SIMPLE = {
    int: Rule(_is_int, "an integer"),
    float: Rule(_is_number, "a number"),
    bool: Rule(lambda v: isinstance(v, bool), "true or false"),
    str: Rule(lambda v: isinstance(v, str), "a string"),
    type(None): Rule(lambda v: v is None, "null"),
}


def _literal_values(annotation: Any) -> tuple:
    return typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()


def _type_rule(annotation: Any) -> Rule | None:
    """The rule of a simple annotation; None (no check) for anything else."""
    if isinstance(annotation, type) and annotation in _SIMPLE:
        return _SIMPLE[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return one_of(*args)
    if origin is Union or origin is types.UnionType:  # values of Literal, bool and None listed, then types
        flat = [(True, False) if a is bool else _literal_values(a) or a for a in args]
        values = [v for a in flat if isinstance(a, tuple) for v in a] + [None] * (type(None) in args)
        parts = [_type_rule(a) for a in flat if not isinstance(a, tuple) and a is not type(None)]
        if any(part is None for part in parts):
            return None
        if values:
            parts.append(one_of(*values))
        words = [p.allowed for p in parts[:-1]] + ([_show(v) for v in values] if values else [parts[-1].allowed])
        return Rule(lambda v: any(p.accepts(v) for p in parts), ", ".join(words[:-1]) + " or " + words[-1])
    if origin in (list, tuple, Sequence) and args and (origin is not tuple or args[1:] in ((), (Ellipsis,))):
        item = _type_rule(args[0])
        return None if item is None else Rule(
            lambda v: isinstance(v, list | tuple) and all(item.accepts(x) for x in v), f"a list, each {item.allowed}"
        )  # fmt: skip
    return None
