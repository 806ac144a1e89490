"""textgan-compare: a tiny comparison runs every arm x seed from one pretrained generator, skips what finished,
and writes its table (n per row, intervals), curves and frontier; a bad protocol stops it before any run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textgan.cli.compare import main

ROOT = Path(__file__).resolve().parents[2]

TINY = """
seeds: [0, 1]
steps: 2
eval_every: 1
num_samples: 16
overrides: [debug=default]
schedules:
  fixed1: {beta_max: 1, adapt: "no", horizon: null}
arms:
  gumbel_softmax: {estimator: gumbel_softmax}
  mle_continued: {mle: true, epochs: 1}
frontier: {temperatures: [0.8, 1.2], num_samples: 16}
"""


def test_an_unknown_arm_key_stops_the_comparison_naming_the_file_and_key(tmp_path, capsys):
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(TINY.replace("{estimator: gumbel_softmax}", "{estimator: gumbel_softmax, sedes: [3]}"))
    (tmp_path / "pre.pt").write_bytes(b"")
    code = main(["run", str(protocol), "--out", str(tmp_path / "out"), "--pretrained", str(tmp_path / "pre.pt")])
    assert code == 2
    assert f"textgan-compare: error: {protocol}: unknown key 'arms.gumbel_softmax.sedes'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_dry_run_prints_every_command_and_starts_nothing(tmp_path, capsys):
    (tmp_path / "pre.pt").write_bytes(b"")
    out = tmp_path / "out"
    assert main(["run", "fair_oracle", "--out", str(out), "--pretrained", str(tmp_path / "pre.pt"), "--dry-run"]) == 0
    commands = capsys.readouterr().out.splitlines()
    assert len(commands) == 39 and all(line.startswith("OMP_NUM_THREADS=1 textgan-train ") for line in commands)
    assert sum("estimator.schedule.adapt=exp" in line for line in commands) == 4 * 3  # every relaxed arm but ReinMax
    assert not out.exists()


@pytest.mark.slow
def test_a_tiny_comparison_runs_resumes_and_reports_its_table_curves_and_frontier(tmp_path, capsys):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    pretraining = tmp_path / "pre"
    subprocess.run(
        [sys.executable, "-m", "textgan.train", "debug=default", "adversarial.steps=0", "threads=1",
         f"hydra.run.dir={pretraining}"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    protocol = tmp_path / "tiny.yaml"
    protocol.write_text(TINY)
    out = tmp_path / "out"
    common = [str(protocol), "--out", str(out), "--pretrained", str(pretraining / "pretrained_generator.pt")]
    assert main(["run", *common, "--jobs", "2"]) == 0
    config = (out / "gumbel_softmax-fixed1" / "seed1" / "config.yaml").read_text()
    assert "beta_max: 1\n" in config and "adapt: 'no'" in config

    for seed in (0, 1):  # MLE continued starts at the pretrained generator, as the GAN arm does
        mle = json.loads((out / "mle_continued" / f"seed{seed}" / "summary.json").read_text())
        gan = json.loads((out / "gumbel_softmax-fixed1" / f"seed{seed}" / "summary.json").read_text())
        assert [row["step"] for row in mle["pretrain_history"]] == [0, 1] and "adversarial_history" not in mle
        assert mle["pretrain_history"][0] == gan["adversarial_history"][0]
        assert mle["pretrain_history"][1]["nll_gen"] != mle["pretrain_history"][0]["nll_gen"]  # it trained

    capsys.readouterr()
    assert main(["run", *common]) == 0  # everything finished: nothing starts again
    assert "0 run(s) to start or resume, 2 finished" in capsys.readouterr().err

    assert main(["report", *common]) == 0
    report = json.loads((out / "report" / "comparison.json").read_text())
    rows = {row["row"]: row for row in report["rows"]}
    assert list(rows) == ["mle_pretrained", "gumbel_softmax-fixed1", "mle_continued"]
    for row in rows.values():
        assert row["n"] == 2 and row["seeds"] == [0, 1] and row["complete"]
        nll = row["metrics"]["nll_oracle"]
        assert nll["n"] == 2 and nll["ci95_low"] < nll["mean"] < nll["ci95_high"]
    assert "| gumbel_softmax-fixed1 | 2 | 0, 1 | complete |" in (out / "report" / "comparison.md").read_text()
    curves = json.loads((out / "report" / "nll_oracle.json").read_text())
    assert [step for step, _ in curves["gumbel_softmax-fixed1"]["mean"]] == [0, 1, 2]

    frontier = json.loads((out / "report" / "frontier.json").read_text())
    assert frontier["axes"] == {"quality": "nll_oracle", "diversity": "nll_gen"}
    bands = {band["label"]: band for band in frontier["bands"]}
    assert set(bands) == {"mle_pretrained", "gumbel_softmax-fixed1", "mle_continued"}
    for band in bands.values():
        assert band["n"] == 2 and [point["temperature"] for point in band["points"]] == [0.8, 1.2]
    assert (out / "report" / "frontier.png").stat().st_size > 0
