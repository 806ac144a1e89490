"""The comparison's table: each row's mean, sample std, 95 % Student-t interval and n, complete or partial; the
pilot's choice and the learned eta / tau; the MLE epochs that match the GAN arms' wall time."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from textgan.evaluation.comparison import load_protocol
from textgan.evaluation.comparison_plan import plan_pilot, plan_runs
from textgan.evaluation.comparison_report import (
    comparison_rows,
    csv_table,
    format_cell,
    json_rows,
    markdown_table,
    matched_mle_epochs,
    pilot_choice,
)
from textgan.evaluation.report import confidence_interval, student_t_quantile, summarize

T_975_2 = 4.302652729911275  # Student's t, 97.5 % quantile, 2 degrees of freedom (tables: 4.303)


def test_the_95_percent_interval_of_three_numbers_by_hand():
    summary = summarize([1.0, 2.0, 4.0])  # mean 7/3, sample variance 7/3
    low, high = confidence_interval(summary)
    half = T_975_2 * math.sqrt(7.0 / 3.0) / math.sqrt(3.0)
    assert low == pytest.approx(7.0 / 3.0 - half, abs=1e-9) and high == pytest.approx(7.0 / 3.0 + half, abs=1e-9)


@pytest.mark.parametrize("values", [[8.81, 8.79], [5.0, 5.5, 6.5, 4.0], [1.0] * 3 + [2.0] * 7])
def test_the_interval_equals_scipys_t_interval(values):
    stats = pytest.importorskip("scipy.stats")
    summary = summarize(values)
    expected = stats.t.interval(0.95, len(values) - 1, loc=summary.mean, scale=stats.sem(values))
    assert confidence_interval(summary) == pytest.approx(expected, rel=1e-10)
    for df in (1, 3, 30):
        assert student_t_quantile(0.9, df) == pytest.approx(stats.t.ppf(0.9, df), rel=1e-10)


def test_one_seed_has_no_interval_and_says_so():
    summary = summarize([8.8])
    assert confidence_interval(summary) is None
    assert format_cell(summary) == "8.8000 (n=1, no interval)"
    assert "nan" not in format_cell(summary).lower()


PROTOCOL = """
seeds: [0, 1]
steps: 100
schedules:
  fixed1: {beta_max: 1, adapt: "no"}
arms:
  gumbel_softmax: {estimator: gumbel_softmax}
  rebar: {estimator: rebar}
  mle_continued: {mle: true, epochs: auto}
pilot:
  steps: 10
  seeds: [0, 1]
  candidates:
    rebar: {estimator.optimizer.lr: [0.001, 0.01]}
"""


def finished(folder: Path, nll: float, last_step: int = 100, seconds: float = 40.0, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    history = [{"step": 0, "nll_oracle": 9.0 + nll / 100, "nll_gen": 7.0}, {"step": last_step, "nll_oracle": nll}]
    body = {"finished": True, "adversarial_history": history, "after_adversarial": history[-1],
            "seconds_per_iteration": 0.3, "adversarial_seconds": seconds, "config": {"data": {}}, **extra}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(body))


def csv_log(folder: Path, rows: list[dict[str, float]]) -> None:
    file = folder / "csv" / "version_0" / "metrics.csv"
    file.parent.mkdir(parents=True, exist_ok=True)
    columns = sorted({key for row in rows for key in row})
    lines = [",".join(["step", *columns])]
    lines += [",".join([str(i), *(str(row.get(c, "")) for c in columns)]) for i, row in enumerate(rows)]
    file.write_text("\n".join(lines) + "\n")


@pytest.fixture
def protocol(tmp_path):
    (tmp_path / "protocol.yaml").write_text(PROTOCOL)
    return load_protocol(tmp_path / "protocol.yaml", pretrained=str(tmp_path / "pre" / "pretrained_generator.pt"))


def test_rows_report_n_the_interval_and_which_rows_are_complete(tmp_path, protocol):
    out = tmp_path / "out"
    finished(out / "gumbel_softmax-fixed1" / "seed0", 8.80)
    finished(out / "gumbel_softmax-fixed1" / "seed1", 8.90)
    finished(out / "rebar" / "seed0", 8.85)
    csv_log(out / "rebar" / "seed0", [{"adversarial/eta": 1.0, "adversarial/temperature": 0.5},
                                      {"adversarial/eta": 0.7, "adversarial/temperature": 0.4}])  # fmt: skip
    finished(out / "rebar" / "seed1", 8.70, last_step=60)  # stopped early: not a complete run
    rows = {row.name: row for row in comparison_rows(protocol, out)}
    assert list(rows) == ["mle_pretrained", "gumbel_softmax-fixed1", "rebar", "mle_continued"]
    gumbel = rows["gumbel_softmax-fixed1"]
    assert gumbel.n == 2 and gumbel.complete and gumbel.status(2) == "complete"
    assert gumbel.metrics["nll_oracle"].mean == pytest.approx(8.85)
    rebar = rows["rebar"]
    assert rebar.seeds == [0] and not rebar.complete
    assert rebar.status(2) == "partial: 1 of 2 seeds; seed 1 ended at step 60"
    assert rebar.metrics["learned_eta"].mean == 0.7 and rebar.metrics["learned_tau"].mean == 0.4
    assert rows["mle_continued"].status(2) == "partial: 0 of 2 seeds; seed 0 not started; seed 1 not started"
    assert rows["mle_pretrained"].metrics["nll_oracle"].mean == pytest.approx(9.0885)  # step 0, seeds 0 and 1

    table = markdown_table(list(rows.values()), protocol)
    half = 12.706204736174698 * 0.1 / math.sqrt(2) / math.sqrt(2)  # t_{0.975, 1} * s / sqrt(n), s = 0.0707
    assert (
        f"| gumbel_softmax-fixed1 | 2 | 0, 1 | complete | 8.850 ± 0.071 [{8.85 - half:.3f}, {8.85 + half:.3f}]" in table
    )
    assert "| rebar | 1 | 0 | partial: 1 of 2 seeds; seed 1 ended at step 60 | 8.8500 (n=1, no interval)" in table
    document = json_rows(list(rows.values()), protocol)
    assert document[2]["metrics"]["nll_oracle"] == {
        "mean": 8.85, "std": None, "ci95_low": None, "ci95_high": None, "n": 1
    }  # fmt: skip
    assert "rebar,False,nll_oracle,8.85,,,,1" in csv_table(list(rows.values())).splitlines()


def test_the_pilot_chooses_the_lowest_mean_squared_gradient_norm_and_keeps_what_was_learned(tmp_path, protocol):
    out = tmp_path / "out"
    norms = {"0.001": [3.0, 4.0], "0.01": [1.0, 2.0]}  # mean squares 12.5 and 2.5
    for run in plan_pilot(protocol, out):
        finished(run.folder, 8.8, last_step=10)
        value = run.folder.parent.name
        csv_log(run.folder, [{"adversarial/diagnostics/gradient_norm": n, "adversarial/eta": 0.5 + run.seed,
                              "adversarial/temperature": 0.3} for n in norms[value]])  # fmt: skip
    choice = pilot_choice(protocol, out)["rebar"]
    assert choice["override"] == "estimator.optimizer.lr=0.01" and choice["chosen"] == "0.01"
    assert choice["candidates"]["0.001"]["score"] == pytest.approx(12.5)
    assert choice["candidates"]["0.01"]["score"] == pytest.approx(2.5)
    assert choice["candidates"]["0.01"]["learned"] == {"learned_eta": [0.5, 1.5], "learned_tau": [0.3, 0.3]}


def test_the_pilot_refuses_to_choose_before_its_runs_finished(tmp_path, protocol):
    with pytest.raises(ValueError, match="not finished"):
        pilot_choice(protocol, tmp_path / "out")


def test_mle_continued_gets_the_epochs_of_the_gan_runs_mean_wall_time(tmp_path, protocol):
    out = tmp_path / "out"
    pre = tmp_path / "pre"
    pre.mkdir()
    (pre / "summary.json").write_text(json.dumps({"pretrain_seconds": 50.0, "config": {"pretrain": {"epochs": 10}}}))
    with pytest.raises(ValueError, match="no GAN run has finished"):
        matched_mle_epochs(protocol, out)
    finished(out / "gumbel_softmax-fixed1" / "seed0", 8.8, seconds=40.0)
    finished(out / "rebar" / "seed0", 8.8, seconds=60.0)
    epochs, how = matched_mle_epochs(protocol, out)  # mean 50 s over 5 s per epoch
    assert epochs == 10 and how["gan_mean_wall_seconds"] == 50.0 and how["mle_seconds_per_epoch"] == 5.0
    assert plan_runs(protocol, out, mle_epochs=epochs)[-1].overrides[-3:] == (
        "pretrain.epochs=10", "pretrain.eval_every=10", "adversarial.steps=0"
    )  # fmt: skip
