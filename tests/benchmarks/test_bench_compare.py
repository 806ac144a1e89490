"""``benchmark.py --compare-with REF``: rows gain the reference's seconds and new / old ratios; a reference that
cannot be checked out is refused by name before anything is measured."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from textgan.benchmarks import compare
from textgan.benchmarks.compare import interleaved_models, median_rows, reference_models, with_reference


def test_rows_gain_the_reference_seconds_and_the_ratio():
    new = [{"device": "cpu", "size": "oracle", "precision": "bf16", "mle_step_s": 0.08, "mle_step_mfu": 0.4}]
    old = [
        {"device": "cpu", "size": "oracle", "precision": "fp32", "mle_step_s": 9.0},
        {"device": "cpu", "size": "oracle", "precision": "bf16", "mle_step_s": 0.16},
    ]
    (row,) = with_reference(new, old, ["mle_step_s"])
    assert row["mle_step_s_ref"] == 0.16 and row["mle_step_ratio"] == pytest.approx(0.5)
    assert row["mle_step_mfu"] == 0.4  # the row's own columns are kept


def test_a_row_without_a_reference_row_is_kept_without_ratios():
    new = [{"device": "cuda", "size": "coco", "precision": "fp32", "mle_step_s": 0.1}]
    (row,) = with_reference(new, [], ["mle_step_s"])
    assert row == new[0]


def test_an_unknown_reference_is_refused_by_name():
    with pytest.raises(SystemExit, match="--compare-with no-such-commit-xyz: cannot check it out"):
        reference_models("no-such-commit-xyz", ["oracle"], ["fp32"], ["cpu"])


def test_repeated_runs_merge_into_median_seconds_and_the_largest_peak():
    def table(mle: float, peak: float) -> list[dict]:
        return [{"device": "cpu", "size": "oracle", "precision": "bf16", "mle_step_s": mle, "peak_mb": peak}]

    (row,) = median_rows([table(0.20, 900.0), table(0.14, 950.0), table(0.15, 920.0)])
    assert row == {"device": "cpu", "size": "oracle", "precision": "bf16", "mle_step_s": 0.15, "peak_mb": 950.0}


def test_new_and_old_runs_alternate_and_merge_into_medians(monkeypatch):
    """A host's speed drifts over a benchmark: rounds of (new, old) put the drift on both sides alike."""
    calls = []

    def row(seconds: float) -> list[dict]:
        return [{"device": "cpu", "size": "oracle", "precision": "bf16", "mle_step_s": seconds}]

    def measure():
        calls.append("new")
        return row([1.0, 3.0, 2.0][calls.count("new") - 1])

    def run_reference(worktree, sizes, precisions, devices):
        calls.append(("old", tuple(precisions)))
        return row([4.0, 8.0, 6.0][len(calls) // 2 - 1])

    monkeypatch.setattr(compare, "reference_worktree", lambda ref: contextlib.nullcontext(Path("/tmp")))
    monkeypatch.setattr(compare, "run_reference", run_reference)
    (merged,) = interleaved_models(measure, "HEAD", ["oracle"], ["cpu"], 3, ["mle_step_s"])
    assert calls == ["new", ("old", ("bf16",))] * 3
    assert merged["mle_step_s"] == 2.0 and merged["mle_step_s_ref"] == 6.0
    assert merged["mle_step_ratio"] == pytest.approx(1 / 3)
