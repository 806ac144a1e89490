"""Figures of a run's evaluations so far, logged to wandb as images at every evaluation.

``history_figure`` draws one panel per family of metrics found in the history (BLEU-n, Self-BLEU-n, the NLLs,
the distribution metrics), each metric a line over the stage's step, so a wandb run shows at a glance how
quality and diversity moved together, not only each number's own chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FAMILIES = (
    ("BLEU-n (quality)", lambda name: name.startswith("bleu")),
    ("Self-BLEU-n (lower is more diverse)", lambda name: name.startswith("self_bleu")),
    ("NLL (nats per token)", lambda name: name.startswith("nll") or name.endswith("lm_score")),
    ("MAUVE / FED", lambda name: name in ("mauve", "fed")),
    (
        "Copies / distinct / unterminated samples (share)",
        lambda name: name in ("copy_rate", "unique_rate", "unterminated_rate"),
    ),
    ("Mean sample length (tokens)", lambda name: name == "mean_length"),
)


def metric_families(names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """(panel title, metric names) for each family present among ``names``, in the order above."""
    panels = []
    for title, belongs in FAMILIES:
        members = sorted(name for name in names if belongs(name))
        if members:
            panels.append((title, members))
    return panels


def history_figure(history: Sequence[dict[str, float]], title: str, x_label: str = "step") -> Any:
    """A matplotlib figure of ``history`` (rows of ``step`` and metrics): one panel per family of metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({key for row in history for key in row if key != "step"})
    panels = metric_families(names) or [("metrics", names)]
    figure, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), dpi=100, squeeze=False)
    for axis, (panel, members) in zip(axes[0], panels, strict=True):
        for name in members:
            points = [(row["step"], row[name]) for row in history if name in row]
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", markersize=3, label=name)
        axis.set_title(panel, fontsize=9)
        axis.set_xlabel(x_label, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure
