"""The straight-through family end to end: ``estimator=gumbel_rao|gst|reinmax`` train at debug size."""

import pytest
import torch
from hydra_compose import compose_config, read_metrics

from textgan.models.io import load_generator
from textgan.train import run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["gumbel_rao", "gst", "reinmax"])
def test_each_straight_through_estimator_trains_a_debug_run(tmp_path, name):
    summary = run(compose_config(tmp_path, f"estimator={name}", "adversarial.steps=2"))
    assert summary["after_adversarial"]["step"] == 2
    run_dir = tmp_path / "run"
    start = load_generator(run_dir / "pretrained_generator.pt")[0].state_dict()
    trained = load_generator(run_dir / "generator.pt")[0].state_dict()
    moved = [key for key in start if not torch.equal(start[key], trained[key])]
    assert moved, "adversarial training left every generator parameter unchanged"
    for key, tensor in trained.items():
        assert torch.isfinite(tensor).all(), key
    logged = {key for row in read_metrics(run_dir) for key, value in row.items() if value not in ("", None)}
    assert {"adversarial/g_loss", "adversarial/d_loss", "adversarial/beta"} <= logged
