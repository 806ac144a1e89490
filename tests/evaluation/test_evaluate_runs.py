"""textgan-evaluate --runs: a seed-aggregated report of fake run folders, its warnings and its errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from textgan.cli.evaluate import main


@pytest.fixture
def multiruns(make_run, tmp_path):
    values = {"gumbel_softmax": [8.79, 8.83, 8.80], "reinforce": [8.85, 8.87, 8.89]}
    for estimator, column in values.items():
        for seed, value in enumerate(column):
            folder = tmp_path / estimator / f"{seed}-{estimator}-seed{seed}"
            metrics = {"nll_oracle": value, "nll_gen": value + 0.6}
            make_run(folder, estimator, seed, metrics, pretraining={"nll_oracle": value + 1})
    return tmp_path, values


def test_report_of_two_multirun_folders(multiruns, make_run, capsys):
    root, values = multiruns
    make_run(root / "reinforce" / "3-reinforce-seed3", "reinforce", 3, {"nll_oracle": 50.0}, finished=False)
    out = root / "report"
    assert main(["--runs", str(root / "gumbel_softmax"), str(root / "reinforce"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning: skipped 1 of 7 run(s): 1 unfinished (3-reinforce-seed3)" in captured.err
    assert str(out.resolve()) in captured.out
    markdown = (out / "report.md").read_text()
    assert markdown in captured.out
    assert "| estimator | n | seeds | nll_oracle | nll_gen |" in markdown
    assert "| reinforce | 3 | 0, 1, 2 | 8.870 ± 0.020 |" in markdown  # 50.0 of the unfinished run left out
    assert "Warning: skipped 1 of 7 run(s)" in markdown
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert len(rows) == 4
    row = next(r for r in rows if r["estimator"] == "gumbel_softmax" and r["metric"] == "nll_oracle")
    assert float(row["mean"]) == pytest.approx(np.mean(values["gumbel_softmax"]), abs=1e-12)
    assert float(row["std"]) == pytest.approx(np.std(values["gumbel_softmax"], ddof=1), abs=1e-12)


def test_stage_and_group_by(multiruns):
    root, values = multiruns
    out = root / "report"
    argv = ["--runs", str(root / "reinforce"), str(root / "gumbel_softmax"), "--out", str(out)]
    assert main([*argv, "--stage", "after_pretraining", "--group-by", "loss,estimator"]) == 0
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [(row["loss"], row["estimator"], row["metric"]) for row in rows] == [
        ("rsgan", "reinforce", "nll_oracle"),
        ("rsgan", "gumbel_softmax", "nll_oracle"),
    ]
    assert float(rows[0]["mean"]) == pytest.approx(np.mean(values["reinforce"]) + 1, abs=1e-12)


def test_unusable_folders_exit_2_naming_them(multiruns, capsys, tmp_path):
    root, _ = multiruns
    (tmp_path / "empty").mkdir()
    assert main(["--runs", str(root / "reinforce"), str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path / 'empty'}: no training run" in capsys.readouterr().err
    assert main(["--runs", str(root / "reinforce"), "--group-by", "losss", "--out", str(tmp_path / "o")]) == 2
    assert "'losss'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):  # one source only
        main(["--runs", str(root), "--samples-file", "x.txt"])


def test_report_goes_to_wandb_as_a_table(multiruns, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    root, _ = multiruns
    out = tmp_path / "report"
    assert main(["--runs", str(root / "gumbel_softmax"), str(root / "reinforce"), "--out", str(out), "--wandb"]) == 0
    (table,) = (out / "wandb").glob("offline-run-*/files/media/table/report_*.table.json")
    logged = json.loads(table.read_text())
    rows = list(csv.reader((out / "report.csv").open()))
    assert logged["columns"] == rows[0]
    assert [[str(cell) for cell in row] for row in logged["data"]] == rows[1:]
