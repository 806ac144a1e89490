"""Quality-diversity curves: sample each checkpoint over a sweep of softmax temperatures and plot both axes.

Caccia et al., "Language GANs Falling Short" (ICLR 2020): a single (quality, diversity) point says little,
since lowering the temperature of an MLE model buys quality with diversity; compare whole curves instead.
Real text: BLEU-5 (quality, higher is better) against Self-BLEU-5 (lower is more diverse). Synthetic oracle:
NLL_oracle (quality, lower is better) against NLL_test, the tempered generator's NLL of the oracle's test set
(coverage, lower is better). ``--axes lm`` draws Caccia et al.'s own axes on text: the LM score (quality) against
the reverse-LM score (diversity and coverage), both NLLs, lower is better (``textgan.evaluation.distribution``;
a reverse LM is trained at every point). ``--metrics`` adds more metrics to every point (``mauve``, ``fed``).
Writes ``quality_diversity.json`` (every metric of every point) and
``quality_diversity.png`` to ``--out``. Example::

    textgan-quality-diversity --checkpoint mle=run/pretrained_generator.pt \\
        --checkpoint relgan=run/generator.pt --data coco --num-samples 2000 --out results/qd_coco

A sweep taken in pieces (some temperatures, then the others; each generator apart) is joined without sampling
again by ``--merge REPORT...`` (saved ``quality_diversity.json`` files: the same data and sampling settings),
and ``--plot-axes QUALITY,DIVERSITY`` puts any two metrics of the points on the axes, e.g. MAUVE against
BLEU-5::

    textgan-quality-diversity --merge qd_mle qd_mle_low qd_relgan --plot-axes mauve,bleu5 --out qd_all

Seeds: a label given several checkpoints (``--checkpoint relgan=seed0.pt,seed1.pt,seed2.pt``, or the same label
repeated), or ``--runs`` (run or multirun folders; each finished run's ``generator.pt``, labelled by
``--group-by``, default the estimator), is drawn as its mean curve with a shaded band of ± 1 sample standard
deviation (ddof=1) of both axes over its checkpoints; the JSON holds every curve and each label's ``bands``::

    textgan-quality-diversity --runs multirun/cmp_gumbel multirun/cmp_reinforce \\
        --oracle ../shared/data/oracle/seqgan_oracle_lstm.npz --num-samples 2000 --out results/qd_oracle
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textgan.cli.data_arguments import add_data_arguments, datamodule_from_args
from textgan.cli.metric_arguments import (
    add_metric_arguments,
    check_metric_arguments,
    distribution_settings,
    score_distribution,
)
from textgan.data.text import TextDataModule
from textgan.evaluation.data import check_generator, describe_data
from textgan.evaluation.distribution import DISTRIBUTION_METRICS, rows_from_samples
from textgan.evaluation.protocol import DEFAULT_TEMPERATURES, quality_diversity_axes, temperature_sweep
from textgan.evaluation.quality_diversity_reports import merge_reports, with_axes
from textgan.evaluation.report import temperature_bands
from textgan.evaluation.runs import find_runs, group_runs, parse_group_by, select_runs
from textgan.kernels.numerics import flush_denormals
from textgan.models.checkpoints import load_checkpoint
from textgan.models.io import TRUST_HELP

AXIS_LABELS = {
    "bleu5": "BLEU-5 (quality, higher is better)",
    "self_bleu5": "Self-BLEU-5 (lower is more diverse)",
    "nll_oracle": "NLL_oracle (quality, lower is better)",
    "nll_gen": "NLL_test (coverage, lower is better)",
    "lm_score": "LM score (quality, NLL, lower is better)",
    "reverse_lm_score": "reverse-LM score (diversity, NLL, lower is better)",
    "mauve": "MAUVE (closer to the references, higher is better)",
    "fed": "FED (distance to the references, lower is better)",
}
METRIC_CHOICES = ("standard", *DISTRIBUTION_METRICS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="textgan-quality-diversity", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[LABEL=]PATH[,PATH...]",
        help="a generator file or a run's checkpoints/*/last.ckpt (repeat); a label's several paths (seeds) "
        "are drawn as one mean curve with a band",
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        default=[],
        metavar="DIR",
        help="run or multirun folders: each finished run's generator.pt, labelled by --group-by",
    )
    parser.add_argument(
        "--group-by", default="estimator", help="--runs: comma-separated config keys of a label (default estimator)"
    )
    parser.add_argument(
        "--trust", action="store_true", help=f"load generator files that are not plain data, {TRUST_HELP}"
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--temperatures",
        default=",".join(str(t) for t in DEFAULT_TEMPERATURES),
        help="comma-separated softmax temperatures (default 0.5,0.6,...,1.5)",
    )
    parser.add_argument("--num-samples", type=int, default=10_000, help="sentences per point")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (the same at every temperature)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="quality_diversity", help="output folder")
    parser.add_argument(
        "--axes",
        choices=("auto", "lm"),
        default="auto",
        help="auto: BLEU-5 / Self-BLEU-5 (text) or NLL_oracle / NLL_test; lm: LM / reverse-LM score (text)",
    )
    add_metric_arguments(parser, "standard", METRIC_CHOICES)
    parser.add_argument(
        "--merge",
        nargs="+",
        default=[],
        metavar="REPORT",
        help="no sampling: join saved quality_diversity.json files (sweeps taken in pieces) into one report and plot",
    )
    parser.add_argument(
        "--plot-axes",
        metavar="QUALITY,DIVERSITY",
        help="two metrics of the points to put on the axes instead (e.g. mauve,bleu5 or bleu5,self_bleu5)",
    )
    args = parser.parse_args(argv)
    if args.merge and (args.checkpoint or args.runs):
        parser.error("--merge joins saved reports: give it without --checkpoint and --runs")
    if not args.checkpoint and not args.runs and not args.merge:
        parser.error("give --checkpoint or --runs (or both), or --merge REPORT...")
    if args.plot_axes is not None:
        axes = tuple(axis.strip() for axis in args.plot_axes.split(",") if axis.strip())
        if len(axes) != 2:
            parser.error(f"--plot-axes takes two metric names, QUALITY,DIVERSITY; got {args.plot_axes!r}")
        args.plot_axes = axes
    return args


def read_reports(paths: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(path, report)`` of each saved ``quality_diversity.json`` (or a folder holding one)."""
    reports = []
    for path in paths:
        file = Path(path) / "quality_diversity.json" if Path(path).is_dir() else Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"--merge {path}: no such report (a quality_diversity.json or its folder)")
        try:
            report = json.loads(file.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"--merge {file}: not JSON ({error})") from None
        if not isinstance(report, dict) or not {"curves", "axes", "settings", "data"} <= report.keys():
            raise ValueError(f"--merge {file}: not a textgan-quality-diversity report")
        reports.append((str(file), report))
    return reports


def labelled(checkpoints: list[str]) -> list[tuple[str, str]]:
    """``LABEL=PATH[,PATH...]`` (one pair per path) or ``PATH`` (label: the file's stem) -> (label, path)."""
    pairs = []
    for item in checkpoints:
        label, sep, paths = item.partition("=")
        if not sep:
            pairs.append((Path(item).stem, item))
            continue
        pairs += [(label, path) for path in paths.split(",") if path]
    return pairs


def sources(args: argparse.Namespace) -> list[dict[str, Any]]:
    """What to sweep: ``{"label", "checkpoint"}`` per checkpoint, plus ``run`` and ``seed`` for ``--runs``."""
    items: list[dict[str, Any]] = [{"label": label, "checkpoint": path} for label, path in labelled(args.checkpoint)]
    if args.runs:
        selection = select_runs(find_runs(args.runs), file="generator.pt")
        if selection.warning():
            print(f"textgan-quality-diversity: warning: {selection.warning()}", file=sys.stderr)
        for label, runs in group_runs(selection.runs, parse_group_by(args.group_by)).items():
            for run in runs:
                path = str(run.path / "generator.pt")
                items.append({"label": " / ".join(label), "checkpoint": path, "run": str(run.path), "seed": run.seed})
    return items


def score_samples(
    args: argparse.Namespace, datamodule: Any, names: list[str], samples: torch.Tensor
) -> dict[str, float]:
    """The distribution metrics ``names`` of one point's samples (N, T)."""
    rows = rows_from_samples(datamodule, samples)
    return score_distribution(args, datamodule, names, rows, datamodule.decode(samples))


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    """Every checkpoint's points (one per temperature) with the data and settings they were taken under."""
    try:
        temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--temperatures must be comma-separated numbers, got {args.temperatures!r}") from None
    if not temperatures or min(temperatures) <= 0:
        raise ValueError(f"temperatures must be positive, got {args.temperatures!r}")
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be at least 1, got {args.num_samples}")
    names = check_metric_arguments(args, METRIC_CHOICES)
    if args.axes == "lm":
        names += [name for name in ("lm", "reverse_lm") if name not in names]
    distribution = [name for name in names if name in DISTRIBUTION_METRICS]
    datamodule, curves = None, []
    for source in sources(args):
        label, path = source["label"], source["checkpoint"]
        generator, metadata = load_checkpoint(path, args.device, trust=args.trust)
        if datamodule is None:
            datamodule = datamodule_from_args(args, metadata)
        check_generator(generator, metadata, datamodule, path)
        if distribution and not isinstance(datamodule, TextDataModule):
            raise ValueError(
                f"--axes lm and --metrics {','.join(distribution)} need text data, not {describe_data(datamodule)}"
            )
        points = temperature_sweep(
            generator,
            datamodule,
            temperatures,
            args.num_samples,
            seed=args.seed,
            nll_ignore_padding=args.nll_ignore_padding,
            nll_gen_train=args.nll_gen_train,
            score_samples=partial(score_samples, args, datamodule, distribution) if distribution else None,
            axes=args.axes,
        )
        curves.append({**source, "checkpoint": str(Path(path).resolve()), "points": points})
        print(f"textgan-quality-diversity: {label}: {len(points)} temperatures done", file=sys.stderr)
    quality, diversity = quality_diversity_axes(curves[0]["points"][0], args.axes)
    protocol = datamodule.protocol() if hasattr(datamodule, "protocol") else {}
    settings = {
        "num_samples": args.num_samples,
        "seed": args.seed,
        "nll_ignore_padding": args.nll_ignore_padding,
        "nll_gen_train": args.nll_gen_train,
        "metrics": names,
    }
    if distribution:
        settings.update(distribution_settings(args, distribution))
    return {
        "axes": {"quality": quality, "diversity": diversity},
        "temperatures": temperatures,
        "curves": curves,
        "bands": temperature_bands(curves),
        "data": {"description": describe_data(datamodule), **protocol},
        "settings": settings,
    }


def plot(report: dict[str, Any], path: Path) -> None:
    """Quality on x, diversity on y, one line per checkpoint, points labelled with their temperature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quality, diversity = report["axes"]["quality"], report["axes"]["diversity"]
    figure, axes = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for band in report["bands"]:
        xs = [point["quality_mean"] for point in band["points"]]
        ys = [point["diversity_mean"] for point in band["points"]]
        label = band["label"] if band["n"] == 1 else f"{band['label']} (mean ± 1 std, {band['n']} seeds)"
        (line,) = axes.plot(xs, ys, marker="o", markersize=3, label=label)
        if band["n"] > 1:
            shade(axes, band, line.get_color())
        for x, y, point in zip(xs, ys, band["points"], strict=True):
            axes.annotate(
                f"{point['temperature']:g}",
                (x, y),
                fontsize=6,
                color=line.get_color(),
                xytext=(3, 3),
                textcoords="offset points",
            )
    axes.set_xlabel(AXIS_LABELS.get(quality, quality))
    axes.set_ylabel(AXIS_LABELS.get(diversity, diversity))
    axes.set_title(
        f"Quality-diversity over temperature ({report['settings']['num_samples']} samples)", fontsize=9
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def shade(axes: Any, band: dict[str, Any], color: str) -> None:
    """The band: at each temperature an ellipse with half-axes one std of quality and one of diversity, and the
    convex hull of each two neighbouring ellipses; opaque in a light tint under the lines, so overlaps do not
    darken."""
    from matplotlib.colors import to_rgb

    tint = tuple(0.78 + 0.22 * channel for channel in to_rgb(color))
    angles = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
    ellipses = [
        np.stack(
            [
                point["quality_mean"] + point["quality_std"] * np.cos(angles),
                point["diversity_mean"] + point["diversity_std"] * np.sin(angles),
            ],
            axis=1,
        )
        for point in band["points"]
    ]
    pieces = [*zip(ellipses, ellipses[1:], strict=False)] or [(ellipse,) for ellipse in ellipses]
    for piece in pieces:
        hull = convex_hull(np.concatenate(piece))
        axes.fill(hull[:, 0], hull[:, 1], color=tint, linewidth=0, zorder=0)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of (N, 2) ``points``, counter-clockwise (Andrew's monotone chain)."""
    ordered = sorted(map(tuple, points))

    def half(sequence: list[tuple[float, float]]) -> list[tuple[float, float]]:
        chain: list[tuple[float, float]] = []
        for x, y in sequence:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-2], chain[-1]
                if (bx - ax) * (y - ay) - (by - ay) * (x - ax) > 0:
                    break
                chain.pop()
            chain.append((x, y))
        return chain[:-1]

    return np.array(half(ordered) + half(ordered[::-1]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flush_denormals()  # as textgan-train does (textgan/kernels/numerics.py)
    logging.basicConfig(format="textgan-quality-diversity: %(message)s")
    logging.getLogger("textgan").setLevel(logging.INFO)  # LMs train for minutes at --axes lm: say what happens
    try:
        report = merge_reports(read_reports(args.merge)) if args.merge else sweep(args)
        if args.plot_axes:
            report = with_axes(report, *args.plot_axes)
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(f"textgan-quality-diversity: error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality_diversity.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    plot(report, out / "quality_diversity.png")
    print(f"textgan-quality-diversity: results in {out.resolve()} (quality_diversity.json, quality_diversity.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
