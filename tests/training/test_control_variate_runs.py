"""REBAR and RELAX end to end: a debug run trains the generator, the discriminator and the estimator's own
control-variate parameters, which the adversarial checkpoint keeps."""

import pytest
import torch
from hydra_compose import compose_config, read_metrics

from textgan.train import run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("estimator", ["rebar", "relax"])
def test_a_debug_run_trains_the_control_variate(tmp_path, estimator):
    cfg = compose_config(tmp_path, f"estimator={estimator}", "adversarial.steps=2")
    summary = run(cfg)
    assert summary["after_adversarial"]["step"] == 2

    state = torch.load(tmp_path / "run" / "checkpoints" / "adversarial" / "last.ckpt", weights_only=False)
    learned = {name.removeprefix("estimator."): value for name, value in state["state_dict"].items()
               if name.startswith("estimator.")}  # fmt: skip
    assert float(learned["eta"]) != cfg.estimator.eta  # initial values from the config: both moved
    assert float(learned["log_temperature"].exp()) != pytest.approx(cfg.estimator.temperature, abs=1e-7)
    if estimator == "relax":  # the network's output layer starts at zero
        assert learned["network.2.weight"].abs().sum() > 0
    assert len(state["optimizer_states"]) == 3 and state["optimizer_states"][2]["state"]  # the estimator's Adam
    for name, value in learned.items():
        assert torch.isfinite(value).all(), name

    rows = read_metrics(tmp_path / "run")
    logged = {key for row in rows for key, value in row.items() if value not in ("", None)}
    expected = {"adversarial/eta", "adversarial/temperature", "adversarial/gradient_squared_norm"}
    assert expected | {"adversarial/g_loss", "adversarial/d_loss"} <= logged
