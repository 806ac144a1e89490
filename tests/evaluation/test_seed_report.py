"""Seed-aggregated reports: statistics against numpy, markdown and CSV content, quality-diversity bands."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from textgan.evaluation.report import (
    Summary,
    aggregate,
    csv_report,
    format_mean_std,
    markdown_report,
    summarize,
    temperature_bands,
    write_report,
)
from textgan.evaluation.runs import find_runs, group_runs

GUMBEL = {"nll_oracle": [8.7908, 8.8267, 8.7967], "nll_gen": [9.4123, 9.3987, 9.4070]}
REINFORCE = {"nll_oracle": [8.8547, 8.8689], "nll_gen": [9.4103, 9.3958]}


def test_summarize_matches_numpy_with_ddof_1():
    values = [3.0, 1.0, 4.0, 1.5]
    summary = summarize(values)
    assert summary.mean == pytest.approx(np.mean(values), abs=1e-15)
    assert summary.std == pytest.approx(np.std(values, ddof=1), abs=1e-15)
    assert summary.std != pytest.approx(np.std(values, ddof=0))  # the sample, not the population, deviation
    assert (summary.n, summary.min, summary.max) == (4, 1.0, 4.0)
    single = summarize([2.5])
    assert (single.mean, single.n) == (2.5, 1) and math.isnan(single.std)
    with pytest.raises(ValueError, match="no values"):
        summarize([])


@pytest.fixture
def two_models(make_run, tmp_path):
    """A multirun folder of 3 gumbel_softmax seeds, one of 2 reinforce seeds plus an unfinished third."""
    for seed in range(3):
        metrics = {name: values[seed] for name, values in GUMBEL.items()}
        if seed == 2:
            metrics["bleu_extra"] = 0.5  # a metric only one run has
        make_run(tmp_path / "gumbel" / f"{seed}-gumbel_softmax-seed{seed}", "gumbel_softmax", seed, metrics)
    for seed in range(3):
        metrics = {name: values[seed] for name, values in REINFORCE.items()} if seed < 2 else {"nll_oracle": 99.0}
        folder = tmp_path / "reinforce" / f"{seed}-reinforce-seed{seed}"
        make_run(folder, "reinforce", seed, metrics, finished=seed < 2)
    return [tmp_path / "gumbel", tmp_path / "reinforce"]


def summaries_of(folders, keys=("estimator",), stage="after_adversarial"):
    runs = [run for run in find_runs(folders) if run.finished]
    return aggregate(group_runs(runs, keys), stage)


def test_aggregate_per_group_and_metric(two_models):
    gumbel, reinforce = summaries_of(two_models)
    assert (gumbel.label, reinforce.label) == (("gumbel_softmax",), ("reinforce",))
    assert (gumbel.seeds, reinforce.seeds) == ([0, 1, 2], [0, 1])
    for group, expected in [(gumbel, GUMBEL), (reinforce, REINFORCE)]:
        for name, values in expected.items():
            summary = group.metrics[name]
            assert summary.mean == pytest.approx(np.mean(values), abs=1e-12)
            assert summary.std == pytest.approx(np.std(values, ddof=1), abs=1e-12)
            assert (summary.n, summary.min, summary.max) == (len(values), min(values), max(values))
        assert "step" not in group.metrics
    assert list(gumbel.metrics) == ["nll_oracle", "nll_gen", "bleu_extra"]
    assert gumbel.metrics["bleu_extra"].n == 1 and "bleu_extra" not in reinforce.metrics


def test_mean_std_digits():
    assert format_mean_std(Summary(8.804749, 0.019253, 3, 0, 0)) == "8.805 ± 0.019"
    assert format_mean_std(Summary(9.405993, 0.006893, 3, 0, 0)) == "9.4060 ± 0.0069"
    assert format_mean_std(Summary(123.45, 12.3, 3, 0, 0)) == "123.5 ± 12.3"  # at least one decimal
    assert format_mean_std(Summary(0.5, 1e-12, 3, 0, 0)) == "0.500000 ± 0.000000"  # at most six
    assert format_mean_std(Summary(0.5, 0.0, 3, 0.5, 0.5)) == "0.5000 ± 0"
    assert format_mean_std(Summary(0.5, math.nan, 1, 0.5, 0.5)) == "0.5000 ± n/a"


def test_markdown_table(two_models):
    summaries = summaries_of(two_models)
    text = markdown_report(summaries, ["estimator"], "after_adversarial", two_models, "skipped 1 of 6 run(s)")
    lines = text.splitlines()
    assert "mean ± sample standard deviation (ddof=1)" in lines[0] and "5 run(s)" in lines[0]
    assert str(two_models[0]) in lines[0]
    assert lines[1] == "Warning: skipped 1 of 6 run(s)."
    assert lines[3] == "| estimator | n | seeds | nll_oracle | nll_gen | bleu_extra |"
    assert lines[4] == "| --- | --- | --- | ---: | ---: | ---: |"
    gumbel = format_mean_std(summarize(GUMBEL["nll_oracle"]))
    assert lines[5].startswith(f"| gumbel_softmax | 3 | 0, 1, 2 | {gumbel} | ")
    assert lines[5].endswith("| 0.5000 ± n/a (n=1) |")
    assert lines[6].startswith("| reinforce | 2 | 0, 1 | ") and lines[6].endswith(" | — |")
    assert len(lines) == 7


def test_csv_rows_round_trip(two_models):
    summaries = summaries_of(two_models, keys=("estimator", "loss"))
    rows = list(csv.DictReader(io.StringIO(csv_report(summaries, ["estimator", "loss"]))))
    assert list(rows[0]) == ["estimator", "loss", "metric", "mean", "std", "n", "min", "max"]
    assert [(row["estimator"], row["metric"]) for row in rows] == [
        ("gumbel_softmax", "nll_oracle"),
        ("gumbel_softmax", "nll_gen"),
        ("gumbel_softmax", "bleu_extra"),
        ("reinforce", "nll_oracle"),
        ("reinforce", "nll_gen"),
    ]
    assert {row["loss"] for row in rows} == {"rsgan"}
    row = rows[3]
    values = REINFORCE["nll_oracle"]
    assert float(row["mean"]) == np.mean(values) and float(row["std"]) == pytest.approx(np.std(values, ddof=1))
    assert (int(row["n"]), float(row["min"]), float(row["max"])) == (2, min(values), max(values))
    assert rows[2]["std"] == "" and rows[2]["n"] == "1"  # one run: no standard deviation


def test_write_report_files(two_models, tmp_path):
    summaries = summaries_of(two_models)
    markdown, table = write_report(tmp_path / "out" / "deep", summaries, ["estimator"], "after_adversarial")
    assert markdown.read_text() == markdown_report(summaries, ["estimator"], "after_adversarial")
    assert table.read_text() == csv_report(summaries, ["estimator"])
    assert sorted(path.name for path in markdown.parent.iterdir()) == ["report.csv", "report.md"]  # no temp files


def curve(label, temperatures, quality, diversity):
    rows = zip(temperatures, quality, diversity, strict=True)
    points = [{"temperature": t, "quality": q, "diversity": d} for t, q, d in rows]
    return {"label": label, "points": points}


def test_temperature_bands_over_seeds():
    rng = np.random.default_rng(0)
    temperatures = [0.5, 1.0, 1.5]
    quality, diversity = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    curves = [curve("gan", temperatures, quality[i], diversity[i]) for i in range(3)]
    curves.insert(1, curve("mle", temperatures, [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]))
    gan, mle = temperature_bands(curves)
    assert (gan["label"], gan["n"], mle["label"], mle["n"]) == ("gan", 3, "mle", 1)
    for index, point in enumerate(gan["points"]):
        assert point["temperature"] == temperatures[index]
        assert point["quality_mean"] == pytest.approx(quality[:, index].mean(), abs=1e-12)
        assert point["quality_std"] == pytest.approx(quality[:, index].std(ddof=1), abs=1e-12)
        assert point["diversity_mean"] == pytest.approx(diversity[:, index].mean(), abs=1e-12)
        assert point["diversity_std"] == pytest.approx(diversity[:, index].std(ddof=1), abs=1e-12)
    assert mle["points"][1] == {
        "temperature": 1.0,
        "quality_mean": 2.0,
        "quality_std": None,
        "diversity_mean": 5.0,
        "diversity_std": None,
    }
    with pytest.raises(ValueError, match="'gan' were swept over different temperatures"):
        temperature_bands([*curves, curve("gan", [0.5, 1.0], [0, 0], [0, 0])])
