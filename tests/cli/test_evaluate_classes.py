"""textgan-evaluate on labelled data: a conditional generator scored per class, and labelled samples files."""

from __future__ import annotations

import json

import pytest
import torch
from conditional_fakes import FakeConditionalGenerator

from textgan import metrics
from textgan.cli import evaluate as evaluate_cli
from textgan.cli.evaluate import main
from textgan.cli.tokenize import main as tokenize
from textgan.data.text import TextDataModule
from textgan.evaluation.class_metrics import ClassMetrics

TRAIN = [("pos", "a good film"), ("neg", "a bad film"), ("pos", "good fun story"), ("neg", "bad dull story")]
TEST = [("pos", "a good story"), ("neg", "a bad story"), ("pos", "great fun film"), ("neg", "dull bad film")]


@pytest.fixture
def labelled(tmp_path):
    for name, rows in (("train", TRAIN), ("test", TEST)):
        (tmp_path / f"{name}.tsv").write_text("".join(f"{label}\t{text}\n" for label, text in rows))
    argv = ["--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"), "--text-column", "1"]
    assert tokenize(argv + ["--label-column", "0", "--out", str(tmp_path / "ds")]) == 0
    data = TextDataModule(dataset_dir=str(tmp_path / "ds"))
    data.setup()
    return data


def test_labelled_samples_file_is_scored_per_class(labelled, tmp_path, capsys):
    lines = ["pos\ta good film", "neg\ta bad story", "pos\tgood fun film", "neg\tbad bad film"]
    (tmp_path / "samples.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    argv = ["--samples-file", str(tmp_path / "samples.txt"), "--dataset-dir", str(labelled.dataset_dir)]
    assert main([*argv, "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    scores, texts = report["metrics"], [line.split("\t")[1] for line in lines]
    assert report["data"]["classes"] == ["neg", "pos"]
    assert scores == pytest.approx(
        {**scores, **ClassMetrics(labelled).of_texts(texts, torch.tensor([1, 0, 1, 0]))}, abs=1e-12
    )
    references = {"pos": [t.split() for c, t in TEST if c == "pos"], "neg": [t.split() for c, t in TEST if c == "neg"]}
    own = {"pos": [texts[0].split(), texts[2].split()], "neg": [texts[1].split(), texts[3].split()]}
    for name in ("pos", "neg"):
        assert scores[f"bleu2/{name}"] == pytest.approx(metrics.bleu(own[name], references[name], 2), abs=1e-12)
        assert scores[f"self_bleu3/{name}"] == pytest.approx(metrics.self_bleu(own[name], 3), abs=1e-12)
    assert scores["bleu2"] == pytest.approx(metrics.bleu([t.split() for t in texts], [t.split() for _, t in TEST], 2))
    table = (out / "metrics.md").read_text()
    assert "| per class | neg | pos |" in table and "| bleu2 |" in table and "| class_accuracy |" in table


def test_a_samples_file_with_an_unknown_class_names_the_line(labelled, tmp_path, capsys):
    (tmp_path / "samples.txt").write_text("pos\ta good film\nneutral\ta film\n")
    argv = ["--samples-file", str(tmp_path / "samples.txt"), "--dataset-dir", str(labelled.dataset_dir)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "samples.txt, line 2: unknown class 'neutral': the classes are 0 = neg, 1 = pos" in capsys.readouterr().err


def test_a_conditional_checkpoint_is_sampled_per_class(labelled, tmp_path, monkeypatch, capsys):
    rows = {c: labelled.train_tokens.to_tensor()[labelled.train_labels == c] for c in (0, 1)}
    fake = FakeConditionalGenerator(rows)
    monkeypatch.setattr(evaluate_cli, "load_checkpoint", lambda *args, **kwargs: (fake, {}))
    monkeypatch.setattr(evaluate_cli, "check_generator", lambda *args: None)
    out = tmp_path / "out"
    argv = ["--checkpoint", "fake.pt", "--dataset-dir", str(labelled.dataset_dir), "--num-samples", "4"]
    assert main([*argv, "--device", "cpu", "--out", str(out)]) == 0
    assert (out / "samples.txt").read_text().splitlines() == [
        "neg\ta bad film", "neg\tbad dull story", "pos\ta good film", "pos\tgood fun story",
    ]  # fmt: skip
    report = json.loads((out / "metrics.json").read_text())
    assert {"class_accuracy", "classifier_accuracy", "bleu2/neg", "self_bleu2/pos", "nll_gen"} <= set(report["metrics"])
    assert report["metrics"]["nll_gen"] == pytest.approx(1.5)  # the fake's -(c + 1) per token, two test rows each
