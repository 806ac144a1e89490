"""Swapping estimators on the same models: tiny end-to-end runs per estimator, the SeqGAN presets, multirun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra_compose import compose_config, read_metrics

from textgan.models.io import load_generator
from textgan.train import run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "overrides",
    [
        ["estimator=gumbel_softmax"],
        ["estimator=gumbel_softmax", "estimator.straight_through=true"],
        ["estimator=reinforce", "estimator.reward=sequence", "estimator/baseline=leave_one_out"],
        ["estimator=reinforce", "estimator.rollout_num=2", "estimator/baseline=self_critical"],
        ["estimator=reinforce", "estimator.rollout_num=2", "estimator.rollout_update_rate=0.8"],
    ],
    ids=["gumbel_softmax", "straight_through", "reinforce-sequence-loo", "reinforce-rollout-sc", "reinforce-delayed"],
)
def test_each_estimator_trains_the_same_pretrained_generator(tmp_path, overrides):
    pretrained_run = tmp_path / "pretrain"
    run(compose_config(pretrained_run, "adversarial.steps=0"))
    pretrained = pretrained_run / "run" / "pretrained_generator.pt"
    start = load_generator(pretrained)[0].state_dict()

    summary = run(compose_config(tmp_path, f"generator.pretrained={pretrained}", *overrides))
    assert summary["pretrained_from"] == str(pretrained)
    assert summary["after_adversarial"]["step"] == 4
    rows = read_metrics(tmp_path / "run")
    logged = {key for row in rows for key, value in row.items() if value not in ("", None)}
    assert {"adversarial/g_loss", "adversarial/d_loss", "adversarial/eval/nll_oracle"} <= logged
    if "estimator=reinforce" in overrides:
        assert {"adversarial/reward", "adversarial/baseline", "adversarial/entropy"} <= logged
    trained = load_generator(tmp_path / "run" / "generator.pt")[0].state_dict()
    moved = [name for name in start if not torch.equal(start[name], trained[name])]
    assert moved, "adversarial training left every generator parameter unchanged"
    for name, tensor in trained.items():
        assert torch.isfinite(tensor).all(), name


@pytest.mark.parametrize("experiment", ["seqgan_oracle", "seqgan_coco"])
def test_seqgan_presets_run_their_schedule(tmp_path, experiment):
    """LSTM + SeqGAN CNN + REINFORCE rollouts, discriminator pretraining and fresh negatives, at debug size."""
    cfg = compose_config(tmp_path, f"experiment={experiment}", "adversarial.module.discriminator_pretrain_steps=2")
    assert cfg.generator._target_.endswith("LSTMGenerator")
    assert cfg.discriminator._target_.endswith("SeqGANDiscriminator")
    assert cfg.estimator.reward == "rollout" and cfg.estimator.reduction == "sum"
    summary = run(cfg)
    assert summary["after_adversarial"]["step"] == 4
    assert summary["config"]["run_name"].startswith(f"{experiment}-reinforce-seed")


def test_gsgan_preset_feeds_relaxed_rows_to_an_lstm_pair_and_keeps_them_under_another_estimator(tmp_path):
    cfg = compose_config(tmp_path, "experiment=gsgan_oracle")
    assert cfg.generator._target_.endswith("LSTMGenerator")
    assert cfg.discriminator._target_.endswith("LSTMDiscriminator")
    assert cfg.estimator.feedback == "relaxed" and cfg.loss._target_.endswith("StandardGANLoss")
    summary = run(cfg)
    assert summary["after_adversarial"]["step"] == 4
    assert summary["config"]["run_name"].startswith("gsgan_oracle-gumbel_softmax-seed")
    rows = read_metrics(tmp_path / "run")
    assert any(row.get("adversarial/eval/nll_oracle") not in ("", None) for row in rows)
    swapped = compose_config(tmp_path, "experiment=gsgan_oracle", "estimator=rebar")
    assert "feedback" not in swapped.estimator and swapped.discriminator == cfg.discriminator

def test_the_paper_presets_keep_their_schedule_only_for_gumbel_softmax(tmp_path):
    gumbel = compose_config(tmp_path, "experiment=relgan_coco")
    assert gumbel.estimator.schedule.horizon == 5000 and gumbel.estimator.schedule.beta_max == 100
    assert gumbel.generator.head_size == 8 and gumbel.discriminator.num_rep == 2  # debug shrinks both
    swapped = compose_config(tmp_path, "experiment=relgan_coco", "estimator=reinforce")
    assert "schedule" not in swapped.estimator and swapped.estimator.reward == "rollout"
    assert swapped.generator == gumbel.generator and swapped.discriminator == gumbel.discriminator
    assert swapped.adversarial == gumbel.adversarial


def test_multirun_over_estimators_and_seeds_names_each_run(tmp_path):
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONHASHSEED": "0"}
    command = [
        sys.executable, "-m", "textgan.train", "-m", "debug=default", "estimator=gumbel_softmax,reinforce",
        "seed=0,1", "adversarial.steps=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", f"paths.cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    subprocess.run(command, check=True, env=env, cwd=Path(__file__).resolve().parents[2], timeout=600)
    runs = sorted(path.name for path in (tmp_path / "sweep").iterdir() if path.is_dir())
    assert runs == ["0-gumbel_softmax-seed0", "1-gumbel_softmax-seed1", "2-reinforce-seed0", "3-reinforce-seed1"]
    finals = {}
    for name in runs:
        summary = json.loads((tmp_path / "sweep" / name / "summary.json").read_text())
        assert set(summary["after_adversarial"]) >= {"step", "nll_oracle", "nll_gen"}
        finals[name] = summary["after_adversarial"]["nll_oracle"]
    assert finals["2-reinforce-seed0"] != finals["3-reinforce-seed1"]  # the seed reaches the run


def test_a_sweep_over_beta_max_and_seeds_leaves_one_full_run_per_job(tmp_path):
    """Jobs that differ only in an estimator option (beta_max) used to share a folder and overwrite each other."""
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONHASHSEED": "0"}
    command = [
        sys.executable, "-m", "textgan.train", "-m", "debug=default", "estimator.schedule.beta_max=1,1000",
        "seed=0,1", "adversarial.steps=2", "pretrain.epochs=1",
        f"hydra.sweep.dir={tmp_path / 'sweep'}", f"paths.cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    subprocess.run(command, check=True, env=env, cwd=Path(__file__).resolve().parents[2], timeout=600)
    folders = sorted(path for path in (tmp_path / "sweep").iterdir() if path.is_dir())
    assert len(folders) == 4
    seen = set()
    for folder in folders:
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["output_dir"] == str(folder.resolve())
        assert "after_pretraining" in summary and summary["after_adversarial"]["step"] == 2  # each trained itself
        seen.add((summary["config"]["estimator"]["schedule"]["beta_max"], summary["config"]["seed"]))
        assert (folder / "generator.pt").is_file() and (folder / "checkpoints" / "adversarial").is_dir()
    assert seen == {(1, 0), (1, 1), (1000, 0), (1000, 1)}
