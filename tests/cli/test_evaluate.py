"""textgan-evaluate on a tiny checkpoint, a file of sentences and a tiny oracle: files, keys, values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textgan import metrics
from textgan.cli.evaluate import main
from textgan.data.text import TextDataModule
from textgan.evaluation.protocol import evaluate_generator, nll_gen
from textgan.models.io import load_generator

BLEU_KEYS = [f"bleu{n}" for n in (2, 3, 4, 5)] + [f"self_bleu{n}" for n in (2, 3, 4, 5)]


def test_checkpoint_on_text_writes_exact_metrics(text_setup, reference_lines, tmp_path, capsys):
    dataset_dir, datamodule, checkpoint = text_setup
    out = tmp_path / "out"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "40"]
    assert main([*argv, "--seed", "3", "--out", str(out)]) == 0
    assert str(out.resolve()) in capsys.readouterr().out
    report = json.loads((out / "metrics.json").read_text())
    assert sorted(report["metrics"]) == sorted([*BLEU_KEYS, "nll_gen"])
    assert report["settings"] == {
        "num_samples": 40,
        "temperature": 1.0,
        "seed": 3,
        "nll_ignore_padding": False,
        "metrics": ["standard"],
    }
    assert report["data"]["vocab_fingerprint"] == datamodule.vocab_fingerprint
    assert "| bleu5 |" in (out / "metrics.md").read_text()

    generator, _ = load_generator(checkpoint)
    expected = evaluate_generator(generator, datamodule, 40, seed=3).metrics
    assert report["metrics"] == pytest.approx(expected, abs=1e-12)
    samples = [line.split() for line in (out / "samples.txt").read_text().split("\n")[:-1]]
    assert len(samples) == 40
    references = [line.split() for line in reference_lines]
    for n in (2, 3, 4, 5):
        assert 0.0 <= report["metrics"][f"bleu{n}"] <= 1.0
        assert report["metrics"][f"bleu{n}"] == pytest.approx(metrics.bleu(samples, references, n), abs=1e-12)
        assert report["metrics"][f"self_bleu{n}"] == pytest.approx(metrics.self_bleu(samples, n), abs=1e-12)
    assert report["metrics"]["nll_gen"] == pytest.approx(nll_gen(generator, datamodule.test_tokens), abs=1e-9)
    assert 0.0 < report["metrics"]["nll_gen"] < 2 * np.log(datamodule.vocab_size)


def test_ignoring_padding_and_protocol_flags(text_setup, reference_lines, tmp_path):
    dataset_dir, datamodule, checkpoint = text_setup
    out = tmp_path / "out"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "20"]
    argv += ["--nll-ignore-padding", "--max-references", "2", "--self-bleu-samples", "5", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "metrics.json").read_text())
    generator, _ = load_generator(checkpoint)
    masked = nll_gen(generator, datamodule.test_tokens, pad_token=datamodule.pad_token)
    assert report["metrics"]["nll_gen"] == pytest.approx(masked, abs=1e-9)
    assert (report["data"]["num_references"], report["data"]["self_bleu_samples"]) == (2, 5)
    samples = [line.split() for line in (out / "samples.txt").read_text().split("\n")[:-1]]
    assert report["metrics"]["self_bleu3"] == pytest.approx(metrics.self_bleu(samples[:5], 3), abs=1e-12)
    references = [line.split() for line in reference_lines[:2]]
    assert report["metrics"]["bleu3"] == pytest.approx(metrics.bleu(samples, references, 3), abs=1e-12)


def test_samples_file_and_wandb_offline(text_setup, reference_lines, tmp_path, monkeypatch):
    dataset_dir, _, _ = text_setup
    monkeypatch.delenv("WANDB_MODE", raising=False)
    sentences = ["a man rides a dog .", "two cats sit on the mat .", "", "the zebra runs ."]
    (tmp_path / "generated.txt").write_text("\n".join(sentences) + "\n")
    out = tmp_path / "out"
    argv = ["--samples-file", str(tmp_path / "generated.txt"), "--dataset-dir", str(dataset_dir)]
    assert main([*argv, "--out", str(out), "--wandb"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert sorted(report["metrics"]) == sorted(BLEU_KEYS)
    assert report["source"]["empty_samples"] == 1 and report["settings"]["num_samples"] == 4
    hypotheses, references = [s.split() for s in sentences], [line.split() for line in reference_lines]
    for n in (2, 5):
        assert report["metrics"][f"bleu{n}"] == pytest.approx(metrics.bleu(hypotheses, references, n), abs=1e-12)
    assert any((out / "wandb").glob("offline-run-*"))


def test_checkpoint_with_another_vocabulary_is_refused(text_setup, make_dataset, make_checkpoint, tmp_path, capsys):
    dataset_dir, datamodule, _ = text_setup
    other = make_dataset(tmp_path / "other", ["completely different words here ."])
    foreign = TextDataModule(dataset_dir=str(other))
    foreign.setup()
    checkpoint = make_checkpoint(tmp_path / "foreign.pt", foreign.vocab_size, 8, foreign.vocab_fingerprint)
    argv = [
        "--checkpoint",
        str(checkpoint),
        "--dataset-dir",
        str(dataset_dir),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 2
    message = capsys.readouterr().err
    assert "vocabulary mismatch" in message and str(checkpoint) in message and str(dataset_dir) in message
    assert foreign.vocab_fingerprint in message and datamodule.vocab_fingerprint in message
    assert not (tmp_path / "out").exists()


def test_oracle_checkpoint(make_oracle, make_checkpoint, tmp_path):
    oracle = make_oracle(tmp_path / "oracle.npz")
    checkpoint = make_checkpoint(tmp_path / "gen.pt", 20, 6, "ids:20")
    argv = ["--checkpoint", str(checkpoint), "--oracle", str(oracle), "--oracle-sequences", "64"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--num-samples", "32", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    report = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert sorted(report["metrics"]) == ["nll_gen", "nll_oracle"]
    assert 0.0 < report["metrics"]["nll_oracle"] < 20 and 0.0 < report["metrics"]["nll_gen"] < 20
    assert report["data"]["vocab_fingerprint"] == "ids:20"


def test_a_runs_lightning_checkpoint_scores_as_its_generator_file(text_setup, make_run_checkpoint, tmp_path):
    """``--checkpoint`` takes what ``textgan-generate`` takes: a run's ``checkpoints/*/last.ckpt`` too."""
    dataset_dir, _, checkpoint = text_setup
    lightning = make_run_checkpoint(tmp_path / "run", checkpoint)
    reports = {}
    for name, path in (("file", checkpoint), ("lightning", lightning)):
        argv = ["--checkpoint", str(path), "--dataset-dir", str(dataset_dir), "--num-samples", "16"]
        assert main([*argv, "--out", str(tmp_path / name)]) == 0
        reports[name] = json.loads((tmp_path / name / "metrics.json").read_text())
    assert reports["lightning"]["metrics"] == reports["file"]["metrics"]
    assert reports["lightning"]["source"]["checkpoint"] == str(lightning.resolve())
