"""textgan-estimator-lab: the exact experiment writes one row per estimator setting with sane statistics, and a
folder that is not a finished run is refused with its name."""

import json

import pytest

from textgan.cli.estimator_lab import main, variants


def test_exact_lab_writes_a_row_per_setting_with_its_statistics(tmp_path):
    out = tmp_path / "lab"
    code = main([
        "exact", "--vocab", "3", "--length", "3", "--draws", "16", "--generators", "lstm",
        "--only", "reinforce", "gumbel_softmax", "--temperatures", "0.5,2", "--sample-counts", "4",
        "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    rows = json.loads((out / "lab.json").read_text())["rows"]
    labels = [row["variant"] for row in rows]
    assert labels == [
        "reinforce", "reinforce_loo_k4", "gumbel_softmax_tau0.5", "gumbel_softmax_tau2",
        "st_gumbel_softmax_tau0.5", "st_gumbel_softmax_tau2",
        "gsgan_gumbel_softmax_tau0.5", "gsgan_gumbel_softmax_tau2",
    ]  # fmt: skip
    for row in rows:
        assert row["relative_std"] > 0 and -1 <= row["cosine_mean_exact"] <= 1 and row["seconds_per_estimate"] > 0
    # the relaxation is smoother at a higher temperature: less noise
    by_label = {row["variant"]: row for row in rows}
    assert by_label["gumbel_softmax_tau2"]["relative_std"] < by_label["gumbel_softmax_tau0.5"]["relative_std"]
    assert (out / "lab.md").read_text().count("\n") == len(rows) + 2
    assert (out / "lab_lstm.png").stat().st_size > 0


def test_every_estimator_config_has_a_lab_variant():
    names = {"reinforce", "gumbel_softmax", "gumbel_rao", "gst", "reinmax", "rebar", "relax"}
    assert {variant.estimator for variant in variants(names)} == names
    assert all(v.temperature >= 1 for v in variants(names) if v.estimator == "reinmax")
    gsgan = [v for v in variants(names) if v.label.startswith("gsgan_")]
    assert gsgan and all(v.estimator == "gumbel_softmax" and "estimator.feedback=relaxed" in v.overrides for v in gsgan)


def test_real_lab_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["real", "--run", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_too_many_sequences_are_refused():
    with pytest.raises(SystemExit):
        main(["exact", "--vocab", "100", "--length", "4"])
