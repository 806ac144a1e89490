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
    copies_and_lengths = ["copy_rate", "unique_rate", "mean_length", "unterminated_rate"]
    assert sorted(report["metrics"]) == sorted([*BLEU_KEYS, "nll_gen", *copies_and_lengths])
    assert report["settings"] == {
        "num_samples": 40,
        "temperature": 1.0,
        "seed": 3,
        "nll_ignore_padding": False,
        "nll_gen_train": False,
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


def test_nll_gen_train_scores_the_training_rows_read_from_their_memory_mapped_files(text_setup, tmp_path):
    import torch

    dataset_dir, datamodule, checkpoint = text_setup
    out = tmp_path / "out"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "20"]
    assert main([*argv, "--nll-gen-train", "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["settings"]["nll_gen_train"] is True
    rows = datamodule.train_tokens[: len(datamodule.train_tokens)]  # TokenRows -> one LongTensor
    generator, _ = load_generator(checkpoint)
    with torch.no_grad():
        expected = float(-generator.log_prob(rows).double().mean())  # every position, all rows at once
    assert report["metrics"]["nll_gen_train"] == pytest.approx(expected, abs=1e-9)
    assert report["metrics"]["nll_gen"] == pytest.approx(nll_gen(generator, datamodule.test_tokens), abs=1e-9)
    assert nll_gen(generator, datamodule.train_tokens, batch_size=3) == pytest.approx(expected, abs=1e-9)


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
    assert sorted(report["metrics"]) == ["copy_rate", "nll_gen", "nll_oracle", "unique_rate"]
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


# ---------------------------------------------------------------------------------------------- unknown tokens
CHINESE_SAMPLES = ["今天天气很好。", "我们去公园散步吧！", "他在图书馆看书。"]


@pytest.mark.parametrize("tokenizer", ["word_level", "byte_bpe"])
def test_samples_of_another_language_are_refused_naming_file_and_count(
    text_setup, make_dataset, tmp_path, capsys, tokenizer
):
    """Chinese samples against an English dataset: exit 2 and one line, not BLEU 0.0000 without a word."""
    from textgan.data.build import build_dataset
    from textgan.data.tokenizer import TokenizerOptions

    dataset_dir, _, _ = text_setup
    if tokenizer == "byte_bpe":  # no <unk> ever: unknown = bytes no training line holds
        corpus = dataset_dir.parent
        dataset_dir = tmp_path / "bytes"
        build_dataset(dataset_dir, corpus / "train.txt", corpus / "test.txt", TokenizerOptions("byte_bpe", 300))
    samples = tmp_path / "zh.txt"
    samples.write_text("\n".join(CHINESE_SAMPLES) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--samples-file", str(samples), "--dataset-dir", str(dataset_dir), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    tokens = 3 if tokenizer == "word_level" else len("".join(CHINESE_SAMPLES).encode())  # words / bytes
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert captured.err.startswith(
        f"textgan-evaluate: error: {samples}: {tokens} of {tokens} tokens (100.0%) are unknown to the vocabulary "
        f"of {dataset_dir.resolve()}"
    )
    assert "more than --max-unknown 0.5" in captured.err and "expected" in captured.err
    assert not out.exists()


def test_some_unknown_words_are_warned_about_and_counted(text_setup, tmp_path, capsys):
    dataset_dir, _, _ = text_setup
    sentences = ["a man rides a zebra .", "the cat sits on the sofa .", "two dogs play ."]  # 2 of 17 unknown
    samples = tmp_path / "generated.txt"
    samples.write_text("\n".join(sentences) + "\n")
    argv = ["--samples-file", str(samples), "--dataset-dir", str(dataset_dir)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    warning = capsys.readouterr().err
    assert warning == (
        f"textgan-evaluate: warning: {samples}: 2 of 17 tokens (11.8%) are unknown to the vocabulary of "
        f"{dataset_dir.resolve()} (<unk>): a generator trained on it never saw them\n"
    )
    report = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (report["source"]["unknown_tokens"], report["source"]["tokens"]) == (2, 17)
    # the thresholds are options: 12 % passes quietly above --warn-unknown 0.2 and is refused above 0.1
    assert main([*argv, "--warn-unknown", "0.2", "--out", str(tmp_path / "quiet")]) == 0
    assert capsys.readouterr().err == ""
    assert main([*argv, "--max-unknown", "0.1", "--out", str(tmp_path / "strict")]) == 2
    assert "2 of 17 tokens (11.8%)" in capsys.readouterr().err and not (tmp_path / "strict").exists()
    assert main([*argv, "--max-unknown", "1.5", "--out", str(tmp_path / "bad")]) == 2
    assert "--max-unknown must be a fraction in [0, 1], got 1.5" in capsys.readouterr().err


def test_a_checkpoints_unfinished_characters_are_counted_and_left_out_of_samples_txt(
    broken_bytes_setup, tmp_path, capsys
):
    dataset_dir, datamodule, checkpoint, _, lead_byte = broken_bytes_setup
    out = tmp_path / "out"
    argv = ["--checkpoint", str(checkpoint), "--dataset-dir", str(dataset_dir), "--num-samples", "16"]
    assert main([*argv, "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    broken = report["source"]["invalid_utf8_sentences"]
    assert 0 < broken < 16
    assert f"textgan-evaluate: warning: {broken} of 16 sentences held byte sequences that are not UTF-8" in (
        capsys.readouterr().err
    )
    assert "\ufffd" not in (out / "samples.txt").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- help
def test_help_says_what_a_samples_file_is_scored_with(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "BLEU / Self-BLEU only" not in text
    start = text.index("--samples-file SAMPLES_FILE", text.index("options:"))  # its help, not the usage line
    described = text[start : text.index("--runs DIR", start)]
    for metric in ("BLEU", "Self-BLEU", "lm", "reverse_lm", "mauve", "fed", "every --metrics choice but NLL_gen"):
        assert metric in described, described
