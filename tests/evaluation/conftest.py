"""Fixtures of the evaluation tests: fake training run folders (a ``summary.json`` each, no training)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ESTIMATORS = {
    "gumbel_softmax": "textgan.estimators.gumbel_softmax.GumbelSoftmaxEstimator",
    "reinforce": "textgan.estimators.reinforce.ReinforceEstimator",
}


def fake_run(
    folder: Path,
    estimator: str,
    seed: int,
    metrics: dict[str, float] | None,
    *,
    stage: str = "after_adversarial",
    finished: bool | None = True,
    loss: str = "textgan.losses.gan.RSGANLoss",
    pretraining: dict[str, float] | None = None,
) -> Path:
    """A run folder as ``textgan-train`` leaves it, as far as reports read it: ``summary.json``.

    ``metrics`` None: no ``stage`` metrics; ``pretraining``: also ``after_pretraining`` metrics; ``finished``
    None: an older summary without the key.
    """
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "experiment_name": "exp",
        "seed": seed,
        "estimator": {"_target_": ESTIMATORS[estimator], "straight_through": False},
        "loss": {"_target_": loss},
        "adversarial": {"steps": 200},
    }
    summary: dict[str, Any] = {"output_dir": str(folder), "config": config}
    if metrics is not None:
        summary[stage] = {"step": 200, **metrics}
    if pretraining is not None:
        summary["after_pretraining"] = {"step": 10, **pretraining}
    if finished is not None:
        summary["finished"] = finished
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture
def make_run() -> Callable[..., Path]:
    return fake_run
