"""Curves of one evaluation metric over adversarial training, for several runs on one plot.

Reads each run's ``summary.json`` (written by ``textgan-train``; ``adversarial_history`` holds every evaluation,
step 0 included), or for a stage the summary does not hold yet (a run still going, or stopped) the same evaluations
from the run's CSV log, saying so on stderr; writes a PNG, a markdown table of the values at each evaluated step,
and the points as JSON. ``--with-pretraining`` adds the MLE stage (``pretrain_history``, by epoch; for a run
started from ``generator.pretrained=FILE``, the history of the run that wrote FILE, read from FILE's folder) as a
panel on the left, sharing the metric's axis, a table of its own, and the JSON becomes ``{"pretraining": ...,
"adversarial": ...}``; ``--stage pretraining`` plots the MLE stage alone (runs with no adversarial stage).
Runs are given as directories; a multirun folder stands for all its runs. With ``--group-by``
(config keys, as ``textgan-evaluate --runs`` takes them) the runs of each model (its seeds) become one mean
curve with a shaded ±1 sample standard deviation band (ddof=1), at the steps every run of the model evaluated.
Example::

    textgan-plot-runs multirun/relgan_oracle_cpu/2026-11-25_10-00-00 --metric nll_oracle \\
        --out results/estimators --group-by estimator
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from textgan.evaluation.report import Summary, format_mean_std
from textgan.evaluation.runs import CSV_LOG, UNSET, config_value, logged_history, parse_group_by

RUN_FILES = ("summary.json", str(CSV_LOG))  # a run directory holds one of them, or both


def find_runs(paths: list[str]) -> list[Path]:
    """Run directories (holding ``summary.json`` or a CSV log) among ``paths`` and their subdirectories, sorted
    by name."""
    runs: list[Path] = []
    for name in paths:
        path = Path(name)
        if any((path / file).is_file() for file in RUN_FILES):
            runs.append(path)
        else:
            found = sorted(
                {hit.parent for hit in path.glob("*/summary.json")}
                | {hit.parents[len(CSV_LOG.parts) - 1] for hit in path.glob(f"*/{CSV_LOG.as_posix()}")}
            )
            if not found:
                raise FileNotFoundError(f"{path}: no summary.json or {CSV_LOG} there or in its subdirectories")
            runs.extend(found)
    return runs


def read_summaries(runs: list[Path]) -> dict[Path, dict]:
    """Each run's ``summary.json``, read once ({} for a run that has none yet)."""
    return {
        run: json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {} for run in runs
    }


# stage -> (its history in summary.json, what its steps count, its prefix in the CSV log)
STAGES = {
    "pretraining": ("pretrain_history", "MLE epoch", "pretrain"),
    "adversarial": ("adversarial_history", "adversarial iteration", "adversarial"),
}


def load_curves(
    runs: list[Path], metric: str, summaries: dict[Path, dict] | None = None, stage: str = "adversarial"
) -> dict[str, list]:
    """``{run label: [(step, value), ...]}`` of one stage (a key of ``STAGES``), the label being the run
    directory's name, with as many parent folders as it takes to tell runs of the same name apart
    (:func:`run_labels`). A stage the run's ``summary.json`` does not hold comes from its CSV log (a note on
    stderr names the run and its last step)."""
    summaries = summaries or read_summaries(runs)
    labels = run_labels(runs)
    curves = {}
    for run in runs:
        summary = summaries[run]
        history = summary.get(STAGES[stage][0]) or []
        if not history:
            history = logged_history(run, STAGES[stage][2])
            if history:
                print(
                    f"textgan-plot-runs: {run}: {stage} read from {CSV_LOG} (unfinished: last evaluation at "
                    f"step {history[-1]['step']})",
                    file=sys.stderr,
                )
        if stage == "pretraining" and not history:
            history = pretraining_of_the_pretrained(summary)
        points = [(int(row["step"]), float(row[metric])) for row in history if metric in row]
        if not points:
            raise ValueError(f"{run}: no {stage} evaluation with metric {metric!r} in summary.json or {CSV_LOG}")
        curves[labels[run]] = points
    return curves


def run_labels(runs: list[Path]) -> dict[Path, str]:
    """Each run's folder name, or its last two, three, ... path parts where folder names repeat
    (``peer/seed123`` beside ``ours/seed123``), so that no run's curve replaces another's."""
    parts = {run: run.resolve().parts for run in runs}
    labels = {}
    for run in runs:
        for depth in range(1, len(parts[run]) + 1):
            label = "/".join(parts[run][-depth:])
            if sum(other[-depth:] == parts[run][-depth:] for other in parts.values()) == 1:
                break
        labels[run] = label
    return labels


def pretraining_of_the_pretrained(summary: dict) -> list[dict]:
    """The MLE history of the run that wrote the ``generator.pretrained`` file a run started from (that file's
    folder's ``summary.json``), or [] when there is none."""
    pretrained = summary.get("pretrained_from")
    source = Path(pretrained).parent / "summary.json" if pretrained else None
    if source is None or not source.is_file():
        return []
    return json.loads(source.read_text()).get(STAGES["pretraining"][0]) or []


def group_curves(
    runs: list[Path], curves: dict[str, list[tuple[int, float]]], keys: list[str], summaries: dict[Path, dict]
) -> dict[str, dict]:
    """``{model: {"runs": {run: points}, "mean": [(step, v)], "std": [(step, s)]}}``, models told apart by ``keys``.

    The model's label joins its config values of ``keys`` with ``/`` (keys its config lacks left out); mean
    and sample standard deviation (ddof=1, NaN for one run) are taken at the steps every run of the model
    evaluated. Raises ValueError for a key that no run's config has.
    """
    models: dict[str, dict] = {}
    found: set[str] = set()
    labels = run_labels(runs)
    for run in runs:
        config = summaries[run].get("config") or {}
        values = [config_value(config, key) for key in keys]
        found.update(key for key, value in zip(keys, values, strict=True) if value is not None)
        label = "/".join(value for value in values if value is not None) or UNSET
        models.setdefault(label, {"runs": {}})["runs"][labels[run]] = curves[labels[run]]
    for key in keys:
        if key not in found:
            raise ValueError(f"no run's config has {key!r} to group by")
    for model in models.values():
        tables = [dict(points) for points in model["runs"].values()]
        steps = sorted(set.intersection(*(set(table) for table in tables)))
        values = np.array([[table[step] for table in tables] for step in steps]).reshape(len(steps), len(tables))
        std = values.std(axis=1, ddof=1) if len(tables) > 1 else np.full(len(steps), np.nan)
        model["mean"] = [(step, float(v)) for step, v in zip(steps, values.mean(axis=1), strict=True)]
        model["std"] = [(step, float(s)) for step, s in zip(steps, std, strict=True)]
    return models


def grouped_markdown_table(models: dict[str, dict], metric: str, stage: str = "adversarial") -> str:
    """One column per model: ``mean ± std`` over its runs at each step (n runs in the header)."""
    steps = sorted({step for model in models.values() for step, _ in model["mean"]})
    header = [f"{label} (n={len(model['runs'])})" for label, model in models.items()]
    lines = ["| step | " + " | ".join(header) + " |", "|---|" + "---:|" * len(models)]
    columns = [(dict(model["mean"]), dict(model["std"]), len(model["runs"])) for model in models.values()]
    for step in steps:
        cells = [
            format_mean_std(Summary(mean[step], std[step], n, mean[step], mean[step])) if step in mean else ""
            for mean, std, n in columns
        ]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return f"{metric} by {STAGES[stage][1]}, mean ± sample standard deviation over each model's runs\n\n" + (
        "\n".join(lines) + "\n"
    )


def markdown_table(curves: dict[str, list[tuple[int, float]]], metric: str, stage: str = "adversarial") -> str:
    steps = sorted({step for points in curves.values() for step, _ in points})
    lines = ["| step | " + " | ".join(curves) + " |", "|---|" + "---|" * len(curves)]
    for step in steps:
        cells = [f"{dict(points)[step]:.4f}" if step in dict(points) else "" for points in curves.values()]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return f"{metric} by {STAGES[stage][1]}\n\n" + "\n".join(lines) + "\n"


def plot_stage(axes, curves: dict[str, list], models: dict[str, dict] | None, stage: str, metric: str) -> None:
    """One stage's curves (or mean curves with ±1 std bands) on ``axes``."""
    if models is None:
        for label, points in curves.items():
            axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=label)
    for label, model in (models or {}).items():
        steps, mean = (np.array(column) for column in zip(*model["mean"], strict=True))
        std = np.array([s for _, s in model["std"]])
        (line,) = axes.plot(steps, mean, marker="o", markersize=3, label=f"{label} (n={len(model['runs'])})")
        if len(model["runs"]) > 1:
            axes.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.15, linewidth=0)
    axes.set_xlabel(STAGES[stage][1])
    axes.set_ylabel(metric)
    axes.legend(fontsize=8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="textgan-plot-runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories or multirun folders")
    parser.add_argument("--metric", default="nll_oracle", help="a key of the evaluations (nll_oracle, bleu5, ...)")
    parser.add_argument("--out", required=True, help="output prefix: writes OUT.png, OUT.md and OUT.json")
    parser.add_argument("--group-by", default=None, help="config keys (e.g. estimator): one mean ± std curve per model")
    parser.add_argument("--with-pretraining", action="store_true", help="also plot the MLE stage, by epoch")
    parser.add_argument(
        "--stage",
        choices=sorted(STAGES),
        default="adversarial",
        help="the one stage to plot (default adversarial; pretraining: the MLE stage alone, e.g. of MLE-only runs)",
    )
    args = parser.parse_args(argv)
    keys = parse_group_by(args.group_by) if args.group_by is not None else None
    if keys == []:
        parser.error("--group-by needs at least one config key (e.g. estimator)")
    if args.with_pretraining and args.stage != "adversarial":
        parser.error("--with-pretraining plots both stages: leave out --stage")
    stages = ["pretraining", "adversarial"] if args.with_pretraining else [args.stage]
    results, tables = {}, []
    try:
        runs = find_runs(args.runs)
        summaries = read_summaries(runs)
        for stage in stages:
            curves = load_curves(runs, args.metric, summaries, stage)
            models = group_curves(runs, curves, keys, summaries) if keys else None
            results[stage] = (curves, models)
            table = grouped_markdown_table if models else markdown_table
            tables.append(table(models if models else curves, args.metric, stage))
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"textgan-plot-runs: error: {error}\n")
    points = {stage: models if models is not None else curves for stage, (curves, models) in results.items()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = points if args.with_pretraining else points[args.stage]
    out.with_suffix(".json").write_text(json.dumps(written, indent=2))
    out.with_suffix(".md").write_text("\n".join(tables))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = (7 if keys else 6) * (1.6 if args.with_pretraining else 1)
    figure, panels = plt.subplots(1, len(stages), figsize=(width, 4.5 if keys else 4), sharey=True, squeeze=False)
    for axes, stage in zip(panels[0], stages, strict=True):
        plot_stage(axes, *results[stage], stage, args.metric)
    figure.tight_layout()
    figure.savefig(out.with_suffix(".png"), dpi=120)
    print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
