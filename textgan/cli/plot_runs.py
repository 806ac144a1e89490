"""Curves of one evaluation metric over adversarial training, for several runs on one plot.

Reads each run's ``summary.json`` (written by ``textgan-train``; ``adversarial_history`` holds every
evaluation, step 0 included) and writes a PNG, a markdown table of the values at each evaluated step, and the
points as JSON. Runs are given as directories; a multirun folder stands for all its runs. Example::

    textgan-plot-runs multirun/relgan_oracle_cpu/2026-11-25_10-00-00 --metric nll_oracle \\
        --out results/estimators
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def find_runs(paths: list[str]) -> list[Path]:
    """Run directories (holding ``summary.json``) among ``paths`` and their subdirectories, sorted by name."""
    runs: list[Path] = []
    for name in paths:
        path = Path(name)
        if (path / "summary.json").is_file():
            runs.append(path)
        else:
            found = sorted(summary.parent for summary in path.glob("*/summary.json"))
            if not found:
                raise FileNotFoundError(f"{path}: no summary.json there or in its subdirectories")
            runs.extend(found)
    return runs


def load_curves(runs: list[Path], metric: str) -> dict[str, list[tuple[int, float]]]:
    """``{run label: [(step, value), ...]}``, the label being the run directory's name."""
    curves = {}
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        history = summary.get("adversarial_history") or []
        points = [(int(row["step"]), float(row[metric])) for row in history if metric in row]
        if not points:
            raise ValueError(f"{run / 'summary.json'}: no adversarial evaluation with metric {metric!r}")
        curves[run.name] = points
    return curves


def markdown_table(curves: dict[str, list[tuple[int, float]]], metric: str) -> str:
    steps = sorted({step for points in curves.values() for step, _ in points})
    lines = ["| step | " + " | ".join(curves) + " |", "|---|" + "---|" * len(curves)]
    for step in steps:
        cells = [f"{dict(points)[step]:.4f}" if step in dict(points) else "" for points in curves.values()]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    return f"{metric} by adversarial iteration\n\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="textgan-plot-runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories or multirun folders")
    parser.add_argument("--metric", default="nll_oracle", help="a key of the evaluations (nll_oracle, bleu5, ...)")
    parser.add_argument("--out", required=True, help="output prefix: writes OUT.png, OUT.md and OUT.json")
    args = parser.parse_args(argv)
    curves = load_curves(find_runs(args.runs), args.metric)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(curves, indent=2))
    out.with_suffix(".md").write_text(markdown_table(curves, args.metric))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for label, points in curves.items():
        axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=label)
    axes.set_xlabel("adversarial iteration")
    axes.set_ylabel(args.metric)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out.with_suffix(".png"), dpi=120)
    print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
