"""Training run folders: find them (a run, or a multirun folder of runs), read them, label them by config.

A run folder is what ``textgan-train`` leaves: ``summary.json`` (``config``, ``after_pretraining``,
``after_adversarial``, ``finished``, ...), ``config.yaml``, ``generator.pt``. A Hydra multirun folder holds one
run per job in subfolders ``{job.num}-{estimator}-seed{seed}``. Runs are labelled by config keys (``--group-by``):
``estimator`` names the estimator as ``textgan.train.run_name`` does (``gumbel_softmax``, ``reinforce``), any
other key is a dotted config path (``loss``, ``adversarial.steps``); a config node with a ``_target_`` is named
by its class (``RSGANLoss`` -> ``rsgan``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES = ("after_adversarial", "after_pretraining")
STAGE_COSTS = {"after_adversarial": "seconds_per_iteration"}  # summary key of a stage's cost, read as a metric
RUN_MARKERS = ("summary.json", "config.yaml", ".hydra", "checkpoints", "train.log")  # any one: a run folder
UNSET = "(unset)"
CSV_LOG = Path("csv", "version_0", "metrics.csv")  # every run's metrics log (textgan.training.csv_log)


class NoRunsError(ValueError):
    """A folder holds no training run, neither itself nor in its subfolders."""


def target_name(target: str, suffix: str = "") -> str:
    """``pkg.mod.GumbelSoftmaxEstimator`` -> ``gumbel_softmax`` (``suffix`` ``Estimator`` dropped), snake case.

    Runs of capitals stay together (``RSGANLoss`` -> ``rsgan``); estimator names equal ``textgan.train.run_name``'s.
    """
    name = target.rsplit(".", 1)[-1]
    if suffix and name.endswith(suffix) and name != suffix:
        name = name[: -len(suffix)]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def config_value(config: dict[str, Any], key: str) -> str | None:
    """The label part ``key`` gives a resolved config: a class name for a ``_target_`` node; None when unset."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, dict) and "_target_" in node:
        return target_name(str(node["_target_"]), suffix=key.rsplit(".", 1)[-1].title())
    return json.dumps(node) if isinstance(node, (dict, list)) else str(node)


@dataclass(frozen=True)
class Run:
    """One training run folder and its ``summary.json`` (empty when there is none yet)."""

    path: Path
    summary: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def config(self) -> dict[str, Any]:
        return self.summary.get("config") or {}

    @property
    def seed(self) -> int | None:
        return self.config.get("seed")

    @property
    def finished(self) -> bool:
        """Training ended; summaries written before ``finished`` existed were only written at the end."""
        return bool(self.summary.get("finished", bool(self.summary)))

    def metrics(self, stage: str) -> dict[str, float]:
        """The stage's final evaluation (metric -> value), without its ``step``; empty when it has none.

        After the adversarial stage the run's cost, ``seconds_per_iteration`` (evaluations left out), comes last.
        """
        values = self.summary.get(stage) or {}
        metrics = {name: float(value) for name, value in values.items() if name != "step" and value is not None}
        cost = STAGE_COSTS.get(stage)
        if metrics and cost and self.summary.get(cost) is not None:
            metrics[cost] = float(self.summary[cost])
        return metrics

    def label(self, keys: Sequence[str]) -> tuple[str, ...]:
        """The run's value of each group-by key (``UNSET`` where its config lacks the key)."""
        return tuple(config_value(self.config, key) or UNSET for key in keys)


def logged_columns(folder: Path, columns: Sequence[str]) -> dict[str, list[float]]:
    """Every logged value of ``columns`` in a run's CSV log, in order (missing file or column: [])."""
    values: dict[str, list[float]] = {column: [] for column in columns}
    for row in _logged_rows(folder):
        for column in columns:
            if row.get(column) not in (None, ""):
                values[column].append(float(row[column]))
    return values


def logged_history(folder: Path, prefix: str) -> list[dict[str, float]]:
    """A stage's evaluations as the run's CSV log holds them, for a run whose ``summary.json`` does not (yet):
    ``[{"step": s, metric: value, ...}, ...]`` by step (a step logged twice: its last row), the shape of the
    summary's ``pretrain_history`` / ``adversarial_history``; ``prefix`` is the stage's log prefix, ``pretrain``
    or ``adversarial`` (columns ``{prefix}/eval/{metric}``). [] without a log or evaluations.
    """
    head = f"{prefix}/eval/"
    history: dict[int, dict[str, float]] = {}
    for row in _logged_rows(folder):
        if row.get(head + "step") in (None, ""):
            continue
        step = int(float(row[head + "step"]))
        values = {
            column[len(head) :]: float(value)
            for column, value in row.items()
            if column.startswith(head) and column != head + "step" and value not in (None, "")
        }
        history[step] = {"step": step, **values}
    return [history[step] for step in sorted(history)]


def _logged_rows(folder: Path) -> Iterable[dict[str, str]]:
    file = Path(folder) / CSV_LOG
    if not file.is_file():
        return
    with file.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _job_order(path: Path) -> tuple[int, str]:
    number = re.match(r"\d+", path.name)
    return (int(number.group()) if number else 1 << 62, path.name)


def _is_run(path: Path) -> bool:
    return any((path / marker).exists() for marker in RUN_MARKERS)


def _read(path: Path) -> Run:
    file = path / "summary.json"
    if not file.is_file():
        return Run(path)
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{file}: not a readable summary ({error})") from None
    return Run(path, summary if isinstance(summary, dict) else {})


def find_runs(folders: Iterable[str | Path]) -> list[Run]:
    """Every run in ``folders``: a folder that is a run, else its subfolders that are (in job order).

    A run folder is one with any of ``RUN_MARKERS``; a started run without ``summary.json`` comes back with an
    empty summary (unfinished). Each run comes once, however often it is named. Raises FileNotFoundError for a
    missing folder and ``NoRunsError`` for one without any run.
    """
    runs: dict[Path, Run] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such folder")
        found = [folder] if _is_run(folder) else sorted(filter(_is_run, _subfolders(folder)), key=_job_order)
        if not found:
            raise NoRunsError(
                f"{folder}: no training run there or in its subfolders (a run folder holds "
                f"{' or '.join(RUN_MARKERS[:2])})"
            )
        for path in found:
            runs.setdefault(path.resolve(), _read(path))
    return list(runs.values())


def _subfolders(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.is_dir() and not path.name.startswith(".")]


@dataclass
class RunSelection:
    """The runs fit to use, and the ones left out with why (``{reason: [run folder, ...]}``)."""

    runs: list[Run]
    skipped: dict[str, list[Path]] = field(default_factory=dict)

    def warning(self) -> str | None:
        """One line counting the skipped runs by reason and naming them; None when none was skipped."""
        if not self.skipped:
            return None
        total = sum(len(paths) for paths in self.skipped.values())
        parts = [
            f"{len(paths)} {reason} ({', '.join(path.name for path in paths)})"
            for reason, paths in self.skipped.items()
        ]
        return f"skipped {total} of {total + len(self.runs)} run(s): " + "; ".join(parts)


def select_runs(runs: Iterable[Run], stage: str | None = None, file: str | None = None) -> RunSelection:
    """The finished runs that have ``stage``'s metrics (when given) and ``file`` (when given).

    Raises ValueError when no run is left, the warning saying why.
    """
    if stage is not None and stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    selection = RunSelection([])
    for run in runs:
        if not run.finished:
            reason = "unfinished"
        elif stage is not None and not run.metrics(stage):
            reason = f"without {stage} metrics"
        elif file is not None and not (run.path / file).is_file():
            reason = f"without {file}"
        else:
            selection.runs.append(run)
            continue
        selection.skipped.setdefault(reason, []).append(run.path)
    if not selection.runs:
        raise ValueError(f"no usable run: {selection.warning() or 'no run given'}")
    return selection


def group_runs(runs: Iterable[Run], keys: Sequence[str]) -> dict[tuple[str, ...], list[Run]]:
    """Runs by their label under ``keys`` (in order of first appearance).

    Raises ValueError for an empty key list and for a key that no run's config has (a typo, most likely).
    """
    runs = list(runs)
    if not keys:
        raise ValueError("group by at least one key (e.g. estimator)")
    for index, key in enumerate(keys):
        if runs and all(run.label(keys)[index] == UNSET for run in runs):
            raise ValueError(f"no run's config has {key!r} to group by")
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(run.label(keys), []).append(run)
    return groups


def parse_group_by(text: str) -> list[str]:
    """``"estimator,loss"`` -> ``["estimator", "loss"]`` (blanks dropped, duplicates once)."""
    return list(dict.fromkeys(key.strip() for key in text.split(",") if key.strip()))
