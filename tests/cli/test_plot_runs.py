"""textgan-plot-runs: curves read from run summaries, a multirun folder expanded, bad folders named."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from textgan.cli.plot_runs import main


def write_run(folder: Path, values: list[float]) -> None:
    folder.mkdir(parents=True)
    history = [{"step": 10 * i, "nll_oracle": value, "nll_gen": 1.0} for i, value in enumerate(values)]
    (folder / "summary.json").write_text(json.dumps({"adversarial_history": history}))


def test_a_multirun_folder_gives_one_curve_per_run_with_its_values(tmp_path):
    write_run(tmp_path / "sweep" / "gumbel_softmax-seed0", [9.0, 8.5, 8.25])
    write_run(tmp_path / "sweep" / "reinforce-seed0", [9.0, 8.75])
    out = tmp_path / "plots" / "curves"
    assert main([str(tmp_path / "sweep"), "--metric", "nll_oracle", "--out", str(out)]) == 0
    curves = json.loads(out.with_suffix(".json").read_text())
    assert curves == {
        "gumbel_softmax-seed0": [[0, 9.0], [10, 8.5], [20, 8.25]],
        "reinforce-seed0": [[0, 9.0], [10, 8.75]],
    }
    table = out.with_suffix(".md").read_text().splitlines()
    assert table[2] == "| step | gumbel_softmax-seed0 | reinforce-seed0 |"
    assert table[-1] == "| 20 | 8.2500 |  |"
    assert out.with_suffix(".png").stat().st_size > 1000


def test_runs_of_the_same_folder_name_get_labels_that_tell_them_apart(tmp_path):
    write_run(tmp_path / "peer" / "seed123", [9.3, 9.2])
    write_run(tmp_path / "ours" / "seed123", [8.9, 8.8])
    write_run(tmp_path / "ours" / "seed124", [8.95])
    out = tmp_path / "curves"
    runs = [str(tmp_path / "peer" / "seed123"), str(tmp_path / "ours" / "seed123"), str(tmp_path / "ours" / "seed124")]
    assert main([*runs, "--out", str(out)]) == 0
    curves = json.loads(out.with_suffix(".json").read_text())
    assert curves == {
        "peer/seed123": [[0, 9.3], [10, 9.2]], "ours/seed123": [[0, 8.9], [10, 8.8]], "seed124": [[0, 8.95]]
    }  # fmt: skip


def test_missing_summaries_and_metrics_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path), "--out", str(tmp_path / "x")])
    assert stopped.value.code == 2
    expected = (
        f"textgan-plot-runs: error: {tmp_path}: no summary.json or csv/version_0/metrics.csv there or in its "
        "subdirectories\n"
    )
    assert capsys.readouterr().err == expected
    write_run(tmp_path / "run", [1.0])
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "run"), "--metric", "bleu5", "--out", str(tmp_path / "x")])
    assert stopped.value.code == 2 and "no adversarial evaluation with metric 'bleu5'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_the_pretraining_stage_alone_plots_mle_only_runs(tmp_path, capsys):
    folder = tmp_path / "mle" / "seed0"
    folder.mkdir(parents=True)
    history = [{"step": epoch, "class_accuracy": 0.5 + 0.1 * epoch} for epoch in (0, 1, 2)]
    (folder / "summary.json").write_text(json.dumps({"pretrain_history": history, "adversarial_history": []}))
    out = tmp_path / "curves"
    argv = [str(folder), "--metric", "class_accuracy", "--out", str(out)]
    assert main([*argv, "--stage", "pretraining"]) == 0
    assert json.loads(out.with_suffix(".json").read_text()) == {"seed0": [[0, 0.5], [1, 0.6], [2, 0.7]]}
    assert "class_accuracy by MLE epoch" in out.with_suffix(".md").read_text()
    with pytest.raises(SystemExit):  # an MLE-only run has no adversarial curve: named, not a traceback
        main(argv)
    assert "no adversarial evaluation with metric 'class_accuracy'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--stage", "pretraining", "--with-pretraining"])
    assert "--with-pretraining plots both stages" in capsys.readouterr().err


def write_seed(folder: Path, estimator: str, seed: int, values: list[float]) -> None:
    write_run(folder, values)
    summary = json.loads((folder / "summary.json").read_text())
    target = {"gumbel_softmax": "GumbelSoftmaxEstimator", "reinforce": "ReinforceEstimator"}[estimator]
    config = {"seed": seed, "estimator": {"_target_": f"textgan.estimators.{estimator}.{target}"}}
    (folder / "summary.json").write_text(json.dumps({**summary, "config": config}))


def test_grouped_runs_give_one_mean_curve_with_its_sample_std_per_model(tmp_path):
    write_seed(tmp_path / "gs" / "0-gumbel_softmax-seed0", "gumbel_softmax", 0, [9.0, 8.5, 8.0])
    write_seed(tmp_path / "gs" / "1-gumbel_softmax-seed1", "gumbel_softmax", 1, [9.0, 8.7, 8.4])
    write_seed(tmp_path / "rf" / "0-reinforce-seed0", "reinforce", 0, [9.0, 8.75])  # stopped early: steps 0, 10
    out = tmp_path / "curves"
    assert main([str(tmp_path / "gs"), str(tmp_path / "rf"), "--out", str(out), "--group-by", "estimator"]) == 0
    models = json.loads(out.with_suffix(".json").read_text())
    assert list(models) == ["gumbel_softmax", "reinforce"]
    steps, means = zip(*models["gumbel_softmax"]["mean"], strict=True)
    assert steps == (0, 10, 20) and means == pytest.approx([9.0, 8.6, 8.2])
    # ddof=1: two values 8.5 and 8.7 have a sample std of 0.1 * sqrt(2)
    assert models["gumbel_softmax"]["std"][1][1] == pytest.approx(0.1 * 2**0.5)
    assert models["reinforce"]["mean"] == [[0, 9.0], [10, 8.75]]
    table = out.with_suffix(".md").read_text().splitlines()
    assert table[2] == "| step | gumbel_softmax (n=2) | reinforce (n=1) |"
    assert table[-2] == "| 10 | 8.60 ± 0.14 | 8.7500 ± n/a |"
    assert table[-1] == "| 20 | 8.20 ± 0.28 |  |"


def test_grouping_by_a_key_no_run_has_is_named(tmp_path, capsys):
    write_seed(tmp_path / "run", "gumbel_softmax", 0, [9.0])
    with pytest.raises(SystemExit):
        main([str(tmp_path / "run"), "--out", str(tmp_path / "x"), "--group-by", "estimatr"])
    assert "no run's config has 'estimatr' to group by" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "run"), "--out", str(tmp_path / "x"), "--group-by", ","])


def test_with_pretraining_the_mle_stage_gets_its_own_panel_table_and_points(tmp_path, capsys):
    write_run(tmp_path / "run", [8.9, 8.7])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    summary["pretrain_history"] = [{"step": 0, "nll_oracle": 11.4}, {"step": 10, "nll_oracle": 9.1}]
    (tmp_path / "run" / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "both"
    assert main([str(tmp_path / "run"), "--out", str(out), "--with-pretraining"]) == 0
    points = json.loads(out.with_suffix(".json").read_text())
    assert points == {"pretraining": {"run": [[0, 11.4], [10, 9.1]]}, "adversarial": {"run": [[0, 8.9], [10, 8.7]]}}
    table = out.with_suffix(".md").read_text()
    assert "nll_oracle by MLE epoch" in table and "| 10 | 9.1000 |" in table
    assert "nll_oracle by adversarial iteration" in table and "| 10 | 8.7000 |" in table
    write_run(tmp_path / "no_mle", [8.0])
    with pytest.raises(SystemExit):
        main([str(tmp_path / "no_mle"), "--out", str(out), "--with-pretraining"])
    assert "no pretraining evaluation with metric 'nll_oracle'" in capsys.readouterr().err


def test_a_run_started_from_a_pretrained_file_shows_the_mle_stage_of_the_run_that_wrote_it(tmp_path):
    write_run(tmp_path / "mle", [9.5])
    summary = json.loads((tmp_path / "mle" / "summary.json").read_text())
    summary["pretrain_history"] = [{"step": 0, "nll_oracle": 11.4}, {"step": 150, "nll_oracle": 8.4}]
    (tmp_path / "mle" / "summary.json").write_text(json.dumps(summary))
    write_run(tmp_path / "gan", [8.4, 8.1])
    summary = json.loads((tmp_path / "gan" / "summary.json").read_text())
    summary["pretrained_from"] = str(tmp_path / "mle" / "pretrained_generator.pt")
    (tmp_path / "gan" / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "joined"
    assert main([str(tmp_path / "gan"), "--out", str(out), "--with-pretraining"]) == 0
    points = json.loads(out.with_suffix(".json").read_text())
    assert points["pretraining"] == {"gan": [[0, 11.4], [150, 8.4]]}
    assert points["adversarial"] == {"gan": [[0, 8.4], [10, 8.1]]}


def write_log(folder: Path, rows: list[dict[str, float]]) -> None:
    """A CSV log as textgan-train's RunCSVLogger writes it: one row per logging call, other columns empty."""
    columns = sorted({column for row in rows for column in row})
    (folder / "csv" / "version_0").mkdir(parents=True)
    with (folder / "csv" / "version_0" / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def test_a_stage_the_summary_does_not_hold_yet_comes_from_the_csv_log(tmp_path, capsys):
    stopped = tmp_path / "runs" / "stopped"  # MLE done (in its summary), adversarial stage killed at step 100
    stopped.mkdir(parents=True)
    (stopped / "summary.json").write_text(json.dumps({"pretrain_history": [{"step": 0, "nll_oracle": 11.0}]}))
    write_log(stopped, [
        {"pretrain/eval/step": 0, "pretrain/eval/nll_oracle": 10.5, "step": 0},  # the summary's value wins
        {"adversarial/eval/step": 0, "adversarial/eval/nll_oracle": 9.5, "adversarial/eval/bleu2": 0.3, "step": 5},
        {"adversarial/g_loss": 0.7, "adversarial/iteration": 1, "step": 6},
        {"adversarial/eval/step": 50, "adversarial/eval/nll_oracle": 9.25, "step": 55},
        {"adversarial/eval/step": 100, "adversarial/eval/nll_oracle": 9.0, "step": 105},
        {"adversarial/eval/step": 100, "adversarial/eval/nll_oracle": 8.75, "step": 106},  # logged again: last wins
    ])  # fmt: skip
    going = tmp_path / "runs" / "still_in_mle"  # no summary.json yet: found by its log alone
    write_log(going, [{"pretrain/eval/step": 0, "pretrain/eval/nll_oracle": 10.0, "step": 0}])
    out = tmp_path / "curves"
    assert main([str(stopped), "--out", str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text()) == {"stopped": [[0, 9.5], [50, 9.25], [100, 8.75]]}
    assert "stopped: adversarial read from csv/version_0/metrics.csv (unfinished: last evaluation at step 100)" in (
        capsys.readouterr().err
    )
    assert main([str(tmp_path / "runs"), "--stage", "pretraining", "--out", str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text()) == {"still_in_mle": [[0, 10.0]], "stopped": [[0, 11.0]]}
