"""Data-parallel training: 2 CPU processes (gloo) through ``trainer=ddp_cpu``, as a user starts them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra_compose import read_metrics

from textgan.models.io import load_generator
from textgan.training.distributed import parameter_checksum, share

TRAIN = [sys.executable, "-m", "textgan.train"]


def train(cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline"}
    env.pop("OMP_NUM_THREADS", None)  # Lightning gives each of the N processes cores / N threads
    return subprocess.run([*TRAIN, *overrides], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["gumbel_softmax", "reinforce"])
def test_two_processes_keep_bitwise_identical_parameters_through_both_stages(tmp_path, estimator):
    run_dir = tmp_path / "run"
    result = train(tmp_path, "debug=default", "trainer=ddp_cpu", f"estimator={estimator}", "pretrain.epochs=2",
                   "pretrain.checkpoint_every=1", "adversarial.steps=4", "adversarial.checkpoint_every=2",
                   f"hydra.run.dir={run_dir}")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run_dir / "train.log").read_text()
    # compared at every checkpoint: 2 MLE epochs + MLE end, 2 adversarial checkpoints + end
    assert log.count("all 2 data-parallel ranks hold bitwise the same parameters") >= 5
    # each evaluation scores the configured 64 samples once, drawn half by each rank
    evaluations = log.count(": scoring 64 samples")
    assert "pretrain/eval at step 0" in log and log.count("64 samples from 2 ranks") == evaluations > 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["after_adversarial"]["step"] == 4 and summary["finished"]
    # MLE: 256 sentences, 128 per rank, batches of 16: 8 steps per epoch; the adversarial stage logs after them
    rows = read_metrics(run_dir)
    mle = [int(r["step"]) for r in rows if r.get("pretrain/nll_train")]
    adversarial = [int(r["step"]) for r in rows if r.get("adversarial/iteration")]
    assert mle == [7, 15] and adversarial == [17, 18, 19, 20]


@pytest.mark.slow
def test_the_first_mle_update_with_half_batches_on_two_ranks_equals_one_update_with_the_whole_batch(tmp_path):
    sgd = ["pretrain.module.optimizer._target_=torch.optim.SGD", "~pretrain.module.optimizer.betas"]
    common = ["debug=default", "adversarial.steps=0", "+trainer.max_steps=1", *sgd]
    single = train(tmp_path, *common, "data.batch_size=16", f"hydra.run.dir={tmp_path / 'single'}")
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = train(tmp_path, *common, "trainer=ddp_cpu", "data.batch_size=8", f"hydra.run.dir={tmp_path / 'ddp'}")
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    first = load_generator(tmp_path / "single" / "pretrained_generator.pt")[0].state_dict()
    second = load_generator(tmp_path / "ddp" / "pretrained_generator.pt")[0].state_dict()
    for name in first:
        # float32 sums over 16 rows vs two means of 8 averaged: equal up to rounding (SGD: linear in the gradient)
        torch.testing.assert_close(second[name], first[name], rtol=0, atol=1e-6, msg=name)


@pytest.mark.slow
def test_a_data_parallel_run_resumes_at_its_saved_iteration(tmp_path):
    run_dir = tmp_path / "run"
    first = train(tmp_path, "debug=default", "trainer=ddp_cpu", "adversarial.steps=2", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = train(tmp_path, f"resume={run_dir}", "adversarial.steps=4")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "adversarial: 4 iterations, resumed at 2" in (run_dir / "train.log").read_text()
    checkpoint = torch.load(run_dir / "checkpoints" / "adversarial" / "last.ckpt", weights_only=False)
    assert checkpoint["adversarial_iteration"] == 4 and len(checkpoint["torch_rng_states"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_checksum_sees_a_single_flipped_bit_and_a_swap():
    module = torch.nn.Linear(4, 3)
    before = parameter_checksum(module)
    with torch.no_grad():
        module.weight[1, 2] = torch.nextafter(module.weight[1, 2], torch.tensor(10.0))
    assert parameter_checksum(module) != before
    with torch.no_grad():
        module.weight[1, 2] = torch.nextafter(module.weight[1, 2], torch.tensor(-10.0))
        assert parameter_checksum(module) == before
        module.bias[[0, 1]] = module.bias[[1, 0]].clone()
    assert parameter_checksum(module) != before


@pytest.mark.parametrize(("count", "world"), [(64, 2), (10_000, 3), (5, 8), (0, 2)])
def test_the_ranks_shares_add_up_to_the_count(count, world):
    shares = [share(count, rank, world) for rank in range(world)]
    assert sum(shares) == count and max(shares) - min(shares) <= 1
