"""What a comparison's runs say: the table of each row's metrics over seeds, the pilot's choice, MLE's wall time.

Reads the run folders ``textgan.evaluation.comparison.plan_runs`` names (``summary.json`` and the CSV log
``csv/version_0/metrics.csv``). ``comparison_rows`` gives one ``Row`` per arm (and schedule): each metric's mean,
sample standard deviation, 95 % Student-t interval and n over the seeds, and whether the row is complete (every
seed finished every step) or partial; a first row holds the pretrained generator itself (the step-0 evaluation
of the GAN runs, seed by seed). ``markdown_table``, ``csv_table`` and ``json_rows`` lay them out.
``pilot_choice`` scores the pilot's candidates and ``matched_mle_epochs`` turns the GAN arms' wall time into
MLE epochs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textgan.evaluation.comparison import Protocol
from textgan.evaluation.comparison_plan import PlannedRun, candidate_folder, choice_override, plan_pilot, plan_runs
from textgan.evaluation.report import Summary, confidence_interval, format_mean_std, summarize
from textgan.evaluation.runs import logged_columns

PRETRAINED_ROW = "mle_pretrained"  # the pretrained generator at temperature 1: the step-0 evaluations
SAMPLE_METRICS = ("nll_oracle", "nll_gen", *(f"bleu{n}" for n in range(2, 6)), *(f"self_bleu{n}" for n in range(2, 6)))
LEARNED = {"adversarial/eta": "learned_eta", "adversarial/temperature": "learned_tau"}  # REBAR / RELAX's CSV columns
GRADIENT_NORM = "adversarial/diagnostics/gradient_norm"
LEVEL = 0.95


def read_summary(folder: Path) -> dict[str, Any]:
    """A run folder's ``summary.json`` ({} when there is none or it cannot be read)."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return summary if isinstance(summary, dict) else {}


def learned_values(folder: Path) -> dict[str, float]:
    """The last logged ``eta`` and ``tau`` of a REBAR / RELAX run (``learned_eta``, ``learned_tau``); {} for
    other estimators."""
    logged = logged_columns(folder, list(LEARNED))
    return {LEARNED[column]: values[-1] for column, values in logged.items() if values}


def mean_squared_gradient_norm(folder: Path) -> float | None:
    """The mean of the squared gradient norms a run logged with ``diagnostics.every`` (None if none)."""
    norms = logged_columns(folder, [GRADIENT_NORM])[GRADIENT_NORM]
    return sum(norm * norm for norm in norms) / len(norms) if norms else None


# ------------------------------------------------------------------------------------------------ rows
@dataclass
class Row:
    """One row of the table: an arm (and schedule), its runs' seeds and each metric's ``Summary``."""

    name: str
    seeds: list[int]
    metrics: dict[str, Summary]
    complete: bool
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.seeds)

    def status(self, total: int) -> str:
        if self.complete:
            return "complete"
        return "partial: " + "; ".join([f"{self.n} of {total} seeds", *self.notes])


def _run_metrics(run: PlannedRun, summary: dict[str, Any], is_mle: bool) -> dict[str, float]:
    stage = "after_pretraining" if is_mle else "after_adversarial"
    values = {k: float(v) for k, v in (summary.get(stage) or {}).items() if k in SAMPLE_METRICS and v is not None}
    if is_mle:
        if summary.get("pretrain_seconds") is not None:
            values["wall_seconds"] = float(summary["pretrain_seconds"])
        return values
    for key, name in (("seconds_per_iteration", "seconds_per_iteration"), ("adversarial_seconds", "wall_seconds")):
        if summary.get(key) is not None:
            values[name] = float(summary[key])
    return {**values, **learned_values(run.folder)}


def _target(protocol: Protocol, run: PlannedRun) -> tuple[str, int | None]:
    """(history key, the step its last evaluation must reach) of a finished, complete run."""
    arm = protocol.arms[run.arm]
    if arm.is_mle:
        epochs = arm.mle_epochs if isinstance(arm.mle_epochs, int) else None
        return "pretrain_history", epochs
    return "adversarial_history", protocol.steps


def comparison_rows(protocol: Protocol, out: str | Path, plan: Sequence[PlannedRun] | None = None) -> list[Row]:
    """The pretrained generator's row, then one row per arm (and schedule) in plan order, from the finished runs.

    A row is complete when every seed's run finished with its last evaluation at the protocol's last step (an
    MLE arm with ``epochs: auto``: finished); otherwise it is partial and its notes say what is missing.
    """
    plan = plan if plan is not None else plan_runs(protocol, out, choices={}, mle_epochs=None)
    groups: dict[str, list[PlannedRun]] = {}
    for run in plan:
        groups.setdefault(run.group, []).append(run)
    start: dict[int, dict[str, float]] = {}
    rows = []
    for group, runs in groups.items():
        is_mle = protocol.arms[runs[0].arm].is_mle
        values: dict[str, list[float]] = {}
        seeds, notes = [], []
        for run in runs:
            summary = read_summary(run.folder)
            if not summary.get("finished"):
                last = (summary.get("adversarial_history") or [{}])[-1].get("step")
                notes.append(f"seed {run.seed} " + ("not started" if not summary else f"unfinished at step {last}"))
                continue
            history_key, target = _target(protocol, run)
            history = summary.get(history_key) or []
            if target is not None and (not history or history[-1].get("step") != target):
                notes.append(f"seed {run.seed} ended at step {history[-1].get('step') if history else None}")
                continue
            if not is_mle and history and run.seed not in start:
                start[run.seed] = {k: float(v) for k, v in history[0].items() if k in SAMPLE_METRICS}
            seeds.append(run.seed)
            for name, value in _run_metrics(run, summary, is_mle).items():
                values.setdefault(name, []).append(value)
        metrics = {name: summarize(column) for name, column in values.items() if column}
        rows.append(Row(group, seeds, metrics, complete=len(seeds) == len(protocol.seeds), notes=notes))
    pretrained: dict[str, list[float]] = {}
    for seed in sorted(start):
        for name, value in start[seed].items():
            pretrained.setdefault(name, []).append(value)
    first = Row(
        PRETRAINED_ROW,
        sorted(start),
        {name: summarize(column) for name, column in pretrained.items()},
        complete=len(start) == len(protocol.seeds),
        notes=[] if start else ["no GAN run finished yet"],
    )
    return [first, *rows]


def metric_order(rows: Sequence[Row]) -> list[str]:
    """The table's columns: the sample metrics, then cost and learned values, each only where some row has it."""
    present = {name for row in rows for name in row.metrics}
    tail = ("seconds_per_iteration", "wall_seconds", *LEARNED.values())
    return [name for name in (*SAMPLE_METRICS, *tail) if name in present]


def format_cell(summary: Summary) -> str:
    """``mean ± std [low, high]`` (the 95 % interval); one run: ``mean (n=1, no interval)``."""
    interval = confidence_interval(summary, LEVEL)
    if interval is None:
        return f"{summary.mean:.4f} (n=1, no interval)"
    shown = format_mean_std(summary)
    digits = len(shown.split(" ± ")[0].partition(".")[2])
    return f"{shown} [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def markdown_table(rows: Sequence[Row], protocol: Protocol) -> str:
    """The table: one row per arm with n, seeds, status and ``mean ± std [95 % interval]`` per metric."""
    names = metric_order(rows)
    lines = [
        f"Protocol `{protocol.path}`: {len(protocol.seeds)} seeds, {protocol.steps} adversarial iterations, "
        f"{protocol.num_samples} samples per evaluation. Each cell: mean ± sample standard deviation (ddof=1) over "
        "the row's n seeds [95 % Student-t interval of the mean]; a single seed has no interval. "
        f"`{PRETRAINED_ROW}`: the pretrained generator (the step-0 evaluations).",
        "",
        "| row | n | seeds | status | " + " | ".join(names) + " |",
        "|---|---:|---|---|" + "---:|" * len(names),
    ]
    for row in rows:
        cells = [format_cell(row.metrics[name]) if name in row.metrics else "—" for name in names]
        seeds = ", ".join(map(str, row.seeds)) or "—"
        lines.append(
            f"| {row.name} | {row.n} | {seeds} | {row.status(len(protocol.seeds))} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def _interval_fields(summary: Summary) -> dict[str, Any]:
    interval = confidence_interval(summary, LEVEL)
    return {
        "mean": summary.mean,
        "std": summary.std if summary.n > 1 else None,
        "ci95_low": interval[0] if interval else None,
        "ci95_high": interval[1] if interval else None,
        "n": summary.n,
    }


def csv_table(rows: Sequence[Row]) -> str:
    """CSV: one line per row and metric: row, complete, metric, mean, std, ci95_low, ci95_high, n (empty: none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row", "complete", "metric", "mean", "std", "ci95_low", "ci95_high", "n"])
    for row in rows:
        for name in metric_order([row]):
            fields = _interval_fields(row.metrics[name])
            cells = ["" if fields[k] is None else repr(fields[k]) for k in ("mean", "std", "ci95_low", "ci95_high")]
            writer.writerow([row.name, row.complete, name, *cells, fields["n"]])
    return buffer.getvalue()


def json_rows(rows: Sequence[Row], protocol: Protocol) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts (std and interval None for a single seed)."""
    return [
        {
            "row": row.name,
            "n": row.n,
            "seeds": row.seeds,
            "complete": row.complete,
            "status": row.status(len(protocol.seeds)),
            "metrics": {name: _interval_fields(row.metrics[name]) for name in metric_order([row])},
        }
        for row in rows
    ]


# ------------------------------------------------------------------------------------------------ pilot
def pilot_choice(protocol: Protocol, out: str | Path) -> dict[str, dict[str, Any]]:
    """Per arm of the pilot: each candidate's score (criterion, lower is better; mean over the pilot seeds),
    its learned eta / tau, and the override of the best one. Raises ValueError while a candidate lacks a
    finished run or its score."""
    if protocol.pilot is None:
        return {}
    pilot = protocol.pilot
    runs: dict[tuple[str, str], list[PlannedRun]] = {}
    for run in plan_pilot(protocol, out):
        runs.setdefault((run.arm, run.folder.parent.name), []).append(run)
    choices = {}
    for arm, (key, values) in pilot.candidates.items():
        candidates = {}
        for value in values:
            scores, learned = [], []
            for run in runs[(arm, candidate_folder(value))]:
                summary = read_summary(run.folder)
                if not summary.get("finished"):
                    raise ValueError(f"{run.folder}: the pilot run is not finished (run `textgan-compare pilot`)")
                if pilot.criterion == "gradient_variance":
                    score = mean_squared_gradient_norm(run.folder)
                else:
                    score = (summary.get("after_adversarial") or {}).get(pilot.criterion)
                if score is None or not math.isfinite(score):
                    raise ValueError(f"{run.folder}: no finite {pilot.criterion} to score the candidate by")
                scores.append(float(score))
                learned.append(learned_values(run.folder))
            candidates[str(value)] = {
                "value": value,
                "score": sum(scores) / len(scores),
                "learned": {name: [item[name] for item in learned if name in item] for name in LEARNED.values()},
            }
        best = min(candidates.values(), key=lambda candidate: candidate["score"])
        choices[arm] = {
            "override": choice_override(key, best["value"]),
            "chosen": str(best["value"]),
            "criterion": pilot.criterion,
            "candidates": candidates,
        }
    return choices


def pilot_markdown(choices: dict[str, dict[str, Any]], protocol: Protocol) -> str:
    """The pilot's table: per arm and candidate its score and learned values, the chosen one marked."""
    pilot = protocol.pilot
    lines = [
        f"Pilot of `{protocol.path}`: {pilot.steps} iterations, seeds {', '.join(map(str, pilot.seeds))}; score: "
        + (
            "mean squared norm of the generator's gradient estimate (every "
            f"{pilot.diagnostics_every} iterations), the estimator's variance for these unbiased estimators"
            if pilot.criterion == "gradient_variance"
            else f"final {pilot.criterion}"
        )
        + "; lower is better.",
        "",
        "| arm | candidate | score | learned eta (last) | learned tau (last) | chosen |",
        "|---|---|---:|---:|---:|---|",
    ]
    for arm, choice in choices.items():
        for value, candidate in choice["candidates"].items():
            eta, tau = (", ".join(f"{v:.4g}" for v in candidate["learned"][name]) or "—" for name in LEARNED.values())
            chosen = "yes" if value == choice["chosen"] else ""
            lines.append(f"| {arm} | {value} | {candidate['score']:.6g} | {eta} | {tau} | {chosen} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ MLE's time
def matched_mle_epochs(protocol: Protocol, out: str | Path) -> tuple[int, dict[str, Any]]:
    """MLE epochs that take the GAN arms' mean wall time: mean ``adversarial_seconds`` of their finished runs
    over the seconds per MLE epoch of the run that wrote the pretrained generator (its ``pretrain_seconds`` /
    ``pretrain.epochs``); at least 1. Returns (epochs, how they were computed). Raises ValueError when either
    is unknown: then give the MLE arm its ``epochs`` in the protocol."""
    walls = []
    for run in plan_runs(protocol, out, choices={}, mle_epochs=0):
        if not protocol.arms[run.arm].is_mle:
            summary = read_summary(run.folder)
            if summary.get("finished") and summary.get("adversarial_seconds"):
                walls.append(float(summary["adversarial_seconds"]))
    if not walls:
        raise ValueError(f"{protocol.path}: no GAN run has finished yet, so `epochs: auto` has no wall time to match")
    source = Path(str(protocol.pretrained)).resolve().parent / "summary.json"
    pretraining = read_summary(source.parent)
    epochs_run = ((pretraining.get("config") or {}).get("pretrain") or {}).get("epochs")
    seconds = pretraining.get("pretrain_seconds")
    if not epochs_run or not seconds:
        raise ValueError(
            f"{protocol.path}: `epochs: auto` needs the pretraining run's timing ({source}: pretrain_seconds and "
            "pretrain.epochs); give the MLE arm its epochs instead"
        )
    per_epoch = float(seconds) / int(epochs_run)
    mean_wall = sum(walls) / len(walls)
    epochs = max(1, round(mean_wall / per_epoch))
    return epochs, {
        "epochs": epochs,
        "gan_mean_wall_seconds": mean_wall,
        "gan_runs": len(walls),
        "mle_seconds_per_epoch": per_epoch,
        "from": str(source),
    }
