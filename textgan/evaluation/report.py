"""Seed-aggregated reports: mean ± standard deviation of each metric over the runs (seeds) of each model.

``aggregate`` turns grouped runs (``textgan.evaluation.runs``) into one row per group and metric with the mean,
the sample standard deviation (ddof=1, the unbiased variance's root; undefined for a single run), n, min and max;
``confidence_interval`` gives the Student-t interval of a mean (``student_t_quantile``, without scipy);
``markdown_report`` and ``csv_report`` lay them out, ``write_report`` writes ``report.md`` and ``report.csv``
atomically. ``temperature_bands`` does the same for quality-diversity curves: per label and temperature, the
mean and standard deviation of the two axes over the label's checkpoints.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textgan.atomic_files import atomic_write_text
from textgan.evaluation.runs import Run

CSV_COLUMNS = ("metric", "mean", "std", "n", "min", "max")


@dataclass(frozen=True)
class Summary:
    """Statistics of one metric over n runs; ``std`` is the sample standard deviation (ddof=1), NaN if n < 2."""

    mean: float
    std: float
    n: int
    min: float
    max: float


def student_t_quantile(probability: float, degrees_of_freedom: int) -> float:
    """The ``probability`` quantile of Student's t with ``degrees_of_freedom`` >= 1 (``scipy.stats.t.ppf``).

    Bisection on the distribution function, written with the regularised incomplete beta function, so that the
    package needs no scipy; exact to about 1e-12.
    """
    if not 0.0 < probability < 1.0 or degrees_of_freedom < 1:
        raise ValueError(
            f"need 0 < probability < 1 and degrees of freedom >= 1, got {probability}, {degrees_of_freedom}"
        )
    if probability < 0.5:
        return -student_t_quantile(1.0 - probability, degrees_of_freedom)
    df = float(degrees_of_freedom)

    def upper_tail(t: float) -> float:  # P(T > t) for t >= 0
        return 0.5 * _regularized_beta(df / 2.0, 0.5, df / (df + t * t))

    low, high = 0.0, 1.0
    while upper_tail(high) > 1.0 - probability:
        high *= 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if upper_tail(middle) > 1.0 - probability else (low, middle)
        if high - low < 1e-13 * max(1.0, high):
            break
    return 0.5 * (low + high)


def _regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), by its continued fraction (Numerical Recipes' ``betai``)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return fraction


def confidence_interval(summary: Summary, level: float = 0.95) -> tuple[float, float] | None:
    """The Student-t interval ``mean ± t_{(1+level)/2, n-1} * std / sqrt(n)`` of the mean; None when n < 2
    (one run gives no spread, hence no interval)."""
    if summary.n < 2 or not math.isfinite(summary.std):
        return None
    half = student_t_quantile(0.5 + level / 2.0, summary.n - 1) * summary.std / math.sqrt(summary.n)
    return summary.mean - half, summary.mean + half


def summarize(values: Iterable[float]) -> Summary:
    """Mean, sample standard deviation (ddof=1), n, min and max of ``values`` (at least one)."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        raise ValueError("no values to summarize")
    std = float(array.std(ddof=1)) if array.size > 1 else math.nan
    return Summary(float(array.mean()), std, int(array.size), float(array.min()), float(array.max()))


@dataclass
class GroupSummary:
    """One group of runs (a model): its label, its runs' seeds and each metric's ``Summary``."""

    label: tuple[str, ...]
    runs: list[Run]
    metrics: dict[str, Summary]

    @property
    def seeds(self) -> list[Any]:
        return [run.seed for run in self.runs]


def aggregate(groups: dict[tuple[str, ...], list[Run]], stage: str) -> list[GroupSummary]:
    """Each group's metrics at ``stage`` summarized over its runs (a metric over the runs that have it).

    Metrics keep the order they first appear in; a metric only some runs have gets a smaller n.
    """
    summaries = []
    for label, runs in groups.items():
        values: dict[str, list[float]] = {}
        for run in runs:
            for name, value in run.metrics(stage).items():
                values.setdefault(name, []).append(value)
        metrics = {name: summarize(column) for name, column in values.items()}
        summaries.append(GroupSummary(label, list(runs), metrics))
    return summaries


def format_mean_std(summary: Summary, min_digits: int = 1, max_digits: int = 6) -> str:
    """``mean ± std`` with the std to two significant digits and the mean to the same decimal place.

    A single run (no std) or a zero std shows the mean to 4 decimals and ``± n/a`` / ``± 0``.
    """
    if not math.isfinite(summary.mean):
        return f"{summary.mean} ± {summary.std:.2g}" if math.isfinite(summary.std) else str(summary.mean)
    if not math.isfinite(summary.std) or summary.std == 0:
        tail = "n/a" if summary.n < 2 or not math.isfinite(summary.std) else "0"
        return f"{summary.mean:.4f} ± {tail}"
    digits = 1 - math.floor(math.log10(summary.std))
    digits = min(max(digits, min_digits), max_digits)
    return f"{summary.mean:.{digits}f} ± {summary.std:.{digits}f}"


def metric_names(summaries: Sequence[GroupSummary]) -> list[str]:
    """Every metric of any group, in order of first appearance."""
    return list(dict.fromkeys(name for group in summaries for name in group.metrics))


def markdown_report(
    summaries: Sequence[GroupSummary],
    keys: Sequence[str],
    stage: str,
    sources: Sequence[str | Path] = (),
    skipped: str | None = None,
) -> str:
    """A markdown table: one row per group with its n and seeds, one ``mean ± std`` column per metric."""
    names = metric_names(summaries)
    total = sum(len(group.runs) for group in summaries)
    where = f" in {', '.join(f'`{source}`' for source in sources)}" if sources else ""
    lines = [
        f"`{stage}` metrics of {total} run(s){where}: mean ± sample standard deviation (ddof=1) over the n "
        "runs (seeds) of each group; a metric that fewer runs have shows its own (n=k).",
    ]
    if skipped:
        lines.append(f"Warning: {skipped}.")
    lines += [
        "",
        "| " + " | ".join([*keys, "n", "seeds", *names]) + " |",
        "| " + " | ".join(["---"] * (len(keys) + 2) + ["---:"] * len(names)) + " |",
    ]
    for group in summaries:
        cells = [*group.label, str(len(group.runs)), ", ".join(map(str, group.seeds))]
        for name in names:
            summary = group.metrics.get(name)
            if summary is None:
                cells.append("—")
            else:
                shown = format_mean_std(summary)
                cells.append(shown if summary.n == len(group.runs) else f"{shown} (n={summary.n})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_report(summaries: Sequence[GroupSummary], keys: Sequence[str]) -> str:
    """CSV: one row per group and metric with the group-by keys, mean, std (empty if n < 2), n, min, max."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*keys, *CSV_COLUMNS])
    for group in summaries:
        for name, summary in group.metrics.items():
            std = repr(summary.std) if math.isfinite(summary.std) else ""
            row = [name, repr(summary.mean), std, summary.n, repr(summary.min), repr(summary.max)]
            writer.writerow([*group.label, *row])
    return buffer.getvalue()


def write_report(
    out: str | Path,
    summaries: Sequence[GroupSummary],
    keys: Sequence[str],
    stage: str,
    sources: Sequence[str | Path] = (),
    skipped: str | None = None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.csv`` to ``out`` (created), each atomically; returns their paths."""
    out = Path(out)
    markdown = atomic_write_text(out / "report.md", markdown_report(summaries, keys, stage, sources, skipped))
    table = atomic_write_text(out / "report.csv", csv_report(summaries, keys))
    return markdown, table


def temperature_bands(curves: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per label, the mean curve and its spread over the label's checkpoints (seeds), temperature by temperature.

    ``curves``: ``{"label", "points": [{"temperature", "quality", "diversity", ...}]}`` as
    ``textgan-quality-diversity`` sweeps them, several per label. Returns one band per label (first-appearance
    order): ``{"label", "n", "points": [{"temperature", "quality_mean", "quality_std", "diversity_mean",
    "diversity_std"}]}``; the stds are sample standard deviations (ddof=1), None for a single curve. Curves of
    one label must share their temperatures.
    """
    by_label: dict[str, list[dict[str, Any]]] = {}
    for curve in curves:
        by_label.setdefault(curve["label"], []).append(curve)
    bands = []
    for label, members in by_label.items():
        temperatures = [point["temperature"] for point in members[0]["points"]]
        if any([point["temperature"] for point in curve["points"]] != temperatures for curve in members):
            raise ValueError(f"the curves of {label!r} were swept over different temperatures")
        points = []
        for index, temperature in enumerate(temperatures):
            point: dict[str, Any] = {"temperature": temperature}
            for axis in ("quality", "diversity"):
                summary = summarize(curve["points"][index][axis] for curve in members)
                point[f"{axis}_mean"] = summary.mean
                point[f"{axis}_std"] = summary.std if summary.n > 1 else None
            points.append(point)
        bands.append({"label": label, "n": len(members), "points": points})
    return bands
