"""LeakGAN's leaked feature CNN is part of the checkpoint: a run killed mid-way and resumed equals the uninterrupted
run exactly (the setup's copy of the generator's CNN into the discriminator runs before the checkpoint is restored,
so it cannot overwrite the discriminator the run had learned)."""

from __future__ import annotations

import pytest
from hydra_compose import compose_config, resume
from test_resume import SCHEDULE, SimulatedKill, StopAt, with_callback

from textgan.benchmarks.fault_drill import differences, run_result
from textgan.train import run

pytestmark = pytest.mark.slow

LEAKGAN = ("experiment=seqgan_oracle", "generator=leakgan", "estimator=leakgan", "estimator.rollout_num=2",
           "adversarial.module.discriminator_pretrain_steps=1", *SCHEDULE)  # fmt: skip


def test_leakgan_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    run(compose_config(tmp_path / "straight", *LEAKGAN))
    expected = run_result(tmp_path / "straight" / "run")
    with monkeypatch.context() as patch:
        with_callback(patch, StopAt("adversarial", 3))
        with pytest.raises(SimulatedKill):
            run(compose_config(tmp_path / "killed", *LEAKGAN))
    resume(tmp_path / "killed" / "run")
    assert differences(expected, run_result(tmp_path / "killed" / "run")) == []
