"""A fair estimator comparison written down as a protocol file, and the runs it stands for.

A protocol (``conf/comparison/<name>.yaml``, plain YAML read with OmegaConf, not a Hydra group) names the MLE
generator every run starts from, the seeds, the adversarial steps, the evaluation period and sample count,
overrides for every run, the temperature schedules, the arms, a pilot that tunes some arms' own settings first,
and the sampling temperatures of the quality-diversity frontier (docs/comparison.md shows one).

``load_protocol`` reads and checks a protocol, naming the file and the key of anything wrong: an arm whose
estimator has a temperature schedule (a ``schedule`` node in ``conf/estimator/<name>.yaml``: the relaxed
estimators) gets every one of the protocol's schedules unless it lists the ones it can take, and may not set
``estimator.schedule.*`` itself; a schedule the estimator's class refuses (ReinMax above beta = 1) is refused
here, before any run starts. ``textgan.evaluation.comparison_plan`` turns a protocol into runs.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textgan.conf_location import CONF_DIR
from textgan.config_ranges import declared_relations

PROTOCOL_KEYS = (
    "pretrained", "seeds", "steps", "eval_every", "num_samples", "threads", "overrides", "schedules", "arms",
    "pilot", "frontier",
)  # fmt: skip
ARM_KEYS = ("estimator", "overrides", "schedules", "mle", "epochs")
SCHEDULE_KEYS = ("beta_max", "adapt", "horizon")
PILOT_KEYS = ("steps", "seeds", "criterion", "diagnostics_every", "candidates")
FRONTIER_KEYS = ("temperatures", "num_samples")
CRITERIA = ("gradient_variance", "nll_oracle")
# what the protocol sets for every run itself: an override of its own would make the arms differ
RESERVED = (
    "seed", "adversarial.steps", "adversarial.eval_every", "evaluation.num_samples", "threads", "logger",
    "hydra.run.dir", "generator.pretrained", "estimator", "resume", "pretrain.continue_from_pretrained",
)  # fmt: skip


class ProtocolError(ValueError):
    """A protocol file that cannot be run as written; the message names the file and the key."""


@dataclass(frozen=True)
class Arm:
    """One arm: an estimator (or MLE continued) with its own overrides and the schedules it runs under.

    ``schedules``: names of the protocol's schedules (empty for an arm without a temperature schedule);
    ``mle_epochs``: for the MLE arm, its epochs or ``"auto"`` (the GAN arms' mean wall time, see
    ``textgan.evaluation.comparison_report.matched_mle_epochs``); None for GAN arms.
    """

    name: str
    estimator: str | None
    overrides: tuple[str, ...] = ()
    schedules: tuple[str, ...] = ()
    mle_epochs: int | str | None = None

    @property
    def is_mle(self) -> bool:
        return self.estimator is None


@dataclass(frozen=True)
class Pilot:
    """Short runs per candidate value of one override per arm; the lowest ``criterion`` wins."""

    steps: int
    seeds: tuple[int, ...]
    criterion: str
    diagnostics_every: int
    candidates: dict[str, tuple[str, tuple[Any, ...]]]  # arm -> (override key, candidate values)


@dataclass(frozen=True)
class Protocol:
    """A checked protocol file (see the module docstring); ``path`` is where it was read from."""

    path: Path
    pretrained: str | None
    seeds: tuple[int, ...]
    steps: int
    eval_every: int
    num_samples: int
    threads: int
    overrides: tuple[str, ...]
    schedules: dict[str, dict[str, Any]]
    arms: dict[str, Arm]
    pilot: Pilot | None
    temperatures: tuple[float, ...]
    frontier_num_samples: int


# ------------------------------------------------------------------------------------------------ reading
def find_protocol(name_or_path: str | Path) -> Path:
    """A protocol file: a path, or a name in ``conf/comparison/`` (``fair_oracle``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONF_DIR / "comparison" / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    known = sorted(p.stem for p in (CONF_DIR / "comparison").glob("*.yaml"))
    raise FileNotFoundError(f"{path}: no such protocol file (shipped protocols: {', '.join(known)})")


def load_protocol(name_or_path: str | Path, pretrained: str | None = None) -> Protocol:
    """Read and check a protocol file; ``pretrained`` (the command line's) replaces the file's generator."""
    from omegaconf import OmegaConf

    path = find_protocol(name_or_path)
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(raw, dict):
        raise ProtocolError(f"{path}: a protocol is a mapping of {', '.join(PROTOCOL_KEYS)}")
    where = _Where(path)
    where.known(raw, PROTOCOL_KEYS, "")
    seeds = tuple(where.integer(seed, "seeds", 0) for seed in where.sequence(raw.get("seeds", [0, 1, 2]), "seeds"))
    if not seeds or len(set(seeds)) != len(seeds):
        raise ProtocolError(f"{path}: seeds must be distinct integers, at least one")
    overrides = tuple(str(word) for word in where.sequence(raw.get("overrides") or [], "overrides"))
    where.unreserved(overrides, "overrides")
    schedules = _schedules(where, raw.get("schedules") or {})
    arms_raw = raw.get("arms")
    if not isinstance(arms_raw, dict) or not arms_raw:
        raise ProtocolError(f"{path}: arms must map arm names to their settings (at least one arm)")
    arms = {str(name): _arm(where, str(name), settings or {}, schedules) for name, settings in arms_raw.items()}
    frontier = raw.get("frontier") or {}
    where.known(frontier, FRONTIER_KEYS, "frontier.")
    temperatures = tuple(float(t) for t in where.sequence(frontier.get("temperatures", [1.0]), "frontier.temperatures"))
    if not temperatures or min(temperatures) <= 0:
        raise ProtocolError(f"{path}: frontier.temperatures must be positive numbers, at least one")
    num_samples = where.integer(raw.get("num_samples", 10_000), "num_samples", 1)
    return Protocol(
        path=path,
        pretrained=pretrained if pretrained is not None else raw.get("pretrained"),
        seeds=seeds,
        steps=where.integer(raw.get("steps", 200), "steps", 1),
        eval_every=where.integer(raw.get("eval_every", 20), "eval_every", 1),
        num_samples=num_samples,
        threads=where.integer(raw.get("threads", 1), "threads", 1),
        overrides=overrides,
        schedules=schedules,
        arms=arms,
        pilot=_pilot(where, raw.get("pilot"), arms),
        temperatures=temperatures,
        frontier_num_samples=where.integer(frontier.get("num_samples") or num_samples, "frontier.num_samples", 1),
    )


class _Where:
    """Checks that name the protocol file and the key in their errors."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def known(self, node: Any, keys: Sequence[str], prefix: str) -> None:
        if not isinstance(node, dict):
            raise ProtocolError(f"{self.path}: {prefix.rstrip('.') or 'the file'} must be a mapping")
        for key in node:
            if key not in keys:
                raise ProtocolError(f"{self.path}: unknown key '{prefix}{key}' (known: {', '.join(keys)})")

    def sequence(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise ProtocolError(f"{self.path}: {key} must be a list, got {value!r}")
        return value

    def integer(self, value: Any, key: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ProtocolError(f"{self.path}: {key} must be an integer >= {minimum}, got {value!r}")
        return value

    def unreserved(self, words: Sequence[str], key: str) -> None:
        for word in words:
            name = re.split(r"[=@]", word.lstrip("+~"), maxsplit=1)[0]
            if name in RESERVED:
                raise ProtocolError(f"{self.path}: {key}: '{word}' sets {name}, which the protocol sets for every run")


def _estimator_node(where: _Where, name: str, key: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    file = CONF_DIR / "estimator" / f"{name}.yaml"
    if not file.is_file():
        known = sorted(p.stem for p in (CONF_DIR / "estimator").glob("*.yaml"))
        raise ProtocolError(f"{where.path}: {key}: unknown estimator '{name}' (known: {', '.join(known)})")
    node = OmegaConf.to_container(OmegaConf.load(file), resolve=False)
    node.pop("defaults", None)
    return node


def _schedules(where: _Where, raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ProtocolError(f"{where.path}: schedules must map schedule names to beta_max, adapt, horizon")
    schedules = {}
    for name, schedule in raw.items():
        where.known(schedule, SCHEDULE_KEYS, f"schedules.{name}.")
        schedules[str(name)] = dict(schedule)
    return schedules


def _arm(where: _Where, name: str, settings: Any, schedules: dict[str, dict[str, Any]]) -> Arm:
    where.known(settings, ARM_KEYS, f"arms.{name}.")
    if not re.fullmatch(r"[A-Za-z0-9_.]+", name):
        raise ProtocolError(f"{where.path}: arms.{name}: an arm's name is letters, digits, '_' and '.' (a folder)")
    overrides = tuple(str(word) for word in where.sequence(settings.get("overrides") or [], f"arms.{name}.overrides"))
    where.unreserved(overrides, f"arms.{name}.overrides")
    if settings.get("mle"):
        if "estimator" in settings or "schedules" in settings:
            raise ProtocolError(f"{where.path}: arms.{name}: an MLE arm (mle: true) takes no estimator or schedules")
        epochs = settings.get("epochs", "auto")
        if epochs != "auto":
            epochs = where.integer(epochs, f"arms.{name}.epochs", 1)
        return Arm(name, None, overrides, (), epochs)
    if "epochs" in settings:
        raise ProtocolError(f"{where.path}: arms.{name}.epochs: only an MLE arm (mle: true) has epochs")
    estimator = settings.get("estimator")
    if not isinstance(estimator, str):
        raise ProtocolError(f"{where.path}: arms.{name}.estimator: name a conf/estimator choice (or set mle: true)")
    node = _estimator_node(where, estimator, f"arms.{name}.estimator")
    relaxed = isinstance(node.get("schedule"), dict)
    chosen: tuple[str, ...] = ()
    if relaxed and schedules:
        chosen = tuple(settings.get("schedules") or schedules)
        for schedule in chosen:
            if schedule not in schedules:
                raise ProtocolError(
                    f"{where.path}: arms.{name}.schedules: unknown schedule '{schedule}' "
                    f"(known: {', '.join(schedules)})"
                )
            _check_schedule(where, name, node, schedules[schedule], schedule)
        if any(word.startswith("estimator.schedule.") for word in overrides):
            raise ProtocolError(
                f"{where.path}: arms.{name}.overrides: the protocol's schedules set estimator.schedule.* for every "
                "relaxed arm alike; an arm may not set its own"
            )
    elif "schedules" in settings:
        raise ProtocolError(
            f"{where.path}: arms.{name}.schedules: '{estimator}' has no temperature schedule"
            if not relaxed
            else f"{where.path}: arms.{name}.schedules: the protocol defines no schedules"
        )
    return Arm(name, estimator, overrides, chosen)


def _check_schedule(where: _Where, arm: str, node: dict[str, Any], schedule: dict[str, Any], name: str) -> None:
    """Refuse a schedule the estimator's class refuses (ReinMax: beta_max <= 1), before any run starts."""
    module, _, cls_name = str(node["_target_"]).rpartition(".")
    cls = getattr(importlib.import_module(module), cls_name)
    arguments = {**node, "schedule": {**node["schedule"], **schedule}}
    try:
        refusals = declared_relations(cls, arguments)
    except (KeyError, TypeError):  # a relation that needs keys the estimator file leaves to their defaults
        return
    for key, allowed in refusals:
        raise ProtocolError(
            f"{where.path}: arms.{arm}: schedule '{name}' gives estimator.{key}={_dig(arguments, key)!r}, but "
            f"{cls_name} needs {allowed}; list the schedules it can take in arms.{arm}.schedules"
        )


def _dig(node: Mapping[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _pilot(where: _Where, raw: Any, arms: dict[str, Arm]) -> Pilot | None:
    if not raw:
        return None
    where.known(raw, PILOT_KEYS, "pilot.")
    criterion = raw.get("criterion", "gradient_variance")
    if criterion not in CRITERIA:
        raise ProtocolError(f"{where.path}: pilot.criterion: '{criterion}' is not one of {', '.join(CRITERIA)}")
    candidates: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for arm, choice in (raw.get("candidates") or {}).items():
        if arm not in arms or arms[arm].is_mle:
            raise ProtocolError(f"{where.path}: pilot.candidates.{arm}: not a GAN arm of this protocol")
        if not isinstance(choice, dict) or len(choice) != 1:
            raise ProtocolError(f"{where.path}: pilot.candidates.{arm}: one override key with its list of values")
        ((key, values),) = choice.items()
        values = where.sequence(values, f"pilot.candidates.{arm}.{key}")
        where.unreserved([f"{key}=x"], f"pilot.candidates.{arm}")
        if len(values) < 2:
            raise ProtocolError(f"{where.path}: pilot.candidates.{arm}.{key}: at least two values to choose from")
        candidates[arm] = (str(key), tuple(values))
    seeds = tuple(where.integer(s, "pilot.seeds", 0) for s in where.sequence(raw.get("seeds", [0]), "pilot.seeds"))
    return Pilot(
        steps=where.integer(raw.get("steps", 50), "pilot.steps", 1),
        seeds=seeds,
        criterion=criterion,
        diagnostics_every=where.integer(raw.get("diagnostics_every", 5), "pilot.diagnostics_every", 1),
        candidates=candidates,
    )
