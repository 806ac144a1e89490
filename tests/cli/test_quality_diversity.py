"""textgan-quality-diversity: one point per temperature per checkpoint, a PNG, entropy rising with tau."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textgan.cli.quality_diversity import main
from textgan.data.oracle_datamodule import OracleDataModule
from textgan.data.text import TextDataModule
from textgan.evaluation.distribution import distribution_metrics, rows_from_samples
from textgan.evaluation.language_model import LanguageModelSettings
from textgan.evaluation.protocol import DEFAULT_TEMPERATURES, draw_samples, nll_gen
from textgan.models.io import load_generator


def test_default_temperatures():
    assert DEFAULT_TEMPERATURES == (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)


def test_text_sweep_writes_points_and_plot(make_dataset, make_checkpoint, tmp_path, capsys):
    dataset_dir = make_dataset(tmp_path / "corpus")
    datamodule = TextDataModule(dataset_dir=str(dataset_dir))
    datamodule.setup()
    facts = (datamodule.vocab_size, datamodule.max_length, datamodule.vocab_fingerprint)
    mle = make_checkpoint(tmp_path / "mle.pt", *facts)
    sharp = make_checkpoint(tmp_path / "sharp.pt", *facts, sharpen=4.0)
    out = tmp_path / "qd"
    argv = ["--checkpoint", f"mle={mle}", "--checkpoint", str(sharp), "--dataset-dir", str(dataset_dir)]
    argv += ["--temperatures", "0.5,1.0,2.0", "--num-samples", "30", "--out", str(out)]
    assert main(argv) == 0
    assert str(out.resolve()) in capsys.readouterr().out
    report = json.loads((out / "quality_diversity.json").read_text())
    assert report["axes"] == {"quality": "bleu5", "diversity": "self_bleu5"}
    assert [curve["label"] for curve in report["curves"]] == ["mle", "sharp"]
    for curve in report["curves"]:
        assert [point["temperature"] for point in curve["points"]] == [0.5, 1.0, 2.0]
        for point in curve["points"]:
            assert point["quality"] == point["bleu5"] and point["diversity"] == point["self_bleu5"]
            assert 0.0 <= point["bleu5"] <= 1.0 and 0.0 <= point["self_bleu5"] <= 1.0
        entropies = [point["entropy"] for point in curve["points"]]
        assert entropies == sorted(entropies) and entropies[0] < entropies[-1]  # hotter = more spread out
    assert (out / "quality_diversity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_oracle_sweep_scores_the_tempered_model(make_oracle, make_checkpoint, tmp_path):
    oracle = make_oracle(tmp_path / "oracle.npz")
    checkpoint = make_checkpoint(tmp_path / "gen.pt", 20, 6, "ids:20", sharpen=3.0)
    out = tmp_path / "qd"
    argv = ["--checkpoint", str(checkpoint), "--oracle", str(oracle), "--oracle-sequences", "64"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--data-seed", "5"]
    argv += ["--temperatures", "0.7,1.4", "--num-samples", "64", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "quality_diversity.json").read_text())
    assert report["axes"] == {"quality": "nll_oracle", "diversity": "nll_gen"}
    (curve,) = report["curves"]
    data = OracleDataModule(
        oracle_path=str(oracle),
        max_length=6,
        num_train=64,
        num_test=64,
        seed=5,
        cache_dir=str(tmp_path / "cache"),
    )
    data.setup()
    generator, _ = load_generator(checkpoint)
    for point in curve["points"]:
        tempered = nll_gen(generator, data.test_tokens, temperature=point["temperature"])
        assert point["nll_gen"] == pytest.approx(tempered, abs=1e-9) and np.isfinite(point["nll_oracle"])
    assert curve["points"][0]["nll_gen"] != curve["points"][1]["nll_gen"]
    assert (out / "quality_diversity.png").stat().st_size > 1000


def test_seeds_of_a_label_become_a_band(make_dataset, make_checkpoint, tmp_path, capsys):
    """``LABEL=A,B`` and ``--runs`` give one label several curves; ``bands`` hold their mean and spread."""
    dataset_dir = make_dataset(tmp_path / "corpus")
    datamodule = TextDataModule(dataset_dir=str(dataset_dir))
    datamodule.setup()
    facts = (datamodule.vocab_size, datamodule.max_length, datamodule.vocab_fingerprint)
    seeds = [make_checkpoint(tmp_path / f"seed{i}.pt", *facts, sharpen=1.0 + i) for i in range(2)]
    for seed, estimator in [(0, "ReinforceEstimator"), (1, "ReinforceEstimator"), (2, "ReinforceEstimator")]:
        run = tmp_path / "multi" / f"{seed}-reinforce-seed{seed}"
        run.mkdir(parents=True)
        config = {"seed": seed, "estimator": {"_target_": f"textgan.estimators.reinforce.{estimator}"}}
        (run / "summary.json").write_text(json.dumps({"config": config, "finished": seed < 2}))
        (run / "generator.pt").write_bytes(seeds[seed % 2].read_bytes())
    out = tmp_path / "qd"
    argv = ["--checkpoint", f"gan={seeds[0]},{seeds[1]}", "--runs", str(tmp_path / "multi")]
    argv += ["--dataset-dir", str(dataset_dir), "--temperatures", "0.5,1.5", "--num-samples", "20"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "skipped 1 of 3 run(s): 1 unfinished (2-reinforce-seed2)" in capsys.readouterr().err
    report = json.loads((out / "quality_diversity.json").read_text())
    assert [curve["label"] for curve in report["curves"]] == ["gan", "gan", "reinforce", "reinforce"]
    assert [curve.get("seed") for curve in report["curves"]] == [None, None, 0, 1]
    gan, reinforce = report["bands"]
    assert (gan["label"], gan["n"], reinforce["label"], reinforce["n"]) == ("gan", 2, "reinforce", 2)
    for index, point in enumerate(gan["points"]):
        qualities = [curve["points"][index]["quality"] for curve in report["curves"][:2]]
        assert point["quality_mean"] == pytest.approx(np.mean(qualities), abs=1e-12)
        assert point["quality_std"] == pytest.approx(np.std(qualities, ddof=1), abs=1e-12)
    assert gan["points"] == reinforce["points"]  # the same two checkpoints, sampled with the same seed
    assert (out / "quality_diversity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_needs_a_checkpoint_or_runs(capsys):
    with pytest.raises(SystemExit):
        main(["--dataset-dir", "x"])
    assert "give --checkpoint or --runs" in capsys.readouterr().err


def test_lm_axes_trace_the_lm_and_reverse_lm_scores(make_dataset, make_checkpoint, tmp_path):
    dataset_dir = make_dataset(tmp_path / "corpus")
    datamodule = TextDataModule(dataset_dir=str(dataset_dir))
    datamodule.setup()
    checkpoint = make_checkpoint(
        tmp_path / "gen.pt", datamodule.vocab_size, datamodule.max_length, datamodule.vocab_fingerprint, sharpen=3.0
    )
    out = tmp_path / "qd"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--axes", "lm", "--metrics", "fed"]
    argv += ["--lm-hidden", "16", "--lm-embedding", "8", "--lm-epochs", "2", "--lm-cache", str(tmp_path / "lm")]
    argv += ["--temperatures", "0.5,2.0", "--num-samples", "30", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "quality_diversity.json").read_text())
    assert report["axes"] == {"quality": "lm_score", "diversity": "reverse_lm_score"}
    assert report["settings"]["metrics"] == ["fed", "lm", "reverse_lm"]
    (curve,) = report["curves"]
    cold, hot = curve["points"]
    for point in curve["points"]:
        assert point["quality"] == point["lm_score"] and point["diversity"] == point["reverse_lm_score"]
        assert point["fed"] >= 0.0 and "bleu5" in point
    generator, _ = load_generator(checkpoint)
    settings = LanguageModelSettings(embedding_dim=8, hidden_dim=16, max_epochs=2)
    for point in (cold, hot):  # each point scores its own tempered samples (the seed is shared)
        samples = draw_samples(generator, 30, seed=0, temperature=point["temperature"])
        expected = distribution_metrics(
            datamodule, rows_from_samples(datamodule, samples), datamodule.decode(samples), ["lm", "reverse_lm"],
            settings=settings, cache_dir=tmp_path / "lm",
        )
        assert {key: point[key] for key in expected} == expected
    assert cold["lm_score"] != hot["lm_score"]
    assert (out / "quality_diversity.png").exists()


def test_lm_axes_on_the_oracle_are_refused(make_oracle, make_checkpoint, tmp_path, capsys):
    oracle = make_oracle(tmp_path / "oracle.npz")
    checkpoint = make_checkpoint(tmp_path / "gen.pt", 20, 6, "ids:20")
    argv = ["--checkpoint", str(checkpoint), "--oracle", str(oracle), "--oracle-sequences", "64", "--axes", "lm"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "qd")]) == 2
    assert "need text data" in capsys.readouterr().err
    assert not (tmp_path / "qd").exists()
