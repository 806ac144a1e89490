"""textgan-plot-runs: curves read from run summaries, a multirun folder expanded, bad folders named."""

from __future__ import annotations

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


def test_missing_summaries_and_metrics_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no summary.json"):
        main([str(tmp_path), "--out", str(tmp_path / "x")])
    write_run(tmp_path / "run", [1.0])
    with pytest.raises(ValueError, match="bleu5"):
        main([str(tmp_path / "run"), "--metric", "bleu5", "--out", str(tmp_path / "x")])
