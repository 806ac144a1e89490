"""scripts/estimator_comparison.sh: an unknown estimator name is refused before any run starts, and the report
step turns the runs already there into the seed report and the grouped curves."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from shell_scripts import run_bash_script

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


TARGETS = {"gumbel_softmax": "gumbel_softmax.GumbelSoftmaxEstimator", "reinforce": "reinforce.ReinforceEstimator"}


def fake_comparison_run(folder: Path, estimator: str, seed: int, final: float) -> None:
    """A finished run's ``summary.json`` as ``textgan-train`` writes it, as far as the report step reads it."""
    folder.mkdir(parents=True)
    config = {"seed": seed, "estimator": {"_target_": f"textgan.estimators.{TARGETS[estimator]}"}}
    if estimator == "reinforce":
        config["estimator"]["reward_transform"] = "gan_loss"
    history = [{"step": 0, "nll_oracle": 9.0}, {"step": 200, "nll_oracle": final}]
    cost = 3.0 if estimator == "reinforce" else 2.0 + seed
    summary = {"config": config, "finished": True, "adversarial_history": history,
               "after_adversarial": history[-1], "seconds_per_iteration": cost}
    (folder / "summary.json").write_text(json.dumps(summary))


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_bash_script("estimator_comparison.sh", *args, timeout=120, **env)


def test_an_unknown_estimator_is_refused_before_any_run(tmp_path):
    pretrained = tmp_path / "generator.pt"
    pretrained.write_bytes(b"")
    result = run_script(str(pretrained), str(tmp_path / "out"), "gumbel_softmax", "gumbel_sofmax")
    assert result.returncode != 0
    assert "unknown estimator name 'gumbel_sofmax'" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def test_a_missing_pretrained_generator_is_named(tmp_path):
    result = run_script(str(tmp_path / "nowhere.pt"), str(tmp_path / "out"))
    assert result.returncode != 0 and "nowhere.pt: no such pretrained generator file" in result.stderr


def test_the_report_step_aggregates_the_runs_there(tmp_path):
    out = tmp_path / "out"
    for seed, final in ((0, 8.7), (1, 8.8)):
        fake_comparison_run(out / "gumbel_softmax" / f"{seed}-gumbel_softmax-seed{seed}", "gumbel_softmax", seed, final)
    fake_comparison_run(out / "reinforce_loo" / "0-reinforce-seed0", "reinforce", 0, 8.9)
    pretrained = tmp_path / "generator.pt"
    pretrained.write_bytes(b"")
    result = run_script(str(pretrained), str(out), REPORT_ONLY="1")
    assert result.returncode == 0, result.stderr
    report = (out / "report" / "report.md").read_text()
    assert "| gumbel_softmax | (unset) | 2 | 0, 1 | 8.750 ± 0.071 | 2.50 ± 0.71 |" in report
    assert "| reinforce | gan_loss | 1 | 0 | 8.9000 ± n/a | 3.0000 ± n/a |" in report
    curves = json.loads((out / "report" / "nll_oracle.json").read_text())
    assert sorted(curves) == ["gumbel_softmax", "reinforce/gan_loss"]
