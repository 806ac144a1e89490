"""The number ``textgan-train`` returns to a Hydra sweeper (Optuna): one metric of the finished run's summary.

``optimized_metric`` names it as it is logged: ``adversarial/eval/NAME`` is the last adversarial evaluation's
``NAME`` (``summary["after_adversarial"]``), ``pretrain/eval/NAME`` the last MLE evaluation's.
"""

from __future__ import annotations

from typing import Any

STAGES = {"adversarial/eval/": "after_adversarial", "pretrain/eval/": "after_pretraining"}


def optimized_value(summary: dict[str, Any], metric: str) -> float:
    """The value of ``metric`` in a run summary; a ``ValueError`` names what is available when it is absent."""
    for prefix, key in STAGES.items():
        if metric.startswith(prefix):
            scores = summary.get(key) or {}
            name = metric.removeprefix(prefix)
            if name in scores:
                return float(scores[name])
            available = ", ".join(prefix + n for n in scores if n != "step") or "none (the stage did not run)"
            raise ValueError(f"optimized_metric={metric}: not in this run's {key}; available: {available}")
    raise ValueError(f"optimized_metric={metric}: must start with {' or '.join(STAGES)}")
