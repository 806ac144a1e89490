"""Saved quality-diversity reports (``quality_diversity.json`` of ``textgan-quality-diversity``), merged and
re-plotted without sampling again.

A long temperature sweep is often taken in pieces: a few temperatures first, the others later, or each generator
in its own process. :func:`merge_reports` joins such reports into one: the points of one curve (a label and
its checkpoint) from every report, ordered by temperature. Points taken under other settings would not be
comparable, so reports must agree on the data and on the sampling settings (``COMPARED_SETTINGS``), and a
temperature swept twice must have the same values. :func:`with_axes` puts two other metrics of the points on the
axes (MAUVE against BLEU-5, say), since every point keeps every metric it was scored with.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from textgan.evaluation.report import temperature_bands

COMPARED_SETTINGS = ("num_samples", "seed", "nll_ignore_padding", "nll_gen_train")
_NOT_METRICS = ("temperature", "quality", "diversity")  # a point's keys that are not its metrics


def merge_reports(reports: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One report from ``reports`` (``(name, report)``: the name, e.g. the file, is what errors cite).

    Curves with the same label and checkpoint become one curve holding the points of all; curves of one label
    from different checkpoints stay apart (seeds: their band is recomputed). The merged ``settings["metrics"]``
    are the metrics every report has; ``settings["merged_from"]`` names the reports. Raises ``ValueError`` when
    the reports differ in data, sampling settings or axes, or disagree on a point.
    """
    if not reports:
        raise ValueError("no reports to merge")
    first_name, first = reports[0]
    for name, report in reports[1:]:
        _check_comparable(first_name, first, name, report)
    curves: dict[tuple[str, str], dict[str, Any]] = {}  # (label, checkpoint) -> the curve without its points
    points: dict[tuple[str, str], dict[float, tuple[dict, str]]] = {}  # ... -> temperature -> (point, report)
    for name, report in reports:
        for curve in report["curves"]:
            key = (curve["label"], curve["checkpoint"])
            curves.setdefault(key, {k: copy.deepcopy(v) for k, v in curve.items() if k != "points"})
            seen = points.setdefault(key, {})
            for point in curve["points"]:
                earlier = seen.setdefault(point["temperature"], (point, name))
                if earlier[0] != point:
                    raise ValueError(
                        f"{name}: {curve['label']} at temperature {point['temperature']:g} is also in "
                        f"{earlier[1]}, with other values"
                    )
    for key, curve in curves.items():
        curve["points"] = [copy.deepcopy(point) for _, (point, _) in sorted(points[key].items())]
    merged_curves = list(curves.values())
    metric_lists = [report["settings"].get("metrics", []) for _, report in reports]
    settings = {
        **copy.deepcopy(first["settings"]),
        "metrics": [metric for metric in metric_lists[0] if all(metric in other for other in metric_lists)],
        "merged_from": [name for name, _ in reports],
    }
    return {
        "axes": dict(first["axes"]),
        "temperatures": sorted({point["temperature"] for curve in merged_curves for point in curve["points"]}),
        "curves": merged_curves,
        "bands": temperature_bands(merged_curves),
        "data": copy.deepcopy(first["data"]),
        "settings": settings,
    }


def with_axes(report: dict[str, Any], quality: str, diversity: str) -> dict[str, Any]:
    """A copy of ``report`` with each point's ``quality`` and ``diversity`` taken from its metrics ``quality`` and
    ``diversity``, and the bands recomputed. Raises ``ValueError`` naming a point that lacks one of them."""
    report = copy.deepcopy(report)
    for curve in report["curves"]:
        for point in curve["points"]:
            for metric in (quality, diversity):
                if metric not in point:
                    known = sorted(k for k, v in point.items() if isinstance(v, int | float) and k not in _NOT_METRICS)
                    raise ValueError(
                        f"{curve['label']} at temperature {point['temperature']:g} has no {metric!r}; "
                        f"its metrics: {', '.join(known)}"
                    )
            point["quality"], point["diversity"] = point[quality], point[diversity]
    report["axes"] = {"quality": quality, "diversity": diversity}
    report["bands"] = temperature_bands(report["curves"])
    return report


def _check_comparable(first_name: str, first: dict[str, Any], name: str, report: dict[str, Any]) -> None:
    data, first_data = report["data"].get("description"), first["data"].get("description")
    if data != first_data:
        raise ValueError(f"{name}: its data ({data}) is not {first_name}'s ({first_data})")
    for key in COMPARED_SETTINGS:
        value, first_value = report["settings"].get(key), first["settings"].get(key)
        if value != first_value:
            raise ValueError(
                f"{name}: settings {key}={value}, but {first_name} has {key}={first_value}: points sampled "
                f"under other settings cannot share a curve"
            )
    if report["axes"] != first["axes"]:
        raise ValueError(f"{name}: axes {report['axes']}, but {first_name} has {first['axes']}")
