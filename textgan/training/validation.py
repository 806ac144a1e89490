"""Types and ranges of a composed config, checked before anything is built.

:func:`validate_config` takes the composed, resolved config (plain containers) and refuses a value of the wrong
type or outside its range with one line that names the key, the value and what is allowed. Every ``_target_``
is imported as Hydra would import it (a class of one's own module validates as textgan's do) and states its
own rules: types come from its constructor's annotations where they are simple (int, float, bool, str, None,
``Literal``, their unions, lists of them), ranges and checks between arguments from the ``config_ranges`` and
``config_relations`` it declares (:mod:`textgan.config_ranges`). The settings dataclasses of
:mod:`textgan.training.settings` do the same for the schedule sections and the top-level scalars. What is left
here: which kind of class each slot takes (:data:`SLOTS`) and the ranges of classes textgan does not own
(:data:`FOREIGN_RANGES`: torch optimisers, ``lightning.Trainer``, loggers).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from functools import cache
from typing import Any, Literal, Union

import lightning as L
import torch
from hydra._internal.utils import _locate  # how hydra.utils.instantiate finds a _target_
from lightning.fabric.connector import _PRECISION_INPUT
from lightning.pytorch.accelerators import AcceleratorRegistry, MPSAccelerator
from lightning.pytorch.loggers import Logger
from torch import nn

from textgan.conf_location import CONF_DIR
from textgan.config_ranges import (
    Rule,
    declared_ranges,
    declared_relations,
    integer,
    is_int,
    is_number,
    list_of,
    number,
    one_of,
    optional,
    show,
)
from textgan.estimators.base import Estimator
from textgan.estimators.baselines import Baseline
from textgan.losses.gan import GANLoss
from textgan.models.generator import Generator
from textgan.training.settings import HYDRA_KEYS, OBJECT_SECTIONS, SECTIONS, TRAINER_TARGET, RunSettings

MISSING = "???"  # OmegaConf's mark of a mandatory value nobody gave


class ConfigError(ValueError):
    """A config value of the wrong type or out of range. ``str()`` is one line, ``config: KEY=VALUE is not
    allowed: WHAT`` for each violation (joined by ``; ``); ``violations`` holds them as a list."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        super().__init__("config: " + "; ".join(violations))


def _choices(group: str) -> str:
    return ", ".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml")))


# What kind of class each _target_ slot takes: dotted path pattern (``*``: any characters), base class, in words
SLOTS: tuple[tuple[str, type, str], ...] = (
    ("data", L.LightningDataModule, f"a LightningDataModule class (data= {_choices('data')})"),
    ("generator", Generator, f"a textgan Generator class (generator= {_choices('generator')})"),
    ("discriminator", nn.Module, f"a torch Module (discriminator= {_choices('discriminator')})"),
    ("estimator", Estimator, f"a textgan Estimator class (estimator= {_choices('estimator')})"),
    ("estimator.baseline", Baseline, f"a textgan Baseline class (baseline= {_choices('estimator/baseline')})"),
    ("loss", GANLoss, f"a textgan GANLoss class (loss= {_choices('loss')})"),
    ("*optimizer", torch.optim.Optimizer, "a torch.optim.Optimizer class"),
    ("logger.*", Logger, "a lightning Logger class"),
)

PRECISIONS = tuple(value for literal in typing.get_args(_PRECISION_INPUT) for value in typing.get_args(literal))
ACCELERATORS = ("auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators()))


def _devices(value: Any) -> bool:
    if value == "auto" or value == -1 or (is_int(value) and value >= 1):
        return True
    if isinstance(value, list):
        return len(value) > 0 and all(is_int(i) and i >= 0 for i in value) and len(set(value)) == len(value)
    return isinstance(value, str) and re.fullmatch(r"-1|\d+(\s*,\s*\d+)*,?", value.strip()) is not None


# Ranges of classes textgan does not own, so cannot declare on them: base class -> argument -> rule
FOREIGN_RANGES: dict[type, dict[str, Rule]] = {
    torch.optim.Optimizer: {
        "lr": number(0, above=True),
        "betas": list_of(number(0, 1, below=True), length=2),
        "eps": number(0),
        "weight_decay": number(0),
    },
    L.Trainer: {
        "accelerator": one_of(*ACCELERATORS),
        "devices": Rule(_devices, "'auto', -1 (all), an integer >= 1, or a list or string of device ids"),
        "precision": one_of(*PRECISIONS),
        "log_every_n_steps": optional(integer(0)),  # 0: Lightning logs no step metrics
    },
    Logger: {"flush_logs_every_n_steps": integer(1)},
}
# keys train.py reads beside a constructor's arguments
EXTRA_RANGES = {"generator.pretrained": optional(Rule(lambda v: isinstance(v, str) and v != "", "a file path"))}
# keys whose null train.py fills in before the constructor sees it: null is fine on top of their range and type
FILLED_IN = ("estimator.schedule.horizon",)


def class_ranges(cls: type) -> dict[str, Rule]:
    """Argument -> rule for a ``_target_`` class: :data:`FOREIGN_RANGES` of its bases, then its own declarations."""
    foreign = [rules for base, rules in FOREIGN_RANGES.items() if issubclass(cls, base)]
    return {key: rule for rules in foreign for key, rule in rules.items()} | declared_ranges(cls)


def validate_config(config: Mapping[str, Any]) -> None:
    """Refuse a composed config whose values have the wrong type or lie outside their range.

    ``config``: plain containers, ``OmegaConf.to_container(cfg, resolve=True)``. Keys nothing reads are not
    this function's business (:func:`textgan.training.settings.unread_keys`) and are passed over. Raises
    :class:`ConfigError` naming every bad key in walk order (top-level scalars, ``pretrain``, ``adversarial``,
    ``evaluation``, ``diagnostics``, ``paths``, data, models, estimator, loss, trainer, loggers), in one line;
    once every key passed, the relations the classes declare run (a node's after those of its nested nodes).
    """
    problems: list[str] = []
    checked: list[tuple[str, type, Mapping[str, Any]]] = []  # (where, class, node) of every _target_ node
    scalars = {key: config[key] for key in _dataclass_types(RunSettings) if key in config}
    _check_fields(RunSettings, scalars, "", problems, checked)
    for name, cls in SECTIONS.items():
        if _is_section(config, name, problems):
            _check_fields(cls, config.get(name) or {}, f"{name}.", problems, checked)
    for name in OBJECT_SECTIONS:
        if _is_section(config, name, problems) and config.get(name) is not None:
            _check_object(config[name], name, problems, checked)
    if _is_section(config, "trainer", problems) and config.get("trainer") is not None:
        _check_object({"_target_": TRAINER_TARGET, **config["trainer"]}, "trainer", problems, checked)
    if _is_section(config, "logger", problems):
        for key, logger in (config.get("logger") or {}).items():
            if logger is not None:
                _check_object(logger, f"logger.{key}", problems, checked)
    if not problems:
        for where, cls, node in checked:
            problems += _relations(where, cls, node)
    if problems:
        raise ConfigError(problems)


def violation(key: str, value: Any, allowed: str) -> str:
    """One violation as :class:`ConfigError` lists it."""
    return f"{key}={value!r} is not allowed: {allowed}"


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping) and "_target_" in value


def _is_section(config: Mapping[str, Any], name: str, problems: list[str]) -> bool:
    if config.get(name) is None or isinstance(config[name], Mapping):
        return True
    problems.append(violation(name, config[name], "a group of settings (a mapping)"))
    return False


def _check_fields(cls: type, section: Mapping[str, Any], prefix: str, problems: list[str], checked: list) -> None:
    """The keys of a settings section (``prefix`` its dotted path) that settings dataclass ``cls`` has."""
    types_, ranges = _dataclass_types(cls), declared_ranges(cls)
    for key, value in section.items():
        if _is_object(value):
            _check_object(value, prefix + key, problems, checked)
        else:
            _check_value(prefix + key, value, types_.get(key), ranges.get(key), problems)


def _check_value(key: str, value: Any, type_rule: Rule | None, rule: Rule | None, problems: list[str]) -> None:
    """A leaf: mandatory values given, then its declared range, then the annotation's type."""
    if value == MISSING:
        problems.append(violation(key, value, f"a value (mandatory: pass {key}=...)"))
        return
    if isinstance(value, Mapping):
        for sub, item in value.items():
            if _is_object(item):
                _check_object(item, f"{key}.{sub}", problems, [])
            else:
                _check_value(f"{key}.{sub}", item, None, None, problems)
        return
    filled_in = value is None and key in FILLED_IN
    if rule is not None and not rule.accepts(value) and not filled_in:
        problems.append(violation(key, value, optional(rule).allowed if key in FILLED_IN else rule.allowed))
    elif type_rule is not None and not type_rule.accepts(value) and not filled_in:
        problems.append(violation(key, value, type_rule.allowed))


def _check_object(node: Mapping[str, Any], where: str, problems: list[str], checked: list) -> None:
    """A ``_target_`` node: what its slot takes, then each argument against the class's ranges and types."""
    if not _is_object(node):
        problems.append(violation(where, node, "a mapping with a _target_"))
        return
    target = node["_target_"]
    slot = next(((base, words) for pattern, base, words in SLOTS if fnmatchcase(where, pattern)), None)
    before = len(problems)
    _check_value(f"{where}._target_", target, Rule(lambda v: isinstance(v, str), "a dotted path"), None, problems)
    if len(problems) > before:
        return
    try:
        obj, types_ = _locate(target), _parameter_types(target)
    except (ImportError, ValueError, TypeError) as error:
        words = slot[1] if slot else "an importable class or function"
        problems.append(violation(f"{where}._target_", target, f"{words}, and {_import_failure(target, error)}"))
        return
    if slot is not None and not (inspect.isclass(obj) and issubclass(obj, slot[0])):
        problems.append(violation(f"{where}._target_", target, slot[1]))
        return
    ranges = class_ranges(obj) if inspect.isclass(obj) else {}
    for key, value in node.items():
        if key in HYDRA_KEYS:
            continue
        path = f"{where}.{key}"
        if _is_object(value):
            _check_object(value, path, problems, checked)
        else:
            _check_value(path, value, types_.get(key), ranges.get(key, EXTRA_RANGES.get(path)), problems)
    if inspect.isclass(obj):
        checked.append((where, obj, node))


def _import_failure(target: str, error: Exception) -> str:
    """Why ``target`` does not import, in a few words."""
    cause, (module, _, name) = error.__cause__ or error, target.rpartition(".")
    if isinstance(cause, ModuleNotFoundError) and cause.name == target.split(".")[0]:
        return f"no module {cause.name!r} is importable (is its folder on PYTHONPATH?)"
    if isinstance(cause, ModuleNotFoundError) and cause.name == target:
        return f"{module} has no {name!r}"
    return f"it does not import ({type(cause).__name__}: {(str(cause).splitlines() or [''])[0]})"


def _relations(where: str, cls: type, node: Mapping[str, Any]) -> list[str]:
    """Violations of the relations ``cls`` declares, keys and ``{name}`` placeholders made dotted paths."""
    arguments = _with_defaults(node)
    try:
        found = declared_relations(cls, arguments)
    except KeyError:  # an argument with no default is missing: the constructor names it
        return []
    problems = []
    for key, allowed in found:
        value: Any = arguments
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        allowed = re.sub(r"\{(\w+(?:\.\w+)*)\}", lambda match: f"{where}.{match.group(1)}", allowed)
        problems.append(violation(f"{where}.{key}", value, allowed))
    return problems


def _with_defaults(node: Mapping[str, Any]) -> dict[str, Any]:
    """A ``_target_`` node's arguments, its constructor's defaults for those not given (nested nodes too)."""
    try:
        parameters = inspect.signature(_locate(node["_target_"])).parameters.values()
    except (ImportError, ValueError, TypeError):
        parameters = []
    arguments = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    for key, value in node.items():
        if key not in HYDRA_KEYS:
            arguments[key] = _with_defaults(value) if _is_object(value) else value
    return arguments


def check_scheme(config: Mapping[str, Any]) -> None:
    """Refuse a discriminator the estimator cannot train with (CoT without its mediator), or a generator (LeakGAN's
    Manager-Worker generator with another estimator), before anything is built.

    ``config``: as for :func:`validate_config`, which it must have passed. The estimator's class says why in its
    ``discriminator_refusal`` (:class:`textgan.estimators.base.Estimator`), naming the ``discriminator=`` choice
    it needs (``generator_refusal`` for the generator); raises :class:`ConfigError` with that line. Otherwise the
    refusal would come from the estimator's ``setup``, after MLE pretraining.
    """
    estimator, discriminator = config.get("estimator"), config.get("discriminator")
    if not (_is_object(estimator) and _is_object(discriminator)):
        return
    estimator_class, discriminator_class = _locate(estimator["_target_"]), _locate(discriminator["_target_"])
    if not (inspect.isclass(estimator_class) and issubclass(estimator_class, Estimator)):
        return
    why = estimator_class.discriminator_refusal(discriminator_class)
    if why is not None:
        raise ConfigError([violation("discriminator._target_", discriminator["_target_"], why)])
    generator = config.get("generator")
    generator_class = _locate(generator["_target_"]) if _is_object(generator) else None
    why = estimator_class.generator_refusal(generator_class) if inspect.isclass(generator_class) else None
    if why is not None:
        raise ConfigError([violation("generator._target_", generator["_target_"], why)])


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
        raise ConfigError([violation("trainer.accelerator", accelerator, allowed)])
    devices = trainer.get("devices", "auto")
    if isinstance(devices, str) and devices.strip() not in ("auto", "-1"):  # Lightning's "2" is a count, "0,2" ids
        parts = [int(part) for part in devices.split(",") if part.strip()]
        devices = parts if "," in devices else parts[0]
    here = f"this machine has {count} {name}{'s' if count > 1 else ''}"
    if is_int(devices) and devices > count:
        raise ConfigError([violation("trainer.devices", trainer["devices"], f"at most {count}: {here}")])
    if isinstance(devices, list) and max(devices) >= count:
        raise ConfigError([violation("trainer.devices", trainer["devices"], f"device ids below {count}: {here}")])


# ---- types from annotations ----------------------------------------------------------------------------------
def _dataclass_types(cls: type) -> dict[str, Rule | None]:
    hints = typing.get_type_hints(cls)
    return {f.name: _type_rule(hints.get(f.name)) for f in dataclasses.fields(cls)}


@cache
def _parameter_types(target: str) -> dict[str, Rule | None]:
    """Parameter name -> rule of its annotation (None where absent, complex or unresolvable)."""
    obj = _locate(target)
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
    int: Rule(is_int, "an integer"),
    float: Rule(is_number, "a number"),
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
        words = [p.allowed for p in parts[:-1]] + ([show(v) for v in values] if values else [parts[-1].allowed])
        return Rule(lambda v: any(p.accepts(v) for p in parts), ", ".join(words[:-1]) + " or " + words[-1])
    if origin in (list, tuple, Sequence) and args and (origin is not tuple or args[1:] in ((), (Ellipsis,))):
        item = _type_rule(args[0])
        return None if item is None else Rule(
            lambda v: isinstance(v, list | tuple) and all(item.accepts(x) for x in v), f"a list, each {item.allowed}"
        )  # fmt: skip
    return None
