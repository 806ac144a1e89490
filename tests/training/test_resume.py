"""Resume that cannot lose work: a run stopped anywhere and resumed equals the uninterrupted run exactly.

A "kill" here is an exception raised from a callback at a chosen step (Lightning then flushes the loggers,
so the metric file holds rows past the last checkpoint, as a killed process can leave them); a SIGKILL of a
real process is what ``scripts/fault_drill.py`` does. Exactness is ``torch.equal`` / ``==``: parameters,
optimiser states, sample files, every logged metric row and the summary's evaluation histories.
"""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra_compose import compose_config, read_metrics, resume

import textgan.training.stages as stages_module
from textgan.benchmarks.fault_drill import differences, run_result  # what the drill compares: everything a run made
from textgan.train import run
from textgan.training.interrupt import RunInterrupted, request_stop

pytestmark = pytest.mark.slow

SCHEDULE = (
    "pretrain.epochs=3", "pretrain.checkpoint_every=1", "pretrain.eval_every=2",
    "adversarial.steps=4", "adversarial.checkpoint_every=2", "adversarial.eval_every=2",
    "trainer.log_every_n_steps=1",
)  # fmt: skip


class SimulatedKill(Exception):
    pass


class StopAt(L.Callback):
    """Raises ``SimulatedKill`` (or presses Ctrl-C) at adversarial iteration ``iteration`` / MLE ``epoch``."""

    def __init__(self, stage: str, at: int, how: str = "kill") -> None:
        self.stage, self.at, self.how = stage, at, how

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        adversarial = hasattr(pl_module, "iteration")
        if self.stage == "adversarial" and adversarial and pl_module.iteration == self.at:
            self._stop()
        if self.stage == "pretrain" and not adversarial and pl_module.current_epoch == self.at and batch_idx == 3:
            self._stop()

    def _stop(self) -> None:
        if self.how == "ctrl_c":
            request_stop()
        else:
            raise SimulatedKill


def with_callback(monkeypatch, callback: L.Callback) -> None:
    make_trainer = stages_module.trainer
    monkeypatch.setattr(
        stages_module,
        "trainer",
        lambda cfg, loggers, callbacks, **kw: make_trainer(cfg, loggers, [*callbacks, callback], **kw),
    )


_UNINTERRUPTED: dict[str, dict] = {}


def uninterrupted(estimator: str, tmp_path_factory) -> dict:
    if estimator not in _UNINTERRUPTED:
        folder = tmp_path_factory.mktemp(f"straight-{estimator}")
        run(compose_config(folder, f"estimator={estimator}", *SCHEDULE))
        _UNINTERRUPTED[estimator] = run_result(folder / "run")
    return _UNINTERRUPTED[estimator]


@pytest.mark.parametrize("estimator", ["gumbel_softmax", "reinforce"])
@pytest.mark.parametrize(
    ("stage", "at", "how"),
    [("pretrain", 1, "kill"), ("adversarial", 3, "kill"), ("adversarial", 1, "ctrl_c"), ("pretrain", 0, "ctrl_c")],
)
def test_a_run_stopped_anywhere_and_resumed_equals_the_uninterrupted_run(
    estimator, stage, at, how, tmp_path, tmp_path_factory, monkeypatch
):
    expected = uninterrupted(estimator, tmp_path_factory)
    with monkeypatch.context() as patch:
        with_callback(patch, StopAt(stage, at, how))
        expected_error = (SimulatedKill, None) if how == "kill" else (RunInterrupted, f"resume={tmp_path / 'run'}")
        with pytest.raises(expected_error[0], match=expected_error[1]):
            run(compose_config(tmp_path, f"estimator={estimator}", *SCHEDULE))
    run_dir = tmp_path / "run"
    assert not (run_dir / "generator.pt").exists()
    resume(run_dir)  # the saved config alone
    assert differences(expected, run_result(run_dir)) == []


def test_a_run_killed_after_its_last_checkpoint_resumes_to_the_trained_generator_and_full_history(
    tmp_path, tmp_path_factory, monkeypatch
):
    # Killed after the checkpoint of its last iteration, before the summary: resume trains nothing, and the
    # generator it saves and the history it reports must be the checkpoint's, not the pretrained ones.
    expected = uninterrupted("gumbel_softmax", tmp_path_factory)
    with monkeypatch.context() as patch:
        with_callback(patch, StopAt("adversarial", 4))
        with pytest.raises(SimulatedKill):
            run(compose_config(tmp_path, "estimator=gumbel_softmax", *SCHEDULE))
    run_dir = tmp_path / "run"
    assert "adversarial_history" not in json.loads((run_dir / "summary.json").read_text())  # MLE's only
    summary = resume(run_dir)
    assert [row["step"] for row in summary["adversarial_history"]] == [0, 2, 4]
    assert differences(expected, run_result(run_dir)) == []


def test_a_run_killed_between_its_pretrained_generator_and_its_summary_keeps_the_mle_history(
    tmp_path, tmp_path_factory, monkeypatch
):
    # The MLE stage writes pretrained_generator.pt, then the summary: a kill between the two left a resumed run
    # without its pretrain_history (a landing the fault drill's random kills found).
    expected = uninterrupted("gumbel_softmax", tmp_path_factory)
    save_generator = stages_module.save_generator

    def save_then_die(path, *args, **kwargs):
        save_generator(path, *args, **kwargs)
        if Path(path).name == "pretrained_generator.pt":
            raise SimulatedKill

    with monkeypatch.context() as patch:
        patch.setattr(stages_module, "save_generator", save_then_die)
        with pytest.raises(SimulatedKill):
            run(compose_config(tmp_path, "estimator=gumbel_softmax", *SCHEDULE))
    run_dir = tmp_path / "run"
    assert (run_dir / "pretrained_generator.pt").is_file() and not (run_dir / "summary.json").exists()
    summary = resume(run_dir)
    assert [row["step"] for row in summary["pretrain_history"]] == [0, 2, 3]
    assert differences(expected, run_result(run_dir)) == []


def test_a_resumed_run_with_its_progress_bar_finishes(tmp_path, monkeypatch, capsys):
    # Lightning skips on_train_epoch_start when it resumes mid-epoch: the bar must still open and close.
    with monkeypatch.context() as patch:
        with_callback(patch, StopAt("adversarial", 3))
        with pytest.raises(SimulatedKill):
            run(compose_config(tmp_path, *SCHEDULE, "trainer.enable_progress_bar=true"))
    summary = resume(tmp_path / "run")
    assert summary["after_adversarial"]["step"] == 4
    assert "adversarial" in capsys.readouterr().out  # the resumed stage's bar, named


def test_resume_alone_continues_with_the_saved_config_and_makes_no_new_folder(tmp_path):
    run(compose_config(tmp_path, "adversarial.steps=2", "estimator.schedule.beta_max=7", "data.batch_size=8"))
    run_dir = tmp_path / "run"
    before = sorted(p.name for p in tmp_path.iterdir())
    summary = resume(run_dir, "adversarial.steps=4")
    assert summary["after_adversarial"]["step"] == 4
    assert summary["config"]["estimator"]["schedule"]["beta_max"] == 7  # not the default 100
    assert summary["config"]["estimator"]["schedule"]["horizon"] == 2  # the schedule the run started with
    assert summary["config"]["data"]["batch_size"] == 8
    assert "after_pretraining" in summary and summary["pretrain_history"]  # from before the resume
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert [p.name for p in (run_dir / "csv").iterdir()] == ["version_0"]
    iterations = [
        int(float(r["adversarial/iteration"])) for r in read_metrics(run_dir) if r.get("adversarial/iteration")
    ]
    assert iterations == [1, 2, 3, 4]
    assert "steps: 4" in (run_dir / "config.yaml").read_text()  # the next resume=RUN_DIR alone does the same


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("estimator.schedule.beta_max=9", "estimator.schedule.beta_max=7"),
        ("estimator=reinforce", "estimator"),
        ("data.batch_size=16", "data.batch_size=8"),
    ],
)
def test_resume_refuses_an_override_that_would_change_the_run(tmp_path, override, named):
    run(compose_config(tmp_path, "adversarial.steps=2", "estimator.schedule.beta_max=7", "data.batch_size=8"))
    run_dir = tmp_path / "run"
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match=f"resume=.*{override.split('=')[0]}.*{named}.*may change only"):
        resume(run_dir, override)
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == files
    resume(run_dir, "estimator.schedule.beta_max=7")  # repeating a saved value is fine


def test_resuming_a_finished_run_says_so_and_changes_nothing(tmp_path, caplog):
    run(compose_config(tmp_path, "adversarial.steps=2"))
    run_dir = tmp_path / "run"
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    for command_line in ([], ["adversarial.steps=2"], ["adversarial.steps=1"]):  # the same, or fewer steps
        summary = resume(run_dir, *command_line)
        assert "nothing to do" in caplog.text
        assert summary["after_adversarial"]["step"] == 2
        assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == files


def test_a_full_disk_while_checkpointing_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    saves = {"count": 0}
    save_checkpoint = L.Trainer.save_checkpoint

    def full_disk_on_second_adversarial_save(self, filepath, *args, **kwargs):
        if "adversarial" in str(filepath):
            saves["count"] += 1
            if saves["count"] == 2:
                Path(filepath).write_bytes(b"partial")  # what a write that ran out of space leaves
                raise OSError(errno.ENOSPC, "No space left on device")
        return save_checkpoint(self, filepath, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "save_checkpoint", full_disk_on_second_adversarial_save)
    with pytest.raises(
        OSError, match=r"could not write .*last\.ckpt: No space left on device; the previous file is kept"
    ):
        run(compose_config(tmp_path, "adversarial.steps=4", "adversarial.checkpoint_every=2"))
    checkpoint = tmp_path / "run" / "checkpoints" / "adversarial" / "last.ckpt"
    assert torch.load(checkpoint, weights_only=False)["adversarial_iteration"] == 2
    assert not list(checkpoint.parent.glob(".last.ckpt.tmp-*"))


def test_a_resumed_run_continues_its_wandb_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    run(compose_config(tmp_path, "adversarial.steps=2", "logger=wandb"))
    run_dir = tmp_path / "run"
    run_id = yaml_value(run_dir / "config.yaml", "id")
    assert run_id and len(run_id) == 8
    resume(run_dir, "adversarial.steps=3")
    assert yaml_value(run_dir / "config.yaml", "id") == run_id
    runs = sorted(p.name for p in (run_dir / "wandb").glob("offline-run-*"))
    # one wandb run id: `wandb sync` joins them (wandb suffixes "-1" when both runs start in the same second)
    assert runs and all(re.fullmatch(rf"offline-run-\d{{8}}_\d{{6}}-{run_id}(-\d+)?", name) for name in runs), runs


def yaml_value(path: Path, key: str) -> str | None:
    from omegaconf import OmegaConf

    return OmegaConf.load(path).logger.wandb.get(key)
