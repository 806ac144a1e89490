"""A comparison protocol becomes runs: the same schedule overrides for every relaxed arm, one run per seed for the
others, new runs started, unfinished ones resumed, finished ones skipped; a protocol that cannot run as written is
refused naming its file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from textgan.evaluation.comparison import ProtocolError, load_protocol
from textgan.evaluation.comparison_plan import launch_words, plan_pilot, plan_runs, run_state

RELAXED = ("gumbel_softmax", "straight_through", "gumbel_rao", "gst", "reinmax")
SCHEDULE_WORDS = {
    "relgan_exp": [
        "estimator.schedule.beta_max=100",
        "estimator.schedule.adapt=exp",
        "estimator.schedule.horizon=5000",
    ],
    "fixed1": ["estimator.schedule.beta_max=1", "estimator.schedule.adapt=no", "estimator.schedule.horizon=null"],
}
CHOICES = {
    "rebar": "estimator.optimizer.lr=0.001",
    "relax": "estimator.optimizer.lr=0.001",
    "reinforce": "estimator/baseline=leave_one_out",
}


def write_protocol(folder: Path, text: str) -> Path:
    path = folder / "protocol.yaml"
    path.write_text(text)
    return path


def test_every_relaxed_arm_runs_under_the_same_schedule_overrides_and_the_others_once(tmp_path):
    protocol = load_protocol("fair_oracle", pretrained=str(tmp_path / "pre.pt"))
    runs = plan_runs(protocol, tmp_path / "out", CHOICES, mle_epochs=7)
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    assert all([run.seed for run in members] == [0, 1, 2] for members in groups.values())
    relaxed_groups = {f"{arm}-{schedule}" for arm in RELAXED for schedule in SCHEDULE_WORDS} - {"reinmax-relgan_exp"}
    assert set(groups) == relaxed_groups | {"rebar", "relax", "reinforce", "mle_continued"}
    for name, members in groups.items():
        for run in members:
            schedule_words = [word for word in run.overrides if word.startswith("estimator.schedule.")]
            assert schedule_words == (SCHEDULE_WORDS[run.schedule] if run.schedule else []), name
            assert f"seed={run.seed}" in run.overrides and f"hydra.run.dir={run.folder}" in run.overrides
            assert run.folder == (tmp_path / "out").resolve() / name / f"seed{run.seed}"
    assert "estimator.straight_through=true" in groups["straight_through-fixed1"][0].overrides
    assert CHOICES["reinforce"] in groups["reinforce"][0].overrides
    mle = groups["mle_continued"][0].overrides
    assert {"pretrain.continue_from_pretrained=true", "pretrain.epochs=7", "adversarial.steps=0"} <= set(mle)
    assert not any(word.startswith("estimator") for word in mle)
    assert runs[-1].arm == "mle_continued"  # after the GAN arms, whose wall time it matches


def test_the_pilot_runs_each_candidate_with_gradient_diagnostics(tmp_path):
    protocol = load_protocol("fair_oracle", pretrained=str(tmp_path / "pre.pt"))
    runs = plan_pilot(protocol, tmp_path / "out")
    assert [(run.arm, run.folder.parent.name) for run in runs] == [
        ("rebar", "0.0001"), ("rebar", "0.001"), ("rebar", "0.01"),
        ("relax", "0.0001"), ("relax", "0.001"), ("relax", "0.01"),
        ("reinforce", "moving_average"), ("reinforce", "leave_one_out"), ("reinforce", "self_critical"),
    ]  # fmt: skip
    assert {"estimator.optimizer.lr=0.01", "diagnostics.every=5", "adversarial.steps=100"} <= set(runs[2].overrides)
    assert "estimator/baseline=self_critical" in runs[-1].overrides


def summary(folder: Path, finished: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text("seed: 0\n")
    (folder / "summary.json").write_text(json.dumps({"finished": finished}))


def test_a_finished_run_is_skipped_an_unfinished_one_resumed_and_a_new_one_started(tmp_path):
    protocol = load_protocol("fair_oracle", pretrained=str(tmp_path / "pre.pt"))
    first, second, third = plan_runs(protocol, tmp_path / "out", CHOICES)[:3]
    summary(first.folder, finished=True)
    summary(second.folder, finished=False)
    assert [run_state(run.folder) for run in (first, second, third)] == ["finished", "unfinished", "new"]
    assert launch_words(first) is None
    assert launch_words(second) == [f"resume={second.folder}"]
    assert launch_words(third) == list(third.overrides)
    (third.folder).mkdir(parents=True)
    (third.folder / "config.yaml").write_text("seed: 2\n")  # killed before its first summary
    assert launch_words(third) == [f"resume={third.folder}"]


BASE = """
seeds: [0]
schedules:
  fixed1: {beta_max: 1, adapt: "no"}
  hot: {beta_max: 100, adapt: exp, horizon: 5000}
arms:
"""


@pytest.mark.parametrize(
    "arms, words",
    [
        ("  gumbel: {estimator: gumbel_softmax, schedule: fixed1}\n", ["unknown key 'arms.gumbel.schedule'"]),
        ("  gumbel: {estimator: gumbel_sofmax}\n", ["arms.gumbel.estimator", "unknown estimator 'gumbel_sofmax'"]),
        ("  reinmax: {estimator: reinmax}\n", ["arms.reinmax", "schedule 'hot'", "schedule.beta_max=100"]),
        ("  gst: {estimator: gst, overrides: [estimator.schedule.beta_max=5]}\n", ["arms.gst.overrides"]),
        ("  gst: {estimator: gst, overrides: [seed=3]}\n", ["'seed=3' sets seed"]),
        ("  rebar: {estimator: rebar, schedules: [fixed1]}\n", ["arms.rebar.schedules", "no temperature schedule"]),
        ("  gst: {estimator: gst, schedules: [cold]}\n", ["unknown schedule 'cold'"]),
        ("  mle: {mle: true, epochs: 0}\n", ["arms.mle.epochs"]),
    ],
)
def test_a_protocol_that_cannot_run_is_refused_naming_its_file_and_key(tmp_path, arms, words):
    path = write_protocol(tmp_path, BASE + arms)
    with pytest.raises(ProtocolError) as error:
        load_protocol(path)
    assert str(error.value).startswith(f"{path}: ")
    for word in words:
        assert word in str(error.value)


def test_an_unknown_top_level_key_is_named(tmp_path):
    path = write_protocol(tmp_path, "sedes: [0]\narms:\n  gst: {estimator: gst}\n")
    with pytest.raises(ProtocolError, match="unknown key 'sedes'"):
        load_protocol(path)


def test_reinmax_may_list_the_schedules_it_can_take(tmp_path):
    protocol = load_protocol(write_protocol(tmp_path, BASE + "  reinmax: {estimator: reinmax, schedules: [fixed1]}\n"))
    assert [run.group for run in plan_runs(protocol, tmp_path)] == ["reinmax-fixed1"]
