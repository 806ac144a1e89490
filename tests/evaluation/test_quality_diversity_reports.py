"""Saved quality-diversity reports merged without sampling, and other metrics put on their axes."""

from __future__ import annotations

import json

import pytest

from textgan.cli.quality_diversity import main
from textgan.evaluation.quality_diversity_reports import merge_reports, with_axes

SETTINGS = {"num_samples": 100, "seed": 0, "nll_ignore_padding": False, "nll_gen_train": False}


def point(temperature: float, bleu5: float, self_bleu5: float, mauve: float | None = None) -> dict:
    values = {"temperature": temperature, "bleu5": bleu5, "self_bleu5": self_bleu5}
    if mauve is not None:
        values["mauve"] = mauve
    return {**values, "quality": bleu5, "diversity": self_bleu5}


def report(curves: list[tuple[str, str, list[dict]]], metrics=("standard",), **settings) -> dict:
    """A report as textgan-quality-diversity writes it: (label, checkpoint, points) per curve."""
    return {
        "axes": {"quality": "bleu5", "diversity": "self_bleu5"},
        "temperatures": sorted({p["temperature"] for _, _, points in curves for p in points}),
        "curves": [{"label": label, "checkpoint": path, "points": points} for label, path, points in curves],
        "bands": [],
        "data": {"description": "TextDataModule(dataset_dir=coco)"},
        "settings": {**SETTINGS, "metrics": list(metrics), **settings},
    }


def test_pieces_of_one_sweep_become_one_curve_ordered_by_temperature():
    high = report([("mle", "mle.pt", [point(0.8, 0.23, 0.77), point(1.2, 0.19, 0.58)])], ("standard", "mauve"))
    low = report([("mle", "mle.pt", [point(0.6, 0.27, 0.89)]), ("gan", "gan.pt", [point(1.0, 0.28, 0.85)])])
    merged = merge_reports([("high.json", high), ("low.json", low)])
    curves = {curve["label"]: curve for curve in merged["curves"]}
    assert [p["temperature"] for p in curves["mle"]["points"]] == [0.6, 0.8, 1.2]
    assert [p["temperature"] for p in curves["gan"]["points"]] == [1.0]
    assert merged["temperatures"] == [0.6, 0.8, 1.0, 1.2]
    assert merged["settings"]["metrics"] == ["standard"]  # mauve is not in every report
    assert merged["settings"]["merged_from"] == ["high.json", "low.json"]
    mle_band = next(band for band in merged["bands"] if band["label"] == "mle")
    assert [p["quality_mean"] for p in mle_band["points"]] == [0.27, 0.23, 0.19] and mle_band["n"] == 1


def test_seeds_of_a_label_stay_apart_and_their_band_is_recomputed():
    seed0 = report([("gan", "seed0.pt", [point(1.0, 0.20, 0.80)])])
    seed1 = report([("gan", "seed1.pt", [point(1.0, 0.30, 0.70)])])
    merged = merge_reports([("a", seed0), ("b", seed1)])
    assert len(merged["curves"]) == 2
    (band,) = merged["bands"]
    assert band["n"] == 2 and band["points"][0]["quality_mean"] == pytest.approx(0.25)
    assert band["points"][0]["quality_std"] == pytest.approx(0.0707107, rel=1e-5)  # sample std (ddof=1)


def test_a_temperature_swept_twice_must_agree():
    first = report([("mle", "mle.pt", [point(1.0, 0.21, 0.66)])])
    same = report([("mle", "mle.pt", [point(1.0, 0.21, 0.66)])])
    other = report([("mle", "mle.pt", [point(1.0, 0.22, 0.66)])])
    assert len(merge_reports([("a", first), ("b", same)])["curves"][0]["points"]) == 1
    with pytest.raises(ValueError, match="b: mle at temperature 1 is also in a, with other values"):
        merge_reports([("a", first), ("b", other)])


@pytest.mark.parametrize(
    ("change", "named"),
    [({"num_samples": 200}, "num_samples=200, but a has num_samples=100"), ({"seed": 1}, "seed=1, but a has seed=0")],
)
def test_reports_sampled_under_other_settings_are_refused(change, named):
    first = report([("mle", "mle.pt", [point(1.0, 0.21, 0.66)])])
    other = report([("mle", "mle.pt", [point(0.8, 0.23, 0.77)])], **change)
    with pytest.raises(ValueError, match=f"b: settings {named}"):
        merge_reports([("a", first), ("b", other)])


def test_reports_of_other_data_are_refused():
    first = report([("mle", "mle.pt", [point(1.0, 0.21, 0.66)])])
    other = report([("mle", "mle.pt", [point(0.8, 0.23, 0.77)])])
    other["data"]["description"] = "OracleDataModule(seqgan)"
    with pytest.raises(ValueError, match=r"b: its data \(OracleDataModule\(seqgan\)\) is not a's"):
        merge_reports([("a", first), ("b", other)])


def test_other_metrics_go_on_the_axes_and_a_missing_one_is_named():
    saved = report([("mle", "mle.pt", [point(0.8, 0.23, 0.77, mauve=0.30), point(1.2, 0.19, 0.58, mauve=0.36)])])
    redrawn = with_axes(saved, "mauve", "bleu5")
    assert redrawn["axes"] == {"quality": "mauve", "diversity": "bleu5"}
    assert [(p["quality"], p["diversity"]) for p in redrawn["curves"][0]["points"]] == [(0.30, 0.23), (0.36, 0.19)]
    assert [p["quality_mean"] for p in redrawn["bands"][0]["points"]] == [0.30, 0.36]
    assert saved["axes"]["quality"] == "bleu5"  # the input is left as it was
    with pytest.raises(ValueError, match="mle at temperature 0.8 has no 'fed'; its metrics: bleu5, mauve, self_bleu5"):
        with_axes(saved, "fed", "bleu5")


def test_the_command_merges_saved_files_and_plots_them(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "quality_diversity.json").write_text(
        json.dumps(report([("mle", "mle.pt", [point(0.8, 0.23, 0.77, 0.30)])], ("standard", "mauve")))
    )
    (tmp_path / "b.json").write_text(
        json.dumps(report([("mle", "mle.pt", [point(1.2, 0.19, 0.58, 0.36)])], ("standard", "mauve")))
    )
    out = tmp_path / "merged"
    argv = ["--merge", str(tmp_path / "a"), str(tmp_path / "b.json"), "--plot-axes", "mauve,bleu5", "--out", str(out)]
    assert main(argv) == 0
    merged = json.loads((out / "quality_diversity.json").read_text())
    assert merged["axes"] == {"quality": "mauve", "diversity": "bleu5"}
    assert [p["temperature"] for p in merged["curves"][0]["points"]] == [0.8, 1.2]
    assert (out / "quality_diversity.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["--merge", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert f"--merge {tmp_path / 'missing'}: no such report" in capsys.readouterr().err


def test_merge_is_refused_beside_checkpoints(capsys):
    with pytest.raises(SystemExit):
        main(["--merge", "a.json", "--checkpoint", "g.pt"])
    assert "--merge joins saved reports" in capsys.readouterr().err
