"""optimized_value: what textgan-train returns to a sweeper, a reported metric or a derived one, and a refusal that
names what is available; the study-file resolver of conf/hparams_search/."""

import math

import pytest
from omegaconf import OmegaConf

import textgan.train  # noqa: F401  (registers the config resolvers, as a run does)
from textgan.training.objective import BLEU_FLOOR, optimized_value, sqlite_url

ORACLE = {
    "after_pretraining": {"step": 150, "nll_oracle": 9.2, "nll_gen": 7.0},
    "after_adversarial": {"step": 3000, "nll_oracle": 8.5, "nll_gen": 7.4},
}
TEXT = {"after_adversarial": {"step": 2000, "bleu2": 0.8, "bleu5": 0.3, "self_bleu5": 0.5, "nll_gen": 0.9}}


def test_a_reported_metric_of_either_stage():
    assert optimized_value(ORACLE, "adversarial/eval/nll_oracle") == 8.5
    assert optimized_value(ORACLE, "pretrain/eval/nll_gen") == 7.0


def test_the_text_trade_off_is_log_bleu5_minus_nll_gen():
    assert optimized_value(TEXT, "adversarial/eval/log_bleu5_minus_nll_gen") == pytest.approx(math.log(0.3) - 0.9)


def test_the_trade_off_ranks_mode_collapse_below_a_generator_that_covers_the_data():
    collapsed = {"after_adversarial": {"bleu5": 0.6, "nll_gen": 3.0}}  # fluent repeats, real data improbable
    covering = {"after_adversarial": {"bleu5": 0.3, "nll_gen": 0.9}}
    mle_like = {"after_adversarial": {"bleu5": 0.2, "nll_gen": 0.85}}  # covers slightly better, much lower BLEU
    metric = "adversarial/eval/log_bleu5_minus_nll_gen"
    values = [optimized_value(s, metric) for s in (collapsed, covering, mle_like)]
    assert values[1] > values[2] > values[0]


def test_a_bleu5_of_zero_gives_a_finite_value():
    summary = {"after_adversarial": {"bleu5": 0.0, "nll_gen": 2.0}}  # not one 5-gram of the test split
    value = optimized_value(summary, "adversarial/eval/log_bleu5_minus_nll_gen")
    assert value == pytest.approx(math.log(BLEU_FLOOR) - 2.0)


@pytest.mark.parametrize(
    ("summary", "metric", "named"),
    [
        (ORACLE, "adversarial/eval/bleu5", "available: adversarial/eval/nll_oracle, adversarial/eval/nll_gen"),
        (ORACLE, "adversarial/eval/log_bleu5_minus_nll_gen", "needs adversarial/eval/bleu5"),
        (TEXT, "pretrain/eval/nll_gen", "none (the stage did not run)"),
        (TEXT, "adversarial/eval/nll_oracle", "adversarial/eval/log_bleu5_minus_nll_gen"),  # derived ones listed
        (TEXT, "eval/bleu5", "must start with adversarial/eval/ or pretrain/eval/"),
    ],
)
def test_an_absent_metric_is_refused_naming_what_there_is(summary, metric, named):
    with pytest.raises(ValueError, match=f"optimized_metric={metric}") as caught:
        optimized_value(summary, metric)
    assert named in str(caught.value)


def test_the_study_file_resolver_makes_its_folder_and_gives_an_absolute_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = OmegaConf.create({"storage": "${textgan_sqlite:multirun/optuna/study.db}"}).storage
    assert url == f"sqlite:///{tmp_path / 'multirun' / 'optuna' / 'study.db'}"
    assert (tmp_path / "multirun" / "optuna").is_dir()
    assert sqlite_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path}/x.db"  # sqlite:////abs/x.db
