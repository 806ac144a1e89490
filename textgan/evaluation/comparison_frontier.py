"""A comparison's curves and its quality-diversity frontier, as data (``textgan-compare report`` draws them).

``curve_models``: per row, each seed's evaluations over the adversarial iterations and their mean and sample
standard deviation at the steps every seed evaluated (the layout ``textgan-plot-runs`` draws).

``frontier``: every finished run's final generator, and the pretrained generator itself (MLE with a sampling
temperature: the baseline of Caccia et al., "Language GANs Falling Short", ICLR 2020), swept over the protocol's
sampling temperatures (``textgan.evaluation.protocol.temperature_sweep``): NLL_oracle against NLL_gen on the
oracle, BLEU-5 against Self-BLEU-5 on text. Each run is sampled with its own seed on the data its config names,
and the pretrained generator with each of the protocol's seeds on that seed's data, so every row is evaluated
on the same samples count, seeds and data. Rows become bands over their seeds
(``textgan.evaluation.report.temperature_bands``). Each swept point set is kept in ``CACHE/<row>-seed<S>.json``
with what it was computed from, so a second report sweeps only new generators.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textgan.atomic_files import atomic_write_text
from textgan.evaluation.comparison import Protocol
from textgan.evaluation.comparison_plan import PlannedRun
from textgan.evaluation.comparison_report import PRETRAINED_ROW, read_summary
from textgan.evaluation.report import temperature_bands


def curve_models(protocol: Protocol, plan: Sequence[PlannedRun], metric: str = "nll_oracle") -> dict[str, dict]:
    """``{row: {"runs": {"seed<S>": [(step, value)]}, "mean": [(step, v)], "std": [(step, s)]}}`` of the GAN
    rows' finished runs (std NaN for a single seed); rows without one are left out."""
    models: dict[str, dict] = {}
    for run in plan:
        if protocol.arms[run.arm].is_mle:
            continue
        summary = read_summary(run.folder)
        history = summary.get("adversarial_history") or []
        points = [(int(row["step"]), float(row[metric])) for row in history if row.get(metric) is not None]
        if summary.get("finished") and points:
            models.setdefault(run.group, {"runs": {}})["runs"][f"seed{run.seed}"] = points
    for model in models.values():
        tables = [dict(points) for points in model["runs"].values()]
        steps = sorted(set.intersection(*(set(table) for table in tables)))
        values = np.array([[table[step] for table in tables] for step in steps]).reshape(len(steps), len(tables))
        std = values.std(axis=1, ddof=1) if len(tables) > 1 else np.full(len(steps), math.nan)
        model["mean"] = [(step, float(v)) for step, v in zip(steps, values.mean(axis=1), strict=True)]
        model["std"] = [(step, float(s)) for step, s in zip(steps, std, strict=True)]
    return models


def final_generator(run: PlannedRun, is_mle: bool) -> Path:
    """The generator a run ends with: ``generator.pt`` (GAN) or ``pretrained_generator.pt`` (MLE continued)."""
    return run.folder / ("pretrained_generator.pt" if is_mle else "generator.pt")


def _datamodule(config: dict[str, Any]):
    from textgan.data.base import TokenDataModule
    from textgan.models.io import build_from_config

    datamodule = build_from_config(dict(config), base=TokenDataModule, package="textgan.data")
    datamodule.prepare_data()
    datamodule.setup("test")
    return datamodule


def _sweep(
    generator_file: Path, data: dict[str, Any], seed: int, protocol: Protocol, cache: Path, device: str,
    datamodules: dict[str, Any],
) -> list[dict[str, float]]:  # fmt: skip
    from textgan.evaluation.data import check_generator
    from textgan.evaluation.protocol import temperature_sweep
    from textgan.models.checkpoints import load_checkpoint

    stat = generator_file.stat()
    key = {
        "generator": str(generator_file.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "data": data,
        "seed": seed,
        "temperatures": list(protocol.temperatures),
        "num_samples": protocol.frontier_num_samples,
    }
    if cache.is_file():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("key") == json.loads(json.dumps(key)):
            return stored["points"]
    data_key = json.dumps(data, sort_keys=True)
    if data_key not in datamodules:
        datamodules[data_key] = _datamodule(data)
    datamodule = datamodules[data_key]
    generator, metadata = load_checkpoint(str(generator_file), device)
    check_generator(generator, metadata, datamodule, str(generator_file))
    points = temperature_sweep(generator, datamodule, protocol.temperatures, protocol.frontier_num_samples, seed=seed)
    atomic_write_text(cache, json.dumps({"key": key, "points": points}, indent=1) + "\n")
    return points


def frontier(
    protocol: Protocol, plan: Sequence[PlannedRun], cache_dir: str | Path, device: str = "cpu", log=print
) -> dict[str, Any]:
    """The frontier's curves and bands (see the module docstring); ``log`` hears one line per swept generator.

    Returns ``{"axes", "temperatures", "settings", "curves": [{"label", "seed", "checkpoint", "points"}],
    "bands"}``; the pretrained generator's label is ``mle_pretrained``. Raises ValueError when no run has finished.
    """
    cache_dir = Path(cache_dir)
    datamodules: dict[str, Any] = {}
    data_of_seed: dict[int, dict[str, Any]] = {}
    curves = []
    for run in plan:
        is_mle = protocol.arms[run.arm].is_mle
        summary = read_summary(run.folder)
        generator_file = final_generator(run, is_mle)
        if not summary.get("finished") or not generator_file.is_file():
            continue
        data = (summary.get("config") or {}).get("data")
        data_of_seed.setdefault(run.seed, data)
        cache = cache_dir / f"{run.group}-seed{run.seed}.json"
        points = _sweep(generator_file, data, run.seed, protocol, cache, device, datamodules)
        curves.append({"label": run.group, "seed": run.seed, "checkpoint": str(generator_file), "points": points})
        log(f"frontier: {run.group} seed {run.seed} swept")
    if not curves:
        raise ValueError("no finished run to draw a frontier of")
    baseline = []
    file = Path(str(protocol.pretrained)).resolve() if protocol.pretrained else None
    for seed in protocol.seeds:
        if file is not None and file.is_file() and seed in data_of_seed:
            cache = cache_dir / f"{PRETRAINED_ROW}-seed{seed}.json"
            points = _sweep(file, data_of_seed[seed], seed, protocol, cache, device, datamodules)
            baseline.append({"label": PRETRAINED_ROW, "seed": seed, "checkpoint": str(file), "points": points})
            log(f"frontier: {PRETRAINED_ROW} seed {seed} swept")
    curves = baseline + curves
    first = curves[0]["points"][0]
    axes = ("nll_oracle", "nll_gen") if "nll_oracle" in first else ("bleu5", "self_bleu5")
    return {
        "axes": {"quality": axes[0], "diversity": axes[1]},
        "temperatures": list(protocol.temperatures),
        "settings": {"num_samples": protocol.frontier_num_samples, "seeds": "each run's own seed"},
        "curves": curves,
        "bands": temperature_bands(curves),
    }
