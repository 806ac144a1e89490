"""DGSAN's frozen copy and refresh schedule are checkpointed: a run killed mid-way and resumed equals the
uninterrupted run exactly (a copy re-made at the resume would differ: the refresh interval spans the kill)."""

from __future__ import annotations

import pytest
from hydra_compose import compose_config, resume
from test_resume import SCHEDULE, SimulatedKill, StopAt, with_callback

from textgan.benchmarks.fault_drill import differences, run_result
from textgan.train import run

pytestmark = pytest.mark.slow

DGSAN = ("estimator=dgsan", "estimator.refresh_every=3", *SCHEDULE)  # refreshes at 0 and 3; checkpoints at 2, 4


def test_dgsan_resumed_equals_uninterrupted(tmp_path, monkeypatch):
    run(compose_config(tmp_path / "straight", *DGSAN))
    expected = run_result(tmp_path / "straight" / "run")
    with monkeypatch.context() as patch:
        with_callback(patch, StopAt("adversarial", 3))
        with pytest.raises(SimulatedKill):
            run(compose_config(tmp_path / "killed", *DGSAN))
    resume(tmp_path / "killed" / "run")
    assert differences(expected, run_result(tmp_path / "killed" / "run")) == []
