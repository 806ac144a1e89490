"""CatGAN's population, its generator optimiser and its temperature are checkpointed with the estimator: a run
killed mid-way and resumed equals the uninterrupted run exactly (a fresh optimiser at the resume would differ)."""

from __future__ import annotations

import pytest
from hydra_compose import compose_config, resume
from test_resume import SCHEDULE, SimulatedKill, StopAt, with_callback

from textgan.benchmarks.fault_drill import differences, run_result
from textgan.train import run

pytestmark = pytest.mark.slow

CATGAN = ("experiment=catgan_k_oracle", "data=k_oracle", "estimator.mutation_losses=[rsgan,lsgan]", *SCHEDULE)


def test_catgan_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    run(compose_config(tmp_path / "straight", *CATGAN))
    expected = run_result(tmp_path / "straight" / "run")
    with monkeypatch.context() as patch:
        with_callback(patch, StopAt("adversarial", 3))
        with pytest.raises(SimulatedKill):
            run(compose_config(tmp_path / "killed", *CATGAN))
    resume(tmp_path / "killed" / "run")
    assert differences(expected, run_result(tmp_path / "killed" / "run")) == []
