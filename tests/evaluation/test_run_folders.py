"""Finding, selecting and labelling training run folders (textgan.evaluation.runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from textgan.evaluation.runs import (
    UNSET,
    NoRunsError,
    config_value,
    find_runs,
    group_runs,
    parse_group_by,
    select_runs,
    target_name,
)

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_target_names():
    assert target_name("a.b.GumbelSoftmaxEstimator", "Estimator") == "gumbel_softmax"
    assert target_name("a.RSGANLoss", "Loss") == "rsgan"
    assert target_name("a.HingeGANLoss", "Loss") == "hinge_gan"
    assert target_name("a.RMCGenerator", "Generator") == "rmc"
    assert target_name("a.Estimator", "Estimator") == "estimator"  # nothing left to strip to
    config = {"loss": {"_target_": "x.WGANGPLoss"}, "adversarial": {"steps": 200}, "seed": 3}
    assert config_value(config, "loss") == "wgangp"
    assert config_value(config, "adversarial.steps") == "200"
    assert config_value(config, "seed") == "3"
    assert config_value(config, "adversarial.lr") is None and config_value(config, "seed.x") is None


def test_estimator_names_are_the_run_names():
    """Every configured estimator gets the name ``textgan.train.run_name`` puts in run folders."""
    from textgan.train import run_name

    targets = {OmegaConf.load(path)["_target_"] for path in (CONF / "estimator").glob("*.yaml")}
    assert len(targets) >= 5
    for target in targets:
        cfg = OmegaConf.create({"experiment_name": "x", "seed": 0, "estimator": {"_target_": target}})
        name = config_value(OmegaConf.to_container(cfg), "estimator")
        assert run_name(cfg) == f"x-{name}-seed0"


def test_multirun_folder_in_job_order(make_run, tmp_path):
    for number, seed in [(10, 10), (2, 2), (0, 0)]:
        make_run(tmp_path / "multi" / f"{number}-reinforce-seed{seed}", "reinforce", seed, {"nll_oracle": 1.0})
    (tmp_path / "multi" / ".submitit").mkdir()  # hidden folders are no runs
    (tmp_path / "multi" / "multirun.yaml").write_text("{}")
    runs = find_runs([tmp_path / "multi"])
    assert [run.path.name for run in runs] == ["0-reinforce-seed0", "2-reinforce-seed2", "10-reinforce-seed10"]
    assert [run.seed for run in runs] == [0, 2, 10]
    # a run folder itself, and runs named twice come once
    again = find_runs([tmp_path / "multi", tmp_path / "multi" / "2-reinforce-seed2"])
    assert len(again) == 3


def test_missing_and_empty_folders_are_named(make_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_runs([tmp_path / "nowhere"])
    (tmp_path / "empty" / "not_a_run").mkdir(parents=True)
    with pytest.raises(NoRunsError, match=f"{tmp_path / 'empty'}: no training run"):
        find_runs([tmp_path / "empty"])
    make_run(tmp_path / "good", "reinforce", 0, {"nll_oracle": 1.0})
    with pytest.raises(NoRunsError, match="empty"):  # one empty folder among good ones still fails
        find_runs([tmp_path / "good", tmp_path / "empty"])


def test_unfinished_runs_are_skipped_and_counted(make_run, tmp_path):
    multi = tmp_path / "multi"
    make_run(multi / "0-gumbel_softmax-seed0", "gumbel_softmax", 0, {"nll_oracle": 1.0})
    make_run(multi / "1-gumbel_softmax-seed1", "gumbel_softmax", 1, {"nll_oracle": 2.0}, finished=None)  # legacy
    make_run(multi / "2-gumbel_softmax-seed2", "gumbel_softmax", 2, {"nll_oracle": 3.0}, finished=False)
    (multi / "3-gumbel_softmax-seed3").mkdir()
    (multi / "3-gumbel_softmax-seed3" / "config.yaml").write_text("seed: 3\n")  # started, no summary yet
    make_run(multi / "4-gumbel_softmax-seed4", "gumbel_softmax", 4, None)  # no adversarial metrics
    selection = select_runs(find_runs([multi]), stage="after_adversarial")
    assert [run.seed for run in selection.runs] == [0, 1]
    assert {reason: [p.name for p in paths] for reason, paths in selection.skipped.items()} == {
        "unfinished": ["2-gumbel_softmax-seed2", "3-gumbel_softmax-seed3"],
        "without after_adversarial metrics": ["4-gumbel_softmax-seed4"],
    }
    assert selection.warning() == (
        "skipped 3 of 5 run(s): 2 unfinished (2-gumbel_softmax-seed2, 3-gumbel_softmax-seed3); "
        "1 without after_adversarial metrics (4-gumbel_softmax-seed4)"
    )
    assert select_runs(selection.runs).warning() is None
    with pytest.raises(ValueError, match="no usable run: skipped 5 of 5 run.s.: 3 without after_pretraining"):
        select_runs(find_runs([multi]), stage="after_pretraining")
    with pytest.raises(ValueError, match="stage must be one of"):
        select_runs(selection.runs, stage="after_everything")
    with pytest.raises(ValueError, match="without generator.pt"):
        select_runs(selection.runs, file="generator.pt")


def test_grouping_by_estimator_and_more_keys(make_run, tmp_path):
    make_run(tmp_path / "a", "gumbel_softmax", 0, {"m": 1.0})
    make_run(tmp_path / "b", "reinforce", 0, {"m": 1.0})
    make_run(tmp_path / "c", "gumbel_softmax", 1, {"m": 1.0}, loss="textgan.losses.gan.HingeGANLoss")
    make_run(tmp_path / "d", "gumbel_softmax", 2, {"m": 1.0})
    runs = find_runs([tmp_path / name for name in "abcd"])
    by_estimator = group_runs(runs, ["estimator"])
    assert {label: [run.path.name for run in group] for label, group in by_estimator.items()} == {
        ("gumbel_softmax",): ["a", "c", "d"],
        ("reinforce",): ["b"],
    }
    by_both = group_runs(runs, parse_group_by("estimator, loss,estimator"))
    assert list(by_both) == [("gumbel_softmax", "rsgan"), ("reinforce", "rsgan"), ("gumbel_softmax", "hinge_gan")]
    assert [len(group) for group in by_both.values()] == [2, 1, 1]
    with pytest.raises(ValueError, match="'lossy'"):
        group_runs(runs, ["estimator", "lossy"])
    with pytest.raises(ValueError, match="at least one key"):
        group_runs(runs, parse_group_by(" , "))
    runs[0].summary["config"]["trainer"] = {"devices": 2}  # a key only some runs have
    assert list(group_runs(runs, ["trainer.devices"])) == [("2",), (UNSET,)]


def test_the_cost_per_iteration_is_reported_with_the_adversarial_metrics(make_run, tmp_path):
    folder = make_run(tmp_path / "run", "gumbel_softmax", 0, {"nll_oracle": 8.8})
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "seconds_per_iteration": 3.5}))
    (run,) = find_runs([folder])
    assert run.metrics("after_adversarial") == {"nll_oracle": 8.8, "seconds_per_iteration": 3.5}
    assert "seconds_per_iteration" not in run.metrics("after_pretraining")  # a cost of the adversarial stage
    older = make_run(tmp_path / "older", "gumbel_softmax", 0, {"nll_oracle": 8.8})  # written before the key
    assert find_runs([older])[0].metrics("after_adversarial") == {"nll_oracle": 8.8}
